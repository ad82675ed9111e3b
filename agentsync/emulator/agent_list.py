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
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from typing import Any

from agentsync.emulator.config import ApiKey
from agentsync.emulator.problems import HttpProblem, invalid_cursor, validation_problem
from agentsync.emulator.store import AgentOrder, AgentRecord

SortKey = list[Any]


def list_agents(order: AgentOrder, query: Mapping[str, Any], caller: ApiKey) -> dict[str, Any]:
    """One page, walked from the cursor's place in ``order`` (every agent, ascending by the sort key):
    the cost is the page, not the whole list."""
    descending = query.get("sort_direction") != "asc"
    keys, records, archived = order
    wanted = None if query.get("archived") is None else bool(query["archived"])
    size = int(query["page_size"])
    if query.get("cursor"):
        after = decode_cursor(query["cursor"], sort_by_of(query), descending)
        start = bisect_left(keys, after) - 1 if descending else bisect_right(keys, after)
    else:
        start = len(keys) - 1 if descending else 0
    step = -1 if descending else 1
    creator = _creator(query, caller)
    page: list[int] = []
    has_more = False
    for index in range(start, -1 if descending else len(keys), step):
        if wanted is not None and archived[index] != wanted:
            continue
        if _matches(records[index], query, creator):
            if len(page) == size:
                has_more = True
                break
            page.append(index)
    cursor = encode_cursor(keys[page[-1]], sort_by_of(query), descending) if has_more else None
    return {"agents": [summary(records[i]) for i in page], "next_cursor": cursor, "has_more": has_more}


def sort_by_of(query: Mapping[str, Any]) -> str:
    return str(query.get("sort_by") or "created_at")


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


def _matches(record: AgentRecord, query: Mapping[str, Any], creator: str | None) -> bool:
    body = record.body
    if query.get("archived") is not None:
        archived = bool((body.get("platform_settings") or {}).get("archived"))
        if archived != bool(query["archived"]):
            return False
    if query.get("search") and query["search"].casefold() not in str(body.get("name", "")).casefold():
        return False
    if query.get("tags") and not set(query["tags"]) & set(body.get("tags") or []):
        return False
    return creator in (None, record.owner_user_id)


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
