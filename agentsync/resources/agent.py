"""Agents: the definition type, the ownership marker, and the fields agentsync never writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentsync.errors import Location

Path = tuple[str | int, ...]

# The top-level fields an agent file may declare, in the API's own names.
WRITABLE_FIELDS: tuple[str, ...] = ("name", "tags", "conversation_config", "platform_settings", "workflow")
# Keys of an agent file that are agentsync's, not the API's.
META_FIELDS: tuple[str, ...] = ("id", "renamed_from")
# Read by GET, never written, never diffed, rejected in files.
READ_ONLY_FIELDS: tuple[str, ...] = (
    "agent_id", "metadata", "access_info", "phone_numbers", "whatsapp_accounts",
    "version_id", "branch_id", "main_branch_id",
)
READ_ONLY_PATHS: tuple[Path, ...] = (
    ("platform_settings", "safety"),
    # Deprecated; GET still fills it, and POST/PATCH reject it beside tool_ids.
    ("conversation_config", "agent", "prompt", "tools"),
)

MARKER_SEPARATOR = ":"


def marker(namespace: str, key: str) -> str:
    """The ownership marker kept in the agent's own ``tags`` list, e.g. ``agentsync:support-bot``."""
    return f"{namespace}{MARKER_SEPARATOR}{key}"


def marker_key(tag: str, namespace: str) -> str | None:
    """The agent key a tag marks in ``namespace``, or None if the tag is not this namespace's marker."""
    prefix = f"{namespace}{MARKER_SEPARATOR}"
    if tag.startswith(prefix) and len(tag) > len(prefix):
        return tag[len(prefix):]
    return None


@dataclass(frozen=True)
class AgentDef:
    """One agent file, loaded: the writable fields it declares and where each one came from.

    ``config`` holds only the fields the file declares (a subset of WRITABLE_FIELDS, nested as the API
    nests them), with ``!file`` includes resolved, as plain JSON values. ``locations`` maps a path inside
    ``config`` (e.g. ``("conversation_config", "agent", "first_message")``) to its place in the file;
    the empty path is the file itself.
    """

    key: str
    file: str
    config: Mapping[str, Any]
    id: str | None = None
    renamed_from: str | None = None
    locations: Mapping[Path, Location] = field(default_factory=dict)

    def location_of(self, path: Path) -> Location | None:
        """The location of ``path``, or of its nearest declared ancestor."""
        for end in range(len(path), -1, -1):
            found = self.locations.get(tuple(path[:end]))
            if found is not None:
                return found
        return None
