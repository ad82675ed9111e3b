"""One regression test per departure from the API that the spec-driven fuzzer (test_fuzz.py) found."""

from __future__ import annotations

import requests

from agentsync import spec
from agentsync.emulator.validation import errors_for
from tests.emulator.conftest import Api

AGENTS = "/v1/convai/agents"


def _valid_agent(api: Api, agent_id: str) -> dict:
    response = api.get(f"{AGENTS}/{agent_id}")
    assert response.status_code == 200, response.text
    body: dict = response.json()
    assert errors_for(body, spec.AGENT_RESPONSE, []) == []
    return body


def test_create_with_an_empty_workflow_gets_the_live_start_node(api: Api) -> None:
    agent_id = api.create_agent({"conversation_config": {}, "workflow": {}})
    nodes = _valid_agent(api, agent_id)["workflow"]["nodes"]
    assert list(nodes) == ["start_node"] and nodes["start_node"]["type"] == "start"


def test_patch_with_a_partial_workflow_never_stores_empty_nodes(api: Api) -> None:
    agent_id = api.create_agent()
    body = {"conversation_config": {}, "workflow": {"prevent_subagent_loops": True}}
    assert api.patch(f"{AGENTS}/{agent_id}", json=body).status_code == 200
    workflow = _valid_agent(api, agent_id)["workflow"]
    assert workflow["prevent_subagent_loops"] is True and "start_node" in workflow["nodes"]
    assert api.patch(f"{AGENTS}/{agent_id}", json={}).status_code == 200


def test_summaries_answer_each_id_with_success_or_failure(api: Api) -> None:
    agent_id = api.create_agent({"conversation_config": {}, "name": "Summarised"})
    response = api.get(f"{AGENTS}/summaries", params={"agent_ids": [agent_id, "agent_missing"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body[agent_id]["status"] == "success" and body[agent_id]["data"]["name"] == "Summarised"
    assert body["agent_missing"] == {
        "status": "failure",
        "error_code": 404,
        "error_status": "agent_not_found",
        "error_message": "Agent with id agent_missing was not found.",
    }


def test_summaries_need_ids_and_take_at_most_100(api: Api) -> None:
    assert api.get(f"{AGENTS}/summaries").json()["detail"][0]["type"] == "missing"
    many = [f"agent_{n}" for n in range(101)]
    response = api.get(f"{AGENTS}/summaries", params={"agent_ids": many})
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "too_long"


def test_unknown_methods_answer_json_405_with_allow(api: Api) -> None:
    for method in ("TRACE", "OPTIONS", "PUT", "QUERY"):
        response = api.call(method, f"{AGENTS}/agent_x")
        assert response.status_code == 405, method
        assert response.json()["detail"] == "Method Not Allowed"
        assert response.headers["Allow"] == "DELETE, GET, PATCH"
    head = requests.head(api.emulator.url + "/v1/convai/tags", timeout=10)
    assert head.status_code == 405 and head.headers["Allow"] == "GET, POST" and head.content == b""


def test_whitespace_bodies_are_invalid_json(api: Api) -> None:
    agent_id = api.create_agent()
    for path, method, raw in (
        (f"{AGENTS}/{agent_id}/duplicate", "POST", b"\n"),
        (f"{AGENTS}/{agent_id}", "PATCH", b"  "),
    ):
        response = api.call(method, path, data=raw, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["type"] == "json_invalid"


def test_empty_tools_beside_empty_tool_ids_is_accepted(api: Api) -> None:
    prompt = {"tools": [], "tool_ids": []}
    agent_id = api.create_agent({"conversation_config": {"agent": {"prompt": prompt}}})
    assert _valid_agent(api, agent_id)["conversation_config"]["agent"]["prompt"]["tool_ids"] == []


def test_patch_conversation_config_null_keeps_the_stored_config(api: Api) -> None:
    agent_id = api.create_agent({"conversation_config": {"agent": {"first_message": "Hello"}}})
    response = api.patch(f"{AGENTS}/{agent_id}", json={"conversation_config": None})
    assert response.status_code == 200, response.text
    assert _valid_agent(api, agent_id)["conversation_config"]["agent"]["first_message"] == "Hello"
