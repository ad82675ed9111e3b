"""The apply engine under failure: injected faults, ambiguous creates, partial failure, Ctrl-C."""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from projects import write_project as _write_project

from agentsync.apply import ApplyOptions, ApplyReport, Outcome, apply_plan, check_fresh
from agentsync.client import Client, RetryPolicy
from agentsync.emulator import ADMIN_KEY, Emulator, Faults
from agentsync.kinds import Ref
from agentsync.load import load_project
from agentsync.plan import Plan
from agentsync.planner import build_plan
from agentsync.remote import fetch

# Small, bounded backoff so the fault tests stay fast; generous attempts so seeded faults cannot win.
FAST = RetryPolicy(max_attempts=25, base_delay=0.001, max_delay=0.01, max_total=30.0)
OPTIONS = ApplyOptions(create_attempts=12, backoff=lambda attempt, exc: 0.0)


def write_project(
    root: Path, agents: Mapping[str, Mapping[str, Any]], tags: list[dict[str, Any]] | None = None
) -> Path:
    return _write_project(root, agents, tags=tags, settings="namespace: t\nsafety: {max_change_share: 1.0}\n")


def agent(name: str, greeting: str = "Hello!", **agent_fields: Any) -> dict[str, Any]:
    return {"name": name, "conversation_config": {"agent": {"first_message": greeting, **agent_fields}}}


@pytest.fixture
def client(emulator: Emulator) -> Iterator[Client]:
    # Two more in flight than the emulator's concurrency limit below allows, so that limit is hit.
    with Client(emulator.url, ADMIN_KEY, retry=FAST, concurrency=6) as c:
        yield c


def make_plan(client: Client, root: Path) -> Plan:
    project = load_project(root)
    return build_plan(project, fetch(client, project), prune=True)


def plan_and_apply(client: Client, root: Path, options: ApplyOptions = OPTIONS) -> ApplyReport:
    plan = make_plan(client, root)
    return apply_plan(client, plan, options, snapshot=check_fresh(client, plan))


def owned(client: Client) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for archived in (False, True):
        for summary in client.paginate("/v1/convai/agents", "agents", {"archived": archived}):
            for tag in summary["tags"]:
                if tag.startswith("t:"):
                    found.setdefault(tag[2:], []).append(summary["agent_id"])
    return found


def problems(report: ApplyReport) -> list[tuple[str, str, str | None]]:
    return [(r.key, r.outcome.value, r.reason) for r in report.results if r.outcome is not Outcome.APPLIED]


# -- faults ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "seed"), [(30, 7), (50, 11)])
def test_agents_converge_under_faults_without_duplicates_or_lost_changes(
    count: int, seed: int, emulator: Emulator, client: Client, tmp_path: Path
) -> None:
    agents = {f"agent-{i:02d}": agent(f"Agent {i}") for i in range(count)}
    tags = [{"title": f"tag-{i}", "description": "d"} for i in range(3)]
    root = write_project(tmp_path, agents, tags)
    emulator.set_faults(
        Faults(
            seed=seed,
            rate_limit_rate=0.1,
            error_rate=0.1,
            drop_rate=0.05,
            commit_then_fail_rate=0.2,
            max_concurrent=4,
            retry_after=0,
        )
    )
    created = plan_and_apply(client, root)
    assert problems(created) == []
    assert created.count(Outcome.APPLIED) == count + 3
    # Every create the server stored but answered with a failure was found by its key, not sent again.
    # Which creates those are depends on how the threads interleave, so the count is read, not assumed;
    # the test below makes every create ambiguous.
    lost = sum(r["count"] for r in emulator.stats()["committed_then_failed"] if r["method"] == "POST")
    assert sum(r.recovered for r in created.results) == lost

    changed = {k: agent(v["name"], f"Greeting {k}") for k, v in agents.items()}
    updated = plan_and_apply(client, write_project(tmp_path, changed, tags))
    assert problems(updated) == []
    assert updated.count(Outcome.APPLIED) == count

    statuses = {r["status"] for r in emulator.stats()["requests"]}
    assert {429, 0} <= statuses and any(s >= 500 for s in statuses), statuses  # the faults did happen
    assert emulator.stats()["committed_then_failed"], "no write was stored and then answered with a failure"
    assert client.stats["retries"] > 0
    emulator.set_faults(Faults())
    ids = owned(client)
    assert sorted(ids) == sorted(agents) and all(len(v) == 1 for v in ids.values())
    # Counted in the server's own store too: no agent exists outside the markers either.
    assert len(emulator.store.agent_records()) == count
    assert not make_plan(client, root).has_changes
    titles = [t["title"] for t in client.paginate("/v1/convai/tags", "conversation_tags")]
    assert sorted(titles) == ["tag-0", "tag-1", "tag-2"]


def test_a_create_whose_answer_is_always_lost_is_found_by_its_marker_not_sent_again(
    emulator: Emulator, client: Client, tmp_path: Path
) -> None:
    root = write_project(tmp_path, {"a": agent("A"), "b": agent("B")}, [{"title": "vip"}])
    emulator.set_faults(Faults(seed=1, commit_then_fail_rate=1.0))
    report = plan_and_apply(client, root)
    assert problems(report) == []
    assert all(r.recovered for r in report.results)
    creates = [r for r in emulator.stats()["requests"] if r["method"] == "POST"]
    assert sum(r["count"] for r in creates) == 3
    emulator.set_faults(Faults())
    assert {k: len(v) for k, v in owned(client).items()} == {"a": 1, "b": 1}


def test_429_on_a_create_is_sent_again(emulator: Emulator, tmp_path: Path) -> None:
    root = write_project(tmp_path, {f"a{i}": agent(f"A{i}") for i in range(6)})
    emulator.set_faults(Faults(seed=3, rate_limit_rate=0.5, retry_after=0))
    with Client(emulator.url, ADMIN_KEY, retry=FAST, concurrency=4) as c:
        report = plan_and_apply(c, root)
    assert problems(report) == []
    emulator.set_faults(Faults())
    with Client(emulator.url, ADMIN_KEY) as c:
        assert {k: len(v) for k, v in owned(c).items()} == {f"a{i}": 1 for i in range(6)}


# -- partial failure ------------------------------------------------------------------------------------------


def test_one_failure_does_not_stop_the_others_and_dependents_are_skipped(
    emulator: Emulator, client: Client, tmp_path: Path
) -> None:
    # Japanese with the default English TTS model: the server refuses it (400).
    root = write_project(
        tmp_path, {"bad": agent("Bad", language="ja"), "good": agent("Good"), "child": agent("Child")}
    )
    plan = make_plan(client, root)
    child = next(c for c in plan.changes if c.key == "child")
    changes = tuple(
        dataclasses.replace(c, depends_on=(Ref("agent", "bad"),)) if c is child else c for c in plan.changes
    )
    plan = dataclasses.replace(plan, changes=changes)
    report = apply_plan(client, plan, OPTIONS, snapshot=check_fresh(client, plan))
    rows = {r.key: r for r in report.results}
    assert rows["good"].outcome is Outcome.APPLIED
    assert rows["bad"].outcome is Outcome.FAILED and "Non-english" in (rows["bad"].reason or "")
    assert rows["child"].outcome is Outcome.SKIPPED and "bad" in (rows["child"].reason or "")
    assert report.exit_code == 1
    # A re-run plans only what is left.
    assert sorted(c.key for c in make_plan(client, root).changes) == ["bad", "child"]


# -- Ctrl-C --------------------------------------------------------------------------------------------------


class InterruptingClient(Client):
    """Sends SIGINT to this process during the first write, as a user pressing Ctrl-C would."""

    def post(self, path: str, body: Mapping[str, Any] | None = None, *, retry: bool = False) -> Any:
        result = super().post(path, body, retry=retry)
        if not getattr(self, "interrupted", False):
            self.interrupted = True
            signal.raise_signal(signal.SIGINT)
        return result


def test_ctrl_c_finishes_the_write_in_flight_and_skips_the_rest(emulator: Emulator, tmp_path: Path) -> None:
    root = write_project(tmp_path, {f"a{i}": agent(f"A{i}") for i in range(4)})
    with InterruptingClient(emulator.url, ADMIN_KEY, retry=FAST, concurrency=1) as c:
        report = plan_and_apply(c, root)
    assert report.interrupted and report.exit_code == 130
    assert [r.outcome for r in report.results] == [Outcome.APPLIED] + [Outcome.SKIPPED] * 3
    assert "interrupted" in (report.results[1].reason or "")
    assert list(owned(c)) == ["a0"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
