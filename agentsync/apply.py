"""Apply a plan: ordered, concurrent, verified writes, and the report of what happened.

The pipeline is: refuse a plan made for another target, refuse a stale plan (every resource re-read and
its fingerprint compared, before any write), then write stage by stage (tags, agents by dependency level,
deletes last in reverse), each write followed by a read-back that proves the managed fields took.
One failure never stops an independent resource; a resource whose dependency failed is skipped.
"""

from __future__ import annotations

import contextlib
import enum
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import Any, Protocol

from agentsync import diff
from agentsync import variables as templates
from agentsync.errors import AgentsyncError, ApiError, ExitCode, NetworkError, PlanFileError, StalePlanError
from agentsync.ids import item_path
from agentsync.plan import ABSENT, Action, Change, Kind, Path, Plan, dotted
from agentsync.remote import RemoteState
from agentsync.resources.agent import marker, marker_key
from agentsync.resources.agent import with_marker as agent_tags_with_marker
from agentsync.responses import check_agent, check_tag

AGENTS_PATH = "/v1/convai/agents"
TAGS_PATH = "/v1/convai/tags"
REPORT_FORMAT_VERSION = 1


class ApiClient(Protocol):
    """What the applier needs of ``agentsync.client.Client`` (a Protocol, so tests may wrap it)."""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...
    def post(self, path: str, body: Mapping[str, Any] | None = None, *, retry: bool = False) -> Any: ...
    def patch(self, path: str, body: Mapping[str, Any]) -> Any: ...
    def delete(self, path: str) -> None: ...
    def paginate(
        self, path: str, items_key: str, params: Mapping[str, Any] | None = None
    ) -> Iterable[dict]: ...
    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]: ...


class Outcome(str, enum.Enum):
    APPLIED = "applied"
    NOT_CONVERGED = "not_converged"
    FAILED = "failed"
    SKIPPED = "skipped"
    # --dry-run: everything was checked and this write would have been sent.
    WOULD_APPLY = "would_apply"


@dataclass(frozen=True)
class Result:
    """What happened to one planned change. ``paths`` are the dotted paths that did not take;
    ``recovered`` says an ambiguous create was found already done (by marker or title) instead of re-sent."""

    kind: Kind
    action: Action
    key: str
    outcome: Outcome
    name: str | None = None
    remote_id: str | None = None
    reason: str | None = None
    paths: tuple[str, ...] = ()
    recovered: bool = False

    @property
    def label(self) -> str:
        return f"{self.kind.value} {self.key}"


@dataclass(frozen=True)
class ApplyReport:
    results: tuple[Result, ...]
    dry_run: bool = False
    interrupted: bool = False
    version_description: str | None = None
    requests: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    def by_outcome(self, outcome: Outcome) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.outcome is outcome)

    @property
    def ok(self) -> bool:
        bad = (Outcome.FAILED, Outcome.NOT_CONVERGED, Outcome.SKIPPED)
        return not self.interrupted and not any(r.outcome in bad for r in self.results)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return int(ExitCode.INTERRUPTED)
        return int(ExitCode.OK if self.ok else ExitCode.ERROR)


@dataclass(frozen=True)
class ApplyOptions:
    """``create_attempts`` bounds how often one create is tried (ambiguous failures resolved by lookup
    count too); the delays come from ``backoff`` (attempt number, error) so tests can make them zero."""

    dry_run: bool = False
    version_description: str | None = None
    create_attempts: int = 5
    backoff: Callable[[int, AgentsyncError], float] | None = None


# ---------------------------------------------------------------------------------------------- target


def check_target(plan: Plan, *, namespace: str, base_url: str, environment: str | None) -> None:
    """Refuse, before any write, a saved plan made for another namespace, base URL or environment."""
    wrong = [
        f"{what} {theirs!r} (this run: {ours!r})"
        for what, theirs, ours in (
            ("namespace", plan.namespace, namespace),
            ("base URL", plan.base_url.rstrip("/"), base_url.rstrip("/")),
            ("environment", plan.environment, environment),
        )
        if theirs != ours
    ]
    if wrong:
        raise PlanFileError(
            "the saved plan was made for another target: " + "; ".join(wrong),
            hint="run `agentsync plan --out FILE` again with the same environment and options as apply",
        )


# ----------------------------------------------------------------------------------------- freshness


@dataclass
class Snapshot:
    """The remote state of the resources in a plan, as re-read just before writing."""

    agents: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)  # change key -> GET body
    tags: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)  # change key -> tag


def read_snapshot(client: ApiClient, plan: Plan) -> Snapshot:
    """Re-read every resource the plan touches (agents concurrently), for the stale check and for adopts."""
    snap = Snapshot()
    agent_changes = [c for c in plan.changes if c.kind is Kind.AGENT]
    if any(c.kind is Kind.TAG for c in plan.changes):
        tags = list(client.paginate(TAGS_PATH, "conversation_tags"))
        for change in plan.changes:
            if change.kind is Kind.TAG:
                snap.tags[change.key] = _find_tag(tags, change.remote_id, change.key)
    creates = [c for c in agent_changes if c.remote_id is None]
    by_marker = _marker_index(client, plan.namespace) if creates else {}
    ids = [c.remote_id or by_marker.get(c.key) for c in agent_changes]
    bodies = client.map(lambda i: _get_agent_or_none(client, i), ids)
    for change, body in zip(agent_changes, bodies, strict=True):
        if isinstance(body, BaseException):
            raise body
        snap.agents[change.key] = body
    return snap


def snapshot_of(plan: Plan, remote: RemoteState) -> Snapshot:
    """The snapshot of a plan that was built from ``remote`` a moment ago, without reading anything again.

    Only right for a plan applied as soon as it is made (``apply --auto-approve`` without a plan file):
    a saved plan, or one a person took time to confirm, must go through :func:`check_fresh` instead.
    """
    snap = Snapshot()
    for change in plan.changes:
        if change.kind is Kind.TAG:
            snap.tags[change.key] = _find_tag(remote.tags or (), change.remote_id, change.key)
        else:
            snap.agents[change.key] = remote.agents.get(change.remote_id) if change.remote_id else None
    return snap


def check_fresh(client: ApiClient, plan: Plan) -> Snapshot:
    """Raise StalePlanError, naming the resources, when any fingerprint no longer matches."""
    snap = read_snapshot(client, plan)
    stale = [
        f"{c.kind.value} {c.key}" for c in plan.changes if _fingerprint_now(plan, c, snap) != c.fingerprint
    ]
    if stale:
        raise StalePlanError(
            f"the plan is stale: {', '.join(stale)} changed in the workspace since it was made; nothing was written",
            stale=stale,
            hint="run `agentsync plan --out FILE` again, review it, and apply the new plan",
        )
    return snap


def _fingerprint_now(plan: Plan, change: Change, snap: Snapshot) -> str:
    from agentsync.plan import fingerprint_agent, fingerprint_tag

    if change.kind is Kind.TAG:
        fp: str = fingerprint_tag(snap.tags.get(change.key), change.key)
    else:
        fp = fingerprint_agent(snap.agents.get(change.key), marker(plan.namespace, change.key))
    return fp


def _find_tag(tags: Sequence[Mapping[str, Any]], tag_id: str | None, title: str) -> Mapping[str, Any] | None:
    for tag in tags:
        if (tag_id is not None and tag.get("tag_id") == tag_id) or (
            tag_id is None and tag.get("title") == title
        ):
            return tag
    return None


def _marker_index(client: ApiClient, namespace: str) -> dict[str, str]:
    """Agent key -> agent id for every agent carrying one of this namespace's markers."""
    found: dict[str, str] = {}
    for summary in _all_summaries(client):
        for tag in summary.get("tags") or ():
            key = marker_key(tag, namespace)
            if key is not None:
                found.setdefault(key, summary["agent_id"])
    return found


def _all_summaries(client: ApiClient) -> Iterable[dict]:
    # The list hides archived agents by default; an owned archived agent still counts as existing.
    for archived in (False, True):
        yield from client.paginate(AGENTS_PATH, "agents", {"page_size": 100, "archived": archived})


def _get_agent_or_none(client: ApiClient, agent_id: str | None) -> Mapping[str, Any] | None:
    if agent_id is None:
        return None
    try:
        body: Mapping[str, Any] = client.get(item_path(AGENTS_PATH, agent_id))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    # A broken answer must stop the stale check, not pass (or crash it) as some other agent state.
    return check_agent(body, f"{getattr(client, 'base_url', '')}{item_path(AGENTS_PATH, agent_id)}")


# ---------------------------------------------------------------------------------------------- order


def stages(plan: Plan) -> list[list[Change]]:
    """The write order: tags, agents by dependency level, then deletes (agents, then tags) in reverse."""
    writes = [c for c in plan.changes if c.action is not Action.DELETE]
    deletes = [c for c in plan.changes if c.action is Action.DELETE]
    tag_writes = [c for c in writes if c.kind is Kind.TAG]
    agent_levels = _levels([c for c in writes if c.kind is Kind.AGENT])
    delete_levels = _levels([c for c in deletes if c.kind is Kind.AGENT])[::-1]
    tag_deletes = [c for c in deletes if c.kind is Kind.TAG]
    return [s for s in (tag_writes, *agent_levels, *delete_levels, tag_deletes) if s]


def _levels(changes: list[Change]) -> list[list[Change]]:
    """Kahn's layering over ``depends_on``; a dependency outside the list is already satisfied, and a
    cycle (which validation rejects) ends up in one last level rather than being dropped."""
    keys = {c.key for c in changes}
    done: set[str] = set()
    pending = list(changes)
    levels: list[list[Change]] = []
    while pending:
        ready = [c for c in pending if all(d in done or d not in keys for d in c.depends_on)] or pending
        levels.append(ready)
        done.update(c.key for c in ready)
        taken = {id(c) for c in ready}  # by identity: equality of whole changes is deep and slow
        pending = [c for c in pending if id(c) not in taken]
    return levels


# ---------------------------------------------------------------------------------------------- engine


@dataclass
class _Run:
    client: ApiClient
    plan: Plan
    options: ApplyOptions
    snapshot: Snapshot
    stop: threading.Event
    results: dict[int, Result] = field(default_factory=dict)
    # Agent key -> id of the agents this apply created, for ``${agent.KEY.id}`` in later writes.
    created: dict[str, str] = field(default_factory=dict)
    _positions: dict[int, int] = field(default_factory=dict)

    def marker(self, key: str) -> str:
        return marker(self.plan.namespace, key)

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

    A KeyboardInterrupt stops new writes, lets in-flight ones finish and returns the report with the
    rest skipped and ``interrupted`` set.
    """
    run = _Run(client, plan, options or ApplyOptions(), snapshot or Snapshot(), stop or threading.Event())
    try:
        with _ctrl_c_stops(run.stop):
            for stage in stages(plan):
                if run.stop.is_set():
                    break
                _run_stage(run, stage)
    except KeyboardInterrupt:
        run.stop.set()
    return _report(run)


@contextlib.contextmanager
def _ctrl_c_stops(stop: threading.Event) -> Iterator[None]:
    """While writing, the first Ctrl-C only sets ``stop`` (no new write starts, in-flight ones finish);
    a second one interrupts for real. Signal handlers exist only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_stage(run: _Run, stage: list[Change]) -> None:
    indexed = [(run.position(c), c) for c in stage]
    outcomes = run.client.map(lambda item: _run_one(run, *item), indexed)
    if any(isinstance(o, KeyboardInterrupt) for o in outcomes):
        raise KeyboardInterrupt
    for (index, change), outcome in zip(indexed, outcomes, strict=True):
        if isinstance(outcome, BaseException) and index not in run.results:
            run.results[index] = _failed(change, outcome)


def _run_one(run: _Run, index: int, change: Change) -> None:
    if run.stop.is_set():
        return
    blocker = _failed_dependency(run, change)
    if blocker is not None:
        run.results[index] = _result(
            change, Outcome.SKIPPED, reason=f"it depends on agent {blocker}, which was not applied"
        )
    elif run.options.dry_run:
        run.results[index] = _result(change, Outcome.WOULD_APPLY, reason="dry run: not written")
    else:
        result = _execute(run, with_references(change, run.created))
        if result.kind is Kind.AGENT and result.action is Action.CREATE and result.remote_id:
            run.created[result.key] = result.remote_id
        run.results[index] = result


def _url(run: _Run, path: str) -> str:
    return f"{getattr(run.client, 'base_url', '')}{path}"


def with_references(change: Change, ids: Mapping[str, str]) -> Change:
    """``change`` with ``${agent.KEY.id}`` of agents created earlier in this apply filled in, in what
    is sent and in what the read-back expects. A reference left unfilled fails the write rather than
    sending a placeholder as an id."""
    if not change.depends_on:
        return change
    missing = [k for k in change.depends_on if k not in ids]
    if missing:
        raise _Unresolved(f"agent {missing[0]} has no id yet; its create did not run before this write")
    body = None if change.body is None else templates.substitute_references(change.body, ids)
    fields_ = tuple(
        replace(fc, new=templates.substitute_references(fc.new, ids)) if fc.new is not ABSENT else fc
        for fc in change.fields
    )
    patch = tuple(templates.substitute_references(op, ids) for op in change.json_patch)
    return replace(change, body=body, fields=fields_, json_patch=patch)


class _Unresolved(AgentsyncError):
    """A reference whose agent was not created (only when a plan's order was broken by hand)."""


def _failed_dependency(run: _Run, change: Change) -> str | None:
    if not change.depends_on:
        return None
    bad = {
        r.key
        for r in run.results.values()
        if r.kind is Kind.AGENT and r.outcome in (Outcome.FAILED, Outcome.SKIPPED)
    }
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
    handlers: dict[tuple[Kind, Action], Callable[[_Run, Change], Result]] = {
        (Kind.AGENT, Action.CREATE): _create_agent,
        (Kind.AGENT, Action.UPDATE): _update_agent,
        (Kind.AGENT, Action.ADOPT): _update_agent,
        (Kind.AGENT, Action.DELETE): _delete,
        (Kind.TAG, Action.CREATE): _create_tag,
        (Kind.TAG, Action.UPDATE): _update_tag,
        (Kind.TAG, Action.ADOPT): _update_tag,
        (Kind.TAG, Action.DELETE): _delete,
    }
    try:
        return handlers[(change.kind, change.action)](run, change)
    except AgentsyncError as exc:
        return _failed(change, exc)


# --------------------------------------------------------------------------------------------- agents


def _create_agent(run: _Run, change: Change) -> Result:
    body = _with_own_marker(run, change, dict(change.body or {}))
    found = _marker_lookup(run, change.key)
    agent_id, recovered = _create(run, change.path, body, "agent_id", found)
    result = _verify_agent(run, change, agent_id, body, recovered=recovered)
    if recovered and result.outcome is Outcome.NOT_CONVERGED:
        # The create committed but we never saw its answer; make sure the agent ends up as declared.
        run.client.patch(item_path(AGENTS_PATH, agent_id), body)
        result = _verify_agent(run, change, agent_id, body, recovered=True)
    return result


def _marker_lookup(run: _Run, key: str) -> Callable[[], str | None]:
    return lambda: _marker_index(run.client, run.plan.namespace).get(key)


def _update_agent(run: _Run, change: Change) -> Result:
    assert change.remote_id is not None, "an agent update always names its remote id"
    body = dict(change.body or {})
    if change.action is Action.ADOPT:
        current = run.snapshot.agents.get(change.key) or {}
        body = _with_own_marker(run, change, {**body, "tags": body.get("tags", current.get("tags") or [])})
    if run.options.version_description:
        body["version_description"] = run.options.version_description
    run.client.patch(change.path, body)
    return _verify_agent(run, change, change.remote_id, body)


def _verify_agent(
    run: _Run, change: Change, agent_id: str, body: Mapping[str, Any], *, recovered: bool = False
) -> Result:
    return _verify(run, change, agent_id, body, check_agent, AGENTS_PATH, run.plan.namespace, recovered)


def _verify(
    run: _Run,
    change: Change,
    remote_id: str,
    body: Mapping[str, Any],
    check: Callable[[Any, str], Mapping[str, Any]],
    collection: str,
    namespace: str | None,
    recovered: bool,
) -> Result:
    """Read the resource back and compare it with what was sent. The answer is checked like every
    read: a broken one is a failed write with its reason, not "not converged"."""
    path = item_path(collection, remote_id)
    actual = check(run.client.get(path), _url(run, path))
    missed = unconverged(change, body, actual, namespace)
    outcome = Outcome.NOT_CONVERGED if missed else Outcome.APPLIED
    reason = "the server did not keep every field it was sent" if missed else None
    return _result(change, outcome, remote_id=remote_id, paths=missed, reason=reason, recovered=recovered)


def _with_own_marker(run: _Run, change: Change, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` whose tags carry this change's marker (a saved plan's body already does; this keeps a
    create or adopt from ever going out unmarked)."""
    return {
        **body,
        "tags": agent_tags_with_marker(run.marker(change.key), body.get("tags") or [], run.plan.namespace),
    }


# ----------------------------------------------------------------------------------------------- tags


def _create_tag(run: _Run, change: Change) -> Result:
    body = dict(change.body or {})
    lookup = lambda: _tag_id_by_title(run.client, change.key)  # noqa: E731
    tag_id, recovered = _create(run, change.path, body, "tag_id", lookup)
    return _verify_tag(run, change, tag_id, body, recovered=recovered)


def _tag_id_by_title(client: ApiClient, title: str) -> str | None:
    found = _find_tag(list(client.paginate(TAGS_PATH, "conversation_tags")), None, title)
    return None if found is None else str(found["tag_id"])


def _update_tag(run: _Run, change: Change) -> Result:
    assert change.remote_id is not None, "a tag update always names its remote id"
    body = dict(change.body or {})
    run.client.patch(change.path, body)
    return _verify_tag(run, change, change.remote_id, body)


def _verify_tag(
    run: _Run, change: Change, tag_id: str, body: Mapping[str, Any], *, recovered: bool = False
) -> Result:
    return _verify(run, change, tag_id, body, check_tag, TAGS_PATH, None, recovered)


# ------------------------------------------------------------------------------------------- deletes


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
            return str(run.client.post(path, body)[id_key]), False
        except (ApiError, NetworkError) as exc:
            if is_ambiguous(exc):
                found = lookup()
                if found is not None:
                    return found, True
            elif not _safe_to_resend(exc):
                raise
            if attempt + 1 == attempts:
                raise
            time.sleep(_delay(run, attempt, exc))
    raise AssertionError("unreachable")  # pragma: no cover


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


# -------------------------------------------------------------------------------------------- verify


def unconverged(
    change: Change, body: Mapping[str, Any], actual: Mapping[str, Any], namespace: str | None
) -> tuple[str, ...]:
    """The dotted paths whose value read back differs from what the plan wanted.

    What is wanted comes only from the plan (the sent body's leaves and each field's new value), so a
    saved plan is verified exactly like a fresh one. Server-filled keys inside objects are ignored;
    lists and free-form maps must match whole.
    """
    wanted: dict[Path, Any] = dict(_leaves(body, ()))
    for fc in change.fields:
        if fc.new is not ABSENT:
            wanted.setdefault(fc.path, fc.new)
    wanted.pop(("version_description",), None)
    missed = [p for p, v in wanted.items() if not _taken(change, p, v, actual, namespace)]
    return tuple(sorted(dotted(p) for p in missed))


def _leaves(value: Any, path: Path) -> Iterable[tuple[Path, Any]]:
    if isinstance(value, Mapping) and value and not is_atomic(path):
        for key, sub in value.items():
            yield from _leaves(sub, (*path, key))
    elif path:
        yield path, value


def _taken(change: Change, path: Path, wanted: Any, actual: Mapping[str, Any], namespace: str | None) -> bool:
    got = value_at(actual, path)
    agent_tags = path == ("tags",) and change.kind is Kind.AGENT and namespace is not None
    if agent_tags and isinstance(got, list) and isinstance(wanted, list):
        return _tags_taken(wanted, got, str(namespace), change.key)
    return matches(path, wanted, got)


def _tags_taken(wanted: list[Any], got: list[Any], namespace: str, key: str) -> bool:
    """Agent tags as a set, and exactly one marker of the namespace: this key's (a rename moves it)."""
    mark = marker(namespace, key)
    markers = {t for t in got if isinstance(t, str) and marker_key(t, namespace) is not None}
    same_tags = diff.normal_tags(got, namespace) == diff.normal_tags(wanted, namespace)
    return bool(same_tags and markers == {mark})


def value_at(doc: Any, path: Path) -> Any:
    for part in path:
        if not _has(doc, part):
            return ABSENT
        doc = doc[part]
    return doc


def _has(doc: Any, part: str | int) -> bool:
    if isinstance(part, int):
        return isinstance(doc, list) and -len(doc) <= part < len(doc)
    return isinstance(doc, Mapping) and part in doc


def matches(path: Path, wanted: Any, got: Any) -> bool:
    """Equal as the planner's managed view sees it: typed objects on the wanted keys only (the server
    fills the rest), everything atomic (lists, free-form maps, workflow, scalars) whole, numbers
    numerically. So a resource that verifies here shows no change on the next plan."""
    if isinstance(wanted, Mapping) and not is_atomic(path):
        return isinstance(got, Mapping) and all(
            matches((*path, k), v, got.get(k, ABSENT)) for k, v in wanted.items()
        )
    return got is not ABSENT and diff.same(diff.server_filled(path, wanted), diff.canonical(got))


def is_atomic(path: Path) -> bool:
    """True where the declared value is the whole value (the diff's patch-strategy table decides)."""
    return diff.strategy(path) is not diff.Strategy.MERGE


# ------------------------------------------------------------------------------------ version note


def version_description(root: FsPath, message: str | None) -> str | None:
    """What made this change: ``--message`` when given, else the git commit and subject of ``root``."""
    if message:
        return message
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = out.stdout.strip()
    return f"agentsync apply: {line}" if out.returncode == 0 and line else None
