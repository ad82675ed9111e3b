"""Server defaults, derived from the packaged OpenAPI document.

The rules are the ones the reference used to build a complete GET agent body: a property with a
``default`` takes it; an object is expanded property by property; a nullable property without a default
is null; an array or a free-form map without a default is ``[]`` / ``{}``; a union without a default takes
its first variant. A few values the server fills but the spec does not publish come from live captures
(:data:`LIVE_DEFAULTS`).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from agentsync import spec
from agentsync.defaults import default_value, fill_new, partial_defaults, pick_variant

__all__ = [
    "LIVE_DEFAULTS",
    "agent_defaults",
    "default_value",
    "defaults_for",
    "fill_new",
    "pick_variant",
    "set_path",
]

# Dotted paths inside GetAgentResponseModel whose server value the spec leaves without a default.
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
