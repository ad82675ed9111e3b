"""Agents: the definition type, the ownership marker, and the fields agentsync never writes."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentsync.errors import IdentityError, Location, UsageError

Path = tuple[str | int, ...]

# The top-level fields an agent file may declare, in the API's own names.
WRITABLE_FIELDS: tuple[str, ...] = ("name", "tags", "conversation_config", "platform_settings", "workflow")
# Keys of an agent file that are agentsync's, not the API's.
META_FIELDS: tuple[str, ...] = ("id", "renamed_from")
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
        return tag[len(prefix) :]
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
    # Paths inside ``config`` whose value came from ``${env.*}`` (secrets), and paths that still hold
    # ``${agent.KEY.id}`` references, each with the text the file wrote there.
    secrets: Mapping[Path, str] = field(default_factory=dict)
    references: Mapping[Path, str] = field(default_factory=dict)

    def location_of(self, path: Path) -> Location | None:
        """The location of ``path``, or of its nearest declared ancestor."""
        for end in range(len(path), -1, -1):
            found = self.locations.get(tuple(path[:end]))
            if found is not None:
                return found
        return None


# --- ownership and scope ------------------------------------------------------------------------------

TAG_TARGET_PREFIX = "tag:"


def summary_tags(summary: Mapping[str, Any]) -> list[str]:
    """The tags of an agent summary or GET body; the API may send null for an empty list."""
    tags = summary.get("tags") or []
    return [t for t in tags if isinstance(t, str)]


def owned_keys(tags: Sequence[str], namespace: str) -> list[str]:
    """The agent keys whose markers of ``namespace`` are among ``tags``."""
    return [k for k in (marker_key(t, namespace) for t in tags) if k is not None]


def owners(summaries: Sequence[Mapping[str, Any]], namespace: str) -> dict[str, list[str]]:
    """Agent key -> ids of the remote agents carrying its marker, in list order (more than one is an
    ownership conflict, which the planner reports rather than resolves)."""
    found: dict[str, list[str]] = {}
    for summary in summaries:
        for key in owned_keys(summary_tags(summary), namespace):
            ids = found.setdefault(key, [])
            if summary["agent_id"] not in ids:
                ids.append(summary["agent_id"])
    return found


def only_owner(key: str, ids: Sequence[str], namespace: str) -> str | None:
    """The one remote agent carrying ``key``'s marker (None when none does); several is an ownership
    conflict that agentsync reports and never resolves by guessing."""
    if len(ids) > 1:
        raise IdentityError(
            f"agents {', '.join(ids)} all carry the ownership marker {marker(namespace, key)} of agent '{key}'",
            hint="delete the duplicate agents, or remove the marker tag from all but one of them",
        )
    return ids[0] if ids else None


def renamed_sources(defs: Mapping[str, AgentDef]) -> dict[str, str]:
    """Old key -> new key for every definition that declares ``renamed_from``."""
    return {d.renamed_from: key for key, d in defs.items() if d.renamed_from}


def agent_targets(targets: Sequence[str], known: Collection[str]) -> set[str] | None:
    """The agent keys ``targets`` select (None = no limit); an unknown key is a usage error."""
    if not targets:
        return None
    keys = {t for t in targets if not t.startswith(TAG_TARGET_PREFIX)}
    unknown = sorted(keys - set(known))
    if unknown:
        raise unknown_target(unknown[0], known, what="agent")
    return keys


def unknown_target(target: str, known: Collection[str], *, what: str) -> UsageError:
    close = difflib.get_close_matches(target, list(known), n=1)
    hint = (
        f"did you mean '{close[0]}'?" if close else f"a target names an {what} the project declares or owns"
    )
    return UsageError(
        f"unknown target '{target}': no {what} with that name in the project or the workspace", hint=hint
    )


def agents_in_scope(
    defs: Mapping[str, AgentDef],
    summaries: Sequence[Mapping[str, Any]],
    namespace: str,
    *,
    targets: Sequence[str] = (),
) -> list[str]:
    """The ids of the agents whose full configuration the plan needs, and nothing else.

    Declared ``id:`` values (even when the list does not show them: the GET then reports 404), the
    agents carrying a declared key's marker, the sources of ``renamed_from``, and the agents carrying
    this namespace's marker without a file (prune candidates). ``targets`` limits all of these.
    """
    owned = owners(summaries, namespace)
    selected = agent_targets(targets, set(defs) | set(owned))
    sources = renamed_sources(defs)
    ids: list[str] = []
    for key in sorted(set(defs) | set(owned)):
        in_scope = selected is None or key in selected or sources.get(key) in selected
        if in_scope:
            ids.extend(_ids_for(key, defs.get(key), owned))
    return list(dict.fromkeys(ids))


def _ids_for(key: str, definition: AgentDef | None, owned: Mapping[str, list[str]]) -> list[str]:
    ids: list[str] = []
    if definition is not None and definition.id:
        ids.append(definition.id)
    ids.extend(owned.get(key, []))
    if definition is not None and definition.renamed_from:
        ids.extend(owned.get(definition.renamed_from, []))
    return ids


def attached_resources(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The phone numbers and WhatsApp accounts a GET body shows attached to the agent, as labels."""
    found: list[str] = []
    for number in body.get("phone_numbers") or []:
        found.append(f"phone number {number.get('phone_number') or number.get('phone_number_id')}")
    for account in body.get("whatsapp_accounts") or []:
        found.append(f"WhatsApp account {account.get('phone_number') or account.get('phone_number_id')}")
    return tuple(found)


def with_marker(mark: str, tags: Sequence[str], namespace: str) -> list[str]:
    """The tags list to send: the ownership marker first, then ``tags`` without any marker of
    ``namespace`` and without duplicates."""
    rest = [t for t in tags if marker_key(t, namespace) is None and t != mark]
    return [mark, *dict.fromkeys(rest)]
