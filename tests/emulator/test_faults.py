"""Fault knobs, stats and reset, and the /_emulator control routes."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from agentsync.emulator import ADMIN_KEY, Emulator, Faults
from tests.emulator.conftest import Api

AGENTS = "/v1/convai/agents"


def statuses(api: Api, count: int, path: str = AGENTS) -> list[int]:
    return [api.get(path).status_code for _ in range(count)]


def test_latency_and_jitter_slow_each_request(api: Api) -> None:
    api.emulator.set_faults(Faults(latency=0.05, jitter=0.02, seed=1))
    started = time.perf_counter()
    assert statuses(api, 3) == [200, 200, 200]
    assert time.perf_counter() - started >= 0.15


def test_concurrency_limit_answers_429_with_retry_after(emulator: Emulator) -> None:
    emulator.set_faults(Faults(latency=0.3, max_concurrent=1, retry_after=0))
    results: list[requests.Response] = []

    def call() -> None:
        results.append(requests.get(f"{emulator.url}{AGENTS}", headers={"xi-api-key": ADMIN_KEY}, timeout=5))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    limited = [r for r in results if r.status_code == 429]
    assert len(limited) == 2 and [r.status_code for r in results].count(200) == 1
    assert limited[0].headers["Retry-After"] == "0"
    assert limited[0].json()["detail"]["code"] == "concurrent_limit_exceeded"


def test_rate_limit_rate_answers_429(api: Api) -> None:
    api.emulator.set_faults(Faults(rate_limit_rate=1.0))
    response = api.get(AGENTS)
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert response.json()["detail"]["code"] == "rate_limit_exceeded"


def test_error_rate_is_seeded_and_partial(api: Api) -> None:
    api.emulator.set_faults(Faults(error_rate=0.5, seed=7))
    first = statuses(api, 20)
    api.emulator.set_faults(Faults(error_rate=0.5, seed=7))
    assert statuses(api, 20) == first
    assert 200 in first and any(s >= 500 for s in first)


def test_drop_rate_closes_the_connection(emulator: Emulator) -> None:
    emulator.set_faults(Faults(drop_rate=1.0))
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{emulator.url}{AGENTS}", headers={"xi-api-key": ADMIN_KEY}, timeout=5)
    assert {"method": "GET", "route": AGENTS, "status": 0, "count": 1} in emulator.stats()["requests"]


def test_commit_then_fail_stores_the_write(emulator: Emulator) -> None:
    emulator.set_faults(Faults(commit_then_fail_rate=1.0, seed=3))
    outcomes = []
    for index in range(6):
        try:
            response = requests.post(
                f"{emulator.url}/v1/convai/tags",
                json={"title": f"t{index}"},
                headers={"xi-api-key": ADMIN_KEY},
                timeout=5,
            )
            outcomes.append(response.status_code)
        except requests.ConnectionError:
            outcomes.append(0)
    assert all(o == 0 or o >= 500 for o in outcomes) and len(emulator.store.tag_records()) == 6
    assert 0 in outcomes and any(o >= 500 for o in outcomes)


def test_commit_then_fail_spares_reads(api: Api) -> None:
    api.emulator.set_faults(Faults(commit_then_fail_rate=1.0))
    assert statuses(api, 3) == [200, 200, 200]


def test_not_kept_paths_are_silently_not_stored(api: Api) -> None:
    agent_id = api.create_agent()
    api.emulator.set_faults(Faults(not_kept_paths=("conversation_config.tts.speed",)))
    body = {"conversation_config": {"tts": {"speed": 1.1, "stability": 0.9}}}
    patched = api.patch(f"{AGENTS}/{agent_id}", json=body).json()
    assert patched["conversation_config"]["tts"]["speed"] == 1.0
    assert patched["conversation_config"]["tts"]["stability"] == 0.9


def test_map_merge_merges_free_form_maps(api: Api) -> None:
    presets = {"dynamic_variables": {"dynamic_variable_placeholders": {"a": "1"}}}
    agent_id = api.create_agent({"conversation_config": {"agent": presets}})
    api.emulator.set_faults(Faults(map_merge=True))
    body = {
        "conversation_config": {"agent": {"dynamic_variables": {"dynamic_variable_placeholders": {"b": "2"}}}}
    }
    patched = api.patch(f"{AGENTS}/{agent_id}", json=body).json()
    assert patched["conversation_config"]["agent"]["dynamic_variables"]["dynamic_variable_placeholders"] == {
        "a": "1",
        "b": "2",
    }


def test_faults_never_touch_control_routes(emulator: Emulator) -> None:
    emulator.set_faults(Faults(error_rate=1.0, drop_rate=1.0, max_concurrent=1))
    assert requests.get(f"{emulator.url}/_emulator/stats", timeout=5).status_code == 200


def test_stats_count_by_method_route_and_status(api: Api) -> None:
    agent_id = api.create_agent()
    api.get(f"{AGENTS}/{agent_id}")
    api.get(f"{AGENTS}/{agent_id}")
    api.get(f"{AGENTS}/agent_none")
    stats = requests.get(f"{api.emulator.url}/_emulator/stats", timeout=5).json()
    assert stats == api.emulator.stats() and stats["total"] == 4
    assert {"method": "GET", "route": f"{AGENTS}/{{agent_id}}", "status": 200, "count": 2} in stats[
        "requests"
    ]
    assert {"method": "GET", "route": f"{AGENTS}/{{agent_id}}", "status": 404, "count": 1} in stats[
        "requests"
    ]


def test_stats_count_the_writes_stored_and_then_answered_with_a_failure(api: Api) -> None:
    api.emulator.set_faults(Faults(seed=2, commit_then_fail_rate=1.0))
    try:
        status = api.post(f"{AGENTS}/create", json={"conversation_config": {}}).status_code
    except requests.ConnectionError:
        status = 0  # the other half of the verdicts drops the connection
    api.emulator.set_faults(Faults())
    assert (status == 0 or status >= 500) and len(api.emulator.store.agent_records()) == 1
    assert api.emulator.stats()["committed_then_failed"] == [
        {"method": "POST", "route": f"{AGENTS}/create", "count": 1}
    ]
    assert requests.post(f"{api.emulator.url}/_emulator/reset", timeout=5).status_code == 200
    assert api.emulator.stats()["committed_then_failed"] == []


def test_reset_route_empties_store_and_stats(api: Api) -> None:
    api.create_agent()
    assert requests.post(f"{api.emulator.url}/_emulator/reset", timeout=5).status_code == 200
    assert api.emulator.stats()["total"] == 0 and api.emulator.store.agent_records() == []


def test_faults_route_sets_and_rejects(emulator: Emulator) -> None:
    url = f"{emulator.url}/_emulator/faults"
    assert requests.post(url, json={"rate_limit_rate": 1.0, "retry_after": 0}, timeout=5).status_code == 200
    assert emulator.faults == Faults(rate_limit_rate=1.0, retry_after=0)
    assert requests.post(url, json={"unknown_knob": 1}, timeout=5).status_code == 422
    assert requests.get(url, timeout=5).json()["rate_limit_rate"] == 1.0
