"""Conformance of the emulated workspace-secret endpoints; the ``api`` fixture validates every response
against the packaged spec at the end of each test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentsync.emulator import ADMIN_KEY, Emulator, EmulatorConfig
from tests.emulator.conftest import Api

SECRETS = "/v1/convai/secrets"


def create(api: Api, name: str = "crm-token", value: str = "s3cr3t-value") -> str:
    response = api.post(SECRETS, json={"type": "new", "name": name, "value": value})
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "stored" and response.json()["name"] == name
    return str(response.json()["secret_id"])


def webhook_tool(api: Api, secret_id: str) -> str:
    headers = {"Authorization": {"secret_id": secret_id}}
    config = {
        "type": "webhook",
        "name": "lookup",
        "description": "Looks an order up",
        "api_schema": {"url": "https://crm.example.com/orders", "request_headers": headers},
    }
    response = api.post("/v1/convai/tools", json={"tool_config": config})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_the_value_is_never_returned_and_never_stored_in_plain(api: Api, emulator: Emulator) -> None:
    secret_id = create(api, value="plain-value-123")
    answers = [api.get(f"{SECRETS}/{secret_id}").text, api.get(SECRETS).text]
    answers.append(
        api.patch(f"{SECRETS}/{secret_id}", json={"type": "update", "name": "n", "value": "v2-x"}).text
    )
    assert all("plain-value-123" not in a and "v2-x" not in a for a in answers)
    assert "plain-value-123" not in json.dumps(emulator.store.to_json())
    assert set(api.get(f"{SECRETS}/{secret_id}").json()) == {"type", "secret_id", "name", "used_by"}


def test_patch_needs_name_and_value_and_renames(api: Api) -> None:
    secret_id = create(api)
    missing = api.patch(f"{SECRETS}/{secret_id}", json={"type": "update", "name": "renamed"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "value"]
    renamed = api.patch(f"{SECRETS}/{secret_id}", json={"type": "update", "name": "renamed", "value": "x"})
    assert renamed.status_code == 200 and api.get(f"{SECRETS}/{secret_id}").json()["name"] == "renamed"


def test_used_by_and_dependencies_name_the_tools_and_agents(api: Api) -> None:
    secret_id = create(api)
    tool_id = webhook_tool(api, secret_id)
    llm = {"custom_llm": {"url": "https://llm.example.com", "api_key": {"secret_id": secret_id}}}
    agent_id = api.create_agent({"conversation_config": {"agent": {"prompt": llm}}})
    used = api.get(f"{SECRETS}/{secret_id}").json()["used_by"]
    assert [t["id"] for t in used["tools"]] == [tool_id] and [a["id"] for a in used["agents"]] == [agent_id]
    tools = api.get(f"{SECRETS}/{secret_id}/dependencies/tools").json()
    assert [t["id"] for t in tools["dependencies"]] == [tool_id] and tools["next_cursor"] is None
    agents = api.get(f"{SECRETS}/{secret_id}/dependencies/agents").json()["dependencies"]
    assert [a["id"] for a in agents] == [agent_id]
    assert api.get(f"{SECRETS}/{secret_id}/dependencies/phone_numbers").json()["dependencies"] == []
    wrong = api.get(f"{SECRETS}/{secret_id}/dependencies/widgets")
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["path", "resource_type"]


def test_dependencies_page_by_next_cursor(api: Api) -> None:
    secret_id = create(api)
    agent_ids = [
        api.create_agent({"conversation_config": {}, "platform_settings": _initiation_webhook(secret_id)})
        for _ in range(3)
    ]
    first = api.get(f"{SECRETS}/{secret_id}/dependencies/agents", params={"page_size": 2}).json()
    cursor = first["next_cursor"]
    second = api.get(
        f"{SECRETS}/{secret_id}/dependencies/agents", params={"page_size": 2, "cursor": cursor}
    ).json()
    assert [a["id"] for a in first["dependencies"] + second["dependencies"]] == agent_ids
    assert second["next_cursor"] is None
    shown = api.get(SECRETS, params={"dependency_limit": 1}).json()["secrets"][0]["used_by"]
    assert len(shown["agents"]) == 1 and shown["agents_has_more"] is True
    assert shown["others"] == ["conversation_initiation_webhook"]


def _initiation_webhook(secret_id: str) -> dict[str, Any]:
    hook = {"url": "https://hooks.example.com/start", "request_headers": {"X-Key": {"secret_id": secret_id}}}
    return {"workspace_overrides": {"conversation_initiation_client_data_webhook": hook}}


def test_delete_is_refused_while_in_use_then_allowed(api: Api) -> None:
    secret_id = create(api)
    tool_id = webhook_tool(api, secret_id)
    refused = api.delete(f"{SECRETS}/{secret_id}")
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "secret_in_use"
    assert tool_id in refused.json()["detail"]["message"]
    assert api.delete(f"/v1/convai/tools/{tool_id}").status_code == 200
    gone = api.delete(f"{SECRETS}/{secret_id}")
    assert gone.status_code == 204 and gone.content == b""
    assert api.get(f"{SECRETS}/{secret_id}").status_code == 404


def test_an_environment_variable_holding_the_secret_blocks_delete(api: Api) -> None:
    secret_id = create(api)
    body = {"type": "secret", "label": "CRM_TOKEN", "values": {"production": {"secret_id": secret_id}}}
    assert api.post("/v1/convai/environment-variables", json=body).status_code == 200
    refused = api.delete(f"{SECRETS}/{secret_id}")
    assert refused.status_code == 409 and "CRM_TOKEN" in refused.json()["detail"]["message"]


def test_list_without_page_size_is_whole_and_pages_stop_on_a_null_cursor(api: Api) -> None:
    ids = [create(api, name=f"s{i}") for i in range(5)]
    whole = api.get(SECRETS).json()
    assert [s["secret_id"] for s in whole["secrets"]] == ids and whole["next_cursor"] is None
    assert "has_more" not in whole
    seen: list[str] = []
    params: dict[str, Any] = {"page_size": 2}
    while True:
        page = api.get(SECRETS, params=params).json()
        seen.extend(s["secret_id"] for s in page["secrets"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ids
    assert [s["name"] for s in api.get(SECRETS, params={"search": "s3"}).json()["secrets"]] == ["s3"]


def test_secrets_survive_a_restart_with_a_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(EmulatorConfig(state_file=state)) as first:
        import requests

        made = requests.post(
            first.url + SECRETS,
            json={"type": "new", "name": "kept", "value": "v"},
            headers={"xi-api-key": ADMIN_KEY},
        )
        secret_id = made.json()["secret_id"]
    assert '"v"' not in state.read_text()
    with Emulator(EmulatorConfig(state_file=state)) as second:
        assert second.store.get("secrets", secret_id) is not None
