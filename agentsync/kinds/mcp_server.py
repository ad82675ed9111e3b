"""MCP servers: a file per key under ``mcp-servers/``, matched by ``config.name`` (or ``id:``).

The create body is ``{config: {...}}``; the update (PATCH) takes the config's fields at the top level
and only some of them: ``url``, ``name``, ``transport``, ``description`` and the per-tool lists have no
place in it. Those paths are derived from the two models, and a change to one of them is a
replacement: the new server is created, the agents that reference it by ``${mcp-server.KEY.id}`` move
to the new id in the same apply, and the old server is deleted last. Each field the update takes
replaces the stored value whole, so the body carries the whole value of every changed field.
"""

from __future__ import annotations

from agentsync import spec
from agentsync.kinds.base import Api, Fields, Kind, Layout, Path
from agentsync.kinds.identity import NaturalKey
from agentsync.responses import check_mcp_server
from agentsync.strategy import Strategy

CONFIG_INPUT = "MCPServerConfig-Input"

# The fields of ``CONFIG_INPUT``, in the spec's order, and those of the update model, written out so that
# no command reads the whole OpenAPI document before its first request; tests/test_kinds.py holds both
# to the spec.
CONFIG_FIELDS: tuple[str, ...] = (
    "approval_policy",
    "tool_approval_hashes",
    "transport",
    "url",
    "secret_token",
    "request_headers",
    "request_meta",
    "auth_connection",
    "name",
    "description",
    "force_pre_tool_speech",
    "pre_tool_speech",
    "disable_interruptions",
    "interruption_mode",
    "tool_call_sound",
    "tool_call_sound_behavior",
    "execution_mode",
    "response_timeout_secs",
    "tool_config_overrides",
    "disable_compression",
)
UPDATABLE_FIELDS: frozenset[str] = frozenset(
    {
        "approval_policy",
        "auth_connection",
        "disable_compression",
        "disable_interruptions",
        "execution_mode",
        "force_pre_tool_speech",
        "interruption_mode",
        "pre_tool_speech",
        "request_headers",
        "request_meta",
        "response_timeout_secs",
        "secret_token",
        "tool_call_sound",
        "tool_call_sound_behavior",
    }
)


def _not_updatable() -> tuple[Path, ...]:
    """The config fields a create takes and the update model has no place for."""
    return tuple(("config", name) for name in CONFIG_FIELDS if name not in UPDATABLE_FIELDS)


MCP_SERVER = Kind(
    name="mcp-server",
    plural="mcp-servers",
    noun="MCP server",
    level=15,
    name_path=("config", "name"),
    api=Api(
        collection="/v1/convai/mcp-servers",
        items_key="mcp_servers",
        id_field="id",
        item="/v1/convai/mcp-servers/{id}",
        create="/v1/convai/mcp-servers",
        check=check_mcp_server,
        check_item=check_mcp_server,
        page_size=None,
        pagination="none",
        dependents_field="dependent_agents",
        update_root="config",
    ),
    fields=Fields(
        writable=("config",),
        create_body=spec.MCP_SERVER_CREATE_BODY,
        response=spec.MCP_SERVER_RESPONSE,
        strategies={("config", name): Strategy.REPLACE for name in CONFIG_FIELDS},
        read_only=(("id",), ("access_info",), ("dependent_agents",), ("metadata",)),
        replace_on=_not_updatable(),
        required=("config",),
    ),
    layout=Layout(where="mcp-servers/", schema_file="mcp-server.schema.json", order=("config",)),
    identity=NaturalKey(path=("config", "name"), noun="MCP server"),
)
