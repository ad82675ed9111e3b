"""Before apply writes: is the saved plan for this target, and is it still fresh?

Every resource a plan touches is re-read (the same fetcher plan uses) and its fingerprint compared
with the one the plan was computed from; any difference refuses the whole plan before any write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agentsync.errors import ApiError, PlanFileError, StalePlanError
from agentsync.kinds import KINDS, Kind, Ref
from agentsync.kinds.base import JsonObject
from agentsync.plan import Change, Plan, fingerprint
from agentsync.remote import ApiClient, RemoteState, index_of, item_path, list_kinds


@dataclass
class Snapshot:
    """The remote state of the resources in a plan (change ref -> body, None when absent), as re-read
    just before writing."""

    bodies: dict[Ref, JsonObject | None] = field(default_factory=dict)

    def get(self, ref: Ref) -> JsonObject | None:
        return self.bodies.get(ref)


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


def listed_now(client: ApiClient, kind: Kind) -> list[JsonObject]:
    """Every object of ``kind`` the listings show now (one per id), each checked: the fetcher's own read."""
    return list(list_kinds(client, [kind])[kind.name])


def find_key(
    client: ApiClient, kind: Kind, key: str, namespace: str, besides: str | None = None
) -> str | None:
    """The id of the object that now carries ``key`` (a marker or a natural key), or None; ``besides``
    is never the answer (the object a replacement stands in for carries the same key)."""
    index = index_of(kind, listed_now(client, kind), namespace)
    ids = [i for i in index.keys.get(key, ()) if i != besides]
    return ids[0] if ids else None


def get_or_none(client: ApiClient, kind: Kind, remote_id: str | None) -> JsonObject | None:
    if remote_id is None:
        return None
    path = item_path(kind, remote_id)
    try:
        body = client.get(path)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    # A broken answer must stop the stale check, not pass (or crash it) as some other state.
    return kind.api.check(body, client.base_url + path)


def read_snapshot(client: ApiClient, plan: Plan) -> Snapshot:
    """Re-read every resource the plan touches, kind by kind, for the stale check and for adopts."""
    snap = Snapshot()
    for kind in KINDS:
        changes = [c for c in plan.changes if c.kind == kind.name]
        if changes:
            snap.bodies.update(_read_kind(client, kind, changes, plan.namespace))
    return snap


def _read_kind(
    client: ApiClient, kind: Kind, changes: Sequence[Change], namespace: str
) -> dict[Ref, JsonObject | None]:
    creates = [c for c in changes if c.remote_id is None]
    listed = listed_now(client, kind) if kind.api.list_is_full or creates else []
    index = index_of(kind, listed, namespace)
    ids = [c.remote_id or next(iter(index.keys.get(c.key, ())), None) for c in changes]
    if kind.api.list_is_full:
        return {c.ref: index.items.get(i) if i else None for c, i in zip(changes, ids, strict=True)}
    bodies = client.map(lambda i: get_or_none(client, kind, i), ids)
    found: dict[Ref, JsonObject | None] = {}
    for change, body in zip(changes, bodies, strict=True):
        if isinstance(body, BaseException):
            raise body
        found[change.ref] = body
    return found


def snapshot_of(plan: Plan, remote: RemoteState) -> Snapshot:
    """The snapshot of a plan that was built from ``remote`` a moment ago, without reading anything again.

    Only right for a plan applied as soon as it is made (``apply --auto-approve`` without a plan file):
    a saved plan, or one a person took time to confirm, must go through :func:`check_fresh` instead.
    """
    snap = Snapshot()
    by_name = {k.name: k for k in KINDS}
    for change in plan.changes:
        bodies = remote.bodies_of(by_name[change.kind])
        snap.bodies[change.ref] = bodies.get(change.remote_id) if change.remote_id else None
    return snap


def check_fresh(client: ApiClient, plan: Plan) -> Snapshot:
    """Raise StalePlanError, naming the resources, when any fingerprint no longer matches."""
    snap = read_snapshot(client, plan)
    stale = [c.label for c in plan.changes if fingerprint(c.kind, c.key, snap.get(c.ref)) != c.fingerprint]
    if stale:
        raise StalePlanError(
            f"the plan is stale: {', '.join(stale)} changed in the workspace since it was made; nothing was written",
            stale=stale,
            hint="run `agentsync plan --out FILE` again, review it, and apply the new plan",
        )
    return snap
