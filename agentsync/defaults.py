"""What the server fills in: every default of a schema, and the defaults of objects a write left out.

The rules are the ones the reference used to build a complete GET agent body: a property with a
``default`` takes it; an object is expanded property by property; a nullable property without a default
is null; an array or a free-form map without a default is ``[]`` / ``{}``; a union without a default takes
its first variant. The emulator stores agents completed this way, and the diff completes the atomic
values a file declares the same way before comparing them, so a list of objects or a workflow that the
server fills with defaults does not show up as a change on every plan.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from agentsync import spec

# Guards against a schema that (indirectly) contains itself; nothing in the document nests this deep.
_MAX_DEPTH = 40


def default_value(node: Mapping[str, Any], depth: int = 0) -> Any:
    """The value a server would fill for a schema node that the client did not send."""
    if depth > _MAX_DEPTH:
        return None
    if "default" in node:
        return copy.deepcopy(node["default"])
    unwrapped = spec.unwrap(node)
    target = unwrapped.node
    if "default" in target:
        return copy.deepcopy(target["default"])
    if unwrapped.nullable:
        return None
    return _value_of_type(target, depth)


def _value_of_type(node: Mapping[str, Any], depth: int) -> Any:
    variants = node.get("oneOf") or node.get("anyOf")
    if variants:
        return default_value(variants[0], depth + 1)
    kind = node.get("type")
    if kind == "array":
        return []
    if kind == "object" or "properties" in node:
        return _object_defaults(node, depth)
    return None


def _object_defaults(node: Mapping[str, Any], depth: int) -> dict[str, Any]:
    """Every declared property filled; a free-form map is empty. A union variant keeps its tag value."""
    out: dict[str, Any] = {}
    for name, prop in (node.get("properties") or {}).items():
        out[name] = default_value(prop, depth + 1)
        if out[name] is None and "const" in prop:
            out[name] = prop["const"]
    return out


def fill_new(value: Any, before: Any, node: Mapping[str, Any] | None, depth: int = 0) -> Any:
    """``value`` with server defaults filled into every object that ``before`` did not have.

    Objects that already existed are complete (the server filled them when they were created), so only
    what a write introduced (a new tool config, a new workflow node, a new map entry) is completed.
    """
    if node is None or depth > _MAX_DEPTH:
        return value
    target = pick_variant(spec.unwrap(node).node, value)
    if isinstance(value, list) and isinstance(target.get("items"), dict):
        return [fill_new(v, None, target["items"], depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    return _fill_object(value, before if isinstance(before, dict) else None, target, depth)


def _fill_object(
    value: dict[str, Any], before: dict[str, Any] | None, node: Mapping[str, Any], depth: int
) -> dict[str, Any]:
    props: Mapping[str, Any] = node.get("properties") or {}
    extra = node.get("additionalProperties")
    out = dict(value)
    if not props:
        child = extra if isinstance(extra, dict) else None
        return {k: fill_new(v, (before or {}).get(k), child, depth + 1) for k, v in out.items()}
    if before is None:
        for name, prop in props.items():
            if name not in out:
                out[name] = default_value(prop, depth + 1)
    for name, prop in props.items():
        if name in out:
            out[name] = fill_new(out[name], (before or {}).get(name), prop, depth + 1)
    return out


def pick_variant(node: Mapping[str, Any], value: Any) -> Mapping[str, Any]:
    """The union branch ``value`` is meant as: by discriminator, else the object sharing most keys."""
    branches = node.get("oneOf") or node.get("anyOf")
    if not branches or not isinstance(value, dict):
        return node
    discriminator = node.get("discriminator") or {}
    mapping = discriminator.get("mapping") or {}
    prop = discriminator.get("propertyName")
    if prop and value.get(prop) in mapping:
        return spec.unwrap({"$ref": mapping[value[prop]]}).node
    candidates = [spec.unwrap(b).node for b in branches if b.get("type") != "null"]
    objects = [c for c in candidates if c.get("properties")]
    if not objects:
        return node
    return max(objects, key=lambda c: len(set(c["properties"]) & set(value)))
