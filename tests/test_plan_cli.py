"""`agentsync plan` end to end: the command line in-process, against the emulator over real HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agentsync import plan as plan_module
from agentsync.cli import options, run
from agentsync.client import Client, RetryPolicy
from agentsync.emulator import ADMIN_KEY, Emulator, Faults
from agentsync.kinds.identity import marker

NS = "e2e"
AGENTS = "/v1/convai/agents"
SCHEMA = json.loads(
    (Path(__file__).parent.parent / "schemas" / "plan.schema.json").read_text(encoding="utf-8")
)

BOT = """\
name: Help Bot
tags: [support]
conversation_config:
  agent:
    first_message: Hello there
  tts:
    stability: 0.5
"""
BOT_REMOTE = {
    "name": "Help Bot",
    "tags": ["support", marker(NS, "bot")],
    "conversation_config": {"agent": {"first_message": "Hello there"}, "tts": {"stability": 0.5}},
}


@pytest.fixture(autouse=True)
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # Retries still happen (the emulator counts them); only the waits between them shrink.
    monkeypatch.setattr(options, "RETRY", RetryPolicy(base_delay=0.001, max_delay=0.01))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agentsync.yaml").write_text(f"namespace: {NS}\n", encoding="utf-8")
    (tmp_path / "agents" / "bot.yaml").write_text(BOT, encoding="utf-8")
    return tmp_path


@pytest.fixture
def api(api_env: Emulator) -> Iterator[Client]:
    with Client(api_env.url, ADMIN_KEY) as client:
        yield client


def plan(project: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(["plan", "-C", str(project), *args])
    out, err = capsys.readouterr()
    return code, out, err


def seed(api: Client, body: dict[str, Any]) -> str:
    agent_id: str = api.post(f"{AGENTS}/create", body)["agent_id"]
    return agent_id


def test_a_new_project_plans_creates(project: Path, api: Client, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = plan(project, "--detailed-exitcode", capsys=capsys)
    assert code == 2
    assert '+ create agent bot ("Help Bot")' in out
    assert '    + conversation_config.agent.first_message: "Hello there"' in out
    assert f"namespace {NS}" in out.splitlines()[0]
    assert out.rstrip().endswith("Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged.")


def test_no_changes_when_the_workspace_matches(
    project: Path, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(api, BOT_REMOTE)
    code, out, _ = plan(project, "--detailed-exitcode", capsys=capsys)
    assert (code, out.strip().splitlines()[-1]) == (
        0,
        "No changes. The workspace matches the project (1 unchanged).",
    )


def test_drift_made_through_the_api_shows_up(
    project: Path, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    agent_id = seed(api, BOT_REMOTE)
    api.patch(f"{AGENTS}/{agent_id}", {"conversation_config": {"tts": {"stability": 0.9}}})
    code, out, _ = plan(project, "--detailed-exitcode", "--show-body", capsys=capsys)
    assert code == 2
    assert f'~ update agent bot ("Help Bot", {agent_id})' in out
    assert "~ conversation_config.tts.stability: 0.9 → 0.5" in out
    assert f"request: PATCH {AGENTS}/{agent_id}" in out
    assert "Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged." in out


def test_adoption_by_id(project: Path, api: Client, capsys: pytest.CaptureFixture[str]) -> None:
    agent_id = seed(api, {**BOT_REMOTE, "tags": ["support"]})
    (project / "agents" / "bot.yaml").write_text(BOT + f"id: {agent_id}\n", encoding="utf-8")
    code, out, _ = plan(project, capsys=capsys)
    assert code == 0
    assert f'± adopt agent bot ("Help Bot", {agent_id})' in out
    assert "1 to adopt" in out


def test_prune_plans_deletes_only_when_asked(
    project: Path, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(api, BOT_REMOTE)
    gone = seed(api, {"name": "Old", "conversation_config": {}, "tags": [marker(NS, "old")]})
    seed(api, {"name": "Not ours", "conversation_config": {}, "tags": ["other:old"]})
    _, without, _ = plan(project, capsys=capsys)
    assert "delete" not in without.split("Plan:")[0]
    code, out, _ = plan(project, "--prune", "--detailed-exitcode", capsys=capsys)
    assert code == 2
    assert f'- delete agent old ("Old", {gone})' in out
    assert "Plan: 0 to create, 0 to update, 1 to delete, 1 unchanged." in out


def test_two_agents_with_one_marker_is_an_error(
    project: Path, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = seed(api, BOT_REMOTE), seed(api, BOT_REMOTE)
    code, out, err = plan(project, "--detailed-exitcode", capsys=capsys)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and first in err and second in err
    assert "Traceback" not in err


def test_json_and_markdown_formats(project: Path, api: Client, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = plan(project, "--format", "json", capsys=capsys)
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert document["summary"]["create"] == 1 and document["changes"][0]["key"] == "bot"
    _, md, _ = plan(project, "--format", "markdown", capsys=capsys)
    assert "<details><summary>+ create agent bot" in md and "**Plan: 1 to create" in md


def test_out_saves_a_plan_apply_can_load(
    project: Path, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    target = project / "plan.json"
    code, _, err = plan(project, "--out", str(target), capsys=capsys)
    assert code == 0 and "Saved the plan" in err
    saved = plan_module.load(target)
    assert [c.key for c in saved.changes] == ["bot"]
    jsonschema.validate(json.loads(target.read_text(encoding="utf-8")), SCHEMA)


def test_target_limits_the_plan(project: Path, api: Client, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "agents" / "other.yaml").write_text("name: Other\n", encoding="utf-8")
    _, out, _ = plan(project, "--target", "other", capsys=capsys)
    assert "create agent other" in out and "create agent bot" not in out
    code, _, err = plan(project, "--target", "nope", "--detailed-exitcode", capsys=capsys)
    assert code == 1 and "unknown target 'nope'" in err


def test_colour_only_when_asked(project: Path, api: Client, capsys: pytest.CaptureFixture[str]) -> None:
    assert "\x1b[" not in plan(project, capsys=capsys)[1]  # not a TTY
    assert "\x1b[" in plan(project, "--color", capsys=capsys)[1]


# -- errors ------------------------------------------------------------------------------------------


def test_a_rejected_key(
    project: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk_not_valid_123")
    code, out, err = plan(project, "--detailed-exitcode", capsys=capsys)
    assert code == 1 and out == ""
    assert err.startswith("error: the API key was rejected (401)")
    assert "sk_not_valid_123" not in err


def test_a_missing_key(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    code, _, err = plan(project, "--base-url", "http://127.0.0.1:9", capsys=capsys)
    assert code == 1 and "ELEVENLABS_API_KEY is not set" in err


def test_connection_refused_names_the_url(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ELEVENLABS_API_KEY", "k")
    code, _, err = plan(
        project, "--base-url", f"http://127.0.0.1:{port}", "--detailed-exitcode", capsys=capsys
    )
    assert code == 1
    assert f"error: could not connect to http://127.0.0.1:{port}/v1/convai/agents" in err
    assert "connection refused" in err


def test_server_errors_name_the_request_id(
    project: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.set_faults(Faults(error_rate=1.0, seed=9))
    code, _, err = plan(project, "--detailed-exitcode", capsys=capsys)
    assert code == 1
    assert "error: the server failed with HTTP 5" in err and "(request id " in err
    # Every list read was tried max_attempts times before giving up.
    assert api_env.stats()["total"] == 2 * RetryPolicy().max_attempts


def test_plain_http_to_a_remote_host_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk_abc")
    code, _, err = plan(project, "--base-url", "http://api.example.test", capsys=capsys)
    assert code == 1 and "refusing to send the API key over plain HTTP to api.example.test" in err


@pytest.mark.parametrize(
    "args", [["--format", "yaml"], ["--bogus"], ["--concurrency", "0"], ["--residency", "mars"]]
)
def test_usage_errors_exit_1_never_2(
    project: Path, api: Client, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = plan(project, "--detailed-exitcode", *args, capsys=capsys)
    assert code == 1 and out == ""


def test_an_invalid_project_exits_1(project: Path, api: Client, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "agents" / "bot.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    code, out, err = plan(project, "--detailed-exitcode", capsys=capsys)
    assert code == 1 and out == "" and "bot.yaml" in err


def test_the_in_process_emulator(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    code, out, err = plan(project, "--emulator", "--detailed-exitcode", capsys=capsys)
    assert code == 2 and "Using the in-process emulator" in err
    assert "+ create agent bot" in out
    assert (project / ".agentsync" / "emulator.json").exists()
    code, _, err = plan(project, "--emulator", "--base-url", "http://127.0.0.1:1", capsys=capsys)
    assert code == 1 and "--emulator cannot be combined" in err
