"""GET agent's deprecated ``prompt.tools``: full tool configs mirroring ``tool_ids`` and ``built_in_tools``.

Live responses fill the field this way; the stored agent keeps what the client wrote, and the mirror is
built when the agent is read, so a tool update shows in every agent that uses it.
"""

from __future__ import annotations

from typing import Any

from agentsync.emulator.store import Store


def echo_prompt_tools(store: Store, agent: dict[str, Any]) -> dict[str, Any]:
    """The agent as GET shows it: ``prompt.tools`` mirrors the tools in ``prompt.tool_ids`` (that still
    exist) and the built-in tools that are set. The stored body is not changed."""
    prompt = ((agent.get("conversation_config") or {}).get("agent") or {}).get("prompt")
    if not isinstance(prompt, dict):
        return agent
    mirrored = [found["tool_config"] for found in _tools(store, prompt.get("tool_ids"))]
    built_in = prompt.get("built_in_tools")
    if isinstance(built_in, dict):
        mirrored += [config for config in built_in.values() if isinstance(config, dict)]
    if not mirrored:
        return agent
    config = agent["conversation_config"]
    view_prompt = {**prompt, "tools": mirrored}
    return {**agent, "conversation_config": {**config, "agent": {**config["agent"], "prompt": view_prompt}}}


def _tools(store: Store, tool_ids: Any) -> list[dict[str, Any]]:
    if not isinstance(tool_ids, list):
        return []
    found = (store.tools.get(tool_id) for tool_id in tool_ids if isinstance(tool_id, str))
    return [record.body for record in found if record is not None]
