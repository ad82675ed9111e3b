"""The writable view of a resource's GET body and the defaults left out of a new file: what pull writes
for a field, guided by the kind's create body schema."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from agentsync import spec
from agentsync.errors import AgentsyncError
from agentsync.reverse import shorten, tags_of_variant
from agentsync.strategy import Strategy
from agentsync.values import same

if TYPE_CHECKING:
    from agentsync.kinds import Kind


class PullError(AgentsyncError):
    """pull cannot do what was asked (an unknown key, a file it cannot merge into); nothing was written."""


# --------------------------------------------------------------------------------------------------
# Values: lists as the API means them (any sequence but a string).


def _is_list(value: Any) -> bool:
    kind = type(value)
    if kind is list:
        return True
    if kind in _SCALARS or kind is dict:
        return False
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


# The types a decoded body is made of, told apart without abstract-class checks (a body has
# thousands of leaves, and ``isinstance(x, Mapping)`` costs a lookup through the ABC cache each).
_SCALARS = frozenset({str, int, float, bool, type(None)})


# --------------------------------------------------------------------------------------------------
# The writable view of a GET body, guided by the create body's schema.


@lru_cache(maxsize=16)
def _top_schema(create_body: str) -> dict[str, Any]:
    return spec.schema(create_body)


def _atomic_top(kind: Kind) -> frozenset[str]:
    """The top-level fields written whole or not at all: those the diff compares whole (DESIGN §3)."""
    return frozenset(f for f in kind.fields.writable if kind.fields.strategy((f,)) is not Strategy.MERGE)


def _typed(node: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The schema that describes a value at ``node``, found once per node: every pulled resource walks
    the same schema. The entry keeps ``node`` alive, so its id cannot be reused; the answer is shared
    and only read."""
    if node is None:
        return None
    hit = _TYPED.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    found = spec.unwrap(node).node
    _TYPED[id(node)] = (node, found)
    return found


_TYPED: dict[int, tuple[Mapping[str, Any], dict[str, Any]]] = {}


def _variant(node: Mapping[str, Any], value: Mapping[str, Any]) -> dict[str, Any] | None:
    """The branch of a union that describes ``value``: by discriminator, else the first whose
    properties hold every key of the value."""
    branches = node.get("oneOf") or node.get("anyOf") or ()
    disc = node.get("discriminator") or {}
    tag = value.get(disc.get("propertyName", "")) if disc else None
    if isinstance(tag, str) and tag in (disc.get("mapping") or {}):
        return spec.unwrap({"$ref": disc["mapping"][tag]}).node
    typed = [spec.unwrap(b).node for b in branches if b.get("type") != "null"]
    fitting = [t for t in typed if t.get("properties") and set(value) <= set(t["properties"])]
    return fitting[0] if fitting else None


def _object_schema(node: Mapping[str, Any] | None, value: Mapping[str, Any]) -> dict[str, Any] | None:
    """The object schema for a dict value, or None when the schema cannot say (keep it as it is)."""
    target = _typed(node)
    if target is None:
        return None
    if target.get("oneOf") or target.get("anyOf"):
        return _variant(target, value)
    return target


def known_fields(value: Any, node: Mapping[str, Any] | None) -> Any:
    """``value`` without the keys its schema does not declare, and without those it marks read-only:
    the live API returns fields the spec lacks (reference §10), and the server fills read-only ones
    (``queueing_config.hold_audio``); a file holding either would fail validation."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        target = _object_schema(node, value)
        if target is None:
            return copy.deepcopy(dict(value))
        props = _writable_properties(target)
        if props is not None:
            return {k: known_fields(v, props[k]) for k, v in value.items() if k in props}
        extra = target.get("additionalProperties")
        child = extra if isinstance(extra, dict) else None
        return {k: known_fields(v, child) for k, v in value.items()}
    if _is_list(value):
        items = _typed(node)
        return [known_fields(v, (items or {}).get("items")) for v in value]
    return value


def _writable_properties(target: Mapping[str, Any]) -> dict[str, Any] | None:
    """The properties of an object schema a file may hold (read-only ones left out), found once per
    schema node like :func:`_typed`; None when the schema lists no properties."""
    hit = _WRITABLE.get(id(target))
    if hit is not None and hit[0] is target:
        return hit[1]
    props = target.get("properties") or {}
    found = {k: v for k, v in props.items() if not v.get("readOnly")} if props else None
    _WRITABLE[id(target)] = (target, found)
    return found


_WRITABLE: dict[int, tuple[Mapping[str, Any], dict[str, Any] | None]] = {}


def _drop_path(body: dict[str, Any], path: Sequence[str | int]) -> None:
    parent: Any = body
    for part in path[:-1]:
        parent = parent.get(part) if isinstance(parent, dict) else None
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def writable_view(kind: Kind, body: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The fields of a GET body that a file of ``kind`` may declare, in the API's names and order.

    Read-only fields and paths, unknown keys and this namespace's ownership marker are left out."""
    props = _top_schema(kind.fields.create_body).get("properties") or {}
    view = {k: known_fields(body[k], props.get(k)) for k in kind.fields.writable if k in body}
    for path in kind.fields.read_only:
        _drop_path(view, path)
    return kind.identity.hide(view, namespace)


# --------------------------------------------------------------------------------------------------
# Leaving out server defaults.


def _is_atomic(node: Mapping[str, Any] | None) -> bool:
    """Lists, free-form maps and anything the schema cannot describe are compared and written whole."""
    target = _typed(node)
    if target is None:
        return True
    return target.get("type") == "array" or spec.is_free_form_map(target)


def _type_defaults(node: Mapping[str, Any] | None, value: Mapping[str, Any]) -> Any:
    """The defaults inside an object whose own default is null (the object was set, its fields may not)."""
    from agentsync.defaults import default_value, partial_defaults

    target = _object_schema(node, value)
    if target is None:
        return None
    found = default_value(target)
    # An object with required keys has no default of its own; its other keys still have theirs.
    return found if isinstance(found, Mapping) else partial_defaults(target)


def kind_defaults(kind: Kind) -> Mapping[str, Any]:
    """The server defaults of a new resource of ``kind``: what a new file leaves out. Built once per
    kind (a pull of 1,000 agents used to rebuild them 1,000 times), so the mapping is shared: read it,
    never change it (:func:`strip_defaults` only reads)."""
    found = _DEFAULTS.get(kind.name)
    if found is None:
        found = _DEFAULTS[kind.name] = _build_defaults(kind)
    return found


_DEFAULTS: dict[str, Mapping[str, Any]] = {}


def _build_defaults(kind: Kind) -> Mapping[str, Any]:
    from agentsync.defaults import defaults_for

    if kind.layout.defaults is not None:
        return kind.layout.defaults()
    # The stored shape's defaults, then each create model's (a test's llm model has its own lists).
    found: dict[str, Any] = defaults_for(kind.fields.response)
    for model in (*kind.fields.variants, kind.fields.create_body):
        found.update(defaults_for(model))
    return found


def strip_defaults(kind: Kind, view: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``view`` without the leaves that equal the server default for their path.

    Objects that become empty are left out too, unless their default is not an object (a nullable
    object that was set must stay set). Lists, free-form maps and fields the diff compares whole are
    kept or dropped whole; the kind's ``keep`` fields and its required ones are always written."""
    top = _top_schema(kind.fields.create_body)
    props = top.get("properties") or {}
    atomic = _atomic_top(kind)
    # Required by the create body, unless the create fills in a default body (Fields.required).
    required = set(top.get("required") or ()) - set(kind.fields.required)
    out: dict[str, Any] = {}
    for key, value in view.items():
        default = defaults.get(key, _MISSING)
        if key in kind.layout.keep or (key in atomic and not same(value, default)):
            out[key] = shorten(kind, (key,), value)
        elif key not in atomic:
            kept = _strip(kind, value, default, props.get(key), (key,))
            if kept is not _MISSING:
                out[key] = kept
        if key in required and key not in out:
            out[key] = shorten(kind, (key,), value)  # a file without it would not validate
    return out


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Any = _Missing()


def _required(node: Mapping[str, Any] | None, value: Mapping[str, Any]) -> frozenset[str]:
    """The keys a file must keep: the required ones, and the ones that say which branch of a union
    the value is (``system_tool_type: end_call``), without which it would match several."""
    target = _object_schema(node, value)
    tags = (
        tags_of_variant(spec.unwrap(node).node, target) if node is not None and target is not None else set()
    )
    return frozenset((target or {}).get("required") or ()) | tags


def _strip(
    kind: Kind, value: Any, default: Any, node: Mapping[str, Any] | None, path: tuple[str, ...] = ()
) -> Any:
    """The part of ``value`` that differs from ``default``, or _MISSING when nothing does."""
    if same(value, default):
        return _MISSING
    if type(value) in _SCALARS:
        return value  # what shortening or a whole atomic value would give for a scalar
    if _is_atomic(node) and path:
        return shorten(kind, path, value)
    if not isinstance(value, Mapping) or _is_atomic(node):
        return value
    base = default if isinstance(default, Mapping) else _type_defaults(node, value)
    base = base if isinstance(base, Mapping) else {}
    required = _required(node, value)
    props = (_object_schema(node, value) or {}).get("properties") or {}
    out: dict[str, Any] = {}
    for key, child in value.items():
        kept = _strip(kind, child, base.get(key, _MISSING), props.get(key), (*path, key))
        if kept is not _MISSING:
            out[key] = kept
        elif key in required:
            out[key] = child  # a file without it would not validate, even though it is the default
    if not out and isinstance(default, Mapping):
        return _MISSING
    return out
