"""Agent endpoints over real HTTP: create, get, patch semantics, delete, duplicate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.emulator.conftest import Api

EXAMPLE = json.loads((Path(__file__).parents[1] / "data" / "example-agent-response.json").read_text())
AGENT = "/v1/convai/agents/{}"


def key_paths(value: Any, prefix: str = "") -> set[str]:
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, child in value.items():
        found.add(f"{prefix}.{key}")
        found |= key_paths(child, f"{prefix}.{key}")
    return found


def get_agent(api: Api, agent_id: str) -> dict[str, Any]:
    response = api.get(AGENT.format(agent_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def patch_agent(api: Api, agent_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.patch(AGENT.format(agent_id), json=body)
    assert response.status_code == 200, response.text
    patched: dict[str, Any] = response.json()
    return patched


def test_new_agent_has_exactly_the_example_key_set(api: Api) -> None:
    agent = get_agent(api, api.create_agent())
    assert key_paths(agent) == key_paths(EXAMPLE)


def test_new_agent_has_the_servers_default_values(api: Api) -> None:
    agent = get_agent(api, api.create_agent())
    skip = {
        "agent_id",
        "name",
        "metadata",
        "access_info",
        "tags",
        "version_id",
        "branch_id",
        "main_branch_id",
    }
    example_config = json.loads(json.dumps(EXAMPLE["conversation_config"]))
    example_config["agent"]["first_message"] = example_config["agent"]["prompt"]["prompt"] = ""
    assert agent["conversation_config"] == example_config
    assert {k: v for k, v in agent.items() if k not in skip | {"conversation_config"}} == {
        k: v for k, v in EXAMPLE.items() if k not in skip | {"conversation_config"}
    }


def test_ids_follow_the_real_formats(api: Api) -> None:
    agent = get_agent(api, api.create_agent())
    assert re.fullmatch(r"agent_[0-9a-z]{28}", agent["agent_id"])
    assert re.fullmatch(r"agtvrsn_[0-9a-z]{28}", agent["version_id"])
    assert re.fullmatch(r"agtbrch_[0-9a-z]{28}", agent["branch_id"])
    assert agent["main_branch_id"] == agent["branch_id"]


def test_create_stores_what_was_sent_and_names_unnamed_agents(api: Api) -> None:
    named = get_agent(
        api,
        api.create_agent(
            {
                "name": "Support",
                "tags": ["a"],
                "conversation_config": {"agent": {"first_message": "Hi", "prompt": {"prompt": "Be brief"}}},
            }
        ),
    )
    assert named["name"] == "Support" and named["tags"] == ["a"]
    assert named["conversation_config"]["agent"]["prompt"]["prompt"] == "Be brief"
    assert named["conversation_config"]["agent"]["prompt"]["llm"] == "gemini-2.5-flash"
    assert get_agent(api, api.create_agent())["name"] == "New agent"


def test_create_fills_defaults_inside_new_objects(api: Api) -> None:
    end_call = {"name": "end_call", "params": {"system_tool_type": "end_call"}}
    agent = get_agent(
        api,
        api.create_agent(
            {"conversation_config": {"agent": {"prompt": {"built_in_tools": {"end_call": end_call}}}}}
        ),
    )
    stored = agent["conversation_config"]["agent"]["prompt"]["built_in_tools"]["end_call"]
    assert stored["name"] == "end_call" and "description" in stored and len(stored) > 2


def test_unknown_agent_is_404_with_object_detail(api: Api) -> None:
    response = api.get(AGENT.format("agent_doesnotexist"))
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert (detail["type"], detail["code"]) == ("not_found", "agent_not_found")
    assert detail["request_id"] == response.headers["request-id"]


def test_patch_deep_merges_objects_and_returns_the_full_agent(api: Api) -> None:
    agent_id = api.create_agent({"conversation_config": {"agent": {"first_message": "Hi"}}})
    patched = patch_agent(api, agent_id, {"conversation_config": {"agent": {"prompt": {"prompt": "New"}}}})
    assert patched["conversation_config"]["agent"]["first_message"] == "Hi"
    assert patched["conversation_config"]["agent"]["prompt"]["prompt"] == "New"
    assert patched["conversation_config"]["agent"]["prompt"]["llm"] == "gemini-2.5-flash"
    assert patched == get_agent(api, agent_id)


def test_patch_bumps_version_and_updated_at_and_keeps_created_at(api: Api) -> None:
    agent_id = api.create_agent()
    before = get_agent(api, agent_id)
    after = patch_agent(api, agent_id, {"name": "Renamed", "version_description": "v2"})
    assert after["version_id"] != before["version_id"] and after["name"] == "Renamed"
    assert after["metadata"]["created_at_unix_secs"] == before["metadata"]["created_at_unix_secs"]
    assert after["metadata"]["updated_at_unix_secs"] >= before["metadata"]["updated_at_unix_secs"]
    assert after["branch_id"] == before["branch_id"] and "version_description" not in after


def test_patch_replaces_lists(api: Api) -> None:
    agent_id = api.create_agent(
        {"tags": ["a", "b"], "conversation_config": {"asr": {"keywords": ["x", "y"]}}}
    )
    patched = patch_agent(api, agent_id, {"tags": ["c"], "conversation_config": {"asr": {"keywords": ["z"]}}})
    assert patched["tags"] == ["c"]
    assert patched["conversation_config"]["asr"]["keywords"] == ["z"]


def test_patch_replaces_free_form_maps_whole(api: Api) -> None:
    placeholders = {"dynamic_variables": {"dynamic_variable_placeholders": {"a": "1", "b": "2"}}}
    agent_id = api.create_agent({"conversation_config": {"agent": placeholders}})
    patched = patch_agent(
        api,
        agent_id,
        {
            "conversation_config": {
                "agent": {"dynamic_variables": {"dynamic_variable_placeholders": {"c": "3"}}}
            }
        },
    )
    assert patched["conversation_config"]["agent"]["dynamic_variables"]["dynamic_variable_placeholders"] == {
        "c": "3"
    }


def test_patch_replaces_workflow_whole(api: Api) -> None:
    agent_id = api.create_agent()
    nodes = {"entry": {"type": "start", "position": {"x": 1.0, "y": 2.0}, "edge_order": []}}
    patched = patch_agent(api, agent_id, {"workflow": {"nodes": nodes, "edges": {}}})
    assert set(patched["workflow"]["nodes"]) == {"entry"}
    assert patched["workflow"]["prevent_subagent_loops"] is False


def test_patch_stores_null_for_a_nullable_field(api: Api) -> None:
    agent_id = api.create_agent({"conversation_config": {"turn": {"initial_wait_time": 2.0}}})
    patched = patch_agent(api, agent_id, {"conversation_config": {"turn": {"initial_wait_time": None}}})
    assert patched["conversation_config"]["turn"]["initial_wait_time"] is None


def test_patch_rejects_null_for_a_non_nullable_field(api: Api) -> None:
    agent_id = api.create_agent()
    response = api.patch(AGENT.format(agent_id), json={"conversation_config": {"tts": {"speed": None}}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "conversation_config", "tts", "speed"]
    assert get_agent(api, agent_id)["conversation_config"]["tts"]["speed"] == 1.0


def test_patch_ignores_and_does_not_store_unknown_keys(api: Api) -> None:
    agent_id = api.create_agent({"conversation_config": {}, "surprise": 1})
    patched = patch_agent(
        api, agent_id, {"bogus": True, "conversation_config": {"tts": {"nope": 1, "speed": 1.1}}}
    )
    assert "bogus" not in patched and "nope" not in patched["conversation_config"]["tts"]
    assert patched["conversation_config"]["tts"]["speed"] == 1.1
    assert "surprise" not in get_agent(api, agent_id)


def test_patch_with_empty_body_is_accepted(api: Api) -> None:
    agent_id = api.create_agent()
    assert api.patch(AGENT.format(agent_id)).status_code == 200


def test_patch_of_unknown_agent_is_404(api: Api) -> None:
    response = api.patch(AGENT.format("agent_gone"), json={"name": "x"})
    assert response.status_code == 404 and response.json()["detail"]["code"] == "agent_not_found"


def test_delete_is_204_then_404(api: Api) -> None:
    agent_id = api.create_agent()
    first = api.delete(AGENT.format(agent_id))
    assert first.status_code == 204 and first.content == b"" and "Content-Type" not in first.headers
    assert api.delete(AGENT.format(agent_id)).status_code == 404
    assert api.get(AGENT.format(agent_id)).status_code == 404


def test_duplicate_copies_config_under_new_ids(api: Api) -> None:
    source_id = api.create_agent(
        {"name": "Orig", "tags": ["t"], "conversation_config": {"agent": {"first_message": "Hello"}}}
    )
    copy_id = api.post(AGENT.format(source_id) + "/duplicate", json={}).json()["agent_id"]
    named_id = api.post(AGENT.format(source_id) + "/duplicate", json={"name": "Second"}).json()["agent_id"]
    source, copy = get_agent(api, source_id), get_agent(api, copy_id)
    assert copy_id != source_id and copy["name"] == "Orig (copy)" and copy["tags"] == ["t"]
    assert copy["conversation_config"] == source["conversation_config"]
    assert copy["version_id"] != source["version_id"] and copy["branch_id"] != source["branch_id"]
    assert get_agent(api, named_id)["name"] == "Second"


def test_duplicate_of_unknown_agent_is_404(api: Api) -> None:
    assert api.post(AGENT.format("agent_gone") + "/duplicate").status_code == 404
