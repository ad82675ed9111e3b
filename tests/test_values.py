"""The one equality rule for JSON values, shared by the diff and pull."""

from __future__ import annotations

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from agentsync.values import canonical, same


def test_numbers_compare_by_value_and_booleans_stay_apart() -> None:
    assert same(7, 7.0) and same({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not same(True, 1) and not same(0, False) and not same([True], [1])
    assert same(None, None) and not same(None, 0) and not same("1", 1)


def test_large_integers_are_not_rounded_through_floats() -> None:
    big = 2**60
    assert not same(big, big + 1)
    assert same(canonical(float(2**52)), 2**52)


def test_containers_compare_by_content_whatever_their_type() -> None:
    document = CommentedMap([("x", CommentedSeq([1, 2]))])
    assert same(document, {"x": [1, 2]})
    assert same((1, 2), [1, 2])
    assert not same({"x": [1, 2]}, {"x": [2, 1]}) and not same({"x": 1}, {"x": 1, "y": 2})
    assert not same("ab", ["a", "b"])


def test_any_leaf_finds_a_leaf_at_any_depth_and_only_leaves() -> None:
    from agentsync.values import any_leaf

    def is_seven(value: object) -> bool:
        return value == 7

    assert any_leaf({"a": [1, {"b": [2, 7]}]}, is_seven)
    assert any_leaf(7, is_seven)  # a bare leaf is its own only leaf
    assert not any_leaf({"a": [1, {"b": [2, 3]}], "c": None}, is_seven)
    assert not any_leaf({"seven": {}}, lambda v: v == "seven")  # keys are not leaves
    seen: list[object] = []

    def record(value: object) -> bool:
        seen.append(value)
        return False

    assert not any_leaf({"x": [{}, []], "y": "s"}, record)
    assert seen == ["s"]  # empty containers hold no leaf
