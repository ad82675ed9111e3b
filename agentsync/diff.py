"""The diff core: managed views, the patch-strategy table, the minimal PATCH body and the change list.

A definition manages exactly the fields it declares (DESIGN.md §3). Both sides are reduced to the
*managed view* (the declared shape, normalised) before anything is compared; the PATCH body holds only
the changed leaves, nested under their parents, with every atomic value (list, free-form map, the whole
``workflow``) sent whole. How each path is merged by the server is data in one table, derived once from
the OpenAPI Input models (:func:`strategy_table`), not a scatter of special cases.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterator, Mapping
from functools import lru_cache
from typing import Any

import jsonpatch
from deepdiff import DeepDiff

from agentsync import spec
from agentsync.defaults import fill_new
from agentsync.plan import ABSENT, FieldChange
from agentsync.resources.agent import MARKER_SEPARATOR, READ_ONLY_PATHS, WRITABLE_FIELDS
from agentsync.values import canonical, same

Path = tuple[str | int, ...]


class Strategy(str, enum.Enum):
    """How the server combines a PATCH value with the stored one at a path."""

    MERGE = "merge"  # typed object: deep-merged key by key, so only changed keys are sent
    REPLACE = "replace"  # scalar, list, free-form map or workflow: the value sent is the whole value
    SET = "set"  # a list the API treats as a set (agent tags): replaced, but compared without order


# Paths whose strategy the schema cannot express: the reference says the server replaces ``workflow``
# as a whole graph, and agent ``tags`` are a set that also carries the ownership marker.
OVERRIDES: Mapping[Path, Strategy] = {
    ("name",): Strategy.REPLACE,
    ("tags",): Strategy.SET,
    ("workflow",): Strategy.REPLACE,
}
# The typed roots walked to derive the table (the create body's Input models; the PATCH body types
# the same two fields as free-form objects in the raw spec, which says nothing about their merging).
MERGE_ROOTS: Mapping[Path, str] = {
    ("conversation_config",): spec.CONVERSATION_CONFIG_INPUT,
    ("platform_settings",): spec.PLATFORM_SETTINGS_INPUT,
}


# --- the strategy table -------------------------------------------------------------------------------


def _object_branches(node: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The typed-object alternatives of a union, or None when the node is not a union of objects."""
    branches = node.get("anyOf") or node.get("oneOf")
    if not branches:
        return None
    real = [spec.unwrap(b).node for b in branches if b.get("type") != "null"]
    if real and all(spec.is_typed_object(b) for b in real):
        return real
    return None


def _classify(node: Mapping[str, Any]) -> tuple[Strategy, list[dict[str, Any]]]:
    """The strategy of one schema node and the typed objects whose properties lie under it."""
    unwrapped = spec.unwrap(node).node
    if spec.is_free_form_map(unwrapped):
        return Strategy.REPLACE, []
    if spec.is_typed_object(unwrapped):
        return Strategy.MERGE, [unwrapped]
    union = _object_branches(unwrapped)
    if union is not None:
        # A union of objects (backup_llm_config, avatar, tool params) is merged like any object: the
        # server deep-merges dicts and then validates, and comparing declared keys only keeps
        # server-filled keys of the chosen variant from showing up as perpetual diffs.
        return Strategy.MERGE, union
    if unwrapped.get("type") == "object":
        return Strategy.MERGE, []
    return Strategy.REPLACE, []


def _walk(node: Mapping[str, Any], path: Path, seen: frozenset[str], table: dict[Path, Strategy]) -> None:
    strategy, objects = _classify(node)
    table[path] = strategy
    for obj in objects:
        title = str(obj.get("title", id(obj)))
        if title in seen:
            continue
        for key, child in obj.get("properties", {}).items():
            _walk(child, (*path, key), seen | {title}, table)


@lru_cache(maxsize=1)
def _strategy_table() -> dict[Path, Strategy]:
    table: dict[Path, Strategy] = {}
    for path, name in MERGE_ROOTS.items():
        _walk({"$ref": spec.REF_PREFIX + name}, path, frozenset(), table)
    table.update(OVERRIDES)
    return table


def strategy_table() -> Mapping[Path, Strategy]:
    """Every schema-known writable path of an agent and how the server merges it (a read-only copy)."""
    return dict(_strategy_table())


def strategy(path: Path) -> Strategy:
    """The strategy at ``path``. A path the schema does not know is merged if it holds an object,
    since the server's merge is a plain recursive dict merge there."""
    found = _strategy_table().get(tuple(path))
    return found if found is not None else Strategy.MERGE


# --- normalisation ------------------------------------------------------------------------------------


def _is_marker(tag: Any, namespace: str | None) -> bool:
    return namespace is not None and isinstance(tag, str) and tag.startswith(namespace + MARKER_SEPARATOR)


def normal_tags(tags: Any, namespace: str | None = None) -> Any:
    """Agent tags as a set: sorted, without duplicates, without this namespace's ownership markers."""
    if not isinstance(tags, list):
        return tags
    kept = {t for t in tags if not _is_marker(t, namespace)}
    return sorted(kept, key=lambda t: (str(type(t)), str(t)))


# --- the managed view ---------------------------------------------------------------------------------


def _read_only(path: Path) -> bool:
    return tuple(path) in READ_ONLY_PATHS


def _project(declared: Any, remote: Any, path: Path) -> Any:
    """``remote`` reduced to the shape of ``declared``: typed objects key by key, the rest whole."""
    if not (isinstance(declared, Mapping) and isinstance(remote, Mapping)):
        return canonical(remote)
    if strategy(path) is not Strategy.MERGE:
        return canonical(remote)
    view: dict[str, Any] = {}
    for key, value in declared.items():
        child = (*path, key)
        if key in remote and not _read_only(child):
            view[key] = _project(value, remote[key], child)
    return view


def managed_view(
    desired: Mapping[str, Any], remote: Mapping[str, Any], *, namespace: str | None = None
) -> dict[str, Any]:
    """The part of ``remote`` (a full GET body, or the desired config itself) that ``desired`` manages.

    Only the writable fields ``desired`` declares appear, nested as declared; lists, free-form maps and
    ``workflow`` are taken whole; read-only fields never appear; numbers are canonical and ``tags`` is
    a sorted set without the ownership markers of ``namespace``. ``managed_view(d, d)`` is the desired
    view; ``managed_view(d, get_body)`` the remote one.
    """
    view: dict[str, Any] = {}
    for key in WRITABLE_FIELDS:
        if key in desired and key in remote:
            view[key] = _project(desired[key], remote[key], (key,))
    if "tags" in view:
        view["tags"] = normal_tags(view["tags"], namespace)
    return view


def desired_view(desired: Mapping[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
    """The managed view of a definition's own config."""
    return managed_view(desired, desired, namespace=namespace)


# --- server defaults inside atomic values -------------------------------------------------------------

# Top-level fields the server stores exactly as sent.
_VERBATIM: frozenset[Path] = frozenset({("name",), ("tags",)})


@lru_cache(maxsize=4096)
def _stored_schema(path: Path) -> Mapping[str, Any] | None:
    # The response model: the shape the server stores and reads back, defaults included.
    return spec.schema_at(spec.AGENT_RESPONSE, path)


def server_filled(path: Path, value: Any) -> Any:
    """``value`` as the server will hold it at ``path``, numbers canonical.

    An atomic value replaces the stored one whole, and the server then fills the defaults of every
    object inside it (each evaluation criterion, each data-collection item, each workflow node). A file
    that declares such a value declares the objects' interesting keys only, so the comparison must
    complete them the same way, or the plan would never be empty.
    """
    node = None if path in _VERBATIM or not isinstance(value, dict | list) else _stored_schema(path)
    return canonical(value if node is None else fill_new(value, None, node))


def _complete(view: Mapping[str, Any], remote: Mapping[str, Any], path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in view.items():
        child = (*path, key)
        there = remote.get(key, ABSENT)
        if isinstance(value, Mapping) and strategy(child) is Strategy.MERGE:
            out[key] = _complete(value, there if isinstance(there, Mapping) else {}, child)
        elif there is not ABSENT and same(value, there):
            out[key] = value  # already what the server holds: nothing to complete
        else:
            out[key] = server_filled(child, value)
    return out


def expected_view(
    desired: Mapping[str, Any],
    *,
    namespace: str | None = None,
    remote_view: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The desired view as the server will store it: atomic values completed with server defaults.

    This is what the remote managed view is compared with; the PATCH body still carries the declared
    values (:func:`patch_body`), since the server completes them itself. With ``remote_view``, a value
    that already equals the remote one is taken as it is, which keeps unchanged agents cheap.
    """
    return complete(desired_view(desired, namespace=namespace), remote_view)


def complete(
    declared_view: Mapping[str, Any], remote_view: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """:func:`expected_view` of a desired view that is already computed."""
    return _complete(declared_view, remote_view or {}, ())


# --- the minimal PATCH body ---------------------------------------------------------------------------


def _patch(
    desired: Mapping[str, Any], remote: Mapping[str, Any], expected: Mapping[str, Any], path: Path
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, new in desired.items():
        child = (*path, key)
        old = remote.get(key, ABSENT)
        want = expected.get(key, new)
        if old is not ABSENT and same(want, old):
            continue
        nested = isinstance(new, dict) and isinstance(old, dict) and strategy(child) is Strategy.MERGE
        inner = want if isinstance(want, Mapping) else new
        body[key] = _patch(new, old, inner, child) if nested else new
    return body


def patch_body(
    desired_view: Mapping[str, Any],
    remote_view: Mapping[str, Any],
    expected_view: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The smallest PATCH body that turns ``remote_view`` into ``desired_view`` on a merging server.

    Only changed leaves, nested under their parents; a changed list, free-form map or ``workflow`` is
    sent whole, as declared; nothing unchanged is sent. Whether a value changed is judged against
    ``expected_view`` (the desired view completed with server defaults) when given. ``tags`` (when
    changed) is the declared set: the caller adds the ownership marker, which the views do not carry.
    """
    expected = desired_view if expected_view is None else expected_view
    if same(dict(expected), dict(remote_view)):
        return {}
    return _patch(desired_view, remote_view, expected, ())


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
    diff = DeepDiff(remote_view, desired_view, view="tree", verbose_level=2, threshold_to_diff_deeper=0)
    for report in diff.values():
        for level in report:
            raw = level.path(output_format="list")
            yield _atomic_path(raw, remote_view) if raw else ()
            # A list in the desired view that the remote lacks is cut the same way.
            yield _atomic_path(raw, desired_view) if raw else ()


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
    paths = _keep_outermost(list(_diff_paths(remote_view, desired_view)))
    found = [FieldChange(p, _lookup(remote_view, p), _lookup(desired_view, p)) for p in paths]
    return [c for c in found if not same(c.old, c.new)]


def json_patch(remote_view: Mapping[str, Any], desired_view: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An RFC 6902 JSON Patch from the remote managed view to the desired one."""
    ops: list[dict[str, Any]] = jsonpatch.make_patch(dict(remote_view), dict(desired_view)).patch
    return ops
