"""Run each resource's attached tests against its **planned** configuration, before anything is written.

For every resource of a kind with :class:`~agentsync.kinds.base.Testing` (agents) in scope, the planned
configuration is the live one with the plan's change applied (objects merged where the kind's update
merges, every other value replaced), sent whole as the run's configuration override. What cannot run
before apply is reported with its reason, never skipped: a resource the plan creates, an attached test
or a referenced resource that does not exist yet, an attached test that the plan itself changes (the
server would run its stored version). Each run has a fingerprint of exactly what was tested, so that
apply can require a pass for the configuration it is about to write.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from agentsync import targets as targeting
from agentsync.ids import segment
from agentsync.kinds import KINDS, Kind, Ref
from agentsync.kinds.base import JsonObject, Path
from agentsync.plan import Action, Change, Plan
from agentsync.remote import RemoteState, index_of
from agentsync.strategy import Strategy

if TYPE_CHECKING:
    from agentsync.client import Client
    from agentsync.project import Project

INVOCATION = "/v1/convai/test-invocations/{id}"
PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"
Progress = Callable[[str, int, int], None]  # (label, finished runs, all runs)


@dataclass(frozen=True)
class TestResult:
    """One attached test of one resource: its outcome over every repeat, and why."""

    __test__ = False

    kind: str
    key: str  # the resource's key
    test: str  # the test's key when the project declares it, else its id
    test_id: str | None
    status: str  # passed, failed, not run
    reason: str = ""  # the grader's rationale, or why it could not run
    passed_runs: int = 0
    runs: int = 0


@dataclass(frozen=True)
class Suite:
    """What one resource would run: the override and the tests, or why it cannot run."""

    kind: str
    key: str
    remote_id: str | None
    tests: tuple[tuple[str, str | None], ...]  # (test label, test id)
    override: Mapping[str, Any] = field(default_factory=dict)
    blocked: str = ""  # why nothing of it can run
    not_runnable: Mapping[str, str] = field(default_factory=dict)  # test label -> why it cannot run

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.remote_id, self.override, [i for _, i in self.tests])


@dataclass(frozen=True)
class Report:
    results: tuple[TestResult, ...]
    fingerprints: Mapping[str, str]  # "kind key" -> the fingerprint of the configuration tested

    @property
    def failed(self) -> bool:
        return any(r.status == FAILED for r in self.results)

    @property
    def not_run(self) -> bool:
        return any(r.status == NOT_RUN for r in self.results)

    def passed(self, kind: str, key: str) -> bool:
        """Every test of that resource passed (False when it has none that ran)."""
        mine = [r for r in self.results if (r.kind, r.key) == (kind, key)]
        return bool(mine) and all(r.status == PASSED for r in mine)


def fingerprint(remote_id: str | None, override: Mapping[str, Any], test_ids: Sequence[str | None]) -> str:
    payload = {"id": remote_id, "override": override, "tests": list(test_ids)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- what to run ---------------------------------------------------------------------------------------


def suites(project: Project, remote: RemoteState, plan: Plan, targets: Sequence[str] = ()) -> list[Suite]:
    """The suite of every tested resource in scope, in kind and key order."""
    selection = targeting.parse(targets)
    found = []
    for kind in KINDS:
        if kind.testing is None or not remote.fetched(kind):
            continue
        definitions = project.of(kind)
        chosen = targeting.of(selection, kind, set(definitions))
        for key in sorted(definitions):
            if chosen is None or key in chosen:
                found.append(suite_of(kind, key, project, remote, plan))
    return found


def suite_of(kind: Kind, key: str, project: Project, remote: RemoteState, plan: Plan) -> Suite:
    assert kind.testing is not None
    change = _change(plan, kind.name, key)
    remote_id = change.remote_id if change is not None else _matched(kind, key, project, remote)
    if remote_id is None or remote_id not in remote.bodies_of(kind):
        declared = change.body if change is not None and change.body else project.of(kind)[key].config
        tests = _attached(declared, kind.testing.attached, _test_keys(plan, project, remote))
        blocked = f"the {kind.noun} does not exist yet: apply creates it"
        return Suite(kind.name, key, None, tests, blocked=blocked)
    planned = planned_config(kind, remote.bodies_of(kind)[remote_id], change.body if change else None)
    tests = _attached(planned, kind.testing.attached, _test_keys(plan, project, remote))
    override = {part: planned[part] for part in kind.testing.override if planned.get(part) is not None}
    # A reference to an attached test that the plan creates is reported per test, not as a blocker.
    attached_now = {label for label, test_id in tests if test_id is None}
    pending = [r for r in (change.depends_on if change else ()) if r.text not in attached_now]
    blocked = _pending_text(pending)
    return Suite(kind.name, key, remote_id, tests, override, blocked, _changed_tests(plan, tests))


def planned_config(kind: Kind, live: JsonObject, body: Mapping[str, Any] | None) -> dict[str, Any]:
    """The live resource with the change's body applied as the kind's update applies it."""
    merged: dict[str, Any] = copy.deepcopy(dict(live))
    for name, value in (body or {}).items():
        merged[name] = _merged(kind, (name,), merged.get(name), value)
    return merged


def _merged(kind: Kind, path: Path, current: Any, value: Any) -> Any:
    if (
        isinstance(value, Mapping)
        and isinstance(current, Mapping)
        and kind.fields.strategy(path) is Strategy.MERGE
    ):
        out = dict(current)
        for name, sub in value.items():
            out[name] = _merged(kind, (*path, name), current.get(name), sub)
        return out
    return copy.deepcopy(value)


def _change(plan: Plan, kind: str, key: str) -> Change | None:
    return next(
        (c for c in plan.changes if (c.kind, c.key) == (kind, key) and c.action is not Action.DELETE), None
    )


def _matched(kind: Kind, key: str, project: Project, remote: RemoteState) -> str | None:
    definition = project.of(kind)[key]
    index = index_of(kind, remote.listed(kind), project.namespace)
    return kind.identity.match(definition, index, remote.bodies_of(kind), project.namespace).remote_id


def _test_keys(plan: Plan, project: Project, remote: RemoteState) -> dict[str, str]:
    """Remote id -> key of every declared resource the plan knows by id (for naming attached tests)."""
    found = {c.remote_id: c.key for c in plan.changes if c.remote_id}
    for kind in KINDS:
        if not remote.fetched(kind) or kind.testing is not None:
            continue
        index = index_of(kind, remote.listed(kind), project.namespace)
        for key, definition in project.of(kind).items():
            ids = index.keys.get(kind.identity.lookup_key(definition), ())
            if definition.id or len(ids) == 1:
                found[definition.id or ids[0]] = key
    return found


def _attached(
    planned: Mapping[str, Any], path: Path, keys: Mapping[str, str]
) -> tuple[tuple[str, str | None], ...]:
    node: Any = planned
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    found: list[tuple[str, str | None]] = []
    for entry in node if isinstance(node, list) else []:
        test_id = entry.get("test_id") if isinstance(entry, Mapping) else None
        if isinstance(test_id, str) and test_id.startswith("${"):
            found.append((test_id, None))  # a test this plan creates: no id yet
        elif isinstance(test_id, str):
            found.append((keys.get(test_id, test_id), test_id))
    return tuple(found)


def _changed_tests(plan: Plan, tests: Sequence[tuple[str, str | None]]) -> dict[str, str]:
    changed = {c.remote_id for c in plan.changes if c.remote_id and c.action is not Action.DELETE}
    found = {}
    for label, test_id in tests:
        if test_id is None:
            found[label] = "the test does not exist yet: apply creates it"
        elif test_id in changed:
            found[label] = "this plan changes the test, and the API runs the stored version: apply it first"
    return found


def _pending_text(pending: Sequence[Ref]) -> str:
    if not pending:
        return ""
    names = ", ".join(f"{r.kind} {r.key}" for r in pending)
    return f"it needs {names}, which the plan creates: tests can run once it exists"


# -- running -------------------------------------------------------------------------------------------


def run_suites(
    client: Client,
    found: Sequence[Suite],
    *,
    repeat: int = 1,
    timeout: float = 300.0,
    poll: float = 2.0,
    progress: Progress | None = None,
) -> Report:
    """Run every suite that can run, poll until each is done (or the timeout), and report all tests."""
    results: list[TestResult] = []
    prints: dict[str, str] = {}
    for suite in found:
        results.extend(run_one(client, suite, repeat=repeat, timeout=timeout, poll=poll, progress=progress))
        if suite.remote_id is not None and not suite.blocked:
            prints[f"{suite.kind} {suite.key}"] = suite.fingerprint
    return Report(tuple(results), prints)


def run_one(
    client: Client, suite: Suite, *, repeat: int, timeout: float, poll: float, progress: Progress | None
) -> list[TestResult]:
    kind = next(k for k in KINDS if k.name == suite.kind)
    if suite.blocked:
        return [_not_run(suite, label, test_id, suite.blocked) for label, test_id in suite.tests]
    runnable = [(label, i) for label, i in suite.tests if label not in suite.not_runnable and i is not None]
    skipped = [
        _not_run(suite, label, i, suite.not_runnable[label])
        for label, i in suite.tests
        if label in suite.not_runnable
    ]
    if not runnable:
        return skipped
    assert kind.testing is not None and suite.remote_id is not None
    body = {
        "tests": [{"test_id": i} for _, i in runnable],
        "agent_config_override": dict(suite.override),
        "repeat_count": repeat,
    }
    started = client.post(kind.testing.run.format(id=segment(suite.remote_id)), body)
    runs = _wait(client, str(started["id"]), f"{suite.kind} {suite.key}", timeout, poll, progress)
    return [_outcome(suite, label, i, runs) for label, i in runnable] + skipped


def _wait(
    client: Client, invocation: str, label: str, timeout: float, poll: float, progress: Progress | None
) -> list[Mapping[str, Any]] | None:
    """The finished runs of an invocation, or None when some are still pending at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(INVOCATION.format(id=segment(invocation)))
        runs = [r for r in answer.get("test_runs") or [] if isinstance(r, Mapping)]
        done = sum(1 for r in runs if r.get("status") != "pending")
        if progress is not None:
            progress(label, done, len(runs))
        if done == len(runs):
            return runs
        if time.monotonic() + poll > deadline:
            return None
        time.sleep(poll)


def _outcome(suite: Suite, label: str, test_id: str, runs: list[Mapping[str, Any]] | None) -> TestResult:
    if runs is None:
        return _not_run(suite, label, test_id, "the runs were still pending at the timeout")
    mine = [r for r in runs if r.get("test_id") == test_id]
    passed = [r for r in mine if r.get("status") == "passed"]
    failed = [r for r in mine if r.get("status") != "passed"]
    status = PASSED if mine and not failed else FAILED
    reason = _rationale(failed[0]) if failed else _rationale(passed[0]) if passed else "no run came back"
    return TestResult(suite.kind, suite.key, label, test_id, status, reason, len(passed), len(mine))


def _rationale(run: Mapping[str, Any]) -> str:
    result = run.get("condition_result") or {}
    rationale = result.get("rationale") if isinstance(result, Mapping) else None
    if not isinstance(rationale, Mapping):
        return ""
    parts = [str(rationale.get("summary") or ""), *[str(m) for m in rationale.get("messages") or []]]
    return "; ".join(p for p in parts if p)


def _not_run(suite: Suite, label: str, test_id: str | None, reason: str) -> TestResult:
    return TestResult(suite.kind, suite.key, label, test_id, NOT_RUN, reason)


# -- the gate ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    kind: str
    key: str
    reason: str


def gate(plan: Plan, found: Sequence[Suite], report: Report) -> tuple[Plan, tuple[Refusal, ...]]:
    """The plan without the writes of tested resources whose tests did not all pass against exactly the
    configuration the plan writes (the fingerprint of what ran must be that of the suite now), and why."""
    refused = []
    for suite in found:
        change = _change(plan, suite.kind, suite.key)
        if change is None or not suite.tests:
            continue
        reason = _refusal(suite, report)
        if reason:
            refused.append(Refusal(suite.kind, suite.key, reason))
    dropped = {(r.kind, r.key) for r in refused}
    kept = tuple(c for c in plan.changes if (c.kind, c.key) not in dropped)
    return replace(plan, changes=kept), tuple(refused)


def _refusal(suite: Suite, report: Report) -> str:
    label = f"{suite.kind} {suite.key}"
    if suite.blocked:
        return ""  # new, or what it uses is new: nothing to test yet; the next plan runs its tests
    if report.fingerprints.get(label) != suite.fingerprint:
        return "its tests did not run against the configuration this apply would write"
    mine = [r for r in report.results if (r.kind, r.key) == (suite.kind, suite.key)]
    bad = [r for r in mine if r.status != PASSED]
    if not bad:
        return ""
    return "; ".join(f"test {r.test} {r.status}" + (f" ({r.reason})" if r.reason else "") for r in bad)
