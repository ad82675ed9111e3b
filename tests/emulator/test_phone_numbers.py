"""Conformance of the emulated phone-number endpoints (list, get, the routing PATCH); numbers are
imported through the emulator's control route, since the spec has no import operation."""

from __future__ import annotations

from typing import Any

import requests

from agentsync.emulator import Emulator
from tests.emulator.conftest import Api

NUMBERS = "/v1/convai/phone-numbers"


def imported(emulator: Emulator, number: str = "+15550100", **extra: Any) -> str:
    response = requests.post(
        emulator.url + "/_emulator/phone-numbers", json={"phone_number": number, **extra}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["phone_number_id"])


def test_list_and_get_show_an_unassigned_number(api: Api, emulator: Emulator) -> None:
    number_id = imported(emulator, label="Support line")
    listed = api.get(NUMBERS).json()
    assert isinstance(listed, list) and [n["phone_number_id"] for n in listed] == [number_id]
    got = api.get(f"{NUMBERS}/{number_id}").json()
    assert (
        got["phone_number"] == "+15550100"
        and got["label"] == "Support line"
        and got["assigned_agent"] is None
    )


def test_patch_routes_to_agent_branch_and_environment(api: Api, emulator: Emulator) -> None:
    number_id = imported(emulator)
    agent_id = api.create_agent({"conversation_config": {}, "name": "Desk"})
    branch = api.get(f"/v1/convai/agents/{agent_id}").json()["main_branch_id"]
    body = {"agent_id": agent_id, "branch_id": branch, "environment": "staging"}
    routed = api.patch(f"{NUMBERS}/{number_id}", json=body).json()["assigned_agent"]
    assert routed == {
        "agent_id": agent_id,
        "agent_name": "Desk",
        "branch_id": branch,
        "environment": "staging",
    }
    kept = api.patch(f"{NUMBERS}/{number_id}", json={"label": "Renamed"}).json()
    assert kept["assigned_agent"] == routed and kept["label"] == "Renamed"
    cleared = api.patch(f"{NUMBERS}/{number_id}", json={"environment": None}).json()["assigned_agent"]
    assert cleared["environment"] is None and cleared["branch_id"] == branch
    assert [n["phone_number_id"] for n in api.get(NUMBERS, params={"agent_id": agent_id}).json()] == [
        number_id
    ]
    assert api.get(NUMBERS, params={"agent_id": "agent_other"}).json() == []


def test_routing_to_another_agent_resets_branch_and_environment(api: Api, emulator: Emulator) -> None:
    number_id = imported(emulator)
    first = api.create_agent()
    second = api.create_agent()
    api.patch(f"{NUMBERS}/{number_id}", json={"agent_id": first, "environment": "staging"})
    moved = api.patch(f"{NUMBERS}/{number_id}", json={"agent_id": second}).json()["assigned_agent"]
    assert moved["agent_id"] == second and moved["environment"] is None and moved["branch_id"] is None
    unassigned = api.patch(f"{NUMBERS}/{number_id}", json={"agent_id": None}).json()
    assert unassigned["assigned_agent"] is None


def test_unknown_agent_or_branch_and_routing_without_agent_are_refused(api: Api, emulator: Emulator) -> None:
    number_id = imported(emulator)
    unknown = api.patch(f"{NUMBERS}/{number_id}", json={"agent_id": "agent_nope"})
    assert unknown.status_code == 404 and unknown.json()["detail"]["code"] == "agent_not_found"
    alone = api.patch(f"{NUMBERS}/{number_id}", json={"environment": "staging"})
    assert alone.status_code == 400 and alone.json()["detail"]["code"] == "no_agent_assigned"
    agent_id = api.create_agent()
    branch = api.patch(f"{NUMBERS}/{number_id}", json={"agent_id": agent_id, "branch_id": "agtbrch_nope"})
    assert branch.status_code == 404 and branch.json()["detail"]["code"] == "branch_not_found"
    assert api.get(f"{NUMBERS}/{number_id}").json()["assigned_agent"] is None
    assert api.get(f"{NUMBERS}/phnum_nope").status_code == 404


def test_there_is_no_create_or_delete_route(api: Api, emulator: Emulator) -> None:
    number_id = imported(emulator)
    assert api.delete(f"{NUMBERS}/{number_id}").status_code == 405
    assert api.post(NUMBERS, json={"phone_number": "+1555"}).status_code == 405
