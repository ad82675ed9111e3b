"""What the server fills in: every default of a schema, and the defaults of objects a write left out.

An answer must validate against the response model, so nothing is invented. A property takes its
``default``; a live default the reference documents (:data:`LIVE_FIELD_DEFAULTS`) where the spec has
none; null when it is nullable; ``[]`` / ``{}`` for an array or a free-form map (pydantic's
``default_factory`` leaves no ``default`` in the schema) unless that would break a ``minItems`` /
``minProperties``; an object is expanded property by property, and is left out when a property it
requires cannot be filled. A string the response model requires and the spec leaves without a default
is the empty string. A union without a default is left out (its tag would be a guess), and so is every
other property with no value from these rules. The emulator stores agents completed this way, and the
diff completes the atomic values a file declares the same way before comparing them, so a list of
objects or a workflow that the server fills with defaults does not show up as a change on every plan.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from agentsync import spec

# Guards against a schema that (indirectly) contains itself; nothing in the document nests this deep.
_MAX_DEPTH = 40


_START_NODE = {"start_node": {"type": "start", "position": {"x": 0.0, "y": 0.0}, "edge_order": []}}
# (model title, property) -> the value the live server fills where the spec publishes no default: the
# reference's captured GET agent (unions) and its workflow notes (a default workflow has a start node).
LIVE_FIELD_DEFAULTS: dict[tuple[str, str], Any] = {
    ("AgentWorkflowResponseModel", "nodes"): _START_NODE,
    ("AgentWorkflowRequestModel", "nodes"): _START_NODE,
    ("PromptAgentAPIModel", "backup_llm_config"): {"preference": "default"},
    ("ContentGuardrail", "trigger_action"): {"type": "end_call"},
    ("WidgetConfig", "avatar"): {"type": "orb", "color_1": "#2792dc", "color_2": "#9ce6e6"},
}


class _Missing:
    """No default: the property is left out."""


MISSING: Any = _Missing()


def default_value(node: Mapping[str, Any], depth: int = 0) -> Any:
    """The value a server would fill for a schema node that the client did not send (None if none)."""
    value = _default(node, depth)
    return None if value is MISSING else value


def _default(node: Mapping[str, Any], depth: int, required: bool = False) -> Any:
    if depth > _MAX_DEPTH:
        return MISSING
    if "default" in node:
        return copy.deepcopy(node["default"])
    unwrapped = spec.unwrap(node)
    target = unwrapped.node
    if "default" in target:
        return copy.deepcopy(target["default"])
    if unwrapped.nullable:
        return None
    if "const" in target:
        return copy.deepcopy(target["const"])
    return _value_of_type(target, depth, required)


def _value_of_type(node: Mapping[str, Any], depth: int, required: bool) -> Any:
    kind = node.get("type")
    if node.get("oneOf") or node.get("anyOf"):
        return MISSING
    if kind == "array":
        return [] if not node.get("minItems") else MISSING
    if node.get("properties"):
        return _object_defaults(node, depth)
    if kind == "object":
        return {} if not node.get("minProperties") else MISSING
    if kind == "string" and required:
        return ""
    return MISSING


def partial_defaults(node: Mapping[str, Any]) -> dict[str, Any]:
    """Every property of an object schema that has a default, even when a required one has none
    (the ids and names of a response are the server's own, not defaults)."""
    target = spec.unwrap(node).node
    found: dict[str, Any] = _object_defaults({**target, "required": []}, 0)
    return found


def _object_defaults(node: Mapping[str, Any], depth: int) -> Any:
    """Every declared property that has a value; MISSING when a required one has none."""
    out: dict[str, Any] = {}
    required = set(node.get("required") or ())
    for name, prop in (node.get("properties") or {}).items():
        value = _property_default(node, name, prop, depth, name in required)
        if value is not MISSING:
            out[name] = value
        elif name in required:
            return MISSING
    return out


def _property_default(
    node: Mapping[str, Any], name: str, prop: Mapping[str, Any], depth: int, required: bool
) -> Any:
    live = (str(node.get("title")), name)
    if live in LIVE_FIELD_DEFAULTS and "default" not in prop:
        return copy.deepcopy(LIVE_FIELD_DEFAULTS[live])
    return _default(prop, depth + 1, required)


def fill_new(value: Any, before: Any, node: Mapping[str, Any] | None, depth: int = 0) -> Any:
    """``value`` with server defaults filled into every object that ``before`` did not have.

    Objects that already existed are complete (the server filled them when they were created), so only
    what a write introduced (a new tool config, a new workflow node, a new map entry) is completed. A
    value that is ``before`` itself (the same object, kept by the write) is complete as it is.
    """
    if node is None or depth > _MAX_DEPTH or value is before:
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
        required = set(node.get("required") or ())
        for name, prop in props.items():
            if name not in out:
                value = _property_default(node, name, prop, depth, name in required)
                if value is not MISSING:
                    out[name] = value
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
    # A branch whose const or enum refuses one of the value's own keys cannot be the one it is meant as
    # (an array parameter is not a literal one, whatever keys they share).
    fitting = [c for c in objects if _admits(c, value)] or objects
    return max(fitting, key=lambda c: len(set(c["properties"]) & set(value)))


def _admits(branch: Mapping[str, Any], value: Mapping[str, Any]) -> bool:
    return all(_fits(branch["properties"].get(key) or {}, item, 0) for key, item in value.items())


def _fits(node: Mapping[str, Any], item: Any, depth: int) -> bool:
    """False only where a const, an enum or a JSON type refuses ``item``; anything else fits."""
    if depth > 8:
        return True
    if "$ref" in node:
        return _fits(spec.deref(node), item, depth + 1)
    if "const" in node:
        return bool(item == node["const"])
    if isinstance(node.get("enum"), list) and isinstance(item, str):
        return item in node["enum"]
    branches = node.get("anyOf") or node.get("oneOf")
    if branches:
        return any(_fits(b, item, depth + 1) for b in branches)
    kinds = node.get("type")
    if isinstance(kinds, str):
        return _is_of_type(kinds, item)
    if isinstance(kinds, list):
        return any(_is_of_type(str(kind), item) for kind in kinds)
    return True


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "null": (type(None),),
    "boolean": (bool,),
    "number": (int, float),
    "string": (str,),
    "array": (list,),
    "object": (dict,),
}


def _is_of_type(kind: str, item: Any) -> bool:
    """JSON Schema's ``type`` test: an integral float is an integer, a boolean is no number."""
    if kind in ("integer", "number") and isinstance(item, bool):
        return False
    if kind == "integer":
        return isinstance(item, int) or (isinstance(item, float) and item.is_integer())
    types = _JSON_TYPES.get(kind)
    return types is None or isinstance(item, types)


# --- whole bodies ------------------------------------------------------------------------------------

LIVE_DEFAULTS: dict[str, Any] = {
    "conversation_config.conversation.client_events": [
        "audio",
        "interruption",
        "user_transcript",
        "agent_response",
        "agent_response_correction",
    ],
    "conversation_config.conversation.monitoring_events": [
        "user_transcript",
        "agent_response",
        "agent_response_correction",
    ],
    "workflow": {
        "edges": {},
        "nodes": {"start_node": {"type": "start", "position": {"x": 0.0, "y": 0.0}, "edge_order": []}},
        "prevent_subagent_loops": False,
    },
}


def defaults_for(schema_name: str) -> dict[str, Any]:
    """A fresh dict holding every default of the component schema ``schema_name``."""
    value = _cached_defaults(schema_name)
    return copy.deepcopy(value)


@lru_cache(maxsize=64)
def _cached_defaults(schema_name: str) -> dict[str, Any]:
    return partial_defaults(spec.schema(schema_name))


def agent_defaults() -> dict[str, Any]:
    """A complete GET agent body minus ids, timestamps and names: the base every new agent starts from."""
    body = defaults_for(spec.AGENT_RESPONSE)
    for dotted, value in LIVE_DEFAULTS.items():
        set_path(body, dotted.split("."), copy.deepcopy(value))
    return body


def set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
