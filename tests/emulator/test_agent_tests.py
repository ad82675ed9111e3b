"""Conformance of the emulated agent-testing, run-tests and test-invocation endpoints; the ``api`` fixture
validates every response against the packaged spec at the end of each test."""

from __future__ import annotations

import time
from typing import Any

import pytest

from agentsync.emulator import Emulator, Faults
from tests.emulator.conftest import Api

TESTS = "/v1/convai/agent-testing"
INVOCATIONS = "/v1/convai/test-invocations"


def create_test(api: Api, body: dict[str, Any]) -> str:
    response = api.post(f"{TESTS}/create", json=body)
    assert response.status_code == 200, response.text
    test_id: str = response.json()["id"]
    return test_id


def tool_test(tool_id: str, **extra: Any) -> dict[str, Any]:
    params = {"referenced_tool": {"id": tool_id, "type": "webhook"}, "parameters": []}
    return {"name": "looks up the order", "type": "tool", "tool_call_parameters": params, **extra}


def agent_with(api: Api, prompt: str, tool_ids: list[str] | None = None) -> str:
    agent_prompt: dict[str, Any] = {"prompt": prompt}
    if tool_ids is not None:
        agent_prompt["tool_ids"] = tool_ids
    return api.create_agent({"name": "Support", "conversation_config": {"agent": {"prompt": agent_prompt}}})


def a_tool(api: Api, name: str = "lookup_order") -> str:
    config = {"type": "client", "name": name, "description": "Looks an order up"}
    response = api.post("/v1/convai/tools", json={"tool_config": config})
    assert response.status_code == 200, response.text
    tool_id: str = response.json()["id"]
    return tool_id


def run(api: Api, agent_id: str, test_ids: list[str], **extra: Any) -> dict[str, Any]:
    body = {"tests": [{"test_id": t} for t in test_ids], **extra}
    response = api.post(f"/v1/convai/agents/{agent_id}/run-tests", json=body)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def outcomes(api: Api, invocation_id: str) -> list[tuple[str, str]]:
    runs = api.get(f"{INVOCATIONS}/{invocation_id}").json()["test_runs"]
    return [(r["test_name"], r["status"]) for r in runs]


def test_create_fills_defaults_by_type_and_get_returns_the_test(api: Api) -> None:
    llm = create_test(api, {"name": "greets", "success_condition": 'says "welcome"'})
    tool = create_test(api, tool_test("tool_x"))
    got = api.get(f"{TESTS}/{llm}").json()
    assert got["id"] == llm and got["type"] == "llm" and got["success_examples"] == []
    got_tool = api.get(f"{TESTS}/{tool}").json()
    assert got_tool["type"] == "tool" and got_tool["tool_call_parameters"]["verify_absence"] is False
    assert "success_condition" not in got_tool


def test_put_replaces_the_whole_test_and_keeps_its_id(api: Api) -> None:
    test_id = create_test(
        api, {"name": "greets", "success_condition": 'says "welcome"', "environment": "staging"}
    )
    response = api.call("PUT", f"{TESTS}/{test_id}", json={"name": "greets warmly"})
    assert response.status_code == 200, response.text
    got = api.get(f"{TESTS}/{test_id}").json()
    assert got["id"] == test_id and got["name"] == "greets warmly"
    assert got["success_condition"] == "" and got["environment"] is None  # nothing of the old test survives


def test_patch_is_not_a_method_of_a_test(api: Api) -> None:
    test_id = create_test(api, {"name": "greets"})
    response = api.patch(f"{TESTS}/{test_id}", json={"name": "other"})
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "PUT", "DELETE"}
    assert api.get(f"{TESTS}/{test_id}").json()["name"] == "greets"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "name"]),
        ({"name": "x", "type": "nonsense"}, ["body", "type"]),
        (
            {"name": "x", "type": "tool", "tool_call_parameters": {"referenced_tool": {"id": "t"}}},
            ["body", "tool_call_parameters", "referenced_tool", "type"],
        ),
    ],
)
def test_an_invalid_test_is_a_422_naming_the_field(api: Api, body: dict[str, Any], loc: list[str]) -> None:
    response = api.post(f"{TESTS}/create", json=body)
    assert response.status_code == 422
    assert loc in [item["loc"] for item in response.json()["detail"]]
    assert api.get(TESTS).json()["tests"] == []


def test_the_list_pages_newest_first_and_filters(api: Api) -> None:
    first = create_test(api, {"name": "Greets"})
    second = create_test(api, tool_test("tool_x", name="Calls lookup"))
    page = api.get(TESTS, params={"page_size": 1}).json()
    assert [t["id"] for t in page["tests"]] == [second] and page["has_more"] is True
    rest = api.get(TESTS, params={"page_size": 1, "cursor": page["next_cursor"]}).json()
    assert [t["id"] for t in rest["tests"]] == [first] and rest["has_more"] is False
    assert [t["id"] for t in api.get(TESTS, params={"types": "llm"}).json()["tests"]] == [first]
    assert [t["id"] for t in api.get(TESTS, params={"search": "LOOKUP"}).json()["tests"]] == [second]


def test_delete_removes_the_test(api: Api) -> None:
    test_id = create_test(api, {"name": "greets"})
    assert api.delete(f"{TESTS}/{test_id}").json() == {}
    assert api.get(f"{TESTS}/{test_id}").status_code == 404


def test_runs_are_graded_against_the_stored_configuration(api: Api) -> None:
    tool_id = a_tool(api)
    agent_id = agent_with(api, "Say Welcome to Acme first.", [tool_id])
    greets = create_test(api, {"name": "greets", "success_condition": 'The agent says "welcome to acme"'})
    calls = create_test(api, tool_test(tool_id))
    refuses = create_test(
        api,
        tool_test(
            tool_id,
            name="never calls",
            tool_call_parameters={
                "referenced_tool": {"id": tool_id, "type": "webhook"},
                "verify_absence": True,
            },
        ),
    )
    invocation = run(api, agent_id, [greets, calls, refuses])
    assert [r["status"] for r in invocation["test_runs"]] == ["pending"] * 3
    assert invocation["ran_against_draft"] is False
    assert outcomes(api, invocation["id"]) == [
        ("greets", "passed"),
        ("looks up the order", "passed"),
        ("never calls", "failed"),
    ]


def test_an_override_is_what_gets_tested_and_is_recorded(api: Api, emulator: Emulator) -> None:
    tool_id = a_tool(api)
    agent_id = agent_with(api, "Say welcome to Acme first.", [tool_id])
    greets = create_test(api, {"name": "greets", "success_condition": 'says "welcome to acme"'})
    calls = create_test(api, tool_test(tool_id))
    override = {
        "conversation_config": {"agent": {"prompt": {"prompt": "Be terse."}}},
        "platform_settings": {},
    }
    invocation = run(api, agent_id, [greets, calls], agent_config_override=override)
    assert invocation["ran_against_draft"] is True
    runs = api.get(f"{INVOCATIONS}/{invocation['id']}").json()["test_runs"]
    assert [r["status"] for r in runs] == ["failed", "failed"]
    assert runs[0]["condition_result"]["rationale"]["messages"] == ["missing: 'welcome to acme'"]
    stored = emulator.store.get_invocation(invocation["id"])
    assert stored is not None and stored["configs"] == [
        {
            "conversation_config": override["conversation_config"],
            "platform_settings": {},
            "workflow": stored["configs"][0]["workflow"],
        }
    ]
    # The stored agent is untouched: the same tests pass against it.
    assert [s for _, s in outcomes(api, run(api, agent_id, [greets, calls])["id"])] == ["passed", "passed"]


def test_runs_stay_pending_for_the_configured_delay(api: Api, emulator: Emulator) -> None:
    emulator.set_faults(Faults(test_run_delay=0.6))
    agent_id = agent_with(api, "Say hello.")
    test_id = create_test(api, {"name": "greets", "success_condition": 'says "hello"'})
    invocation = run(api, agent_id, [test_id], repeat_count=2)
    assert outcomes(api, invocation["id"]) == [("greets", "pending")] * 2
    listed = api.get(INVOCATIONS, params={"agent_id": agent_id}).json()["results"]
    assert [(r["pending_count"], r["test_run_count"]) for r in listed] == [(2, 2)]
    time.sleep(0.7)
    assert outcomes(api, invocation["id"]) == [("greets", "passed")] * 2


def test_resubmit_regrades_the_named_runs_with_a_new_override(api: Api) -> None:
    agent_id = agent_with(api, "Be terse.")
    test_id = create_test(api, {"name": "greets", "success_condition": 'says "hello"'})
    invocation = run(api, agent_id, [test_id])
    assert outcomes(api, invocation["id"]) == [("greets", "failed")]
    override = {
        "conversation_config": {"agent": {"prompt": {"prompt": "Say hello."}}},
        "platform_settings": {},
    }
    body = {
        "test_run_ids": [invocation["test_runs"][0]["test_run_id"]],
        "agent_id": agent_id,
        "agent_config_override": override,
    }
    assert api.post(f"{INVOCATIONS}/{invocation['id']}/resubmit", json=body).json() == {}
    assert outcomes(api, invocation["id"]) == [("greets", "passed")]


def test_unknown_agents_tests_and_invocations_are_404(api: Api) -> None:
    agent_id = agent_with(api, "x")
    assert (
        api.post(
            f"/v1/convai/agents/{agent_id}/run-tests", json={"tests": [{"test_id": "test_nope"}]}
        ).status_code
        == 404
    )
    assert api.get(f"{INVOCATIONS}/suite_nope").status_code == 404
    assert (
        api.post("/v1/convai/agents/agent_nope/run-tests", json={"tests": [{"test_id": "t"}]}).status_code
        == 404
    )


def test_a_response_test_without_a_quoted_phrase_cannot_pass(api: Api) -> None:
    agent_id = agent_with(api, "anything")
    test_id = create_test(api, {"name": "vague", "success_condition": "the agent is helpful"})
    runs = api.get(f"{INVOCATIONS}/{run(api, agent_id, [test_id])['id']}").json()["test_runs"]
    assert runs[0]["status"] == "failed" and runs[0]["condition_result"]["result"] == "unknown"
