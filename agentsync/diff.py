"""The diff core: managed views, the patch-strategy table, the minimal PATCH body and the change list.

A definition manages exactly the fields it declares (DESIGN.md §3). Both sides are reduced to the
*managed view* (the declared shape, normalised) before anything is compared; the PATCH body holds only
the changed leaves, nested under their parents, with every atomic value (list, free-form map, the whole
``workflow``) sent whole. How each path is merged by the server is the kind's strategy table
(:mod:`agentsync.strategy`, :class:`agentsync.kinds.base.Fields`); nothing here names a kind.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from functools import lru_cache
from typing import Any

from agentsync import spec
from agentsync.defaults import fill_new
from agentsync.kinds.base import Fields
from agentsync.plan import ABSENT, FieldChange
from agentsync.strategy import Path, Strategy
from agentsync.values import canonical, same

__all__ = [
    "Strategy",
    "canonical",
    "changes",
    "complete",
    "desired_view",
    "managed_view",
    "normal_set",
    "patch_body",
    "same",
    "server_filled",
]


# --- normalisation ------------------------------------------------------------------------------------


def normal_set(values: Any) -> Any:
    """A list the API treats as a set: sorted, without duplicates."""
    if not isinstance(values, list):
        return values
    kept = {canonical(v) for v in values if isinstance(v, str | int | float | bool)}
    return sorted(kept, key=lambda t: (str(type(t)), str(t)))


# --- the managed view ---------------------------------------------------------------------------------


def _project(fields: Fields, declared: Any, remote: Any, path: Path) -> Any:
    """``remote`` reduced to the shape of ``declared``: typed objects key by key, the rest whole."""
    strategy = fields.strategy(path)
    if strategy is Strategy.SET:
        return normal_set(canonical(remote))
    if strategy is not Strategy.MERGE or not (_is_mapping(declared) and _is_mapping(remote)):
        return canonical(remote)
    view: dict[str, Any] = {}
    unread = fields.unread
    for key, value in declared.items():
        child = (*path, key)
        if key in remote and child not in unread:
            view[key] = _project(fields, value, remote[key], child)
    return view


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # the exact type first: no abstract check


def managed_view(fields: Fields, desired: Mapping[str, Any], remote: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``remote`` (a full GET body, or the desired config itself) that ``desired`` manages.

    Only the writable fields ``desired`` declares appear, nested as declared; lists, free-form maps and
    other atomic values are taken whole; read-only and write-only fields never appear; numbers are
    canonical and set-like lists sorted. ``managed_view(f, d, d)`` is the desired view;
    ``managed_view(f, d, get_body)`` the remote one (hide the ownership marker from the body first).
    """
    view: dict[str, Any] = {}
    for key in fields.writable:
        if key in desired and key in remote and (key,) not in fields.write_only:
            view[key] = _project(fields, desired[key], remote[key], (key,))
    return view


def desired_view(fields: Fields, desired: Mapping[str, Any]) -> dict[str, Any]:
    """The managed view of a definition's own config."""
    return managed_view(fields, desired, desired)


# --- server defaults inside atomic values -------------------------------------------------------------


@lru_cache(maxsize=8192)
def _stored_schema(response: str, path: Path) -> Mapping[str, Any] | None:
    # The response model: the shape the server stores and reads back, defaults included.
    return spec.schema_at(response, path)


def server_filled(fields: Fields, path: Path, value: Any) -> Any:
    """``value`` as the server will hold it at ``path``, numbers canonical.

    An atomic value replaces the stored one whole, and the server then fills the defaults of every
    object inside it (each evaluation criterion, each data-collection item, each workflow node). A file
    that declares such a value declares the objects' interesting keys only, so the comparison must
    complete them the same way, or the plan would never be empty.
    """
    atomic = isinstance(value, dict | list) and path not in fields.verbatim
    node = _stored_schema(fields.response, path) if atomic else None
    return canonical(value if node is None else fill_new(value, None, node))


def _complete(
    fields: Fields, view: Mapping[str, Any], remote: Mapping[str, Any], path: Path
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in view.items():
        child = (*path, key)
        there = remote.get(key, ABSENT)
        if isinstance(value, Mapping) and fields.strategy(child) is Strategy.MERGE:
            out[key] = _complete(fields, value, there if isinstance(there, Mapping) else {}, child)
        elif there is not ABSENT and same(value, there):
            out[key] = value  # already what the server holds: nothing to complete
        else:
            out[key] = server_filled(fields, child, value)
    return out


def complete(
    fields: Fields, declared_view: Mapping[str, Any], remote_view: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The desired view as the server will store it: atomic values completed with server defaults.

    This is what the remote managed view is compared with; the PATCH body still carries the declared
    values (:func:`patch_body`), since the server completes them itself. With ``remote_view``, a value
    that already equals the remote one is taken as it is, which keeps unchanged resources cheap.
    """
    return _complete(fields, declared_view, remote_view or {}, ())


# --- the minimal PATCH body ---------------------------------------------------------------------------


def _patch(
    fields: Fields,
    desired: Mapping[str, Any],
    remote: Mapping[str, Any],
    expected: Mapping[str, Any],
    path: Path,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, new in desired.items():
        child = (*path, key)
        old = remote.get(key, ABSENT)
        want = expected.get(key, new)
        if old is not ABSENT and same(want, old):
            continue
        nested = isinstance(new, dict) and isinstance(old, dict) and fields.strategy(child) is Strategy.MERGE
        inner = want if isinstance(want, Mapping) else new
        body[key] = _patch(fields, new, old, inner, child) if nested else new
    return body


def patch_body(
    fields: Fields,
    desired_view: Mapping[str, Any],
    remote_view: Mapping[str, Any],
    expected_view: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The smallest PATCH body that turns ``remote_view`` into ``desired_view`` on a merging server.

    Only changed leaves, nested under their parents; a changed atomic value is sent whole, as declared;
    nothing unchanged is sent. Whether a value changed is judged against ``expected_view`` (the desired
    view completed with server defaults) when given. A set-like list (agent tags) is the declared set:
    the caller adds the ownership marker, which the views do not carry.
    """
    expected = desired_view if expected_view is None else expected_view
    if same(dict(expected), dict(remote_view)):
        return {}
    return _patch(fields, desired_view, remote_view, expected, ())


# --- the change list ----------------------------------------------------------------------------------

_ADDED = ("dictionary_item_added", "iterable_item_added", "attribute_added")
_REMOVED = ("dictionary_item_removed", "iterable_item_removed", "attribute_removed")


def _atomic_path(path: list[Any], remote: Any) -> Path:
    """Cut a deepdiff path at its first list index: a list is one value, shown as a whole."""
    node = remote
    for end, part in enumerate(path):
        if isinstance(part, int) and isinstance(node, list):
            return tuple(path[:end])
        node = node.get(part, None) if isinstance(node, dict) else None
    return tuple(path)


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and part < len(node)


def _lookup(root: Any, path: Path) -> Any:
    node = root
    for part in path:
        if not _has(node, part):
            return ABSENT
        node = node[part]
    return node


def _diff_paths(remote_view: Mapping[str, Any], desired_view: Mapping[str, Any]) -> Iterator[Path]:
    from deepdiff import DeepDiff  # imported on the first comparison: pull into a new project needs none

    diff = DeepDiff(remote_view, desired_view, view="tree", verbose_level=2, threshold_to_diff_deeper=0)
    for report in diff.values():
        for level in report:
            raw = level.path(output_format="list")
            yield _atomic_path(raw, remote_view) if raw else ()
            # A list in the desired view that the remote lacks is cut the same way.
            yield _atomic_path(raw, desired_view) if raw else ()


def _differing(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two views cut down to the keys whose values differ, descending where both sides are objects.

    deepdiff then walks only what changed (a greeting, not the whole agent), and every path it reports
    is still a path in the full views: only keys with the same value on both sides are left out.
    """
    left: dict[str, Any] = {}
    right: dict[str, Any] = {}
    for key, was in old.items():
        if key not in new:
            left[key] = was
            continue
        now = new[key]
        if same(was, now):
            continue
        if type(was) is dict and type(now) is dict:
            left[key], right[key] = _differing(was, now)
        else:
            left[key], right[key] = was, now
    for key, now in new.items():
        if key not in old:
            right[key] = now
    return left, right


def _keep_outermost(paths: Collection[Path]) -> list[Path]:
    ordered = sorted(set(paths), key=lambda p: (len(p), [str(x) for x in p]))
    kept: list[Path] = []
    for path in ordered:
        if not any(path[: len(k)] == k for k in kept):
            kept.append(path)
    return sorted(kept, key=lambda p: [str(x) for x in p])


def changes(remote_view: Mapping[str, Any], desired_view: Mapping[str, Any]) -> list[FieldChange]:
    """The changed paths from ``remote_view`` to ``desired_view``, old and new (ABSENT when missing).

    Objects and maps are reported key by key; a list is reported whole at its own path (its index-level
    changes mislead when an element is inserted); a multi-line string is one change, for a line diff.
    """
    if same(dict(remote_view), dict(desired_view)):
        return []
    paths = _keep_outermost(list(_diff_paths(*_differing(remote_view, desired_view))))
    found = [FieldChange(p, _lookup(remote_view, p), _lookup(desired_view, p)) for p in paths]
    return [c for c in found if not same(c.old, c.new)]
