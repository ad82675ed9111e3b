"""Agents: an agent file per key under ``agents/``, owned through a marker in the agent's own tags."""

from __future__ import annotations

from typing import Any

from agentsync import spec
from agentsync.defaults import agent_defaults
from agentsync.kinds import workflow
from agentsync.kinds.base import Api, Fields, Hooks, JsonObject, Kind, Layout, Path, Shower, Testing
from agentsync.kinds.identity import Marker, marker_key
from agentsync.responses import check_agent, check_summary
from agentsync.strategy import Strategy

# Read by GET, never written, never diffed, rejected in files.
READ_ONLY_FIELDS: tuple[str, ...] = (
    "agent_id",
    "metadata",
    "access_info",
    "phone_numbers",
    "whatsapp_accounts",
    "version_id",
    "branch_id",
    "main_branch_id",
)
READ_ONLY_PATHS: tuple[Path, ...] = (
    *((f,) for f in READ_ONLY_FIELDS),
    ("platform_settings", "safety"),
    # Deprecated; GET still fills it, and POST/PATCH reject it beside tool_ids.
    ("conversation_config", "agent", "prompt", "tools"),
)
PROMPT_PATH: Path = ("conversation_config", "agent", "prompt", "prompt")
_PROMPT: Path = ("conversation_config", "agent", "prompt")
_PRESET_PROMPT: Path = ("conversation_config", "language_presets", "*", "overrides", "agent", "prompt")
# Where an agent points at other resources by id (the reference's list of reference sites).
ID_PATHS: tuple[tuple[Path, str], ...] = (
    ((*_PROMPT, "tool_ids", "*"), "tool"),
    ((*_PRESET_PROMPT, "tool_ids", "*"), "tool"),
    (("workflow", "nodes", "*", "additional_tool_ids", "*"), "tool"),
    (("workflow", "nodes", "*", "tools", "*", "tool_id"), "tool"),
    ((*_PROMPT, "mcp_server_ids", "*"), "mcp-server"),
    ((*_PROMPT, "native_mcp_server_ids", "*"), "mcp-server"),
    (("platform_settings", "testing", "attached_tests", "*", "test_id"), "test"),
)


def attached(body: JsonObject) -> tuple[str, ...]:
    """The phone numbers and WhatsApp accounts a GET body shows attached to the agent, as labels."""
    found: list[str] = []
    for number in body.get("phone_numbers") or []:
        found.append(f"phone number {number.get('phone_number') or number.get('phone_number_id')}")
    for account in body.get("whatsapp_accounts") or []:
        found.append(f"WhatsApp account {account.get('phone_number') or account.get('phone_number_id')}")
    return tuple(found)


def marker_like_tags(value: Any, namespaces: list[str], show: Shower) -> list[tuple[Path, str]]:
    """A tag that looks like an ownership marker would let a file claim another agent."""
    tags = value.get("tags") if isinstance(value, dict) else None
    found: list[tuple[Path, str]] = []
    for index, tag in enumerate(tags if isinstance(tags, list) else []):
        for namespace in namespaces:
            if marker_key(tag, namespace) is not None:
                found.append(
                    (
                        ("tags", index),
                        f"tags[{index}]: {show(('tags', index), tag)} looks like agentsync's ownership marker (namespace "
                        f"'{namespace}'); agentsync adds the marker itself, remove it",
                    )
                )
    return found


def checks(value: Any, namespaces: list[str], show: Shower) -> list[tuple[Path, str]]:
    return [*marker_like_tags(value, namespaces, show), *workflow.problems(value, show)]


AGENT = Kind(
    name="agent",
    plural="agents",
    noun="agent",
    level=20,
    bare_target=True,
    api=Api(
        collection="/v1/convai/agents",
        items_key="agents",
        id_field="agent_id",
        item="/v1/convai/agents/{id}",
        create="/v1/convai/agents/create",
        check=check_agent,
        check_item=check_summary,
        # The list hides archived agents by default; an owned archived agent must not look absent.
        listings=({"archived": False}, {"archived": True}),
        list_is_full=False,
        version_field="version_description",
    ),
    fields=Fields(
        writable=("name", "tags", "conversation_config", "platform_settings", "workflow"),
        create_body=spec.AGENT_CREATE_BODY,
        response=spec.AGENT_RESPONSE,
        # The create body's Input models; the PATCH body types these as free-form objects.
        merge_roots={
            ("conversation_config",): spec.CONVERSATION_CONFIG_INPUT,
            ("platform_settings",): spec.PLATFORM_SETTINGS_INPUT,
        },
        # The reference says the server replaces ``workflow`` as a whole graph; agent ``tags`` are a
        # set that also carries the ownership marker.
        strategies={("name",): Strategy.REPLACE, ("tags",): Strategy.SET, ("workflow",): Strategy.REPLACE},
        read_only=READ_ONLY_PATHS,
        verbatim=frozenset({("name",), ("tags",)}),
        required=("conversation_config",),
    ),
    layout=Layout(
        where="agents/",
        schema_file="agent.schema.json",
        as_files=(PROMPT_PATH,),
        order=("name", "tags", "conversation_config", "platform_settings", "workflow"),
        keep=frozenset({"name"}),
        defaults=agent_defaults,
        id_paths=ID_PATHS,
    ),
    identity=Marker(field="tags", noun="agent"),
    hooks=Hooks(attached=attached, checks=checks),
    testing=Testing(
        run="/v1/convai/agents/{id}/run-tests",
        attached=("platform_settings", "testing", "attached_tests"),
        override=("conversation_config", "platform_settings", "workflow"),
    ),
)
