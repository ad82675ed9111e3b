"""The emulator's in-memory state: agents, conversation tags and tag assignments, tools, MCP servers,
workspace secrets (their values only as hashes), environment variables and phone numbers., agent tests and their test invocations.

One re-entrant lock guards everything; accessors return copies so callers never share mutable state with
the store. The serialised JSON of each agent is cached between writes, since GET agent is the hot path.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from agentsync.errors import AgentsyncError
from agentsync.files import write_atomic

STATE_FORMAT = 1
# The plain tables and the id field of their bodies (state files older than a table lack its list).
TABLES = {"secrets": "secret_id", "environment_variables": "id", "phone_numbers": "phone_number_id"}


class StateFileError(AgentsyncError):
    """The emulator's state file cannot be read; it is never silently replaced by an empty store."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"cannot load the emulator state file {path}: {reason}",
            hint="fix or remove the file, or start without --state",
        )
        self.path = path


@dataclass
class AgentRecord:
    body: dict[str, Any]
    seq: int
    owner_user_id: str
    cached: bytes | None = None
    # The GET body with the deprecated prompt.tools echoed, for the tools revision it was built at.
    viewed: tuple[int, bytes] | None = None

    def json(self) -> bytes:
        if self.cached is None:
            self.cached = json.dumps(self.body, separators=(",", ":")).encode()
        return self.cached


class AgentOrder(NamedTuple):
    """Agent records sorted by one key, ascending, those keys (for bisecting a cursor), and whether each
    is archived (every listing filters on it, and most agents fail the archived=true filter)."""

    keys: list[Any]
    records: list[AgentRecord]
    archived: list[bool]


@dataclass
class TagRecord:
    body: dict[str, Any]
    seq: int


@dataclass
class ResourceRecord:
    """A tool or an MCP server: its stored response body, creation order and creator."""

    body: dict[str, Any]
    seq: int
    owner_user_id: str


def _records(items: list[Any], id_field: str) -> dict[str, ResourceRecord]:
    return {
        r["body"][id_field]: ResourceRecord(dict(r["body"]), int(r["seq"]), str(r["owner_user_id"]))
        for r in items
    }


@dataclass
class Store:
    """Thread-safe state. ``seq`` orders records by creation and breaks ties in every sort."""

    agents: dict[str, AgentRecord] = field(default_factory=dict)
    tags: dict[str, TagRecord] = field(default_factory=dict)
    conversations: dict[str, set[str]] = field(default_factory=dict)
    tools: dict[str, ResourceRecord] = field(default_factory=dict)
    mcp_servers: dict[str, ResourceRecord] = field(default_factory=dict)
    # Workspace resources kept as plain tables: secrets, environment variables, phone numbers.
    tables: dict[str, dict[str, ResourceRecord]] = field(
        default_factory=lambda: {name: {} for name in TABLES}
    )
    agent_tests: dict[str, ResourceRecord] = field(default_factory=dict)
    invocations: dict[str, ResourceRecord] = field(default_factory=dict)
    seq: int = 0
    # Bumped on every tool write: GET agent bodies echo tool configs and are rebuilt when it moves.
    tools_revision: int = 0
    # Bumped on every agent write: the sorted orders the list endpoint pages through are rebuilt then.
    agents_revision: int = 0
    _orders: dict[str, tuple[int, AgentOrder]] = field(default_factory=dict, repr=False, compare=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def clear(self) -> None:
        with self.lock:
            self.agents.clear()
            self.tags.clear()
            self.conversations.clear()
            self.tools.clear()
            self.mcp_servers.clear()
            for table in self.tables.values():
                table.clear()
            self.agent_tests.clear()
            self.invocations.clear()
            self.seq = 0
            self.tools_revision += 1
            self.agents_revision += 1

    # -- agents ------------------------------------------------------------------------------------

    def put_agent(self, body: dict[str, Any], owner_user_id: str, *, handed_over: bool = False) -> None:
        """Insert or replace the agent ``body["agent_id"]`` (keeping its creation order on replace).
        With ``handed_over`` the caller gives ``body`` up (nothing else holds any part of it), and it
        is stored as it is rather than copied."""
        with self.lock:
            current = self.agents.get(body["agent_id"])
            seq = current.seq if current else self.next_seq()
            owner = current.owner_user_id if current else owner_user_id
            kept = body if handed_over else copy.deepcopy(body)
            self.agents[body["agent_id"]] = AgentRecord(kept, seq, owner)
            self.agents_revision += 1

    def get_agent(self, agent_id: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.agents.get(agent_id)
            return copy.deepcopy(record.body) if record else None

    def stored_agent(self, agent_id: str) -> dict[str, Any] | None:
        """The stored body itself, not a copy: for a caller that holds ``lock``, reads it and builds a
        new body from it (sharing what it keeps), and never changes it in place."""
        with self.lock:
            record = self.agents.get(agent_id)
            return record.body if record else None

    def agent_json(self, agent_id: str) -> bytes | None:
        with self.lock:
            record = self.agents.get(agent_id)
            return record.json() if record else None

    def agent_view(self, agent_id: str, render: Callable[[dict[str, Any]], dict[str, Any]]) -> bytes | None:
        """The GET body of an agent as ``render`` shapes it, cached until the agent or a tool changes."""
        with self.lock:
            record = self.agents.get(agent_id)
            if record is None:
                return None
            if record.viewed is None or record.viewed[0] != self.tools_revision:
                shown = render(record.body)
                body = (
                    record.json()
                    if shown is record.body
                    else json.dumps(shown, separators=(",", ":")).encode()
                )
                record.viewed = (self.tools_revision, body)
            return record.viewed[1]

    def delete_agent(self, agent_id: str) -> bool:
        with self.lock:
            self.agents_revision += 1
            return self.agents.pop(agent_id, None) is not None

    def agent_records(self) -> list[AgentRecord]:
        """A snapshot of the records; their bodies must be treated as read-only."""
        with self.lock:
            return list(self.agents.values())

    def agent_order(self, name: str, key: Callable[[AgentRecord], Any]) -> AgentOrder:
        """Every agent record in ascending ``key`` order (``name`` names the key), with the keys beside
        them; built once per agent revision, so paging through a long list sorts it once, not per page."""
        with self.lock:
            cached = self._orders.get(name)
            if cached is not None and cached[0] == self.agents_revision:
                return cached[1]
            keyed = sorted(((key(r), r) for r in self.agents.values()), key=lambda pair: pair[0])
            archived = [bool((r.body.get("platform_settings") or {}).get("archived")) for _, r in keyed]
            order = AgentOrder([k for k, _ in keyed], [r for _, r in keyed], archived)
            self._orders[name] = (self.agents_revision, order)
            return order

    # -- conversation tags -------------------------------------------------------------------------

    def put_tag(self, body: dict[str, Any]) -> None:
        with self.lock:
            current = self.tags.get(body["tag_id"])
            seq = current.seq if current else self.next_seq()
            self.tags[body["tag_id"]] = TagRecord(copy.deepcopy(body), seq)

    def get_tag(self, tag_id: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.tags.get(tag_id)
            return copy.deepcopy(record.body) if record else None

    def delete_tag(self, tag_id: str) -> bool:
        with self.lock:
            if self.tags.pop(tag_id, None) is None:
                return False
            for assigned in self.conversations.values():
                assigned.discard(tag_id)
            return True

    def tag_records(self) -> list[TagRecord]:
        with self.lock:
            return list(self.tags.values())

    def assign(self, conversation_id: str, tag_ids: list[str]) -> None:
        with self.lock:
            self.conversations.setdefault(conversation_id, set()).update(tag_ids)

    def unassign(self, conversation_id: str, tag_id: str) -> None:
        with self.lock:
            self.conversations.get(conversation_id, set()).discard(tag_id)

    def conversation_tags(self, conversation_id: str) -> set[str]:
        with self.lock:
            return set(self.conversations.get(conversation_id, set()))

    # -- tools and MCP servers -------------------------------------------------------------------

    def put_tool(self, body: dict[str, Any], owner_user_id: str) -> None:
        with self.lock:
            self._put(self.tools, body["id"], body, owner_user_id)
            self.tools_revision += 1

    def get_tool(self, tool_id: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.tools.get(tool_id)
            return copy.deepcopy(record.body) if record else None

    def delete_tool(self, tool_id: str) -> bool:
        with self.lock:
            self.tools_revision += 1
            return self.tools.pop(tool_id, None) is not None

    def tool_records(self) -> list[ResourceRecord]:
        """A snapshot of the records; their bodies must be treated as read-only."""
        with self.lock:
            return list(self.tools.values())

    def put_mcp_server(self, body: dict[str, Any], owner_user_id: str) -> None:
        with self.lock:
            self._put(self.mcp_servers, body["id"], body, owner_user_id)

    def get_mcp_server(self, server_id: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.mcp_servers.get(server_id)
            return copy.deepcopy(record.body) if record else None

    def delete_mcp_server(self, server_id: str) -> bool:
        with self.lock:
            return self.mcp_servers.pop(server_id, None) is not None

    def mcp_server_records(self) -> list[ResourceRecord]:
        with self.lock:
            return list(self.mcp_servers.values())

    # -- secrets, environment variables, phone numbers ---------------------------------------------

    def put(self, table: str, key: str, body: dict[str, Any], owner_user_id: str) -> None:
        """Insert or replace ``key`` in one of :data:`TABLES` (keeping its creation order on replace)."""
        with self.lock:
            self._put(self.tables[table], key, body, owner_user_id)

    def get(self, table: str, key: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.tables[table].get(key)
            return copy.deepcopy(record.body) if record else None

    def remove(self, table: str, key: str) -> bool:
        with self.lock:
            return self.tables[table].pop(key, None) is not None

    def records(self, table: str) -> list[ResourceRecord]:
        """A snapshot of one table's records, oldest first; their bodies must be treated as read-only."""
        with self.lock:
            return sorted(self.tables[table].values(), key=lambda r: r.seq)

    # -- agent tests and test invocations ---------------------------------------------------------
    # A test's record body is {"test": the GET body, "created": unix secs, "updated": unix secs}; an
    # invocation's is the grader's record (agentsync.emulator.test_runs).

    def put_test(self, test_id: str, entry: dict[str, Any], owner_user_id: str) -> None:
        with self.lock:
            self._put(self.agent_tests, test_id, entry, owner_user_id)

    def get_test(self, test_id: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.agent_tests.get(test_id)
            return copy.deepcopy(record.body) if record else None

    def delete_test(self, test_id: str) -> bool:
        with self.lock:
            return self.agent_tests.pop(test_id, None) is not None

    def test_records(self) -> list[ResourceRecord]:
        with self.lock:
            return list(self.agent_tests.values())

    def put_invocation(self, invocation_id: str, entry: dict[str, Any], owner_user_id: str) -> None:
        with self.lock:
            self._put(self.invocations, invocation_id, entry, owner_user_id)

    def get_invocation(self, invocation_id: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.invocations.get(invocation_id)
            return copy.deepcopy(record.body) if record else None

    def invocation_records(self) -> list[ResourceRecord]:
        with self.lock:
            return list(self.invocations.values())

    def _put(self, table: dict[str, ResourceRecord], key: str, body: dict[str, Any], owner: str) -> None:
        current = table.get(key)
        seq = current.seq if current else self.next_seq()
        table[key] = ResourceRecord(copy.deepcopy(body), seq, current.owner_user_id if current else owner)

    # -- persistence -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "format": STATE_FORMAT,
                "seq": self.seq,
                "agents": [
                    {"seq": r.seq, "owner_user_id": r.owner_user_id, "body": r.body}
                    for r in self.agents.values()
                ],
                "tags": [{"seq": r.seq, "body": r.body} for r in self.tags.values()],
                "conversations": {c: sorted(t) for c, t in self.conversations.items() if t},
                "tools": [_saved(r) for r in self.tools.values()],
                "mcp_servers": [_saved(r) for r in self.mcp_servers.values()],
                **{name: [_saved(r) for r in table.values()] for name, table in self.tables.items()},
                "agent_tests": {k: _saved(r) for k, r in self.agent_tests.items()},
                "invocations": {k: _saved(r) for k, r in self.invocations.items()},
            }

    def load_json(self, data: Any) -> None:
        """Replace the contents with a saved state; KeyError/TypeError/ValueError when it is malformed."""
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError(f"not an emulator state (format {STATE_FORMAT})")
        agents = {
            a["body"]["agent_id"]: AgentRecord(dict(a["body"]), int(a["seq"]), str(a["owner_user_id"]))
            for a in data["agents"]
        }
        tags = {t["body"]["tag_id"]: TagRecord(dict(t["body"]), int(t["seq"])) for t in data["tags"]}
        conversations = {str(c): {str(t) for t in ids} for c, ids in dict(data["conversations"]).items()}
        # State files written before tools existed have neither list.
        tools = _records(list(data.get("tools", [])), "id")
        mcp_servers = _records(list(data.get("mcp_servers", [])), "id")
        tables = {name: _records(list(data.get(name, [])), id_field) for name, id_field in TABLES.items()}
        agent_tests = _keyed(dict(data.get("agent_tests", {})))
        invocations = _keyed(dict(data.get("invocations", {})))
        with self.lock:
            self.tables = tables
            self.agents, self.tags, self.conversations = agents, tags, conversations
            self.tools, self.mcp_servers = tools, mcp_servers
            self.agent_tests, self.invocations = agent_tests, invocations
            self.seq = int(data["seq"])
            self.tools_revision += 1
            self.agents_revision += 1

    def save(self, path: Path) -> None:
        """Write the state atomically: a temporary file in the same folder, then a rename."""
        write_atomic(path, json.dumps(self.to_json(), separators=(",", ":")))

    def load(self, path: Path) -> None:
        """Load ``path`` if it exists; a file that exists but cannot be read is a StateFileError."""
        if not path.exists():
            return
        try:
            self.load_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateFileError(path, _reason(exc)) from exc


def _keyed(items: dict[str, Any]) -> dict[str, ResourceRecord]:
    return {
        str(k): ResourceRecord(dict(r["body"]), int(r["seq"]), str(r["owner_user_id"]))
        for k, r in items.items()
    }


def _saved(record: ResourceRecord) -> dict[str, Any]:
    return {"seq": record.seq, "owner_user_id": record.owner_user_id, "body": record.body}


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno}, column {exc.colno}"
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return str(exc) or type(exc).__name__
