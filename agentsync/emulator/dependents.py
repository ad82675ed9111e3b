"""Which agents point at a tool or an MCP server, and taking a tool out of an agent.

An agent points at a tool through any list called ``tool_ids`` or ``additional_tool_ids`` (the prompt,
workflow nodes, language-preset overrides) and through ``tool_id`` in a workflow tool node's ``tools``;
at an MCP server through ``mcp_server_ids`` and ``native_mcp_server_ids``. Lists of other values with
the same name (the override permissions in ``platform_settings`` are booleans) are not references.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from agentsync.emulator.store import AgentRecord

TOOL_LISTS = frozenset({"tool_ids", "additional_tool_ids"})
MCP_LISTS = frozenset({"mcp_server_ids", "native_mcp_server_ids"})
REFERENCING_PARTS = ("conversation_config", "workflow")


def referenced_ids(agent: dict[str, Any], lists: frozenset[str], single: str | None = None) -> set[str]:
    """Every id the agent names in a list called one of ``lists`` (or in a ``single`` field)."""
    found: set[str] = set()
    for part in REFERENCING_PARTS:
        for key, value in _walk(agent.get(part)):
            if key in lists and isinstance(value, list):
                found.update(v for v in value if isinstance(v, str))
            elif single is not None and key == single and isinstance(value, str):
                found.add(value)
    return found


def tool_ids_of(agent: dict[str, Any]) -> set[str]:
    return referenced_ids(agent, TOOL_LISTS, "tool_id")


def mcp_server_ids_of(agent: dict[str, Any]) -> set[str]:
    return referenced_ids(agent, MCP_LISTS)


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def without_tool(node: Any, tool_id: str) -> Any:
    """A copy of ``node`` with ``tool_id`` taken out of every tool list and workflow tool node."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in TOOL_LISTS and isinstance(value, list):
                out[key] = [v for v in value if v != tool_id]
            elif key == "tools" and isinstance(value, list):
                out[key] = [without_tool(v, tool_id) for v in value if not _names_tool(v, tool_id)]
            else:
                out[key] = without_tool(value, tool_id)
        return out
    if isinstance(node, list):
        return [without_tool(v, tool_id) for v in node]
    return node


def _names_tool(entry: Any, tool_id: str) -> bool:
    return isinstance(entry, dict) and entry.get("tool_id") == tool_id


def dependent_records(
    records: list[AgentRecord], ids_of: Callable[[dict[str, Any]], set[str]], target: str
) -> list[AgentRecord]:
    """The agents that reference ``target``, oldest first."""
    return sorted((r for r in records if target in ids_of(r.body)), key=lambda r: r.seq)


def identifier(record: AgentRecord) -> dict[str, Any]:
    """A DependentAvailableAgentIdentifier (every emulator key may see every agent)."""
    body = record.body
    return {
        "referenced_resource_ids": [],
        "id": body["agent_id"],
        "name": body.get("name", ""),
        "type": "available",
        "created_at_unix_secs": body["metadata"]["created_at_unix_secs"],
        "access_level": "admin",
    }


def main_branch(record: AgentRecord) -> dict[str, Any]:
    body = record.body
    return {
        "agent_id": body["agent_id"],
        "agent_name": body.get("name", ""),
        "branch_id": body.get("main_branch_id") or body.get("branch_id") or "",
        "branch_name": "Main",
        "is_main": True,
    }
