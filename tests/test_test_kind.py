"""Agent tests as a kind: ``tests/KEY.yaml`` files matched by name (or ``id:``), created, updated by PUT
(the whole test, keeping its id), attached to agents through ``${test.KEY.id}``; end to end through the
CLI against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from projects import write_project

from agentsync.cli import run
from agentsync.emulator import Emulator

TOOL_ID = "tool_0000000000000000000000000000"


def greets(phrase: str = "welcome to acme") -> dict[str, Any]:
    return {"name": "greets", "type": "llm", "success_condition": f'The agent says "{phrase}"'}


def calls_lookup(tool_id: str = TOOL_ID) -> dict[str, Any]:
    params = {"referenced_tool": {"id": tool_id, "type": "client"}, "parameters": []}
    return {"name": "calls lookup", "type": "tool", "tool_call_parameters": params}


def support(*tests: str) -> dict[str, Any]:
    attached = [{"test_id": f"${{test.{t}.id}}"} for t in tests]
    return {
        "name": "Support",
        "conversation_config": {"agent": {"prompt": {"prompt": "Say welcome to Acme."}}},
        "platform_settings": {"testing": {"attached_tests": attached}},
    }


def project(root: Path, tests: dict[str, dict[str, Any]], agents: dict[str, Any]) -> Path:
    write_project(root, agents)
    (root / "tests").mkdir(exist_ok=True)
    for old in (root / "tests").glob("*.yaml"):
        old.unlink()
    for key, body in tests.items():
        (root / "tests" / f"{key}.yaml").write_text(json.dumps(body))
    return root


def cli(*args: str) -> int:
    return run(list(args))


def stored_tests(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {r.body["test"]["name"]: r.body["test"] for r in emulator.store.test_records()}


def calls(emulator: Emulator, method: str, route: str) -> int:
    return sum(
        r["count"] for r in emulator.stats()["requests"] if (r["method"], r["route"]) == (method, route)
    )


def test_tests_are_created_before_the_agents_that_attach_them(
    tmp_path: Path, emulator: Emulator, api_env: None
) -> None:
    root = project(
        tmp_path, {"greets": greets(), "calls-lookup": calls_lookup()}, {"support": support("greets")}
    )
    assert cli("apply", "-C", str(root), "--auto-approve") == 0
    tests = stored_tests(emulator)
    assert set(tests) == {"greets", "calls lookup"}
    agent = next(r.body for r in emulator.store.agent_records())
    assert agent["platform_settings"]["testing"]["attached_tests"][0]["test_id"] == tests["greets"]["id"]
    assert cli("plan", "-C", str(root), "--detailed-exitcode") == 0


def test_a_changed_test_is_replaced_in_place_by_put_keeping_its_id(
    tmp_path: Path, emulator: Emulator, api_env: None
) -> None:
    root = project(
        tmp_path, {"greets": {**greets(), "environment": "staging"}}, {"support": support("greets")}
    )
    assert cli("apply", "-C", str(root), "--auto-approve") == 0
    before = stored_tests(emulator)["greets"]
    project(tmp_path, {"greets": greets("hello")}, {"support": support("greets")})
    assert cli("plan", "-C", str(root), "--detailed-exitcode") == 2
    assert cli("apply", "-C", str(root), "--auto-approve") == 0
    after = stored_tests(emulator)["greets"]
    assert after["id"] == before["id"] and after["success_condition"] == 'The agent says "hello"'
    assert after["environment"] is None  # the whole test was sent: nothing of the old one survives
    assert calls(emulator, "PUT", "/v1/convai/agent-testing/{test_id}") == 1
    assert calls(emulator, "DELETE", "/v1/convai/agent-testing/{test_id}") == 0
    assert cli("plan", "-C", str(root), "--detailed-exitcode") == 0


def test_a_test_is_matched_by_name_or_by_id(tmp_path: Path, emulator: Emulator, api_env: None) -> None:
    root = project(tmp_path, {"greets": greets()}, {})
    assert cli("apply", "-C", str(root), "--auto-approve") == 0
    test_id = stored_tests(emulator)["greets"]["id"]
    project(tmp_path, {"greets": {**greets(), "name": "greets politely", "id": test_id}}, {})
    assert cli("apply", "-C", str(root), "--auto-approve") == 0
    assert [t["id"] for t in stored_tests(emulator).values()] == [test_id]
    assert set(stored_tests(emulator)) == {"greets politely"}


def test_pull_after_apply_leaves_agent_and_test_files_byte_identical(
    tmp_path: Path, emulator: Emulator, api_env: None
) -> None:
    root = project(
        tmp_path, {"greets": greets(), "calls-lookup": calls_lookup()}, {"support": support("greets")}
    )
    assert cli("apply", "-C", str(root), "--auto-approve") == 0
    before = {p: p.read_bytes() for p in root.rglob("*.yaml")}
    assert cli("pull", "-C", str(root)) == 0
    assert {p: p.read_bytes() for p in before} == before
    assert cli("plan", "-C", str(root), "--detailed-exitcode") == 0


def test_a_targeted_agent_can_attach_a_test_the_targets_leave_out(
    tmp_path: Path, emulator: Emulator, api_env: None
) -> None:
    root = project(tmp_path, {"greets": greets()}, {"support": support("greets")})
    assert cli("apply", "-C", str(root), "--auto-approve") == 0
    assert cli("plan", "-C", str(root), "--target", "support", "--detailed-exitcode") == 0
