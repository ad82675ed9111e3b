"""The apply engine: ordering, read-back comparison, target checks, and writes against the emulator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agentsync import readback
from agentsync.apply import (
    ApplyReport,
    Outcome,
    Result,
    check_target,
    stages,
    version_description,
)
from agentsync.errors import PlanFileError
from agentsync.kinds import Ref
from agentsync.kinds.agent import AGENT
from agentsync.plan import ABSENT, Action, Change, FieldChange, Plan
from agentsync.render.report import render_json, render_text

BASE = "http://127.0.0.1:1"


def matches(path: tuple[str | int, ...], wanted: Any, got: Any) -> bool:
    return readback.matches(AGENT, path, wanted, got)


def is_atomic(path: tuple[str | int, ...]) -> bool:
    return readback.is_atomic(AGENT, path)


def unconverged(change: Change, body: Any, actual: Any, namespace: str | None) -> tuple[str, ...]:
    return readback.unconverged(AGENT, change, body, actual, namespace or "agentsync")


def change(
    kind: str,
    action: Action,
    key: str,
    *,
    depends_on: tuple[Ref, ...] = (),
    body: dict[str, Any] | None = None,
    fields: tuple[FieldChange, ...] = (),
    remote_id: str | None = None,
    fingerprint: str = "fp",
) -> Change:
    return Change(
        kind=kind,
        action=action,
        key=key,
        remote_id=remote_id,
        name=key,
        fields=fields,
        method="PATCH",
        path="/v1/x",
        body=body,
        fingerprint=fingerprint,
        depends_on=depends_on,
    )


def plan_of(*changes: Change, namespace: str = "agentsync", environment: str | None = None) -> Plan:
    return Plan(
        changes=tuple(changes),
        unchanged=0,
        managed=len(changes),
        namespace=namespace,
        base_url=BASE,
        environment=environment,
    )


# -- order ------------------------------------------------------------------------------------------


def keys(order: list[list[Change]]) -> list[list[str]]:
    return [[f"{c.kind}:{c.action.value}:{c.key}" for c in stage] for stage in order]


def test_stages_put_tags_first_agents_by_dependency_and_deletes_last_in_reverse() -> None:
    plan = plan_of(
        change("agent", Action.DELETE, "old-agent"),
        change("agent", Action.CREATE, "router", depends_on=(Ref("agent", "billing"), Ref("agent", "sales"))),
        change("tag", Action.DELETE, "stale-tag"),
        change("agent", Action.UPDATE, "billing", depends_on=(Ref("agent", "sales"),)),
        change("agent", Action.CREATE, "sales"),
        change("tag", Action.CREATE, "vip"),
        change("agent", Action.UPDATE, "faq", depends_on=(Ref("agent", "not-in-plan"),)),
    )
    assert keys(stages(plan)) == [
        ["tag:create:vip"],
        ["agent:create:sales", "agent:update:faq"],
        ["agent:update:billing"],
        ["agent:create:router"],
        ["agent:delete:old-agent"],
        ["tag:delete:stale-tag"],
    ]


def test_a_dependency_cycle_still_schedules_every_change() -> None:
    plan = plan_of(
        change("agent", Action.CREATE, "a", depends_on=(Ref("agent", "b"),)),
        change("agent", Action.CREATE, "b", depends_on=(Ref("agent", "a"),)),
    )
    assert sorted(k for stage in keys(stages(plan)) for k in stage) == ["agent:create:a", "agent:create:b"]


def test_an_empty_plan_has_no_stages() -> None:
    assert stages(plan_of()) == []


# -- read-back comparison -----------------------------------------------------------------------------


def test_matches_compares_numbers_numerically_and_ignores_server_filled_keys() -> None:
    path = ("conversation_config",)
    assert matches(
        path, {"tts": {"stability": 1, "speed": 0.5}}, {"tts": {"stability": 1.0, "speed": 0.5, "x": 1}}
    )
    assert not matches(path, {"tts": {"stability": 1}}, {"tts": {"stability": 0.9}})
    assert not matches(path, {"tts": {"stability": 1}}, {"tts": {}})
    assert not matches(
        ("platform_settings",),
        {"call_limits": {"bursting_enabled": True}},
        {"call_limits": {"bursting_enabled": 1}},
    )


def test_matches_takes_lists_and_free_form_maps_whole() -> None:
    placeholders = ("conversation_config", "agent", "dynamic_variables", "dynamic_variable_placeholders")
    assert not matches(placeholders, {"en": 1}, {"en": 1, "fr": 2})
    assert matches(placeholders, {"en": 1}, {"en": 1.0})
    keywords = ("conversation_config", "asr", "keywords")
    assert not matches(keywords, ["a", "b"], ["b", "a"])
    assert not matches(keywords, None, ABSENT)
    assert matches(keywords, None, None)


def test_matches_completes_declared_objects_with_server_defaults() -> None:
    # The server fills the defaults of every object inside a list it stores whole; a declared
    # criterion with three keys has taken when the read-back holds it with the defaults added.
    criteria = ("platform_settings", "evaluation", "criteria")
    declared = [{"id": "c1", "name": "Polite", "conversation_goal_prompt": "Was polite."}]
    stored = [
        {
            **declared[0],
            "type": "prompt",
            "use_knowledge_base": False,
            "scope": "conversation",
            "llm": None,
            "scoring_mode": "binary",
            "max_score": 100,
            "score_instructions": None,
        }
    ]
    assert matches(criteria, declared, stored)
    assert not matches(criteria, declared, [{**stored[0], "max_score": 10}])


def test_free_form_maps_and_workflow_are_atomic_typed_objects_are_not() -> None:
    assert is_atomic(("conversation_config", "language_presets"))
    assert is_atomic(("workflow",))
    assert not is_atomic(("conversation_config", "agent"))
    assert not is_atomic(("conversation_config", "tts"))
    assert is_atomic(("conversation_config", "asr", "keywords"))


def test_unconverged_names_each_path_that_did_not_take() -> None:
    body = {"conversation_config": {"tts": {"stability": 0.5, "speed": 1.1}}, "name": "Bot"}
    ch = change(
        "agent",
        Action.UPDATE,
        "bot",
        body=body,
        fields=(
            FieldChange(("platform_settings", "call_limits", "daily_limit"), 1, 500),
            FieldChange(("conversation_config", "agent", "first_message"), "hi", ABSENT),
        ),
    )
    actual = {
        "name": "Bot",
        "conversation_config": {"tts": {"stability": 0.5, "speed": 1.0}},
        "platform_settings": {"call_limits": {"daily_limit": 1}},
        "tags": [],
    }
    assert unconverged(ch, body, actual, None) == (
        "conversation_config.tts.speed",
        "platform_settings.call_limits.daily_limit",
    )


def test_unconverged_wants_the_marker_and_compares_tags_as_a_set() -> None:
    mark = "agentsync:bot"
    body = {"tags": ["a", "b", mark]}
    ch = change(
        "agent", Action.CREATE, "bot", body=body, fields=(FieldChange(("tags",), ABSENT, ["a", "b"]),)
    )
    assert unconverged(ch, body, {"tags": ["b", mark, "a"]}, "agentsync") == ()
    assert unconverged(ch, body, {"tags": ["b", "a"]}, "agentsync") == ("tags",)
    assert unconverged(ch, body, {"tags": ["a", mark]}, "agentsync") == ("tags",)
    # After a rename only the new key's marker may remain.
    assert unconverged(ch, body, {"tags": ["a", "b", mark, "agentsync:old"]}, "agentsync") == ("tags",)


def test_unconverged_ignores_the_write_only_version_description() -> None:
    body = {"name": "x", "version_description": "agentsync apply: abc fix"}
    assert unconverged(change("agent", Action.UPDATE, "x", body=body), body, {"name": "x"}, None) == ()


# -- target and version note ---------------------------------------------------------------------------


def test_check_target_accepts_the_same_target() -> None:
    check_target(plan_of(environment="prod"), namespace="agentsync", base_url=BASE + "/", environment="prod")


@pytest.mark.parametrize(
    ("namespace", "base_url", "environment", "word"),
    [
        ("other", BASE, None, "namespace"),
        ("agentsync", "http://127.0.0.1:2", None, "base URL"),
        ("agentsync", BASE, "prod", "environment"),
    ],
)
def test_check_target_refuses_another_target(
    namespace: str, base_url: str, environment: str | None, word: str
) -> None:
    with pytest.raises(PlanFileError) as info:
        check_target(plan_of(), namespace=namespace, base_url=base_url, environment=environment)
    assert word in info.value.message
    assert info.value.hint and "agentsync plan" in info.value.hint


def test_version_description_prefers_the_message(tmp_path: Path) -> None:
    assert version_description(tmp_path, "hotfix prompt") == "hotfix prompt"


def test_version_description_names_the_git_commit(tmp_path: Path) -> None:
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "Tune the support prompt"], check=True)
    text = version_description(tmp_path, None)
    assert text is not None and text.endswith("Tune the support prompt")
    assert text.startswith("agentsync apply: ")


def test_version_description_outside_git_is_none(tmp_path: Path) -> None:
    assert version_description(tmp_path, None) is None


# -- report --------------------------------------------------------------------------------------------


def test_report_exit_code_is_1_for_any_failure_or_skip_and_130_when_interrupted() -> None:
    ok = Result("agent", Action.UPDATE, "a", Outcome.APPLIED)
    assert ApplyReport((ok,)).exit_code == 0
    assert ApplyReport((ok,), interrupted=True).exit_code == 130
    for outcome in (Outcome.FAILED, Outcome.SKIPPED, Outcome.NOT_CONVERGED):
        assert ApplyReport((ok, Result("tag", Action.CREATE, "t", outcome))).exit_code == 1
    assert ApplyReport((Result("tag", Action.CREATE, "t", Outcome.WOULD_APPLY),), dry_run=True).exit_code == 0


def sample_report() -> ApplyReport:
    return ApplyReport(
        (
            Result("tag", Action.CREATE, "vip", Outcome.APPLIED, remote_id="tag_1"),
            Result("agent", Action.CREATE, "bot", Outcome.APPLIED, remote_id="agent_1", recovered=True),
            Result(
                "agent",
                Action.UPDATE,
                "faq",
                Outcome.NOT_CONVERGED,
                remote_id="agent_2",
                paths=("conversation_config.tts.speed", "name"),
                reason="not kept",
            ),
            Result("agent", Action.UPDATE, "sales", Outcome.FAILED, reason="the API refused it"),
            Result("agent", Action.CREATE, "router", Outcome.SKIPPED, reason="it depends on agent sales"),
        ),
        requests={"GET": 9, "POST": 2, "PATCH": 2, "retries": 3},
    )


def test_text_report_groups_by_outcome_and_ends_with_the_summary() -> None:
    text = render_text(sample_report())
    assert text.splitlines() == [
        "Applied:",
        "  ok tag vip created [tag_1]",
        "  ok agent bot created [agent_1] (an earlier try had already created it)",
        "Not converged:",
        "  !! agent faq updated [agent_2]: did not take: conversation_config.tts.speed, name",
        "Failed:",
        "  xx agent sales: the API refused it",
        "Skipped:",
        "  -- agent router: it depends on agent sales",
        "Apply incomplete: 2 applied, 1 not converged, 1 failed, 1 skipped (9 GET, 2 PATCH, 2 POST, 3 retries).",
    ]


def test_json_report_has_every_result_and_counts() -> None:
    data = json.loads(render_json(sample_report()))
    assert data["summary"] == {"applied": 2, "not_converged": 1, "failed": 1, "skipped": 1, "would_apply": 0}
    assert [r["outcome"] for r in data["results"]] == [
        "applied",
        "applied",
        "not_converged",
        "failed",
        "skipped",
    ]
    assert data["results"][2]["not_converged_paths"] == ["conversation_config.tts.speed", "name"]
    assert data["results"][1]["recovered"] is True
    assert (data["ok"], data["exit_code"], data["interrupted"]) == (False, 1, False)


def test_dry_run_and_interrupted_summaries() -> None:
    planned = Result("agent", Action.DELETE, "old", Outcome.WOULD_APPLY, reason="dry run: not written")
    assert render_text(ApplyReport((planned,), dry_run=True)).splitlines() == [
        "Would apply (dry run):",
        "  .. agent old (delete)",
        "Dry run: 1 to write, nothing was written.",
    ]
    skipped = Result("agent", Action.UPDATE, "a", Outcome.SKIPPED, reason="apply was interrupted")
    assert (
        render_text(ApplyReport((skipped,), interrupted=True))
        .splitlines()[-1]
        .startswith("Apply interrupted: 0 applied")
    )
