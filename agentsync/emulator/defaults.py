"""Server defaults, derived from the packaged OpenAPI document.

The rules are the ones the reference used to build a complete GET agent body: a property with a
``default`` takes it; an object is expanded property by property; a nullable property without a default
is null; an array or a free-form map without a default is ``[]`` / ``{}``; a union without a default takes
its first variant. A few values the server fills but the spec does not publish come from live captures
(:data:`LIVE_DEFAULTS`).
"""

from __future__ import annotations

from agentsync.defaults import (
    LIVE_DEFAULTS,
    agent_defaults,
    default_value,
    defaults_for,
    fill_new,
    pick_variant,
    set_path,
)

__all__ = [
    "LIVE_DEFAULTS",
    "agent_defaults",
    "default_value",
    "defaults_for",
    "fill_new",
    "pick_variant",
    "set_path",
]
