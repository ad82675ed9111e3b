"""Phone-number routing, adopt-only, end to end: the CLI in-process against the emulator over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from projects import write_project

from agentsync.cli import run
from agentsync.emulator import Emulator

FILE = "phone-numbers.yaml"
NUMBER = "+14155550100"
AGENT = {"name": "Desk", "conversation_config": {"agent": {"first_message": "Hello"}}}


def project(root: Path, text: str, agents: dict[str, Any] | None = None, extra: str = "") -> Path:
    write_project(
        root,
        agents if agents is not None else {"desk": AGENT, "night": {**AGENT, "name": "Night"}},
        settings=f"namespace: t\n{extra}",
    )
    (root / FILE).write_text(text)
    return root


def cli(root: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run([argv[0], "-C", str(root), *argv[1:]])
    out = capsys.readouterr()
    return code, out.out + out.err


def routing(emulator: Emulator) -> dict[str, Any] | None:
    (record,) = emulator.store.records("phone_numbers")
    found: dict[str, Any] | None = record.body["routing"]
    return found


def agent_id(emulator: Emulator, name: str) -> str:
    with emulator.store.lock:
        return next(r.body["agent_id"] for r in emulator.store.agents.values() if r.body["name"] == name)


def test_a_number_routes_to_an_agent_created_in_the_same_apply(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.add_phone_number(NUMBER, "Front desk")
    root = project(
        tmp_path, f"- phone_number: '{NUMBER}'\n  agent_id: ${{agent.desk.id}}\n  environment: staging\n"
    )
    code, out = cli(root, capsys, "plan", "--format", "json")
    assert code == 0, out
    change = next(c for c in json.loads(out)["changes"] if c["kind"] == "phone-number")
    assert (change["action"], change["method"]) == ("update", "PATCH")
    assert cli(root, capsys, "apply", "--auto-approve")[0] == 0
    assert routing(api_env) == {
        "agent_id": agent_id(api_env, "Desk"),
        "branch_id": None,
        "environment": "staging",
    }
    assert cli(root, capsys, "plan", "--detailed-exitcode")[0] == 0


def test_a_new_agent_keeps_the_declared_environment(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.add_phone_number(NUMBER)
    text = f"- phone_number: '{NUMBER}'\n  agent_id: ${{agent.desk.id}}\n  environment: staging\n"
    root = project(tmp_path, text)
    assert cli(root, capsys, "apply", "--auto-approve")[0] == 0
    (root / FILE).write_text(text.replace("agent.desk.id", "agent.night.id"))
    code, out = cli(root, capsys, "plan", "--format", "json")
    change = next(c for c in json.loads(out)["changes"] if c["kind"] == "phone-number")
    # The server clears the branch and environment of a number given a new agent: the body says them again.
    assert change["body"] == {"agent_id": agent_id(api_env, "Night"), "environment": "staging"}
    code, out = cli(root, capsys, "apply", "--auto-approve")
    assert code == 0, out
    assert routing(api_env) == {
        "agent_id": agent_id(api_env, "Night"),
        "branch_id": None,
        "environment": "staging",
    }
    assert cli(root, capsys, "plan", "--detailed-exitcode")[0] == 0


def test_a_number_the_workspace_does_not_have_is_a_located_error(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, f"- phone_number: '{NUMBER}'\n  agent_id: ${{agent.desk.id}}\n")
    code, out = cli(root, capsys, "plan")
    assert code == 1
    assert f"{FILE}:1:3: phone number '{NUMBER}' does not exist in the workspace" in out, out
    assert "never creates phone numbers" in out and "Traceback" not in out
    code, out = cli(root, capsys, "apply", "--auto-approve")
    assert code == 1 and not api_env.store.agents, out


def test_prune_never_deletes_a_number_and_only_the_declared_fields_are_managed(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.add_phone_number(NUMBER, "Front desk")
    api_env.add_phone_number("+14155550199", "Spare")
    root = project(tmp_path, f"- phone_number: '{NUMBER}'\n  agent_id: ${{agent.desk.id}}\n")
    assert cli(root, capsys, "apply", "--auto-approve", "--prune")[0] == 0
    (root / FILE).write_text("[]\n")
    code, out = cli(root, capsys, "plan", "--prune", "--format", "json", "--detailed-exitcode")
    assert code == 0, out
    assert cli(root, capsys, "apply", "--auto-approve", "--prune")[0] == 0
    numbers = sorted(r.body["label"] for r in api_env.store.records("phone_numbers"))
    assert numbers == ["Front desk", "Spare"]


def test_phone_numbers_cannot_be_owned_by_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, "[]\n", extra="phone_numbers: {authoritative: true}\n")
    code, out = cli(root, capsys, "validate")
    assert code != 0 and "agentsync.yaml:2:1" in out, out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- phone_number: '4155550100'\n", "is not an E.164 number"),
        ("- agent_id: x\n", "[0]: phone_number is required"),
        (f"- phone_number: '{NUMBER}'\n  label: Desk\n", f"{FILE}:2:3:"),
        (f"- phone_number: '{NUMBER}'\n- phone_number: '{NUMBER}'\n", "duplicate phone_number"),
        (f"- phone_number: '{NUMBER}'\n  agent_id: ${{env.AGENT}}\n", f"{FILE} cannot use ${{env.*}}"),
    ],
    ids=["not-e164", "no-number", "unknown-field", "duplicate", "env-placeholder"],
)
def test_bad_files_are_located_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    message: str,
) -> None:
    monkeypatch.setenv("AGENT", "agent_x")
    root = project(tmp_path, text, agents={})
    code, out = cli(root, capsys, "validate")
    assert code != 0
    assert message in out, out


def test_a_number_moves_off_an_agent_before_that_agent_is_deleted(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.add_phone_number(NUMBER)
    root = project(tmp_path, f"- phone_number: '{NUMBER}'\n  agent_id: ${{agent.night.id}}\n")
    assert cli(root, capsys, "apply", "--auto-approve")[0] == 0
    (root / "agents" / "night.yaml").unlink()
    (root / FILE).write_text(f"- phone_number: '{NUMBER}'\n  agent_id: ${{agent.desk.id}}\n")
    code, out = cli(root, capsys, "apply", "--auto-approve", "--prune")
    assert code == 0, out
    # Numbers sit above agents: their writes come before every delete, agents' included.
    assert out.index("phone-number +14155550100 updated") < out.index("agent night deleted"), out
    assert routing(api_env) == {"agent_id": agent_id(api_env, "Desk"), "branch_id": None, "environment": None}
    assert cli(root, capsys, "plan", "--prune", "--detailed-exitcode")[0] == 0
