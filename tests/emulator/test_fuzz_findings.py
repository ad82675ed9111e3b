"""One regression test per departure from the API that the spec-driven fuzzer (test_fuzz.py) found."""

from __future__ import annotations

import json

import pytest
import requests

from agentsync import spec
from agentsync.emulator.problems import HttpProblem
from agentsync.emulator.tools import answerable
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
    prompt: dict[str, list[str]] = {"tools": [], "tool_ids": []}
    agent_id = api.create_agent({"conversation_config": {"agent": {"prompt": prompt}}})
    assert _valid_agent(api, agent_id)["conversation_config"]["agent"]["prompt"]["tool_ids"] == []


def test_patch_conversation_config_null_keeps_the_stored_config(api: Api) -> None:
    agent_id = api.create_agent({"conversation_config": {"agent": {"first_message": "Hello"}}})
    response = api.patch(f"{AGENTS}/{agent_id}", json={"conversation_config": None})
    assert response.status_code == 200, response.text
    assert _valid_agent(api, agent_id)["conversation_config"]["agent"]["first_message"] == "Hello"


# -- tools, MCP servers and the unions they share with agents ---------------------------------------

TOOLS = "/v1/convai/tools"


def _phone_node(post_dial_digits: dict) -> dict:
    destination = {"type": "sip_uri", "sip_uri": "sip:desk@example.com"}
    return {"type": "phone_number", "transfer_destination": destination, "post_dial_digits": post_dial_digits}


def _workflow_with(node: dict) -> dict:
    start = {"type": "start", "position": {"x": 0.0, "y": 0.0}, "edge_order": []}
    return {"nodes": {"start_node": start, "transfer": node}}


def test_an_untagged_union_member_is_union_tag_not_found_not_a_guessed_branch(api: Api) -> None:
    body = {"conversation_config": {}, "workflow": _workflow_with(_phone_node({"value": "ext"}))}
    response = api.post(f"{AGENTS}/create", json=body)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["type"] == "union_tag_not_found"
    assert item["loc"] == ["body", "workflow", "nodes", "transfer", "post_dial_digits"]
    assert item["ctx"] == {"discriminator": "'type'"}


def test_a_tagged_member_is_stored_with_the_tag_the_client_chose(api: Api) -> None:
    node = _phone_node({"type": "dynamic", "value": "extension"})
    agent_id = api.create_agent({"conversation_config": {}, "workflow": _workflow_with(node)})
    stored = _valid_agent(api, agent_id)["workflow"]["nodes"]["transfer"]["post_dial_digits"]
    assert stored == {"type": "dynamic", "value": "extension"}


def test_patch_that_leaves_a_member_untagged_is_refused_and_stores_nothing(api: Api) -> None:
    agent_id = api.create_agent()
    before = _valid_agent(api, agent_id)
    body = {"workflow": _workflow_with(_phone_node({"value": "ext"}))}
    response = api.patch(f"{AGENTS}/{agent_id}", json=body)
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "union_tag_not_found"
    assert _valid_agent(api, agent_id)["workflow"] == before["workflow"]


def test_a_nested_untagged_member_of_a_tool_config_names_its_own_location(api: Api) -> None:
    config = {"type": "system", "name": "hang_up", "params": {}}
    response = api.post(TOOLS, json={"tool_config": config})
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "tool_config", "system", "params"]
    assert item["type"] == "union_tag_not_found" and item["ctx"] == {"discriminator": "'system_tool_type'"}


def _parameters(kind: str) -> dict:
    field = {"type": "string", "description": "The order", "property_kind": kind}
    return {"type": "object", "property_kind": "object", "properties": {"order": field}}


def test_input_only_property_kind_is_not_answered_by_a_tool(api: Api) -> None:
    config = {
        "type": "client",
        "name": "open_ticket",
        "description": "d",
        "parameters": _parameters("object"),
    }
    created = api.post(TOOLS, json={"tool_config": config})
    assert created.status_code == 200, created.text
    read = api.get(f"{TOOLS}/{created.json()['id']}").json()
    for answer in (created.json(), read):
        assert errors_for(answer, spec.TOOL_RESPONSE, []) == []
        assert "property_kind" not in json.dumps(answer)


def test_input_only_property_kind_is_not_answered_by_an_agent(api: Api) -> None:
    tool = {"type": "client", "name": "open_ticket", "description": "d", "parameters": _parameters("object")}
    agent_id = api.create_agent({"conversation_config": {"agent": {"prompt": {"tools": [tool]}}}})
    agent = _valid_agent(api, agent_id)
    assert "property_kind" not in json.dumps(agent)
    assert agent["conversation_config"]["agent"]["prompt"]["tools"][0]["parameters"]["properties"]["order"]


def test_an_array_parameter_is_completed_as_an_array(api: Api) -> None:
    ids = {"type": "array", "description": "Order ids"}
    parameters = {"type": "object", "properties": {"ids": ids}}
    config = {"type": "client", "name": "lookup", "description": "d", "parameters": parameters}
    created = api.post(TOOLS, json={"tool_config": config})
    assert created.status_code == 200, created.text
    stored = created.json()["tool_config"]["parameters"]["properties"]["ids"]
    assert stored["type"] == "array" and "items" in stored and "enum" not in stored


# A response-body property sent with the input-only property_kind "object" and a list constant: only the
# array branch of the request's oneOf takes it, and the completion must pick that branch too (it used to
# take the literal branch, which shares as many keys, and stored a value no response branch validates).
_LIST_CONSTANT = {"property_kind": "object", "dynamic_variable": "", "constant_value": [{"a": 1}]}


def _webhook(properties: dict) -> dict:
    body_schema = {"type": "object", "properties": properties}
    api_schema = {"url": "https://example.com/hook", "method": "POST", "response_body_schema": body_schema}
    return {"type": "webhook", "name": "hook", "description": "d", "api_schema": api_schema}


def _stored_properties(answer: dict) -> dict:
    properties: dict = answer["tool_config"]["api_schema"]["response_body_schema"]["properties"]
    return properties


def test_a_list_constant_is_completed_as_an_array_property(api: Api) -> None:
    created = api.post(TOOLS, json={"tool_config": _webhook({"rows": _LIST_CONSTANT})})
    assert created.status_code == 200, created.text
    read = api.get(f"{TOOLS}/{created.json()['id']}").json()
    for answer in (created.json(), read):
        assert errors_for(answer, spec.TOOL_RESPONSE, []) == []
        rows = _stored_properties(answer)["rows"]
        assert rows["type"] == "array" and rows["constant_value"] == [{"a": 1}]
        assert "property_kind" not in rows and "enum" not in rows


def test_each_constant_picks_the_branch_its_json_type_allows(api: Api) -> None:
    properties = {
        "rows": _LIST_CONSTANT,
        "count": {"type": "integer", "constant_value": 3},
        "ratio": {"type": "number", "constant_value": 0.5},
        "flag": {"type": "boolean", "constant_value": None},
        "meta": {"property_kind": "array", "constant_value": {"k": "v"}},
    }
    config = _webhook(properties)
    created = api.post(TOOLS, json={"tool_config": config})
    assert created.status_code == 200, created.text
    stored = _stored_properties(created.json())
    assert {name: stored[name]["type"] for name in properties} == {
        "rows": "array",
        "count": "integer",
        "ratio": "number",
        "flag": "boolean",
        "meta": "object",
    }
    patched = api.patch(f"{TOOLS}/{created.json()['id']}", json={"tool_config": config})
    assert patched.status_code == 200, patched.text
    assert errors_for(patched.json(), spec.TOOL_RESPONSE, []) == []


def test_a_tool_the_response_model_refuses_is_a_500_naming_the_field(api: Api) -> None:
    created = api.post(TOOLS, json={"tool_config": _webhook({"rows": _LIST_CONSTANT})}).json()
    assert answerable(created) is created
    # The value the old completion stored: literal defaults around a list constant, and no type.
    literal = {
        "dynamic_variable": "",
        "constant_value": [{"a": 1}],
        "enum": None,
        "is_system_provided": False,
    }
    _stored_properties(created)["rows"] = literal
    with pytest.raises(HttpProblem) as raised:
        answerable(created)
    detail = raised.value.body["detail"]
    assert raised.value.status == 500 and detail["code"] == "invalid_stored_tool"
    assert "at tool_config" in detail["message"] and detail["message"].endswith("request body.")
