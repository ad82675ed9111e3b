"""``agentsync test``: attached tests run against the planned configuration (the live agent with the
plan's changes), graded by the emulator; exit 0 / 1 / 3; text, Markdown and JSON."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from test_test_kind import cli, greets, project

from agentsync.emulator import ADMIN_KEY, Emulator, Faults


def calls_tool(tool_id: str) -> dict[str, Any]:
    params = {"referenced_tool": {"id": tool_id, "type": "client"}, "parameters": []}
    return {"name": "calls lookup", "type": "tool", "tool_call_parameters": params}


def agent(prompt: str, tool_ids: list[str], *tests: str) -> dict[str, Any]:
    attached = [{"test_id": f"${{test.{t}.id}}"} for t in tests]
    return {
        "name": "Support",
        "conversation_config": {"agent": {"prompt": {"prompt": prompt, "tool_ids": tool_ids}}},
        "platform_settings": {"testing": {"attached_tests": attached}},
    }


@pytest.fixture
def tool_id(emulator: Emulator) -> str:
    config = {"type": "client", "name": "lookup_order", "description": "Looks an order up"}
    response = requests.post(
        f"{emulator.url}/v1/convai/tools",
        json={"tool_config": config},
        headers={"xi-api-key": ADMIN_KEY},
        timeout=10,
    )
    found: str = response.json()["id"]
    return found


def applied(root: Path, tool_id: str) -> Path:
    tests = {"greets": greets(), "calls-lookup": calls_tool(tool_id)}
    project(root, tests, {"support": agent("Say welcome to Acme.", [tool_id], "greets", "calls-lookup")})
    assert cli("apply", "-C", str(root), "--auto-approve") == 0
    return root


def report(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli("test", "-C", str(root), "--format", "json", *args)
    captured = capsys.readouterr()
    assert captured.out, captured.err
    return code, json.loads(captured.out)


def statuses(found: dict[str, Any]) -> dict[str, str]:
    return {r["test"]: r["status"] for r in found["results"]}


def test_the_live_configuration_passes(
    tmp_path: Path, emulator: Emulator, api_env: None, tool_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = applied(tmp_path, tool_id)
    code, found = report(root, capsys)
    assert code == 0 and statuses(found) == {"greets": "passed", "calls-lookup": "passed"}


def test_a_planned_change_that_removes_the_tool_fails_before_anything_is_written(
    tmp_path: Path, emulator: Emulator, api_env: None, tool_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = applied(tmp_path, tool_id)
    project(
        root,
        {"greets": greets(), "calls-lookup": calls_tool(tool_id)},
        {"support": agent("Say welcome to Acme.", [], "greets", "calls-lookup")},
    )
    code, found = report(root, capsys)
    assert code == 1 and statuses(found) == {"greets": "passed", "calls-lookup": "failed"}
    assert "cannot call" in next(r["reason"] for r in found["results"] if r["test"] == "calls-lookup")
    stored = next(r.body for r in emulator.store.agent_records())
    assert stored["conversation_config"]["agent"]["prompt"]["tool_ids"] == [tool_id]  # nothing written
    invocation = max(emulator.store.invocation_records(), key=lambda r: r.seq).body
    tested = invocation["configs"][0]["conversation_config"]["agent"]["prompt"]
    assert tested["tool_ids"] == [] and tested["prompt"] == "Say welcome to Acme."
    # Restoring the tool passes again.
    project(
        root,
        {"greets": greets(), "calls-lookup": calls_tool(tool_id)},
        {"support": agent("Say welcome to Acme.", [tool_id], "greets", "calls-lookup")},
    )
    assert report(root, capsys)[0] == 0


def test_what_cannot_run_before_apply_is_reported_with_its_reason(
    tmp_path: Path, emulator: Emulator, api_env: None, tool_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = applied(tmp_path, tool_id)
    tests = {"greets": greets(), "calls-lookup": calls_tool(tool_id), "new": {**greets(), "name": "new one"}}
    project(root, tests, {"support": agent("Say welcome to Acme.", [tool_id], "greets", "new")})
    code, found = report(root, capsys)
    assert code == 3 and statuses(found) == {"greets": "passed", "${test.new.id}": "not run"}, found
    assert "does not exist yet" in found["results"][1]["reason"]
    project(root, tests, {"support": agent("x", [], "greets"), "fresh": agent("x", [], "greets")})
    code, found = report(root, capsys, "--target", "fresh")
    assert code == 3 and [r["reason"] for r in found["results"]] == [
        "the agent does not exist yet: apply creates it"
    ], found


def test_repeat_runs_every_test_n_times_and_a_timeout_is_not_run(
    tmp_path: Path, emulator: Emulator, api_env: None, tool_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = applied(tmp_path, tool_id)
    code, found = report(root, capsys, "--repeat", "3")
    assert code == 0 and {r["runs"] for r in found["results"]} == {3}
    emulator.set_faults(Faults(test_run_delay=30))
    code, found = report(root, capsys, "--test-timeout", "1")
    assert code == 3 and set(statuses(found).values()) == {"not run"}


def test_text_and_markdown_show_the_table(
    tmp_path: Path, emulator: Emulator, api_env: None, tool_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = applied(tmp_path, tool_id)
    capsys.readouterr()
    assert cli("test", "-C", str(root)) == 0
    out = capsys.readouterr().out
    assert "ok  agent support  greets" in out and out.endswith("Tests: 2 passed, 0 failed, 0 not run.\n")
    assert cli("test", "-C", str(root), "--format", "markdown") == 0
    markdown = capsys.readouterr().out
    assert "| ok | `agent support` | `calls-lookup` | 1/1 |" in markdown


def without_the_tool(root: Path, tool_id: str) -> None:
    tests = {"greets": greets(), "calls-lookup": calls_tool(tool_id)}
    project(root, tests, {"support": agent("Say welcome to Acme.", [], "greets", "calls-lookup")})


def test_plan_test_puts_the_results_in_the_same_output(
    tmp_path: Path, emulator: Emulator, api_env: None, tool_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = applied(tmp_path, tool_id)
    without_the_tool(root, tool_id)
    capsys.readouterr()
    assert cli("plan", "-C", str(root), "--test", "--format", "markdown") == 1
    out = capsys.readouterr().out
    assert out.index("### agentsync plan") < out.index("#### agentsync test")
    assert "| FAIL | `agent support` | `calls-lookup` | 0/1 |" in out
    assert cli("plan", "-C", str(root), "--test", "--format", "json") == 1
    document = json.loads(capsys.readouterr().out)
    assert document["changes"] and {r["status"] for r in document["tests"]["results"]} == {"passed", "failed"}


def test_apply_require_tests_refuses_the_agent_whose_tests_fail_and_writes_it_once_they_pass(
    tmp_path: Path, emulator: Emulator, api_env: None, tool_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = applied(tmp_path, tool_id)
    without_the_tool(root, tool_id)
    capsys.readouterr()
    assert cli("apply", "-C", str(root), "--auto-approve", "--require-tests") == 1
    assert "refused: agent support is not written: test calls-lookup failed" in capsys.readouterr().err
    stored = next(r.body for r in emulator.store.agent_records())
    assert stored["conversation_config"]["agent"]["prompt"]["tool_ids"] == [tool_id]
    # A change its tests pass is written.
    tests = {"greets": greets(), "calls-lookup": calls_tool(tool_id)}
    project(
        root, tests, {"support": agent("Say welcome to Acme. Be brief.", [tool_id], "greets", "calls-lookup")}
    )
    assert cli("apply", "-C", str(root), "--auto-approve", "--require-tests") == 0
    stored = next(r.body for r in emulator.store.agent_records())
    assert stored["conversation_config"]["agent"]["prompt"]["prompt"] == "Say welcome to Acme. Be brief."
    invocation = max(emulator.store.invocation_records(), key=lambda r: r.seq).body
    assert (
        invocation["configs"][0]["conversation_config"]["agent"]["prompt"]["prompt"]
        == stored["conversation_config"]["agent"]["prompt"]["prompt"]
    )


def test_apply_require_tests_writes_the_rest_of_the_plan(
    tmp_path: Path, emulator: Emulator, api_env: None, tool_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = applied(tmp_path, tool_id)
    tests = {"greets": greets(), "calls-lookup": calls_tool(tool_id), "extra": {**greets(), "name": "extra"}}
    project(root, tests, {"support": agent("Say welcome to Acme.", [], "greets", "calls-lookup")})
    assert cli("apply", "-C", str(root), "--auto-approve", "--require-tests") == 1
    assert "extra" in {r.body["test"]["name"] for r in emulator.store.test_records()}


def test_a_terminal_sees_a_progress_line(tmp_path: Path) -> None:
    tests = {"greets": greets()}
    root = project(tmp_path, tests, {"support": agent("Say welcome to Acme.", [], "greets")})
    assert cli("apply", "-C", str(root), "--emulator", "--auto-approve") == 0
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "agentsync", "test", "-C", str(root), "--emulator"]
    done = subprocess.run(command, stderr=follower, stdout=subprocess.PIPE, timeout=120, check=False)
    os.close(follower)
    shown = os.read(leader, 65536).decode()
    os.close(leader)
    assert done.returncode == 0, shown
    assert "agent support: 1/1 runs finished" in shown
    assert "runs finished" not in done.stdout.decode()  # the progress is for the terminal, not the output


def test_a_grader_rationale_never_shows_a_secret_the_test_was_given(
    tmp_path: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    phrase = "open sesame 4f7c2a9e"
    monkeypatch.setenv("UT_PHRASE", phrase)
    secretive = {"name": "says it", "type": "llm", "success_condition": 'The agent says "${env.UT_PHRASE}"'}
    support = agent("Say welcome to Acme.", [], "says-it")
    project(tmp_path / "p", {"says-it": secretive}, {"support": support})
    assert cli("apply", "-C", str(tmp_path / "p"), "--auto-approve") == 0
    for fmt in ("text", "markdown", "json"):
        capsys.readouterr()
        assert cli("test", "-C", str(tmp_path / "p"), "--format", fmt) == 1  # the prompt lacks the phrase
        out, err = capsys.readouterr()
        assert "says-it" in out and phrase not in out + err, (fmt, out)
