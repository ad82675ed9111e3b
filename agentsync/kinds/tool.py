"""Tools: a file per key under ``tools/``, matched by ``tool_config.name`` (or ``id:``).

A tool update replaces ``tool_config`` whole (the reference's PATCH semantics): the plan shows the
field-level diff, and the body carries the whole declared ``tool_config``. Agents point at tools with
``${tool.KEY.id}``, so tools come before agents in every apply, and after them in every delete.
"""

from __future__ import annotations

from agentsync import spec
from agentsync.kinds.base import Api, Fields, Hooks, Kind, Layout
from agentsync.kinds.identity import NaturalKey
from agentsync.responses import check_tool
from agentsync.strategy import Strategy

TOOL = Kind(
    name="tool",
    plural="tools",
    noun="tool",
    level=15,
    name_path=("tool_config", "name"),
    api=Api(
        collection="/v1/convai/tools",
        items_key="tools",
        id_field="id",
        item="/v1/convai/tools/{id}",
        create="/v1/convai/tools",
        check=check_tool,
        check_item=check_tool,
        dependents="/v1/convai/tools/{id}/dependent-agents",
    ),
    fields=Fields(
        writable=("tool_config", "response_mocks"),
        create_body=spec.TOOL_CREATE_BODY,
        response=spec.TOOL_RESPONSE,
        strategies={("tool_config",): Strategy.REPLACE, ("response_mocks",): Strategy.REPLACE},
        read_only=(("id",), ("access_info",), ("usage_stats",)),
    ),
    layout=Layout(where="tools/", schema_file="tool.schema.json", order=("tool_config", "response_mocks")),
    identity=NaturalKey(path=("tool_config", "name"), noun="tool"),
    hooks=Hooks(),
)
