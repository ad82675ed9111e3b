"""The resource kinds agentsync manages: one module each, registered here in dependency order.

Adding a kind means writing its module (``agentsync/kinds/NAME.py``), its part of the packaged OpenAPI
document, its shape check and its emulator routes, and adding it to :data:`KINDS`. The engines loop
over this tuple; nothing else names a kind.
"""

from __future__ import annotations

from agentsync.kinds.agent import AGENT
from agentsync.kinds.base import Definition, Kind, Ref
from agentsync.kinds.environment_variable import ENVIRONMENT_VARIABLE
from agentsync.kinds.mcp_server import MCP_SERVER
from agentsync.kinds.phone_number import PHONE_NUMBER
from agentsync.kinds.secret import SECRET
from agentsync.kinds.tag import TAG
from agentsync.kinds.test import TEST
from agentsync.kinds.tool import TOOL

# The only list of kinds, in dependency order (creates low to high level, deletes high to low); a
# kind's place in this tuple orders kinds of one level (tools and MCP servers before the tests that call them).
KINDS: tuple[Kind, ...] = tuple(
    sorted(
        (SECRET, ENVIRONMENT_VARIABLE, TAG, TOOL, MCP_SERVER, TEST, AGENT, PHONE_NUMBER),
        key=lambda k: k.level,
    )
)
BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}

__all__ = ["BY_NAME", "KINDS", "Definition", "Kind", "Ref", "by_name", "rank"]


def by_name(name: str) -> Kind:
    """The kind called ``name`` (KeyError for an unknown one)."""
    return BY_NAME[name]


def rank(name: str) -> int:
    """The position of a kind in dependency order (unknown kinds last)."""
    return next((i for i, k in enumerate(KINDS) if k.name == name), len(KINDS))
