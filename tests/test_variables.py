"""The placeholder language: parsing, resolving, escapes, secrets, references and loops."""

from __future__ import annotations

import os

import pytest

from agentsync import variables as v
from agentsync.kinds import Ref

CTX = v.Context({"VOICE": "abc", "N": "7"}, {"TOKEN": "s3cret"}, "dev")


@pytest.mark.parametrize(
    ("text", "value", "secret", "whole"),
    [
        ("${var.VOICE}", "abc", False, True),
        ("voice ${var.VOICE}!", "voice abc!", False, False),
        ("Bearer ${env.TOKEN}", "Bearer s3cret", True, False),
        ("${env.MISSING:-fallback}", "fallback", True, True),
        ("$${var.VOICE} costs $5", "${var.VOICE} costs $5", False, False),
        ("plain", "plain", False, False),
    ],
)
def test_resolve(text: str, value: str, secret: bool, whole: bool) -> None:
    found = v.resolve(text, CTX)
    assert (found.value, found.secret, found.whole) == (value, secret, whole)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${foo.x}", "unknown placeholder ${foo.x}"),
        ("${VOICE}", "unknown placeholder ${VOICE}"),
        ("${var.}", "malformed placeholder ${var.}"),
        ("${var.A:-x}", "malformed placeholder ${var.A:-x}"),
        ("${agent.billing}", "expected ${agent.KEY.id}"),
        ("${agent.billing.name}", "expected ${agent.KEY.id}"),
        ("hello ${var.VOICE", "never closed"),
        ("${var.NOPE}", "not defined in environment 'dev' (its variables: N, VOICE)"),
        ("${env.NOPE}", "environment variable NOPE is not set"),
    ],
)
def test_bad_placeholders_are_one_sentence_each(text: str, message: str) -> None:
    with pytest.raises(v.TemplateError) as caught:
        v.resolve(text, CTX)
    assert message in caught.value.message


def test_without_an_environment_a_variable_asks_for_one() -> None:
    with pytest.raises(v.TemplateError, match="none is selected"):
        v.resolve("${var.X}", v.Context({}, {}, None))


def test_without_secrets_env_is_checked_by_syntax_and_left_as_written() -> None:
    found = v.resolve("Bearer ${env.TOKEN}", v.Context({}, None, "dev"))
    assert (found.value, found.secret) == ("Bearer ${env.TOKEN}", True)
    with pytest.raises(v.TemplateError):
        v.resolve("${env.bad-name}", v.Context({}, None, "dev"))


def test_references_stay_until_their_ids_are_known_and_keep_escapes() -> None:
    found = v.resolve("to ${agent.team/billing.id} at $${x} for ${var.VOICE}", CTX)
    assert found.references == (Ref("agent", "team/billing"),)
    assert found.value == "to ${agent.team/billing.id} at $${x} for abc"
    assert v.substitute_references(found.value, {}) == found.value
    assert v.substitute_references({"a": [found.value]}, {Ref("agent", "team/billing"): "agent_1"}) == {
        "a": ["to agent_1 at ${x} for abc"]
    }
    assert list(v.references_in({"x": ["${agent.a.id}", {"y": "${tag.b.id}"}], "n": 3})) == [
        Ref("agent", "a"),
        Ref("tag", "b"),
    ]
    assert list(v.references_in("${nokind.a.id} ${var.x}")) == []


def test_find_cycle_names_the_loop_and_accepts_a_dag() -> None:
    a, b, c = Ref("agent", "a"), Ref("agent", "b"), Ref("tool", "c")
    assert v.find_cycle({a: (b,), b: (c,), c: ()}) is None
    front, billing = Ref("agent", "receptionist"), Ref("agent", "billing")
    assert v.find_cycle({front: (billing,), billing: (front,)}) == [billing, front, billing]
    assert v.find_cycle({a: (a,)}) == [a, a]


def test_paths_and_pointers() -> None:
    doc = {"a": [{"b": "x"}]}
    assert v.value_at(doc, ("a", 0, "b")) == (True, "x")
    assert v.value_at(doc, ("a", 1)) == (False, None)
    assert v.replace_at(doc, ("a", 0, "b"), str.upper) == {"a": [{"b": "X"}]}
    assert v.replace_at(doc, ("zz",), str.upper) == doc and doc == {"a": [{"b": "x"}]}
    assert v.pointer_path("/a/0/b~1c") == ("a", 0, "b/c")
    assert v.secret_hash("x") == v.secret_hash("x") != v.secret_hash("y")


@pytest.mark.parametrize(
    "text", ["${code}", "$${name}", "$$${x}", "cost: $5 ${env.HOME}", "${", "a ${var.X} b", "$", "plain"]
)
def test_escaped_text_resolves_back_to_itself(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/operator")
    context = v.Context({"X": "value"}, os.environ, "dev")
    found = v.resolve(v.escape(text), context)
    assert found.value == text and not found.secret


def test_renderers_and_plan_files_hide_secret_values_on_both_sides() -> None:
    from agentsync.plan import Action, Change, FieldChange, Plan, SecretRef, conceal, reveal, to_dict
    from agentsync.render import common

    path = ("platform_settings", "hook", "headers", "Authorization")
    change = Change(
        "agent",
        Action.UPDATE,
        "front",
        "agent_1",
        "Front",
        (FieldChange(path[:3], old={"Authorization": "Bearer old"}, new={"Authorization": "Bearer s3cret"}),),
        "PATCH",
        "/v1/convai/agents/agent_1",
        {"platform_settings": {"hook": {"headers": {"Authorization": "Bearer s3cret"}}}},
        "fp",
        secrets=(SecretRef(path, "Bearer ${env.TOKEN}", v.secret_hash("Bearer s3cret")),),
    )
    shown = common.masked(change)
    assert "s3cret" not in repr(shown) and "s3cret" not in repr(common.json_patch(shown))
    assert shown.fields[0].old == shown.fields[0].new == {"Authorization": common.SENSITIVE}
    saved = conceal(change)
    assert "s3cret" not in repr(saved) and "Bearer ${env.TOKEN}" in repr(saved.body)
    assert "s3cret" not in str(to_dict(Plan((change,), 0, 1, "ns", "http://127.0.0.1")))
    restored = reveal(Plan((saved,), 0, 1, "ns", "x"), v.Context({}, {"TOKEN": "s3cret"}, None)).changes[0]
    assert restored.body == change.body and restored.fields[0].new == change.fields[0].new
