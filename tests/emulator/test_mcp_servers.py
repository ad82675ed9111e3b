"""Conformance of the emulated MCP-server endpoints; the ``api`` fixture validates every response against
the packaged spec at the end of each test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from agentsync.emulator import ADMIN_KEY, Emulator, EmulatorConfig
from tests.emulator.conftest import Api

SERVERS = "/v1/convai/mcp-servers"


def config(name: str = "crm", **extra: Any) -> dict[str, Any]:
    return {"url": "https://mcp.example.com/sse", "name": name, **extra}


def create(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(SERVERS, json={"config": body})
    assert response.status_code == 200, response.text
    server: dict[str, Any] = response.json()
    return server


def agent_using(api: Api, field: str, server_id: str) -> str:
    return api.create_agent({"conversation_config": {"agent": {"prompt": {field: [server_id]}}}})


def test_create_fills_the_schema_defaults_and_get_returns_the_same_server(api: Api) -> None:
    server = create(api, config(request_headers={"Authorization": {"secret_id": "s1"}}))
    stored = server["config"]
    assert stored["transport"] == "SSE" and stored["approval_policy"] == "require_approval_all"
    assert stored["response_timeout_secs"] == 30 and stored["description"] == ""
    assert stored["request_headers"] == {"Authorization": {"secret_id": "s1"}}
    assert server["dependent_agents"] == [] and server["metadata"]["owner_user_id"]
    assert api.get(f"{SERVERS}/{server['id']}").json() == server


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "config"]),
        ({"config": {"name": "crm"}}, ["body", "config", "url"]),
        ({"config": config(transport="CARRIER_PIGEON")}, ["body", "config", "transport"]),
        ({"config": config(response_timeout_secs=1)}, ["body", "config", "response_timeout_secs"]),
    ],
)
def test_an_invalid_create_is_a_422_naming_the_field(api: Api, body: dict[str, Any], loc: list[str]) -> None:
    response = api.post(SERVERS, json=body)
    assert response.status_code == 422
    assert loc in [item["loc"] for item in response.json()["detail"]]
    assert api.get(SERVERS).json() == {"mcp_servers": []}


def test_the_list_is_one_unpaginated_answer_newest_first(api: Api) -> None:
    made = [create(api, config(name=f"s{i}"))["id"] for i in range(35)]
    listed = api.get(SERVERS, params={"page_size": 1}).json()
    assert set(listed) == {"mcp_servers"}
    assert [s["id"] for s in listed["mcp_servers"]] == list(reversed(made))


def test_patch_is_partial_and_null_keeps_the_value(api: Api) -> None:
    server = create(api, config(request_headers={"A": "1", "B": "2"}, response_timeout_secs=60))
    path = f"{SERVERS}/{server['id']}"
    updated = api.patch(path, json={"approval_policy": "auto_approve_all", "request_headers": {"C": "3"}})
    assert updated.status_code == 200, updated.text
    stored = updated.json()["config"]
    assert stored["approval_policy"] == "auto_approve_all"
    assert stored["request_headers"] == {"C": "3"}  # a map is replaced whole
    assert stored["response_timeout_secs"] == 60
    again = api.patch(path, json={"approval_policy": None}).json()["config"]
    assert again["approval_policy"] == "auto_approve_all"
    assert api.patch(path, json={"response_timeout_secs": 400}).status_code == 422


def test_url_name_and_transport_cannot_be_updated(api: Api) -> None:
    server = create(api, config())
    path = f"{SERVERS}/{server['id']}"
    body = {"url": "https://elsewhere.example.com", "name": "renamed", "transport": "STREAMABLE_HTTP"}
    response = api.patch(path, json=body)
    assert response.status_code == 200
    for answer in (response.json(), api.get(path).json()):
        assert answer["config"]["url"] == "https://mcp.example.com/sse"
        assert answer["config"]["name"] == "crm" and answer["config"]["transport"] == "SSE"


def test_dependent_agents_come_from_both_id_lists(api: Api) -> None:
    server = create(api, config())["id"]
    first = agent_using(api, "mcp_server_ids", server)
    second = agent_using(api, "native_mcp_server_ids", server)
    api.create_agent()
    shown = api.get(f"{SERVERS}/{server}").json()["dependent_agents"]
    assert [a["id"] for a in shown] == [first, second]
    listed = api.get(SERVERS).json()["mcp_servers"][0]["dependent_agents"]
    assert [a["id"] for a in listed] == [first, second]


def test_delete_is_refused_while_an_agent_uses_the_server(api: Api) -> None:
    server = create(api, config())["id"]
    agent = agent_using(api, "mcp_server_ids", server)
    refused = api.delete(f"{SERVERS}/{server}")
    assert refused.status_code == 409 and agent in refused.json()["detail"]["message"]
    api.patch(
        f"/v1/convai/agents/{agent}",
        json={"conversation_config": {"agent": {"prompt": {"mcp_server_ids": []}}}},
    )
    deleted = api.delete(f"{SERVERS}/{server}")
    assert deleted.status_code == 200 and deleted.json() == {}
    assert api.get(f"{SERVERS}/{server}").status_code == 404
    assert api.patch(f"{SERVERS}/{server}", json={}).status_code == 404


def test_tools_and_mcp_servers_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    auth = {"xi-api-key": ADMIN_KEY}
    tool_config = {"type": "client", "name": "kept", "description": "d"}
    with Emulator(EmulatorConfig(state_file=state)) as emu:
        tool = requests.post(
            f"{emu.url}/v1/convai/tools", json={"tool_config": tool_config}, headers=auth, timeout=5
        )
        server = requests.post(f"{emu.url}{SERVERS}", json={"config": config()}, headers=auth, timeout=5)
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert [t["body"]["id"] for t in saved["tools"]] == [tool.json()["id"]]
    with Emulator(EmulatorConfig(state_file=state)) as emu:
        got = requests.get(f"{emu.url}/v1/convai/tools/{tool.json()['id']}", headers=auth, timeout=5)
        assert got.json() == tool.json()
        listed = requests.get(f"{emu.url}{SERVERS}", headers=auth, timeout=5).json()["mcp_servers"]
        assert [s["id"] for s in listed] == [server.json()["id"]]


def test_a_state_file_from_before_tools_still_loads(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"format": 1, "seq": 0, "agents": [], "tags": [], "conversations": {}}))
    with Emulator(EmulatorConfig(state_file=state)) as emu:
        answer = requests.get(f"{emu.url}/v1/convai/tools", headers={"xi-api-key": ADMIN_KEY}, timeout=5)
        assert answer.json() == {"tools": [], "next_cursor": None, "has_more": False}
