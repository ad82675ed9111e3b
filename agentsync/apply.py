"""Apply a plan: ordered, concurrent, verified writes, and the report of what happened.

The pipeline is: refuse a plan made for another target, refuse a stale plan (every resource re-read and
its fingerprint compared, before any write: :mod:`agentsync.freshness`), then write stage by stage
(kinds by level, and within a kind by dependency, deletes last in reverse), each write followed by a
read-back that proves the managed fields took (:mod:`agentsync.readback`). One create, update and
delete path serves every kind, from its API description and identity. One failure never stops an
independent resource; a resource whose dependency failed is skipped.
"""

from __future__ import annotations

import contextlib
import graphlib
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from agentsync import progress
from agentsync import variables as templates
from agentsync.changes import as_update
from agentsync.errors import AgentsyncError, ApiError, NetworkError
from agentsync.freshness import (
    Snapshot,
    check_fresh,
    check_target,
    find_key,
    get_or_none,
    listed_now,
    read_snapshot,
    snapshot_of,
)
from agentsync.kinds import KINDS, Kind, Ref, by_name
from agentsync.outcomes import (
    ApplyOptions,
    ApplyReport,
    Outcome,
    Result,
    version_description,
)
from agentsync.plan import ABSENT, Action, Change, Plan
from agentsync.readback import unconverged
from agentsync.remote import ApiClient, index_of, item_path
from agentsync.replacing import retire

__all__ = [
    "ApiClient",
    "ApplyOptions",
    "ApplyReport",
    "Outcome",
    "Result",
    "Snapshot",
    "apply_plan",
    "check_fresh",
    "check_target",
    "read_snapshot",
    "snapshot_of",
    "stages",
    "version_description",
]


# ---------------------------------------------------------------------------------------------- order


def stages(plan: Plan) -> list[list[Change]]:
    """The write order: kinds by level (low to high), each kind's writes by dependency, then the
    deletes kind by kind from the highest level down (with the old objects of replacements)."""
    found: list[list[Change]] = []
    for kind in KINDS:
        writes = [c for c in plan.changes if c.kind == kind.name and c.action is not Action.DELETE]
        found.extend(_by_dependency(writes))
    for kind in reversed(KINDS):
        # A replacement comes again here: the object it stands in for is deleted with the deletes.
        gone = (Action.DELETE, Action.REPLACE)
        found.append([c for c in plan.changes if c.kind == kind.name and c.action in gone])
    return [s for s in found if s]


def _by_dependency(changes: list[Change]) -> list[list[Change]]:
    """Layers of ``changes`` where each one's dependencies come in earlier layers; a dependency outside
    the list is already satisfied, and a cycle (which validation rejects) ends up in one last layer."""
    refs = {c.ref: c for c in changes}
    sorter: graphlib.TopologicalSorter[Ref] = graphlib.TopologicalSorter(
        {c.ref: [d for d in c.depends_on if d in refs] for c in changes}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError:
        return [changes]
    position = {c.ref: i for i, c in enumerate(changes)}
    layers = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        layers.append([refs[r] for r in ready])
        sorter.done(*ready)
    return layers


# ---------------------------------------------------------------------------------------------- engine


@dataclass
class _Run:
    client: ApiClient
    plan: Plan
    options: ApplyOptions
    snapshot: Snapshot
    stop: threading.Event
    results: dict[int, Result] = field(default_factory=dict)
    signals: list[int] = field(default_factory=list)
    # The ids of the resources this apply created, for ``${KIND.KEY.id}`` in later writes.
    created: dict[Ref, str] = field(default_factory=dict)
    _positions: dict[int, int] = field(default_factory=dict)

    def position(self, change: Change) -> int:
        """Where ``change`` stands in the plan, by identity: comparing whole changes is quadratic."""
        if not self._positions:
            self._positions.update({id(c): i for i, c in enumerate(self.plan.changes)})
        return self._positions[id(change)]


def apply_plan(
    client: ApiClient,
    plan: Plan,
    options: ApplyOptions | None = None,
    *,
    snapshot: Snapshot | None = None,
    stop: threading.Event | None = None,
) -> ApplyReport:
    """Write the plan and verify every write. Call :func:`check_fresh` first (its snapshot is reused).

    A KeyboardInterrupt (or SIGTERM) stops new writes, lets in-flight ones finish and returns the
    report with the rest skipped and ``interrupted`` set.
    """
    run = _Run(client, plan, options or ApplyOptions(), snapshot or Snapshot(), stop or threading.Event())
    try:
        with _ctrl_c_stops(run.stop, run.signals):
            for stage in stages(plan):
                if run.stop.is_set():
                    break
                _run_stage(run, stage)
    except KeyboardInterrupt:
        run.stop.set()
        run.signals.append(signal.SIGINT)
    return _report(run)


@contextlib.contextmanager
def _ctrl_c_stops(stop: threading.Event, seen: list[int]) -> Iterator[None]:
    """While writing, the first Ctrl-C (or a SIGTERM) only sets ``stop``: no new write starts,
    in-flight ones finish. A second Ctrl-C interrupts for real. Signal handlers exist only in the main
    thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        seen.append(signum)
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _run_stage(run: _Run, stage: list[Change]) -> None:
    indexed = [(run.position(c), c) for c in stage]
    outcomes = run.client.map(lambda item: _run_one(run, *item), indexed)
    if any(isinstance(o, KeyboardInterrupt) for o in outcomes):
        raise KeyboardInterrupt
    for (index, change), outcome in zip(indexed, outcomes, strict=True):
        if isinstance(outcome, BaseException) and index not in run.results:
            run.results[index] = _failed(change, outcome)
    created = [(i, c) for i, c in indexed if c.action is Action.CREATE and _created(run, i) is not None]
    for kind in KINDS:
        mine = [(i, c) for i, c in created if c.kind == kind.name]
        if mine and not run.options.dry_run:
            _settle_twins(run, kind, mine)


def _created(run: _Run, index: int) -> str | None:
    result = run.results.get(index)
    return result.remote_id if result is not None and result.outcome is Outcome.APPLIED else None


def _settle_twins(run: _Run, kind: Kind, created: list[tuple[int, Change]]) -> None:
    """Two applies of one project at once both create what is missing: there is no conditional write.
    After its creates, an apply lists the kind again; where its new resource has a twin with the same
    key, both applies keep the same one (the older, by creation time then id) and the other one is
    deleted by the apply that made it, which reports it as failed. The next plan is then correct."""
    namespace = run.plan.namespace
    listed = {str(i[kind.api.id_field]): i for i in listed_now(run.client, kind)}
    index = index_of(kind, list(listed.values()), namespace)
    for position, change in created:
        ours = _created(run, position) or ""
        key = kind.identity.key_of(listed.get(ours, {}), namespace) or change.key
        twins = [i for i in index.keys.get(key, ()) if i in listed]
        if len(twins) < 2 or ours not in twins:
            continue
        kept = min(twins, key=lambda i: (int(listed[i].get("created_at_unix_secs") or 0), i))
        if kept == ours:
            continue
        _delete_path(run, item_path(kind, ours))
        run.created[change.ref] = kept
        run.results[position] = _result(
            change,
            Outcome.FAILED,
            remote_id=kept,
            reason=f"another apply created it at the same time ({kept}); this apply's copy {ours} was deleted",
        )


def _run_one(run: _Run, index: int, change: Change) -> None:
    if run.stop.is_set():
        return
    if change.action is Action.REPLACE and index in run.results:
        run.results[index] = retire(run.client, run.plan, run.results, index)
        return
    blocker = _failed_dependency(run, change)
    if blocker is not None:
        run.results[index] = _result(
            change,
            Outcome.SKIPPED,
            reason=f"it depends on {blocker.kind} {blocker.key}, which was not applied",
        )
    elif run.options.dry_run:
        run.results[index] = _result(change, Outcome.WOULD_APPLY, reason="dry run: not written")
    else:
        result = _execute(run, change)
        if result.action in (Action.CREATE, Action.REPLACE) and result.remote_id:
            run.created[result.ref] = result.remote_id
        run.results[index] = result
    if index in run.results and progress.active():
        landed = run.results[index]
        done, total = len(run.results), len(run.plan.changes)
        progress.emit(
            progress.Wrote(landed.kind, landed.key, landed.action.value, landed.outcome.value, done, total)
        )


def with_references(change: Change, ids: Mapping[Ref, str]) -> Change:
    """``change`` with ``${KIND.KEY.id}`` of resources created earlier in this apply filled in, in what
    is sent and in what the read-back expects. A reference left unfilled fails the write rather than
    sending a placeholder as an id."""
    if not change.depends_on:
        return change
    missing = [r for r in change.depends_on if r not in ids]
    if missing:
        raise _Unresolved(
            f"{missing[0].kind} {missing[0].key} has no id yet; its create did not run before this write"
        )
    body = None if change.body is None else templates.substitute_references(change.body, ids)
    fields_ = tuple(
        replace(fc, new=templates.substitute_references(fc.new, ids)) if fc.new is not ABSENT else fc
        for fc in change.fields
    )
    return replace(change, body=body, fields=fields_)


class _Unresolved(AgentsyncError):
    """A reference whose resource was not created (only when a plan's order was broken by hand)."""


def _failed_dependency(run: _Run, change: Change) -> Ref | None:
    if not change.depends_on:
        return None
    bad = {r.ref for r in run.results.values() if r.outcome in (Outcome.FAILED, Outcome.SKIPPED)}
    return next((d for d in change.depends_on if d in bad), None)


def _report(run: _Run) -> ApplyReport:
    results = []
    for index, change in enumerate(run.plan.changes):
        default = _result(change, Outcome.SKIPPED, reason="apply was interrupted before this write")
        results.append(run.results.get(index, default))
    stats = getattr(run.client, "stats", {})
    return ApplyReport(
        tuple(results),
        run.options.dry_run,
        run.stop.is_set(),
        run.options.version_description,
        dict(stats) if isinstance(stats, Mapping) else {},
        signal=int(run.signals[0]) if run.signals and run.stop.is_set() else None,
    )


def _result(change: Change, outcome: Outcome, **extra: Any) -> Result:
    base = Result(
        change.kind, change.action, change.key, outcome, name=change.name, remote_id=change.remote_id
    )
    return replace(base, **extra)


def _failed(change: Change, exc: BaseException, remote_id: str | None = None) -> Result:
    reason = exc.message if isinstance(exc, AgentsyncError) else f"unexpected {type(exc).__name__}: {exc}"
    if isinstance(exc, ApiError):
        details = exc.detail.field_errors
        reason = f"{reason} ({'; '.join(details)})" if details else reason
        reason = f"{reason} [request id {exc.detail.request_id}]" if exc.detail.request_id else reason
    return _result(change, Outcome.FAILED, reason=reason, **({"remote_id": remote_id} if remote_id else {}))


def _execute(run: _Run, change: Change) -> Result:
    kind = by_name(change.kind)
    try:
        resolved = with_references(change, run.created)
        if change.action in (Action.CREATE, Action.REPLACE):
            return _create_one(run, kind, resolved)
        if change.action is Action.DELETE:
            return _delete(run, change)
        return _update_one(run, kind, resolved)
    except AgentsyncError as exc:
        return _failed(change, exc)


def _create_one(run: _Run, kind: Kind, change: Change) -> Result:
    namespace = run.plan.namespace
    # A saved plan's body already carries the marker; this keeps a create from ever going out unmarked.
    body = kind.identity.claim(dict(change.body or {}), change.key, namespace, None)
    lookup = lambda: find_key(run.client, kind, change.key, namespace, change.remote_id)  # noqa: E731
    sent = {**kind.api.create_constants, **body}
    remote_id, recovered = _create(run, kind.api.create, sent, kind.api.id_field, lookup)
    result = _verify(run, kind, change, remote_id, body, recovered=recovered)
    if recovered and result.outcome is Outcome.NOT_CONVERGED:
        # The create committed but its answer was lost; make sure the resource ends up as declared.
        _write(run, kind, item_path(kind, remote_id), as_update(kind, body))
        result = _verify(run, kind, change, remote_id, body, recovered=True)
    return result


def _update_one(run: _Run, kind: Kind, change: Change) -> Result:
    assert change.remote_id is not None, "an update always names its remote id"
    body = _claimed(run, kind, change)
    if kind.api.version_field and run.options.version_description:
        body[kind.api.version_field] = run.options.version_description
    _write(run, kind, change.path, body)
    return _verify(run, kind, change, change.remote_id, body)


def _claimed(run: _Run, kind: Kind, change: Change) -> dict[str, Any]:
    """The body to send. An adopt or a re-key moves the ownership marker: unless the file declares
    the marker's list itself, the list is taken from a fresh read, so that a tag someone added in the
    dashboard since the plan is kept, and only the marker changes."""
    body = dict(change.body or {})
    field_name = kind.identity.marker_field
    moves = change.action is Action.ADOPT or change.previous_key is not None
    declared = any(fc.path == (field_name,) for fc in change.fields)
    if field_name is None or not moves or declared:
        return body
    fresh = get_or_none(run.client, kind, change.remote_id) or run.snapshot.get(change.ref) or {}
    body.pop(field_name, None)
    return kind.identity.claim(body, change.key, run.plan.namespace, fresh)


def _write(run: _Run, kind: Kind, path: str, body: Mapping[str, Any]) -> None:
    body = {**kind.api.update_constants, **body}
    if kind.api.update_method == "PUT":
        run.client.put(path, body)
    else:
        run.client.patch(path, body)


def _verify(
    run: _Run, kind: Kind, change: Change, remote_id: str, body: Mapping[str, Any], *, recovered: bool = False
) -> Result:
    """Read the resource back and compare it with what was sent. The answer is checked like every
    read: a broken one is a failed write with its reason, not "not converged"."""
    path = item_path(kind, remote_id)
    actual = kind.api.check(run.client.get(path, keep=False), run.client.base_url + path)
    missed = unconverged(kind, change, body, actual, run.plan.namespace)
    outcome = Outcome.NOT_CONVERGED if missed else Outcome.APPLIED
    reason = "the server did not keep every field it was sent" if missed else None
    return _result(change, outcome, remote_id=remote_id, paths=missed, reason=reason, recovered=recovered)


# ------------------------------------------------------------------------------------------- deletes


def _delete_path(run: _Run, path: str) -> None:
    try:
        run.client.delete(path)
    except ApiError as exc:
        if exc.status != 404:
            raise


def _delete(run: _Run, change: Change) -> Result:
    try:
        run.client.delete(change.path)
    except ApiError as exc:
        if exc.status != 404:  # already gone is what we wanted
            raise
    try:
        run.client.get(change.path)
    except ApiError as exc:
        if exc.status == 404:
            return _result(change, Outcome.APPLIED)
        raise
    return _result(
        change,
        Outcome.NOT_CONVERGED,
        paths=("(still exists)",),
        reason="the resource still exists after DELETE",
    )


# ------------------------------------------------------------------------------------------- creates


def _create(
    run: _Run, path: str, body: Mapping[str, Any], id_key: str, lookup: Callable[[], str | None]
) -> tuple[str, bool]:
    """POST a create, never blindly re-sent: after an ambiguous failure (the server may have committed),
    ``lookup`` looks for the resource first and only a miss sends the create again."""
    attempts = max(1, run.options.create_attempts)
    for attempt in range(attempts):
        try:
            return _created_id(run, path, run.client.post(path, body), id_key), False
        except (ApiError, NetworkError) as exc:
            if is_ambiguous(exc):
                found = _settled_lookup(run, lookup, late=bool(getattr(exc, "late", False)))
                if found is not None:
                    return found, True
            elif not _safe_to_resend(exc):
                raise
            if attempt + 1 == attempts:
                raise
            wait = _delay(run, attempt, exc)
            why = str(exc.status) if isinstance(exc, ApiError) else "no answer"
            progress.emit(progress.Retry("POST", path, attempt + 2, wait, why))
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _created_id(run: _Run, path: str, answer: Any, id_key: str) -> str:
    """The new resource's id from a create's answer; an answer without one may still mean a create."""
    found = answer.get(id_key) if isinstance(answer, Mapping) else None
    if isinstance(found, str) and found:
        return found
    url = run.client.base_url + path
    raise NetworkError(
        f"the answer to POST {url} has no {id_key!r}, so agentsync cannot tell whether it created anything",
        url=url,
        ambiguous=True,
        hint="agentsync looks the resource up before it sends the create again",
    )


def _settled_lookup(run: _Run, lookup: Callable[[], str | None], *, late: bool) -> str | None:
    """Look for a create that may have committed. After an answer that came too late, the server may
    still be writing: keep looking, with backoff, for up to ``settle_seconds`` before concluding that
    nothing was created (a create sent again too early would make a twin)."""
    found = lookup()
    waited, delay = 0.0, 0.25
    while found is None and late and waited < run.options.settle_seconds and not run.stop.is_set():
        pause = min(delay, run.options.settle_seconds - waited)
        time.sleep(pause)
        waited += pause
        delay *= 2
        found = lookup()
    return found


def is_ambiguous(exc: AgentsyncError) -> bool:
    """A write that failed after the request may have reached the server (timeout, drop, 5xx)."""
    return bool(getattr(exc, "ambiguous", False))


def _safe_to_resend(exc: AgentsyncError) -> bool:
    """The server certainly did not act: a 429, or a connection that never reached it."""
    if isinstance(exc, ApiError):
        return exc.status == 429
    return isinstance(exc, NetworkError)


def _delay(run: _Run, attempt: int, exc: AgentsyncError) -> float:
    if run.options.backoff is not None:
        return run.options.backoff(attempt, exc)
    policy = getattr(run.client, "retry", None)
    if policy is not None and hasattr(policy, "backoff"):
        return float(policy.backoff(attempt + 1, None))
    return random.uniform(0, min(10.0, 0.5 * 2**attempt))
