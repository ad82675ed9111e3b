"""GET /v1/convai/agents: filters, sorting and cursor pagination over agent summaries.

- ``tags`` (repeatable) matches an agent carrying ANY of the given tags, as the spec's parameter
  description says ("repeat the parameter to match any of several tags").
- ``archived`` false (the default) excludes archived agents; true returns only archived ones.
- ``search`` is a case-insensitive substring of the name. ``sort_by`` null means ``created_at``.
- ``GET /agents/summaries`` answers a map from each requested id (at most 100) to a success entry
  holding the same summary, or a failure entry with the 404 the GET of that id would give.
- A cursor encodes the sort position of the last agent returned (its sort key and creation sequence),
  not an index, so creating or deleting agents between pages neither skips nor repeats an agent.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agentsync.emulator.config import ApiKey
from agentsync.emulator.problems import HttpProblem, invalid_cursor, validation_problem
from agentsync.emulator.store import AgentRecord

SortKey = list[Any]


def list_agents(records: Iterable[AgentRecord], query: Mapping[str, Any], caller: ApiKey) -> dict[str, Any]:
    sort_by = query.get("sort_by") or "created_at"
    descending = query.get("sort_direction") != "asc"
    chosen = [r for r in records if _matches(r, query, caller)]
    keyed = sorted(((sort_key(r, sort_by), r) for r in chosen), key=lambda p: p[0], reverse=descending)
    if query.get("cursor"):
        after = decode_cursor(query["cursor"], sort_by, descending)
        keyed = [(k, r) for k, r in keyed if (k < after if descending else k > after)]
    page = keyed[: int(query["page_size"])]
    has_more = len(keyed) > len(page)
    cursor = encode_cursor(page[-1][0], sort_by, descending) if has_more else None
    return {"agents": [summary(r) for _, r in page], "next_cursor": cursor, "has_more": has_more}


MAX_SUMMARY_IDS = 100


def agent_summaries(records: Iterable[AgentRecord], agent_ids: list[str]) -> dict[str, Any]:
    """The batch answer: one entry per distinct requested id, in the order asked."""
    if len(agent_ids) > MAX_SUMMARY_IDS:
        raise too_many_ids(agent_ids)
    by_id = {r.body["agent_id"]: r for r in records}
    return {agent_id: _summary_entry(by_id.get(agent_id), agent_id) for agent_id in agent_ids}


def _summary_entry(record: AgentRecord | None, agent_id: str) -> dict[str, Any]:
    if record is None:
        message = f"Agent with id {agent_id} was not found."
        return {
            "status": "failure",
            "error_code": 404,
            "error_status": "agent_not_found",
            "error_message": message,
        }
    return {"status": "success", "data": summary(record)}


def too_many_ids(agent_ids: list[str]) -> HttpProblem:
    return validation_problem(
        [
            {
                "loc": ["query", "agent_ids"],
                "msg": f"List should have at most {MAX_SUMMARY_IDS} items after validation, not {len(agent_ids)}",
                "type": "too_long",
                "input": agent_ids,
                "ctx": {"field_type": "List", "max_length": MAX_SUMMARY_IDS, "actual_length": len(agent_ids)},
            }
        ]
    )


def _matches(record: AgentRecord, query: Mapping[str, Any], caller: ApiKey) -> bool:
    body = record.body
    archived = bool((body.get("platform_settings") or {}).get("archived"))
    tests: list[Callable[[], bool]] = [
        lambda: query.get("archived") is None or archived == bool(query["archived"]),
        lambda: not query.get("search") or query["search"].casefold() in str(body.get("name", "")).casefold(),
        lambda: not query.get("tags") or bool(set(query["tags"]) & set(body.get("tags") or [])),
        lambda: _creator(query, caller) in (None, record.owner_user_id),
    ]
    return all(test() for test in tests)


def _creator(query: Mapping[str, Any], caller: ApiKey) -> str | None:
    wanted = query.get("created_by_user_id")
    if wanted == "@me" or (wanted is None and query.get("show_only_owned_agents")):
        return caller.user_id
    return str(wanted) if wanted else None


def sort_key(record: AgentRecord, sort_by: str) -> SortKey:
    body = record.body
    if sort_by == "name":
        return [str(body.get("name", "")).casefold(), record.seq]
    if sort_by == "call_count_7d":
        # The emulator places no calls, so every agent has 0; creation order breaks the tie.
        return [0, record.seq]
    return [int(body["metadata"]["created_at_unix_secs"]), record.seq]


def summary(record: AgentRecord) -> dict[str, Any]:
    """Exactly the fields of AgentSummaryResponseModel."""
    body = record.body
    return {
        "agent_id": body["agent_id"],
        "name": body.get("name", ""),
        "voice_id": body["conversation_config"]["tts"]["voice_id"],
        "tags": list(body.get("tags") or []),
        "created_at_unix_secs": body["metadata"]["created_at_unix_secs"],
        "access_info": body.get("access_info"),
        "last_call_time_unix_secs": None,
        "archived": bool((body.get("platform_settings") or {}).get("archived")),
    }


def encode_cursor(key: SortKey, sort_by: str, descending: bool) -> str:
    raw = json.dumps({"k": key, "s": sort_by, "d": descending}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort_by: str, descending: bool) -> SortKey:
    """The position a cursor stands for; 422 for a cursor this listing did not hand out."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = data["k"]
        valid = isinstance(key, list) and len(key) == 2 and data["s"] == sort_by and data["d"] == descending
    except (ValueError, binascii.Error, KeyError, TypeError):
        valid = False
    if not valid:
        raise invalid_cursor(cursor)
    found: SortKey = key
    return found
