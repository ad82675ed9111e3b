"""The read-back after every write: did the managed fields take?

What is wanted comes only from the plan (the sent body's leaves and each field's new value), so a saved
plan is verified exactly like a fresh one. Server-filled keys inside objects are ignored; atomic values
(lists, free-form maps, whole replaced values) must match whole, sets without order; the ownership
marker must be exactly this key's. A resource that verifies here shows no change on the next plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agentsync import diff
from agentsync.kinds import Kind
from agentsync.plan import ABSENT, Action, Change, Path, dotted
from agentsync.strategy import Strategy


def unconverged(
    kind: Kind, change: Change, body: Mapping[str, Any], actual: Mapping[str, Any], namespace: str
) -> tuple[str, ...]:
    """The dotted paths whose value read back differs from what the plan wanted."""
    root = kind.api.update_root
    if root and change.action in (Action.UPDATE, Action.ADOPT):
        body = {root: body}  # the update carried the root's fields at the top (see Api.update_root)
    wanted: dict[Path, Any] = dict(_leaves(kind, body, ()))
    for fc in change.fields:
        if fc.new is not ABSENT:
            wanted.setdefault(fc.path, fc.new)
    if kind.api.version_field:
        wanted.pop((kind.api.version_field,), None)
    for path in kind.fields.write_only:
        wanted.pop(path, None)
    visible = kind.identity.hide(actual, namespace)
    missed = [p for p, v in wanted.items() if not _taken(kind, p, v, visible, namespace)]
    if kind.identity.claims(body) and not kind.identity.holds(actual, change.key, namespace):
        missed.append((kind.identity.marker_field or "",))
    return tuple(sorted(dict.fromkeys(dotted(p) for p in missed)))


def _leaves(kind: Kind, value: Any, path: Path) -> Iterable[tuple[Path, Any]]:
    if isinstance(value, Mapping) and value and not is_atomic(kind, path):
        for key, sub in value.items():
            yield from _leaves(kind, sub, (*path, key))
    elif path:
        yield path, value


def _taken(kind: Kind, path: Path, wanted: Any, actual: Mapping[str, Any], namespace: str) -> bool:
    if path == (kind.identity.marker_field,) and isinstance(wanted, list):
        wanted = kind.identity.hide({path[0]: wanted}, namespace)[path[0]]
    return matches(kind, path, wanted, value_at(actual, path))


def value_at(doc: Any, path: Path) -> Any:
    for part in path:
        if isinstance(part, int):
            if not (isinstance(doc, list) and -len(doc) <= part < len(doc)):
                return ABSENT
        elif not (isinstance(doc, Mapping) and part in doc):
            return ABSENT
        doc = doc[part]
    return doc


def matches(kind: Kind, path: Path, wanted: Any, got: Any) -> bool:
    """Equal as the planner's managed view sees it: typed objects on the wanted keys only (the server
    fills the rest), everything atomic whole, sets without order, numbers numerically."""
    if isinstance(wanted, Mapping) and not is_atomic(kind, path):
        return isinstance(got, Mapping) and all(
            matches(kind, (*path, k), v, got.get(k, ABSENT)) for k, v in wanted.items()
        )
    if got is ABSENT:
        return False
    if isinstance(wanted, Mapping) and isinstance(got, Mapping) and None in wanted.values():
        # A null in a map removes that key (an environment variable's values): taken when it is gone.
        removed = [k for k, v in wanted.items() if v is None]
        if any(got.get(k) is not None for k in removed):
            return False
        wanted = {k: v for k, v in wanted.items() if v is not None}
        got = {k: v for k, v in got.items() if k not in removed}
    if kind.fields.strategy(path) is Strategy.SET:
        return diff.same(diff.normal_set(wanted), diff.normal_set(got))
    return diff.same(diff.server_filled(kind.fields, path, wanted), diff.canonical(got))


def is_atomic(kind: Kind, path: Path) -> bool:
    """True where the declared value is the whole value (the kind's strategy table decides)."""
    return kind.fields.strategy(path) is not Strategy.MERGE
