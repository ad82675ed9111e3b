"""``pull --all`` reads bodies while the listings are still coming in: never more requests in flight
than ``--concurrency``, no read of what the selection leaves out, and a failed early read fails the
pull before anything is written."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from agentsync import remote
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY, Emulator, Faults
from agentsync.errors import AgentsyncError, NetworkError
from agentsync.kinds.identity import marker
from agentsync.load import load_project
from agentsync.pull import PullOptions, pull

NS = "team"
OWNED, STRANGERS, FOREIGN = 105, 3, 2  # 110 agents: two pages of the first listing


@pytest.fixture
def workspace(emulator: Emulator) -> Iterator[Emulator]:
    with Client(emulator.url, ADMIN_KEY) as c:
        for i in range(OWNED):
            c.post(
                "/v1/convai/agents/create",
                {"name": f"Owned {i}", "tags": [marker(NS, f"owned-{i}")], "conversation_config": {}},
            )
        for i in range(STRANGERS):
            c.post("/v1/convai/agents/create", {"name": f"Stranger {i}", "conversation_config": {}})
        for i in range(FOREIGN):
            c.post(
                "/v1/convai/agents/create",
                {"name": f"Theirs {i}", "tags": [marker("other", f"t-{i}")], "conversation_config": {}},
            )
    yield emulator
    emulator.set_faults(Faults())


def project(root: Path) -> Path:
    root.mkdir()
    (root / "agentsync.yaml").write_text(f"namespace: {NS}\n")
    return root


def agent_gets(emulator: Emulator) -> dict[int, int]:
    """GETs of one agent, by answer status."""
    found: dict[int, int] = {}
    for row in emulator.stats()["requests"]:
        if row["method"] == "GET" and row["route"] == "/v1/convai/agents/{agent_id}":
            found[row["status"]] = found.get(row["status"], 0) + row["count"]
    return found


def test_bodies_are_read_while_listing_each_once_and_within_the_bound(
    workspace: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[float] = []
    listed: list[float] = []
    real_get, real_list = remote.get_one, remote.list_items

    def get(*args: Any) -> Any:
        started.append(time.monotonic())
        return real_get(*args)

    def listing(*args: Any, **kwargs: Any) -> Any:
        try:
            return real_list(*args, **kwargs)
        finally:
            listed.append(time.monotonic())

    late: list[str] = []
    real_late = remote.get_one
    monkeypatch.setattr("agentsync.pullearly.get_one", get)
    monkeypatch.setattr("agentsync.pullearly.list_items", listing)

    def late_get(client: Client, kind: Any, remote_id: str) -> Any:
        late.append(remote_id)
        return real_late(client, kind, remote_id)

    monkeypatch.setattr("agentsync.pull.get_one", late_get)
    # The emulator refuses (429) any request beyond four at once: one would show as a retry.
    workspace.set_faults(Faults(latency=0.02, max_concurrent=4, retry_after=0))
    root = project(tmp_path / "p")
    with Client(workspace.url, ADMIN_KEY, concurrency=4) as client:
        result = pull(client, load_project(root), PullOptions(all=True))
        assert client.stats.get("retries", 0) == 0
    assert result.count("agent") == OWNED + STRANGERS  # another project's agents are left to it
    assert len(list((root / "agents").glob("*.yaml"))) == OWNED + STRANGERS
    assert 429 not in agent_gets(workspace)
    assert agent_gets(workspace)[200] == OWNED + STRANGERS  # no GET of what pull leaves out
    assert late == []  # every body came from the early reads
    assert min(started) < max(listed)  # the first GET went out before the last page was in


def test_a_failed_early_read_fails_the_pull_and_writes_nothing(
    workspace: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_get = remote.get_one
    calls = {"n": 0}
    lock = threading.Lock()

    def flaky(client: Client, kind: Any, remote_id: str) -> Any:
        with lock:
            calls["n"] += 1
            fail = calls["n"] == 7
        if fail:
            raise NetworkError("GET agent: the connection was reset", url="http://x")
        return real_get(client, kind, remote_id)

    monkeypatch.setattr("agentsync.pullearly.get_one", flaky)
    root = project(tmp_path / "p")
    with Client(workspace.url, ADMIN_KEY) as client, pytest.raises(NetworkError, match="reset"):
        pull(client, load_project(root), PullOptions(all=True))
    assert sorted(p.name for p in root.rglob("*")) == ["agentsync.yaml"]


def test_a_failed_early_listing_fails_the_pull_and_writes_nothing(
    workspace: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_list = remote.list_items

    def listing(client: Client, kind: Any, *args: Any, **kwargs: Any) -> Any:
        if kind.name == "agent":
            raise NetworkError("GET /v1/convai/agents: the connection was reset", url="http://x")
        return real_list(client, kind, *args, **kwargs)

    monkeypatch.setattr("agentsync.pullearly.list_items", listing)
    root = project(tmp_path / "p")
    with Client(workspace.url, ADMIN_KEY) as client, pytest.raises(AgentsyncError, match="reset"):
        pull(client, load_project(root), PullOptions(all=True))
    assert sorted(p.name for p in root.rglob("*")) == ["agentsync.yaml"]


def test_the_client_never_has_more_requests_in_flight_than_its_concurrency(workspace: Emulator) -> None:
    """Whichever threads send them: eight threads, a client of two, an emulator that refuses a third."""
    workspace.set_faults(Faults(latency=0.05, max_concurrent=2, retry_after=0))
    with Client(workspace.url, ADMIN_KEY, concurrency=2) as client, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.get("/v1/convai/agents", {"page_size": 1}), range(16)))
        assert client.stats.get("retries", 0) == 0
    assert len(answers) == 16
    statuses = {r["status"] for r in workspace.stats()["requests"] if r["route"] == "/v1/convai/agents"}
    assert statuses == {200}
