"""One project, two workspaces: environments select the API, the key variable, the namespace, the
variables and the overrides; references resolve to each workspace's own ids; secrets never show."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentsync.cli import run
from agentsync.emulator import ADMIN_KEY, Emulator, EmulatorConfig
from agentsync.errors import ValidationFailed
from agentsync.load import load_project, validate_project

SECRET = "tok-9f8e7d6c5b4a"

SETTINGS = """\
namespace: shop
environments:
  staging:
    base_url: {staging}
    api_key_env: ELEVENLABS_KEY_STAGING
    variables: {{DAILY: 10, VOICE: voice_staging}}
    overrides:
      agents:
        "*":
          conversation_config: {{agent: {{prompt: {{llm: gpt-4o-mini}}}}}}
  prod:
    base_url: {prod}
    api_key_env: ELEVENLABS_KEY_PROD
    variables: {{DAILY: 900, VOICE: voice_prod}}
    overrides:
      agents:
        front:
          platform_settings:
            workspace_overrides:
              conversation_initiation_client_data_webhook:
                url: https://crm.example/hook
                request_headers: {{Authorization: "Bearer ${{env.CRM_TOKEN}}"}}
"""

FRONT = """\
name: Front
conversation_config:
  agent:
    prompt: {prompt: Route the caller., llm: gemini-2.5-flash}
  tts: {voice_id: "${var.VOICE}"}
platform_settings:
  call_limits: {daily_limit: "${var.DAILY}"}
workflow:
  nodes:
    start_node: {type: start, position: {x: 0, y: 0}, edge_order: [go]}
    desk: {type: standalone_agent, position: {x: 0, y: 100}, agent_id: "${agent.desk.id}", edge_order: []}
  edges:
    go: {source: start_node, target: desk, forward_condition: {type: unconditional}}
"""

DESK = """\
name: Desk
conversation_config:
  agent:
    prompt: {prompt: Help with orders., llm: gemini-2.5-flash}
"""


@pytest.fixture
def second() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(host="127.0.0.1", port=0)) as emu:
        yield emu


@pytest.fixture
def project(tmp_path: Path, emulator: Emulator, second: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agentsync.yaml").write_text(SETTINGS.format(staging=emulator.url, prod=second.url))
    (tmp_path / "agents" / "front.yaml").write_text(FRONT)
    (tmp_path / "agents" / "desk.yaml").write_text(DESK)
    for name in ("ELEVENLABS_KEY_STAGING", "ELEVENLABS_KEY_PROD"):
        monkeypatch.setenv(name, ADMIN_KEY)
    monkeypatch.setenv("CRM_TOKEN", SECRET)
    monkeypatch.delenv("ELEVENLABS_BASE_URL", raising=False)
    return tmp_path


def agents_of(emu: Emulator) -> dict[str, dict[str, Any]]:
    import requests

    listed = requests.get(f"{emu.url}/v1/convai/agents", headers={"xi-api-key": ADMIN_KEY}, timeout=5).json()
    bodies = [
        requests.get(
            f"{emu.url}/v1/convai/agents/{a['agent_id']}", headers={"xi-api-key": ADMIN_KEY}, timeout=5
        ).json()
        for a in listed["agents"]
    ]
    return {b["name"]: b for b in bodies}


def test_one_project_applied_to_two_workspaces_resolves_each_ones_ids(
    project: Path, emulator: Emulator, second: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for env in ("staging", "prod"):
        assert run(["apply", "-C", str(project), "-e", env, "--auto-approve"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out
    staging, prod = agents_of(emulator), agents_of(second)
    assert staging["Desk"]["agent_id"] != prod["Desk"]["agent_id"]
    for found in (staging, prod):
        node = found["Front"]["workflow"]["nodes"]["desk"]
        assert node["agent_id"] == found["Desk"]["agent_id"]
    assert staging["Front"]["platform_settings"]["call_limits"]["daily_limit"] == 10
    assert prod["Front"]["platform_settings"]["call_limits"]["daily_limit"] == 900
    assert staging["Front"]["conversation_config"]["tts"]["voice_id"] == "voice_staging"
    assert staging["Desk"]["conversation_config"]["agent"]["prompt"]["llm"] == "gpt-4o-mini"
    assert prod["Desk"]["conversation_config"]["agent"]["prompt"]["llm"] == "gemini-2.5-flash"
    webhook = prod["Front"]["platform_settings"]["workspace_overrides"][
        "conversation_initiation_client_data_webhook"
    ]
    assert webhook["request_headers"]["Authorization"] == f"Bearer {SECRET}"
    for env in ("staging", "prod"):
        assert run(["plan", "-C", str(project), "-e", env, "--detailed-exitcode"]) == 0


def test_secrets_never_appear_in_any_output_or_the_plan_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = project / "prod.json"
    for fmt in ("text", "markdown", "json"):
        assert (
            run(
                [
                    "plan",
                    "-C",
                    str(project),
                    "-e",
                    "prod",
                    "--show-body",
                    "--format",
                    fmt,
                    "--out",
                    str(plan_file),
                ]
            )
            == 0
        )
        out = capsys.readouterr()
        assert SECRET not in out.out + out.err
        header = {
            "text": "environment prod",
            "markdown": "plan: environment `prod`",
            "json": '"environment": "prod"',
        }
        assert header[fmt] in out.out
    saved = plan_file.read_text()
    assert SECRET not in saved
    secrets = [s for c in json.loads(saved)["changes"] for s in c["secrets"]]
    assert [s["template"] for s in secrets] == ["Bearer ${env.CRM_TOKEN}"]


def test_a_saved_plan_refuses_a_changed_or_missing_secret_before_writing(
    project: Path, second: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_file = project / "prod.json"
    assert run(["plan", "-C", str(project), "-e", "prod", "--out", str(plan_file)]) == 0
    monkeypatch.setenv("CRM_TOKEN", "another")
    assert run(["apply", str(plan_file), "-C", str(project), "-e", "prod", "--auto-approve"]) == 1
    assert "differs from the one the plan was made with" in capsys.readouterr().err
    assert agents_of(second) == {}
    monkeypatch.setenv("CRM_TOKEN", SECRET)
    assert run(["apply", str(plan_file), "-C", str(project), "-e", "prod", "--auto-approve"]) == 0
    assert SECRET not in capsys.readouterr().out
    assert set(agents_of(second)) == {"Front", "Desk"}


def test_a_plan_saved_for_one_environment_refuses_another(
    project: Path, emulator: Emulator, second: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = project / "staging.json"
    assert run(["plan", "-C", str(project), "-e", "staging", "--out", str(plan_file)]) == 0
    assert run(["apply", str(plan_file), "-C", str(project), "-e", "prod", "--auto-approve"]) == 1
    err = capsys.readouterr().err
    assert "environment 'staging' (this run: 'prod')" in err
    assert agents_of(second) == {} and agents_of(emulator) == {}


def test_an_unset_secret_fails_plan_at_its_line_in_agentsync_yaml(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_TOKEN")
    assert run(["plan", "-C", str(project), "-e", "prod"]) == 1
    err = capsys.readouterr().err
    line = SETTINGS.splitlines().index(next(x for x in SETTINGS.splitlines() if "Authorization" in x)) + 1
    assert f"agentsync.yaml:{line}:" in err and "environment variable CRM_TOKEN is not set" in err
    # validate is secret-free (a CI step): the same project is valid there.
    assert [p for p in validate_project(project, environment="prod") if p.is_error] == []


def test_overrides_point_at_agentsync_yaml_and_typed_variables_convert(project: Path) -> None:
    loaded = load_project(project, environment="prod", environ={"CRM_TOKEN": SECRET})
    front = loaded.definitions["agent"]["front"]
    path = ("platform_settings", "workspace_overrides", "conversation_initiation_client_data_webhook", "url")
    where = front.location_of(path)
    assert where is not None and where.file == "agentsync.yaml"
    assert front.config["platform_settings"]["call_limits"]["daily_limit"] == 900
    assert front.config["conversation_config"]["tts"]["voice_id"] == "voice_prod"
    secret_path = (*path[:-1], "request_headers", "Authorization")
    assert dict(front.secrets) == {secret_path: "Bearer ${env.CRM_TOKEN}"}
    assert ("workflow", "nodes", "desk", "agent_id") in front.references


def test_an_override_for_an_unknown_agent_and_a_bad_override_value_are_errors_with_lines(
    project: Path,
) -> None:
    settings = project / "agentsync.yaml"
    text = settings.read_text().replace('        "*":\n', '        fornt:\n          name: x\n        "*":\n')
    text = text.replace("llm: gpt-4o-mini", "llm: 42")
    settings.write_text(text)
    problems = validate_project(project, environment="staging")
    messages = [
        (p.location.file if p.location else None, p.location.line if p.location else 0, p.message)
        for p in problems
    ]
    unknown = next(p for p in problems if "no agent 'fornt'" in p.message)
    assert unknown.location is not None and unknown.location.file == "agentsync.yaml"
    assert "did you mean 'front'" in unknown.message and not unknown.is_error
    typed = [m for m in messages if "llm" in m[2]]
    assert typed and all(
        m[0] == "agentsync.yaml"
        and m[1] == text.splitlines().index(next(x for x in text.splitlines() if "llm: 42" in x)) + 1
        for m in typed
    )


def test_validate_without_an_environment_checks_each_and_names_where_a_variable_is_missing(
    project: Path,
) -> None:
    settings = project / "agentsync.yaml"
    settings.write_text(settings.read_text().replace("VOICE: voice_prod", "VOICES: voice_prod"))
    problems = [p for p in validate_project(project) if p.is_error]
    assert len(problems) == 1
    assert problems[0].location is not None and problems[0].location.file == "agents/front.yaml"
    assert "${var.VOICE} is not defined in environment 'prod'" in problems[0].message
    assert problems[0].message.endswith("(environment prod)")


def test_a_secret_that_becomes_a_number_is_concealed_too(
    tmp_path: Path, emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A whole ${env.X} in a number field is typed as a number; it is still a secret, so a saved plan
    # keeps its template and hash, and apply types it again before sending it.
    (tmp_path / "agents").mkdir()
    (tmp_path / "agentsync.yaml").write_text(
        f"namespace: num\ndefault_environment: e\nenvironments: {{e: {{base_url: {emulator.url}}}}}\n"
    )
    (tmp_path / "agents" / "bot.yaml").write_text(
        "name: Bot\nplatform_settings: {call_limits: {daily_limit: '${env.SECRET_LIMIT}'}}\n"
    )
    monkeypatch.setenv("ELEVENLABS_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("SECRET_LIMIT", "987654321")
    plan_file = tmp_path / "plan.json"
    assert run(["plan", "-C", str(tmp_path), "--out", str(plan_file), "--show-body"]) == 0
    saved = plan_file.read_text()
    assert "987654321" not in saved and "987654321" not in capsys.readouterr().out
    assert "${env.SECRET_LIMIT}" in saved

    monkeypatch.setenv("SECRET_LIMIT", "5")
    assert run(["apply", str(plan_file), "-C", str(tmp_path), "--auto-approve"]) == 1
    assert "differs from the one the plan was made with" in capsys.readouterr().err
    monkeypatch.setenv("SECRET_LIMIT", "987654321")
    assert run(["apply", str(plan_file), "-C", str(tmp_path), "--auto-approve"]) == 0
    assert agents_of(emulator)["Bot"]["platform_settings"]["call_limits"]["daily_limit"] == 987654321


def test_tags_yaml_refuses_secrets_at_their_line(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agentsync.yaml").write_text("namespace: t\n")
    (tmp_path / "tags.yaml").write_text("- title: billing\n  description: 'key ${env.TAG_SECRET}'\n")
    [problem] = [p for p in validate_project(tmp_path) if p.is_error]
    assert str(problem.location) == "tags.yaml:2:16"
    assert problem.message.startswith("tags.yaml cannot use ${env.*}: conversation tags are visible")
    # Planning (where the variable is set) refuses it the same way, without echoing the value.
    with pytest.raises(ValidationFailed) as caught:
        load_project(tmp_path, environ={"TAG_SECRET": "hidden-value-7"})
    assert "cannot use ${env.*}" in caught.value.render()
    assert "hidden-value-7" not in caught.value.render()
