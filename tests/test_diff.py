from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsync import diff, spec
from agentsync.diff import Strategy
from agentsync.emulator.defaults import defaults_for
from agentsync.emulator.merge import merge_patch
from agentsync.kinds.agent import AGENT
from agentsync.plan import ABSENT, Action, Change, FieldChange
from agentsync.render import common

F = AGENT.fields

EXAMPLE = json.loads((Path(__file__).parent / "data" / "example-agent-response.json").read_text())
BASES = [EXAMPLE, {**defaults_for(spec.AGENT_RESPONSE), "agent_id": "agent_1", "tags": ["x"], "name": "n"}]

CC = "conversation_config"
PS = "platform_settings"


# --- the strategy table -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((CC,), Strategy.MERGE),
        ((CC, "agent", "prompt"), Strategy.MERGE),
        ((CC, "agent", "prompt", "backup_llm_config"), Strategy.MERGE),  # a union of objects
        ((CC, "language_presets"), Strategy.REPLACE),
        ((CC, "agent", "dynamic_variables", "dynamic_variable_placeholders"), Strategy.REPLACE),
        ((PS, "data_collection"), Strategy.REPLACE),
        ((PS, "auth", "allowlist"), Strategy.REPLACE),
        ((CC, "agent", "prompt", "tool_ids"), Strategy.REPLACE),
        (("workflow",), Strategy.REPLACE),
        (("tags",), Strategy.SET),
        (("name",), Strategy.REPLACE),
    ],
)
def test_strategy_table_is_derived_from_the_input_models(path: tuple[str, ...], expected: Strategy) -> None:
    assert F.table[path] is expected
    assert F.strategy(path) is expected


def test_strategy_table_never_descends_into_atomic_values() -> None:
    table = F.table
    assert not [p for p in table if p[:1] == ("workflow",) and len(p) > 1]
    assert not [p for p in table if p[:2] == (PS, "data_collection") and len(p) > 2]
    assert (PS, "safety") not in table  # the request model has no safety: it is read-only


def test_strategy_of_a_path_the_schema_does_not_know_is_merge() -> None:
    assert F.strategy((CC, "agent", "not_in_the_spec")) is Strategy.MERGE


# --- normalisation and the managed view -----------------------------------------------------------------


def test_canonical_numbers_keep_booleans() -> None:
    assert diff.canonical({"a": 7.0, "b": [1.5, 2.0], "c": True}) == {"a": 7, "b": [1.5, 2], "c": True}
    assert type(diff.canonical(7.0)) is int
    assert diff.canonical(True) is True


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (7, 7.0, True),
        (True, 1, False),
        (False, 0, False),
        ({"x": [1, 2]}, {"x": [1, 2.0]}, True),
        ({"x": 1}, {"x": 1, "y": 2}, False),
        ([1, 2], [2, 1], False),
        (None, None, True),
        (None, {}, False),
    ],
)
def test_same_compares_numbers_numerically_but_not_bools(a: Any, b: Any, equal: bool) -> None:
    assert diff.same(diff.canonical(a), diff.canonical(b)) is equal


def test_managed_view_projects_the_remote_onto_the_declared_shape() -> None:
    desired = {"name": "X", CC: {"agent": {"prompt": {"llm": "gpt-4o"}}, "turn": {"turn_timeout": 7}}}
    view = diff.managed_view(F, desired, EXAMPLE)
    assert view == {
        "name": EXAMPLE["name"],
        CC: {"agent": {"prompt": {"llm": "gemini-2.5-flash"}}, "turn": {"turn_timeout": 7}},
    }
    assert type(view[CC]["turn"]["turn_timeout"]) is int  # 7.0 from the server, canonical


def test_managed_view_takes_atomic_values_whole() -> None:
    remote = copy.deepcopy(EXAMPLE)
    remote[PS]["data_collection"] = {"a": {"type": "string"}, "b": {"type": "boolean"}}
    desired = {PS: {"data_collection": {"a": {"type": "string"}}}, "workflow": {"nodes": {}}}
    view = diff.managed_view(F, desired, remote)
    assert view[PS]["data_collection"] == remote[PS]["data_collection"]
    assert view["workflow"] == diff.canonical(EXAMPLE["workflow"])


def test_managed_view_drops_read_only_and_unknown_fields() -> None:
    remote = copy.deepcopy(EXAMPLE)
    remote[CC]["agent"]["prompt"]["tools"] = [{"type": "system"}]
    remote[CC]["agent"]["prompt"]["opener"] = "unknown to the spec"
    desired = {
        "agent_id": "x",
        "metadata": {},
        CC: {"agent": {"prompt": {"tools": [], "llm": "x"}}},
        PS: {"safety": {"is_blocked_ivc": True}, "archived": False},
    }
    view = diff.managed_view(F, desired, remote)
    assert view == {CC: {"agent": {"prompt": {"llm": "gemini-2.5-flash"}}}, PS: {"archived": False}}


def test_managed_view_tags_are_a_set_without_the_marker() -> None:
    remote = {**EXAMPLE, "tags": ["b", "agentsync:bot", "a", "other:bot"]}
    view = diff.managed_view(F, {"tags": ["a"]}, AGENT.identity.hide(remote, "agentsync"))
    assert view["tags"] == ["a", "b", "other:bot"]


def test_managed_view_keeps_explicit_null_and_omits_what_the_remote_lacks() -> None:
    desired = {CC: {"turn": {"initial_wait_time": None}, "agent": {"not_there": 1}}}
    assert diff.managed_view(F, desired, EXAMPLE) == {CC: {"turn": {"initial_wait_time": None}, "agent": {}}}


# --- the PATCH body -----------------------------------------------------------------------------------


def _views(
    desired: dict[str, Any], remote: dict[str, Any] = EXAMPLE
) -> tuple[dict[str, Any], dict[str, Any]]:
    return diff.desired_view(F, desired), diff.managed_view(F, desired, remote)


def test_patch_body_holds_only_changed_leaves_nested_under_their_parents() -> None:
    desired = {
        "name": EXAMPLE["name"],
        CC: {
            "agent": {"first_message": "Hi", "language": "en", "prompt": {"llm": "gpt-4o", "temperature": 0}}
        },
    }
    assert diff.patch_body(F, *_views(desired)) == {
        CC: {"agent": {"first_message": "Hi", "prompt": {"llm": "gpt-4o"}}}
    }


def test_patch_body_sends_lists_maps_and_workflow_whole() -> None:
    remote = copy.deepcopy(EXAMPLE)
    remote[CC]["agent"]["prompt"]["tool_ids"] = ["a", "b"]
    remote[PS]["data_collection"] = {"a": {"type": "string"}, "b": {"type": "string"}}
    workflow = copy.deepcopy(EXAMPLE["workflow"])
    workflow["prevent_subagent_loops"] = True
    desired = {
        CC: {"agent": {"prompt": {"tool_ids": ["a", "c"]}}},
        PS: {"data_collection": {"a": {"type": "string"}}},
        "workflow": workflow,
    }
    body = diff.patch_body(F, *_views(desired, remote))
    assert body == {
        CC: {"agent": {"prompt": {"tool_ids": ["a", "c"]}}},
        PS: {"data_collection": {"a": {"type": "string"}}},
        "workflow": workflow,
    }


def test_patch_body_is_empty_when_only_number_types_or_tag_order_differ() -> None:
    remote = {**EXAMPLE, "tags": ["b", "a"]}
    desired = {"tags": ["a", "b"], CC: {"turn": {"turn_timeout": 7}, "tts": {"speed": 1}}}
    assert diff.patch_body(F, *_views(desired, remote)) == {}


def test_patch_body_sends_a_bool_that_replaces_an_equal_int() -> None:
    remote = copy.deepcopy(EXAMPLE)
    remote[PS]["call_limits"]["daily_limit"] = 1
    desired = {PS: {"call_limits": {"daily_limit": True}}}
    assert diff.patch_body(F, *_views(desired, remote)) == {PS: {"call_limits": {"daily_limit": True}}}


def test_patch_body_sends_null_and_objects_replacing_null() -> None:
    desired = {CC: {"agent": {"text_behavior_overrides": {"a": "b"}, "prompt": {"rag": None}}}}
    body = diff.patch_body(F, *_views(desired))
    assert body == {CC: {"agent": {"text_behavior_overrides": {"a": "b"}, "prompt": {"rag": None}}}}


# --- the change list ----------------------------------------------------------------------------------


def test_changes_report_leaves_with_absent_sides() -> None:
    remote = copy.deepcopy(EXAMPLE)
    remote[PS]["data_collection"] = {"gone": {"type": "string"}}
    desired = {"name": "New", PS: {"data_collection": {"new": {"type": "string"}}}}
    found = diff.changes(*reversed(_views(desired, remote)))
    assert found == [
        FieldChange(("name",), EXAMPLE["name"], "New"),
        FieldChange((PS, "data_collection", "gone"), {"type": "string"}, ABSENT),
        FieldChange((PS, "data_collection", "new"), ABSENT, {"type": "string"}),
    ]


def test_changes_report_a_list_whole() -> None:
    remote = copy.deepcopy(EXAMPLE)
    remote[CC]["agent"]["prompt"]["tool_ids"] = ["a", "b", "c"]
    desired = {CC: {"agent": {"prompt": {"tool_ids": ["x", "a", "b", "c"]}}}}
    found = diff.changes(*reversed(_views(desired, remote)))
    assert found == [FieldChange((CC, "agent", "prompt", "tool_ids"), ["a", "b", "c"], ["x", "a", "b", "c"])]


def test_changes_keep_a_multi_line_string_as_one_change() -> None:
    remote = copy.deepcopy(EXAMPLE)
    remote[CC]["agent"]["prompt"]["prompt"] = "line 1\nline 2\nline 3\n"
    desired = {CC: {"agent": {"prompt": {"prompt": "line 1\nline two\nline 3\nline 4\n"}}}}
    found = diff.changes(*reversed(_views(desired, remote)))
    assert [c.path for c in found] == [(CC, "agent", "prompt", "prompt")]
    assert found[0].new.endswith("line 4\n")


def test_changes_report_type_changes_and_bools() -> None:
    desired = {CC: {"turn": {"initial_wait_time": 2.5}}, PS: {"call_limits": {"bursting_enabled": 1}}}
    found = diff.changes(*reversed(_views(desired)))
    assert found == [
        FieldChange((CC, "turn", "initial_wait_time"), None, 2.5),
        FieldChange((PS, "call_limits", "bursting_enabled"), True, 1),
    ]


def test_changes_take_the_fast_path_without_deepdiff(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("deepdiff ran for equal views")

    monkeypatch.setattr("deepdiff.DeepDiff", refuse)  # the diff imports it when it first compares
    desired = {"name": EXAMPLE["name"], CC: {"turn": {"turn_timeout": 7}}}
    assert diff.changes(*reversed(_views(desired))) == []
    assert diff.patch_body(F, *_views(desired)) == {}


def _change(fields: tuple[FieldChange, ...]) -> Change:
    return Change("agent", Action.UPDATE, "k", "a1", None, fields, "PATCH", "/v1/convai/agents/a1", {}, "fp")


def test_json_patch_is_rfc6902_of_the_managed_view() -> None:
    desired = {"name": "New", CC: {"agent": {"first_message": "Hi"}}}
    ops = common.json_patch(_change(tuple(diff.changes(*reversed(_views(desired))))))
    assert sorted(ops, key=lambda o: o["path"]) == [
        {"op": "replace", "path": "/conversation_config/agent/first_message", "value": "Hi"},
        {"op": "replace", "path": "/name", "value": "New"},
    ]


def test_json_patch_pointers_escape_slashes_tildes_and_digit_keys() -> None:
    path = (CC, "language_presets", "a/b~c", "0")
    ops = common.json_patch(_change((FieldChange(path, ABSENT, "x"), FieldChange((PS, "n"), 1, ABSENT))))
    assert ops == [
        {"op": "add", "path": "/conversation_config/language_presets/a~1b~0c/0", "value": "x"},
        {"op": "remove", "path": "/platform_settings/n"},
    ]


# --- property: the PATCH body converges and sends nothing unchanged ------------------------------------

TEXT = st.text(alphabet="ab \n", max_size=8)
NUMBER = st.one_of(st.integers(-2, 3), st.sampled_from([0.0, 1.0, 7.0, 0.5, 2.5]))
STRINGS = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4)
SMALL_MAP = st.dictionaries(st.sampled_from(["k1", "k2", "k3"]), TEXT, max_size=3)
NODES = st.dictionaries(
    st.sampled_from(["start_node", "n1", "n2"]),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["start", "end"]),
            "position": st.fixed_dictionaries({"x": NUMBER, "y": NUMBER}),
            "edge_order": STRINGS,
        }
    ),
    min_size=1,
    max_size=3,
)
BACKUP = st.one_of(
    st.just({"preference": "default"}),
    st.just({"preference": "disabled"}),
    st.builds(lambda o: {"preference": "override", "order": o}, STRINGS),
)

# A declared leaf (or atomic value) of an agent and the values it may take; current agents are
# mutated with the same generators, so equal, changed, int-vs-float and null values all occur.
FIELDS: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("name",): TEXT,
    ("tags",): STRINGS,
    (CC, "agent", "first_message"): TEXT,
    (CC, "agent", "language"): st.sampled_from(["en", "de"]),
    (CC, "agent", "prompt", "prompt"): TEXT,
    (CC, "agent", "prompt", "llm"): st.sampled_from(["gemini-2.5-flash", "gpt-4o"]),
    (CC, "agent", "prompt", "temperature"): NUMBER,
    (CC, "agent", "prompt", "tool_ids"): STRINGS,
    (CC, "agent", "prompt", "rag", "enabled"): st.booleans(),
    (CC, "agent", "prompt", "rag", "max_vector_distance"): NUMBER,
    (CC, "agent", "prompt", "backup_llm_config"): BACKUP,
    (CC, "agent", "dynamic_variables", "dynamic_variable_placeholders"): SMALL_MAP,
    (CC, "agent", "text_behavior_overrides"): st.one_of(st.none(), SMALL_MAP),
    (CC, "turn", "turn_timeout"): NUMBER,
    (CC, "turn", "initial_wait_time"): st.one_of(st.none(), NUMBER),
    (CC, "tts", "stability"): NUMBER,
    (CC, "language_presets"): st.dictionaries(
        st.sampled_from(["de", "fr"]),
        st.fixed_dictionaries({"overrides": st.just({}), "first_message_translation": st.none()}),
        max_size=2,
    ),
    (PS, "call_limits", "daily_limit"): st.one_of(NUMBER, st.booleans()),
    (PS, "data_collection"): st.dictionaries(
        st.sampled_from(["x", "y"]),
        st.fixed_dictionaries({"type": st.sampled_from(["string", "boolean"]), "description": TEXT}),
        max_size=2,
    ),
    (PS, "auth", "allowlist"): st.lists(st.fixed_dictionaries({"hostname": TEXT}), max_size=2),
    (PS, "archived"): st.booleans(),
    ("workflow",): st.fixed_dictionaries(
        {"edges": st.just({}), "nodes": NODES, "prevent_subagent_loops": st.booleans()}
    ),
}
PATHS = sorted(FIELDS)


def _put(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value


@st.composite
def assignments(draw: st.DrawFn) -> dict[tuple[str, ...], Any]:
    chosen = draw(st.lists(st.sampled_from(PATHS), unique=True, max_size=8))
    return {p: draw(FIELDS[p]) for p in chosen}


def _build(base: dict[str, Any], values: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    tree = copy.deepcopy(base)
    for path, value in values.items():
        _put(tree, path, value)
    return tree


def _assert_nothing_unchanged(
    body: dict[str, Any], remote_view: dict[str, Any], path: tuple[Any, ...]
) -> None:
    for key, sent in body.items():
        old = remote_view.get(key, ABSENT)
        child = (*path, key)
        if isinstance(sent, dict) and isinstance(old, dict) and F.strategy(child) is Strategy.MERGE:
            assert sent, f"empty object sent at {child}"
            _assert_nothing_unchanged(sent, old, child)
        else:
            assert old is ABSENT or not diff.same(diff.canonical(sent), old), f"unchanged {child} sent"


class World(NamedTuple):
    current: dict[str, Any]
    desired: dict[str, Any]
    wanted: dict[str, Any]
    before: dict[str, Any]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """A current agent (an example, mutated), a definition declaring some of its fields, and the two
    managed views: the desired one and the current one."""
    current = _build(draw(st.sampled_from(BASES)), draw(assignments()))
    if draw(st.booleans()):  # the live API writes 7.0 as 7
        current = diff.canonical(current)
    desired = _build({}, draw(assignments()))
    return World(current, desired, diff.desired_view(F, desired), diff.managed_view(F, desired, current))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_patch_body_converges_and_sends_nothing_unchanged(world: World) -> None:
    current, desired, wanted, before = world
    body = diff.patch_body(F, wanted, before)
    after = diff.managed_view(F, desired, merge_patch(current, body))
    assert diff.same(after, wanted), (body, after, wanted)
    _assert_nothing_unchanged(body, before, ())
    assert (body == {}) == diff.same(before, wanted)
    assert (diff.changes(before, wanted) == []) == (body == {})


def _changes_over_whole_views(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    # The change list as deepdiff gives it over the two full views, with nothing cut away first.
    paths = diff._keep_outermost(list(diff._diff_paths(old, new)))
    found = [FieldChange(p, diff._lookup(old, p), diff._lookup(new, p)) for p in paths]
    return [c for c in found if not diff.same(c.old, c.new)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds())
def test_changes_over_the_differing_part_equal_changes_over_the_whole_views(world: World) -> None:
    _, _, wanted, before = world
    assert diff.changes(before, wanted) == _changes_over_whole_views(before, wanted)
    assert diff.changes(wanted, before) == _changes_over_whole_views(wanted, before)


def test_deepdiff_walks_only_what_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    import deepdiff

    seen: list[tuple[Any, Any]] = []
    real = deepdiff.DeepDiff

    def recording(old: Any, new: Any, **kwargs: Any) -> Any:
        seen.append((old, new))
        return real(old, new, **kwargs)

    monkeypatch.setattr("deepdiff.DeepDiff", recording)
    desired = {
        "name": EXAMPLE["name"],
        CC: {"agent": {"first_message": "Changed", "language": EXAMPLE[CC]["agent"]["language"]}},
        PS: {"data_collection": {"new": {"type": "string"}}},
    }
    old, new = _views(desired)[::-1]
    found = diff.changes(old, new)
    assert [c.path for c in found] == [(CC, "agent", "first_message"), (PS, "data_collection", "new")]
    assert seen == [
        (
            {
                CC: {"agent": {"first_message": EXAMPLE[CC]["agent"]["first_message"]}},
                PS: {"data_collection": {}},
            },
            {
                CC: {"agent": {"first_message": "Changed"}},
                PS: {"data_collection": {"new": {"type": "string"}}},
            },
        )
    ]


# --- server defaults inside atomic values ---------------------------------------------------------------


def test_declared_list_of_objects_equals_its_server_filled_read_back() -> None:
    declared = {
        "platform_settings": {
            "evaluation": {
                "criteria": [{"id": "c1", "name": "Polite", "conversation_goal_prompt": "Was polite."}]
            }
        }
    }
    stored = copy.deepcopy(EXAMPLE)
    stored["platform_settings"]["evaluation"]["criteria"] = [
        {
            "id": "c1",
            "name": "Polite",
            "conversation_goal_prompt": "Was polite.",
            "type": "prompt",
            "use_knowledge_base": False,
            "scope": "conversation",
            "llm": None,
            "scoring_mode": "binary",
            "max_score": 100,
            "score_instructions": None,
        }
    ]
    current = diff.managed_view(F, declared, stored)
    wanted = diff.complete(F, diff.desired_view(F, declared))
    assert diff.changes(current, wanted) == []
    assert diff.patch_body(F, diff.desired_view(F, declared), current, wanted) == {}


def test_a_real_change_inside_a_filled_list_sends_the_declared_list_only() -> None:
    declared = {
        "platform_settings": {
            "evaluation": {
                "criteria": [
                    {"id": "c1", "name": "Polite", "conversation_goal_prompt": "Was polite.", "max_score": 10}
                ]
            }
        }
    }
    stored = copy.deepcopy(EXAMPLE)
    stored["platform_settings"]["evaluation"]["criteria"] = [
        diff.server_filled(
            F,
            ("platform_settings", "evaluation", "criteria"),
            [{"id": "c1", "name": "Polite", "conversation_goal_prompt": "Was polite."}],
        )[0]
    ]
    current = diff.managed_view(F, declared, stored)
    body = diff.patch_body(
        F, diff.desired_view(F, declared), current, diff.complete(F, diff.desired_view(F, declared))
    )
    # The body carries the declared value, not the completed one: the server completes it itself.
    assert body == declared
    [change] = diff.changes(current, diff.complete(F, diff.desired_view(F, declared)))
    assert change.path == ("platform_settings", "evaluation", "criteria")


def test_workflow_nodes_are_completed_by_node_type() -> None:
    workflow = {"nodes": {"start_node": {"type": "start"}, "bye": {"type": "end"}}, "edges": {}}
    filled = diff.server_filled(F, ("workflow",), workflow)
    assert filled["nodes"]["bye"] == {"type": "end", "position": {"x": 0, "y": 0}, "edge_order": []}
    assert filled["prevent_subagent_loops"] is False


def test_name_and_scalars_are_never_completed() -> None:
    assert diff.server_filled(F, ("name",), "Bot") == "Bot"
    assert diff.server_filled(F, ("conversation_config", "tts", "stability"), 0.5) == 0.5
    assert diff.server_filled(F, ("tags",), ["b", "a"]) == ["b", "a"]
