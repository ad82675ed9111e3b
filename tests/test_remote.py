"""remote.fetch against the emulator: exactly the minimum requests, archived owned agents, declared ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from agentsync.client import Client, RetryPolicy
from agentsync.emulator import ADMIN_KEY, Emulator, Faults
from agentsync.errors import ApiError
from agentsync.kinds.agent import AGENT
from agentsync.kinds.identity import marker
from agentsync.kinds.tag import TAG
from agentsync.project import Project
from agentsync.remote import fetch
from tests.defs import agent_def, make_project, tag_def

NS = "team"
AGENTS = "/v1/convai/agents"


def project(
    agents: dict[str, str | None], *, tags: list[str] | None = None, authoritative: bool = False
) -> Project:
    """A project with one definition per key (``id:`` when given) and maybe a tags.yaml."""
    defs = [agent_def(key, id=agent_id) for key, agent_id in agents.items()]
    tag_defs = None if tags is None else [tag_def({"title": t}) for t in tags]
    return make_project(defs, tag_defs, authoritative=authoritative, namespace=NS)


def seed(client: Client, name: str, tags: list[str], *, archived: bool = False) -> str:
    body: dict[str, Any] = {"name": name, "conversation_config": {}, "tags": tags}
    if archived:
        body["platform_settings"] = {"archived": True}
    agent_id: str = client.post(f"{AGENTS}/create", body)["agent_id"]
    return agent_id


def requests_seen(emu: Emulator) -> dict[tuple[str, str], int]:
    """(method, route) -> count, from the emulator's own stats endpoint."""
    rows = requests.get(f"{emu.url}/_emulator/stats", timeout=5).json()["requests"]
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        seen[(row["method"], row["route"])] = seen.get((row["method"], row["route"]), 0) + row["count"]
    return seen


@pytest.fixture
def client(emulator: Emulator) -> Iterator[Client]:
    with Client(emulator.url, ADMIN_KEY, retry=RetryPolicy(base_delay=0.001, max_delay=0.01)) as client:
        yield client


def since(
    before: dict[tuple[str, str], int], after: dict[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}


def test_fetch_makes_exactly_the_minimum_requests(emulator: Emulator, client: Client) -> None:
    owned = {key: seed(client, key, [marker(NS, key), "x"]) for key in ("a", "b", "c")}
    for i in range(120):  # the rest of the workspace: two list pages, and never a GET each
        seed(client, f"other {i}", ["other"])
    orphan = seed(client, "orphan", [marker(NS, "gone")])
    before = requests_seen(emulator)
    with Client(emulator.url, ADMIN_KEY) as fetcher:
        remote = fetch(fetcher, project({"a": None, "b": None, "c": None}))

    assert set(remote.bodies_of(AGENT)) == {*owned.values(), orphan}
    assert len(remote.listed(AGENT)) == 124
    seen = since(before, requests_seen(emulator))
    list_routes = {k: v for k, v in seen.items() if "{agent_id}" not in k[1]}
    assert sum(list_routes.values()) == 3  # two pages of active agents, one (empty) page of archived
    assert sum(v for k, v in seen.items() if "{agent_id}" in k[1]) == 4
    assert not remote.fetched(TAG) and not any("tags" in route for _, route in seen)
    assert remote.stats == {"GET": 7} == fetcher.stats


def test_targets_limit_the_gets(emulator: Emulator, client: Client) -> None:
    ids = {key: seed(client, key, [marker(NS, key)]) for key in ("a", "b")}
    remote = fetch(client, project({"a": None, "b": None}), targets=("b",))
    assert set(remote.bodies_of(AGENT)) == {ids["b"]}


def test_an_archived_owned_agent_is_found(emulator: Emulator, client: Client) -> None:
    agent_id = seed(client, "sleeping", [marker(NS, "a")], archived=True)
    remote = fetch(client, project({"a": None}))
    assert agent_id in remote.bodies_of(AGENT)
    assert [s["agent_id"] for s in remote.listed(AGENT)] == [agent_id]


def test_a_declared_id_that_does_not_exist_is_left_out(emulator: Emulator, client: Client) -> None:
    real = seed(client, "real", [])
    remote = fetch(client, project({"a": "agent_doesnotexist", "b": real}))
    assert set(remote.bodies_of(AGENT)) == {real}


def test_tags_are_listed_only_when_managed(emulator: Emulator, client: Client) -> None:
    client.post("/v1/convai/tags", {"title": "vip"})
    assert fetch(client, project({}, tags=["vip"])).fetched(TAG)
    managed = fetch(client, project({}, authoritative=True))
    assert managed.fetched(TAG) and [t["title"] for t in managed.listed(TAG)] == ["vip"]
    assert not fetch(client, project({})).fetched(TAG)


def test_a_failed_list_raises_instead_of_looking_empty(emulator: Emulator, client: Client) -> None:
    seed(client, "a", [marker(NS, "a")])
    emulator.set_faults(Faults(error_rate=1.0, seed=4))
    with (
        Client(emulator.url, ADMIN_KEY, retry=RetryPolicy(max_attempts=2, base_delay=0.001)) as failing,
        pytest.raises(ApiError) as caught,
    ):
        fetch(failing, project({"a": None}))
    assert caught.value.status >= 500


def test_a_404_on_an_owned_agent_raises(emulator: Emulator, client: Client) -> None:
    agent_id = seed(client, "a", [marker(NS, "a")])
    summaries = list(client.paginate(AGENTS, "agents"))
    client.delete(f"{AGENTS}/{agent_id}")
    # The list said it exists, the GET says it does not: a race the plan must not paper over.
    from agentsync.remote import get_many

    with pytest.raises(ApiError) as caught:
        get_many(client, [AGENT], {"agent": [summaries[0]["agent_id"]]}, project({}))
    assert caught.value.status == 404
