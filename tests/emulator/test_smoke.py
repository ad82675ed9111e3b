"""The first end-to-end path through the emulator: create, read, patch, list, delete over HTTP."""

from __future__ import annotations

import requests

from agentsync.emulator import ADMIN_KEY, Emulator

AUTH = {"xi-api-key": ADMIN_KEY}


def test_agent_round_trip(emulator: Emulator) -> None:
    created = requests.post(
        f"{emulator.url}/v1/convai/agents/create", json={"conversation_config": {}}, headers=AUTH, timeout=5
    )
    assert created.status_code == 200
    agent_id = created.json()["agent_id"]
    patched = requests.patch(
        f"{emulator.url}/v1/convai/agents/{agent_id}",
        headers=AUTH,
        timeout=5,
        json={"conversation_config": {"agent": {"first_message": "hello"}}},
    )
    assert patched.json()["conversation_config"]["agent"]["first_message"] == "hello"
    listed = requests.get(f"{emulator.url}/v1/convai/agents", headers=AUTH, timeout=5).json()
    assert [a["agent_id"] for a in listed["agents"]] == [agent_id]
    assert (
        requests.delete(f"{emulator.url}/v1/convai/agents/{agent_id}", headers=AUTH, timeout=5).status_code
        == 204
    )
    assert (
        requests.get(f"{emulator.url}/v1/convai/agents/{agent_id}", headers=AUTH, timeout=5).status_code
        == 404
    )


def test_fixture_resets_between_tests(emulator: Emulator) -> None:
    assert emulator.stats() == {"requests": [], "total": 0, "committed_then_failed": []}
    assert requests.get(f"{emulator.url}/v1/convai/agents", headers=AUTH, timeout=5).json()["agents"] == []
