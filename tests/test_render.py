"""The three plan renderers, against hand-made plans and golden files.

Regenerate the golden files after an intended change with ``AGENTSYNC_REGEN_GOLDEN=1 pytest tests/test_render.py``
and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import click
import jsonschema
import pytest

from agentsync.errors import Location
from agentsync.plan import ABSENT, Action, Change, FieldChange, Plan, to_dict
from agentsync.render import common, markdown, text
from agentsync.render import json as render_json

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("AGENTSYNC_REGEN_GOLDEN") == "1"
SECRET = "sk_live_do_not_show"

OLD_PROMPT = "You are a support agent.\nBe brief.\nNever guess.\nEscalate refunds.\n"
NEW_PROMPT = "You are a support agent.\nBe warm and brief.\nNever guess.\nEscalate refunds.\n"


def change(
    action: Action,
    key: str,
    *fields: FieldChange,
    kind: str = "agent",
    remote_id: str | None = None,
    name: str | None = None,
    body: dict[str, object] | None = None,
) -> Change:
    method, path = {
        Action.CREATE: ("POST", "/v1/convai/agents/create"),
        Action.DELETE: ("DELETE", f"/v1/convai/agents/{remote_id}"),
    }.get(action, ("PATCH", f"/v1/convai/agents/{remote_id}"))
    return Change(
        kind=kind,
        action=action,
        key=key,
        remote_id=remote_id,
        name=name,
        fields=fields,
        method=method,
        path=path,
        body=body,
        fingerprint="sha256:" + key,
        source=None if action is Action.DELETE else Location(f"agents/{key}.yaml", 1, 1),
    )


def sample_plan() -> Plan:
    create = change(
        Action.CREATE,
        "sales-bot",
        FieldChange(("name",), new="Sales Bot"),
        FieldChange(("conversation_config", "tts", "stability"), new=0.4),
        name="Sales Bot",
        body={"name": "Sales Bot", "conversation_config": {"tts": {"stability": 0.4}}},
    )
    update = change(
        Action.UPDATE,
        "support-bot",
        FieldChange(("conversation_config", "agent", "prompt", "prompt"), OLD_PROMPT, NEW_PROMPT),
        FieldChange(("conversation_config", "tts", "stability"), 0.5, 0.7),
        FieldChange(("platform_settings", "auth", "webhook_secret"), "old-" + SECRET, SECRET),
        FieldChange(("conversation_config", "agent", "first_message"), ABSENT, "Hi | there"),
        remote_id="agent_support",
        name="Support Bot",
        body={
            "platform_settings": {"auth": {"webhook_secret": SECRET}},
            "conversation_config": {"tts": {"stability": 0.7}},
        },
    )
    adopt = change(
        Action.ADOPT,
        "legacy-bot",
        FieldChange(("tags",), ["x"], ["x", "agentsync:legacy-bot"]),
        remote_id="agent_legacy",
        name="Legacy",
        body={"tags": ["x", "agentsync:legacy-bot"]},
    )
    adopt = dataclasses.replace(
        adopt, notes=("adds the ownership marker agentsync:legacy-bot: agentsync manages it from now on",)
    )
    delete = change(Action.DELETE, "old-bot", remote_id="agent_old", name="Old Bot")
    delete = dataclasses.replace(delete, notes=("owned by this project, and no file declares it",))
    tag = Change(
        kind="tag",
        action=Action.CREATE,
        key="escalated",
        remote_id=None,
        name="escalated",
        fields=(FieldChange(("title",), new="escalated"),),
        method="POST",
        path="/v1/convai/tags",
        body={"title": "escalated"},
        fingerprint="sha256:none",
    )
    return Plan(
        changes=(delete, update, adopt, create, tag),
        unchanged=12,
        managed=16,
        namespace="agentsync",
        base_url="http://127.0.0.1:9999",
        environment="staging",
        warnings=("agents/support-bot.yaml: llm 'gpt-9' is not in the spec's list",),
    )


def empty_plan() -> Plan:
    return Plan(changes=(), unchanged=3, managed=3, namespace="team-a", base_url="https://api.elevenlabs.io")


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with AGENTSYNC_REGEN_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


# -- text ------------------------------------------------------------------------------------------


def test_text_matches_golden() -> None:
    check_golden("plan.txt", text.render(sample_plan(), show_body=True))


def test_text_summary_line_counts_every_action() -> None:
    out = text.render(sample_plan())
    assert out.rstrip().endswith("Plan: 2 to create, 1 to adopt, 1 to update, 1 to delete, 12 unchanged.")


def test_text_blocks_use_the_action_symbols_in_apply_order() -> None:
    heads = [line for line in text.render(sample_plan()).splitlines() if line[:2] in ("+ ", "~ ", "- ", "± ")]
    assert [h.split()[1] for h in heads] == ["create", "create", "adopt", "update", "delete"]
    assert heads[0].startswith("+ create tag escalated")


def test_text_shows_old_to_new_and_a_line_diff_for_prompts() -> None:
    out = text.render(sample_plan())
    assert "~ conversation_config.tts.stability: 0.5 → 0.7" in out
    assert "-Be brief." in out and "+Be warm and brief." in out


def test_text_header_names_environment_and_namespace() -> None:
    first = text.render(sample_plan()).splitlines()[0]
    assert "environment staging" in first and "namespace agentsync" in first


def test_text_no_changes() -> None:
    out = text.render(empty_plan())
    assert "No changes. The workspace matches the project (3 unchanged)." in out
    assert out.splitlines()[0].startswith("agentsync plan: the default environment · namespace team-a")


def test_native_environments_are_all_named_in_the_header_with_what_they_map_to() -> None:
    mapped = {"dev": "development", "prod": "production"}
    plan = dataclasses.replace(empty_plan(), meta={"elevenlabs_environments": mapped})
    first = text.render(plan).splitlines()[0]
    assert "environments dev (development), prod (production), one workspace · namespace team-a" in first
    head = markdown.render(plan).splitlines()[0]
    assert head.startswith(
        "### agentsync plan: environments `dev` (`development`), `prod` (`production`), one workspace,"
    )


def test_text_colour_only_when_asked() -> None:
    assert "\x1b[" not in text.render(sample_plan())
    coloured = text.render(sample_plan(), color=True)
    assert "\x1b[" in coloured
    assert click.unstyle(coloured) == text.render(sample_plan())


def test_text_body_only_with_show_body() -> None:
    assert "request: PATCH /v1/convai/agents/agent_support" not in text.render(sample_plan())
    assert "request: PATCH /v1/convai/agents/agent_support" in text.render(sample_plan(), show_body=True)


@pytest.mark.parametrize("show_body", [False, True])
def test_no_renderer_shows_a_secret(show_body: bool) -> None:
    for out in (
        text.render(sample_plan(), show_body=show_body),
        markdown.render(sample_plan(), show_body=show_body),
    ):
        assert SECRET not in out
        assert common.SENSITIVE in out


def test_large_objects_are_pretty_printed() -> None:
    big = [{f"key_{i}": "value " * 3} for i in range(8)]
    plan = Plan(
        changes=(change(Action.CREATE, "a", FieldChange(("platform_settings", "criteria"), new=big)),),
        unchanged=0,
        managed=1,
        namespace="n",
        base_url="u",
    )
    out = text.render(plan)
    assert "    + platform_settings.criteria: [" in out and '\n          "key_7": "value value value "' in out


# -- masking ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["webhook_secret", "Access_Token", "password", "xi_api_key", "API_KEY"])
def test_secret_names(name: str) -> None:
    assert common.is_secret_path(("a", name))


@pytest.mark.parametrize("name", ["name", "voice_id", "stability", 0])
def test_plain_names(name: str | int) -> None:
    assert not common.is_secret_path(("a", name))


def test_only_the_last_path_element_decides() -> None:
    assert not common.is_secret_path(("secrets", "name"))


def test_mask_reaches_nested_values() -> None:
    value = {"headers": [{"name": "x", "api_key": "k"}], "auth": {"password": {"deep": 1}}}
    assert common.mask(value) == {
        "headers": [{"name": "x", "api_key": common.SENSITIVE}],
        "auth": {"password": common.SENSITIVE},
    }


def test_mask_json_patch() -> None:
    ops = (
        {"op": "replace", "path": "/platform_settings/auth/webhook_secret", "value": "s"},
        {"op": "add", "path": "/x", "value": {"token": "t"}},
        {"op": "remove", "path": "/y"},
    )
    assert common.mask_json_patch(ops) == [
        {"op": "replace", "path": "/platform_settings/auth/webhook_secret", "value": common.SENSITIVE},
        {"op": "add", "path": "/x", "value": {"token": common.SENSITIVE}},
        {"op": "remove", "path": "/y"},
    ]


# -- markdown --------------------------------------------------------------------------------------


def test_markdown_matches_golden() -> None:
    check_golden("plan.md", markdown.render(sample_plan(), show_body=True))


def test_markdown_has_a_table_and_one_section_per_resource() -> None:
    out = markdown.render(sample_plan())
    assert out.count("<details>") == 5 and out.count("</details>") == 5
    assert "| ~ | update | agent | `support-bot` | Support Bot | 4 |" in out


def test_markdown_escapes_table_breakers() -> None:
    out = markdown.render(sample_plan())
    assert "Hi \\| there" in out and "Hi | there" not in out


def test_markdown_fence_outlasts_backticks_in_content() -> None:
    field = FieldChange(("conversation_config", "agent", "prompt", "prompt"), "a\n```\nb", "a\n```\nc")
    plan = Plan(
        changes=(change(Action.UPDATE, "k", field, remote_id="agent_k"),),
        unchanged=0,
        managed=1,
        namespace="n",
        base_url="u",
    )
    assert "````diff\n" in markdown.render(plan)


def huge_plan(count: int) -> Plan:
    prompt = "\n".join(f"line {i} " + "x" * 60 for i in range(40))
    changes = tuple(
        change(
            Action.UPDATE,
            f"bot-{i:03}",
            FieldChange(
                ("conversation_config", "agent", "prompt", "prompt"), prompt, prompt.replace("x", "y")
            ),
            remote_id=f"agent_{i}",
        )
        for i in range(count)
    )
    return Plan(changes=changes, unchanged=0, managed=count, namespace="n", base_url="u")


def test_markdown_truncates_under_the_limit_with_a_note() -> None:
    plan = huge_plan(60)
    out = markdown.render(plan)
    assert len(out) <= markdown.LIMIT
    assert "this plan is too long for one comment" in out
    shown = out.count("<details>")
    assert 0 < shown < 60
    assert f"{60 - shown} of 60 resources are not shown" in out


def test_markdown_without_truncation_has_no_note() -> None:
    out = markdown.render(huge_plan(3))
    assert "too long" not in out and out.count("<details>") == 3


def test_markdown_drops_even_the_table_when_it_cannot_fit() -> None:
    out = markdown.render(huge_plan(10), limit=600)
    assert len(out) <= 600
    assert "the summary table and 10 of 10 resources are not shown" in out


def test_markdown_no_changes() -> None:
    out = markdown.render(empty_plan())
    assert "No changes." in out and "<details>" not in out and "default environment" in out


# -- json ------------------------------------------------------------------------------------------


def plan_schema() -> dict[str, object]:
    schema: dict[str, object] = json.loads(
        (ROOT / "schemas" / "plan.schema.json").read_text(encoding="utf-8")
    )
    return schema


def test_json_matches_golden() -> None:
    check_golden("plan.json", render_json.render(sample_plan()))


@pytest.mark.parametrize("plan", [sample_plan(), empty_plan(), huge_plan(2)], ids=["sample", "empty", "huge"])
def test_json_output_and_plan_file_follow_the_schema(plan: Plan) -> None:
    validator = jsonschema.Draft202012Validator(plan_schema())
    validator.validate(render_json.document(plan))
    validator.validate(to_dict(plan))


def test_schema_rejects_a_wrong_document() -> None:
    bad = render_json.document(sample_plan())
    bad["changes"][0]["action"] = "upsert"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, plan_schema())


def test_json_masks_secrets_but_keeps_everything_else() -> None:
    data = render_json.document(sample_plan())
    assert SECRET not in json.dumps(data)
    update = next(c for c in data["changes"] if c["action"] == "update")
    secret = next(f for f in update["fields"] if f["path"][-1] == "webhook_secret")
    assert secret == {
        "path": ["platform_settings", "auth", "webhook_secret"],
        "old": common.SENSITIVE,
        "new": common.SENSITIVE,
    }
    assert update["body"]["conversation_config"] == {"tts": {"stability": 0.7}}
    assert data["masked"] is True
    assert data["summary"] == {
        "create": 2,
        "update": 1,
        "adopt": 1,
        "replace": 0,
        "delete": 1,
        "unchanged": 12,
    }


def test_json_keeps_absent_apart_from_null() -> None:
    plan = Plan(
        changes=(
            change(
                Action.UPDATE,
                "k",
                FieldChange(("name",), None, "x"),
                FieldChange(("workflow",), ABSENT, None),
                remote_id="agent_k",
            ),
        ),
        unchanged=0,
        managed=1,
        namespace="n",
        base_url="u",
    )
    fields = render_json.document(plan)["changes"][0]["fields"]
    assert fields == [{"path": ["name"], "old": None, "new": "x"}, {"path": ["workflow"], "new": None}]


def test_a_created_object_is_shown_as_its_leaves() -> None:
    config = {"agent": {"prompt": {"prompt": "line one\nline two\n", "llm": "x"}}, "tts": {"api_key": "k1"}}
    plan = Plan(
        changes=(change(Action.CREATE, "a", FieldChange(("conversation_config",), new=config)),),
        unchanged=0,
        managed=1,
        namespace="n",
        base_url="u",
    )
    out = text.render(plan)
    assert '    + conversation_config.agent.prompt.llm: "x"' in out
    assert "    + conversation_config.agent.prompt.prompt:\n" in out and "        +line two" in out
    assert "    + conversation_config.tts.api_key: (sensitive)" in out and "k1" not in out
    assert "`conversation_config.agent.prompt.llm`" in markdown.render(plan)


def test_adopt_and_rekey_say_what_happens_to_the_marker() -> None:
    from agentsync.kinds.agent import AGENT
    from agentsync.kinds.tag import TAG

    adopt = dataclasses.replace(
        change(Action.ADOPT, "legacy", remote_id="agent_l"),
        notes=AGENT.identity.notes("adopt", "legacy", None, "ns"),
    )
    rekey = dataclasses.replace(
        change(Action.UPDATE, "desk", remote_id="agent_d"),
        previous_key="front",
        notes=AGENT.identity.notes("update", "desk", "front", "ns"),
    )
    renamed_tag = dataclasses.replace(
        change(Action.UPDATE, "VIP", kind="tag", remote_id="t1"),
        previous_key="vip",
        notes=TAG.identity.notes("update", "VIP", "vip", "ns"),
    )
    plan = Plan(changes=(adopt, rekey, renamed_tag), unchanged=0, managed=3, namespace="ns", base_url="x")
    out = text.render(plan)
    assert "! adds the ownership marker ns:legacy: agentsync manages it from now on" in out
    assert "! re-keyed from front: the marker ns:front becomes ns:desk" in out
    assert "! renamed from 'vip'" in out
    md = markdown.render(plan)
    assert "Adds the ownership marker ns:legacy: agentsync manages it from now on." in md
    assert "Re-keyed from front: the marker ns:front becomes ns:desk." in md


def test_a_replacement_has_its_own_symbol_and_count_in_every_format() -> None:
    replaced = dataclasses.replace(
        change(
            Action.REPLACE,
            "docs",
            FieldChange(("config", "url"), "https://a.example/sse", "https://b.example/sse"),
            kind="mcp-server",
            remote_id="mcp_old",
            body={"config": {"name": "docs", "url": "https://b.example/sse"}},
        ),
        method="POST",
        path="/v1/convai/mcp-servers",
        notes=("config.url cannot be updated: a new MCP server is created",),
    )
    plan = Plan(changes=(replaced,), unchanged=0, managed=1, namespace="ns", base_url="https://api")
    out = text.render(plan)
    assert "-/+ replace mcp-server docs (mcp_old)" in out and "config.url cannot be updated" in out
    assert "Plan: 0 to create, 1 to replace, 0 to update, 0 to delete, 0 unchanged." in out
    assert "| -/+ | replace | mcp-server" in markdown.render(plan)
    data = json.loads(render_json.render(plan))
    assert data["summary"]["replace"] == 1 and data["changes"][0]["action"] == "replace"
    jsonschema.validate(data, plan_schema())
