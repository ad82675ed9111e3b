"""The tool endpoints: create, list, get, update, delete, dependent agents.

Decisions where the reference is silent:
- ``tool_config`` is a union tagged by ``type``, answered as pydantic answers a discriminated union: no
  ``type`` is ``union_tag_not_found``, an unknown one ``union_tag_invalid``, and errors inside a variant
  carry the tag in their ``loc`` (``["body", "tool_config", "webhook", "api_schema"]``). A union member
  nested inside (a system tool's ``params``, a mock's ``eval``) needs its tag too
  (:mod:`agentsync.emulator.unions`), though the spec leaves every tag optional with a default.
- A stored tool has the response model's shape: input-only keys (a parameter's ``property_kind``) are
  read and never answered.
- PATCH takes the whole ``ToolRequestModel`` and replaces ``tool_config`` whole, completed with the
  schema defaults (nothing of the stored config survives); ``response_mocks`` is replaced when the body
  has the key (``null`` clears it) and kept when it does not.
- A stored tool is checked against the response model before it is stored; one that fails (a default
  completion that went wrong) is a **500** ``invalid_stored_tool`` naming the field, never an answer
  the spec refuses.
- A stored tool has ``response_mocks: null`` until a client sets it (the spec's rule for a nullable
  field without a default) and ``usage_stats`` of zero calls.
- The list is newest first by default; ``search`` is a case-insensitive prefix of ``tool_config.name``;
  ``types`` keeps the tools whose ``tool_config.type`` is one of them (``api_integration_webhook``
  matches none, since no such tool can be created here); ``page_size`` defaults to 30. Cursors encode the
  sort position, as the agent list's do.
- A parameter with no value source, or more than one, is a 422 ``value_error`` at its ``loc``
  (:mod:`agentsync.emulator.value_sources`).
- DELETE of a tool that an agent references (:mod:`agentsync.emulator.dependents`) is refused with
  **409** ``tool_in_use``, naming the agents, unless ``force=true``, which takes the tool out of every
  agent first. A successful DELETE answers 200 with ``{}``.
- ``dependent-agents`` lists the referencing agents oldest first with their main branches.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from agentsync import spec
from agentsync.emulator import ids
from agentsync.emulator.agent_list import decode_cursor, encode_cursor
from agentsync.emulator.agents import access_info
from agentsync.emulator.defaults import fill_new
from agentsync.emulator.dependents import (
    dependent_records,
    identifier,
    main_branch,
    tool_ids_of,
    without_tool,
)
from agentsync.emulator.problems import HttpProblem, detail_problem, not_found
from agentsync.emulator.routing import Request, Response, json_response
from agentsync.emulator.store import ResourceRecord, Store
from agentsync.emulator.unions import tag_missing, untagged_members, without_members
from agentsync.emulator.validation import errors_for, errors_from, strip_unknown, validator_for
from agentsync.emulator.value_sources import value_source_errors

DEFAULT_PAGE_SIZE = 30
CONFIG_LOC: list[str | int] = ["body", "tool_config"]


class ToolApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, request: Request) -> Response:
        body = strip_unknown(request.body, spec.schema(spec.TOOL_CREATE_BODY))
        tool = {
            "id": ids.tool_id(),
            "tool_config": complete_config(body["tool_config"]),
            "access_info": access_info(request.caller),
            "usage_stats": {"total_calls": 0, "avg_latency_secs": 0.0},
            "response_mocks": completed_mocks(body.get("response_mocks")),
        }
        self.store.put_tool(answerable(tool), request.caller.user_id)
        return json_response(tool, wrote=True)

    def get(self, request: Request) -> Response:
        return json_response(self._existing(request.params["tool_id"]))

    def list(self, request: Request) -> Response:
        return json_response(list_tools(self.store.tool_records(), request.query, request.caller.user_id))

    def patch(self, request: Request) -> Response:
        body = strip_unknown(request.body, spec.schema(spec.TOOL_UPDATE_BODY))
        with self.store.lock:
            tool = self._existing(request.params["tool_id"])
            tool["tool_config"] = complete_config(body["tool_config"])
            if "response_mocks" in body:
                tool["response_mocks"] = completed_mocks(body["response_mocks"])
            self.store.put_tool(answerable(tool), request.caller.user_id)
        return json_response(tool, wrote=True)

    def delete(self, request: Request) -> Response:
        tool_id = request.params["tool_id"]
        with self.store.lock:
            self._existing(tool_id)
            users = dependent_records(self.store.agent_records(), tool_ids_of, tool_id)
            if users and not request.query.get("force"):
                raise in_use(tool_id, [r.body["agent_id"] for r in users])
            for record in users:
                self.store.put_agent(without_tool(record.body, tool_id), record.owner_user_id)
            self.store.delete_tool(tool_id)
        return json_response({}, wrote=True)

    def dependents(self, request: Request) -> Response:
        tool_id = request.params["tool_id"]
        self._existing(tool_id)
        users = dependent_records(self.store.agent_records(), tool_ids_of, tool_id)
        keyed = [([r.seq, r.seq], r) for r in users]
        if request.query.get("cursor"):
            after = decode_cursor(request.query["cursor"], "dependents", False)
            keyed = [(k, r) for k, r in keyed if k > after]
        page = keyed[: int(request.query["page_size"])]
        has_more = len(keyed) > len(page)
        return json_response(
            {
                "agents": [identifier(r) for _, r in page],
                "branches": [main_branch(r) for _, r in page],
                "next_cursor": encode_cursor(page[-1][0], "dependents", False) if has_more else None,
                "has_more": has_more,
            }
        )

    def _existing(self, tool_id: str) -> dict[str, Any]:
        found = self.store.get_tool(tool_id)
        if found is None:
            raise not_found("tool", tool_id)
        return found


def in_use(tool_id: str, agent_ids: list[str]) -> HttpProblem:
    message = (
        f"Tool {tool_id} is used by {len(agent_ids)} agent(s): {', '.join(agent_ids)}. "
        "Remove it from those agents first, or delete with force=true to remove it from them."
    )
    return detail_problem(409, "conflict_error", "tool_in_use", message, param="force")


def answerable(tool: dict[str, Any]) -> dict[str, Any]:
    """``tool`` itself, once it is known to validate against the response model: an answer is always
    one the spec allows, and a completion that went wrong is a loud 500, never a stored bad value."""
    errors = errors_for(tool, spec.TOOL_RESPONSE, [])
    if not errors:
        return tool
    where = ".".join(str(part) for part in errors[0]["loc"])
    message = (
        f"The emulator completed this tool into a value its response model refuses at {where or 'the top'}"
        f" ({errors[0]['msg']}); this is an emulator bug: report it with the request body."
    )
    raise detail_problem(500, "internal_error", "invalid_stored_tool", message)


def complete_config(config: dict[str, Any]) -> dict[str, Any]:
    """The stored tool config: the client's config with every server default filled in, in the shape of
    the response model (input-only keys such as a parameter's ``property_kind`` are not kept)."""
    node = spec.schema(spec.TOOL_RESPONSE)["properties"]["tool_config"]
    filled: dict[str, Any] = strip_unknown(fill_new(copy.deepcopy(config), None, node), node)
    return filled


def completed_mocks(mocks: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if mocks is None:
        return None
    node = spec.schema(spec.TOOL_RESPONSE)["properties"]["response_mocks"]
    filled: list[dict[str, Any]] = strip_unknown(fill_new(copy.deepcopy(mocks), None, node), node)
    return filled


# -- the list ---------------------------------------------------------------------------------------


def list_tools(records: list[ResourceRecord], query: Mapping[str, Any], caller_id: str) -> dict[str, Any]:
    sort_by = query.get("sort_by") or "created_at"
    descending = query.get("sort_direction") != "asc"
    chosen = [r for r in records if _matches(r, query, caller_id)]
    keyed = sorted(((_sort_key(r, sort_by), r) for r in chosen), key=lambda p: p[0], reverse=descending)
    if query.get("cursor"):
        after = decode_cursor(query["cursor"], sort_by, descending)
        keyed = [(k, r) for k, r in keyed if (k < after if descending else k > after)]
    page = keyed[: int(query.get("page_size") or DEFAULT_PAGE_SIZE)]
    has_more = len(keyed) > len(page)
    cursor = encode_cursor(page[-1][0], sort_by, descending) if has_more else None
    return {"tools": [r.body for _, r in page], "next_cursor": cursor, "has_more": has_more}


def _matches(record: ResourceRecord, query: Mapping[str, Any], caller_id: str) -> bool:
    config = record.body["tool_config"]
    search = query.get("search")
    if search and not str(config.get("name", "")).casefold().startswith(search.casefold()):
        return False
    if query.get("types") and config.get("type") not in query["types"]:
        return False
    creator = query.get("created_by_user_id")
    if creator == "@me" or (creator is None and query.get("show_only_owned_documents")):
        creator = caller_id
    return creator is None or creator == record.owner_user_id


def _sort_key(record: ResourceRecord, sort_by: str) -> list[Any]:
    if sort_by == "name":
        return [str(record.body["tool_config"].get("name", "")).casefold(), record.seq]
    return [record.seq, record.seq]


# -- request validation -----------------------------------------------------------------------------


def request_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    """422 items for a ToolRequestModel body, with ``tool_config`` checked as a discriminated union."""
    config = body.get("tool_config")
    if not isinstance(config, dict):
        return errors_for(body, spec.TOOL_CREATE_BODY, ["body"])
    errors = _config_errors(config)
    mocks_schema = spec.schema(spec.TOOL_CREATE_BODY)["properties"]["response_mocks"]
    if "response_mocks" in body:
        found = validator_for(mocks_schema).iter_errors(body["response_mocks"])
        untagged = untagged_members(body["response_mocks"], mocks_schema, ["body", "response_mocks"])
        errors += untagged + without_members(errors_from(found, ["body", "response_mocks"]), untagged)
    return errors


def _config_errors(config: dict[str, Any]) -> list[dict[str, Any]]:
    union = spec.schema(spec.TOOL_CREATE_BODY)["properties"]["tool_config"]
    mapping: dict[str, str] = union["discriminator"]["mapping"]
    tag = config.get("type")
    expected = ", ".join(f"'{t}'" for t in mapping)
    if "type" not in config:
        return [tag_missing(CONFIG_LOC, "type", config)]
    if not isinstance(tag, str) or tag not in mapping:
        message = f"Input tag '{tag}' found using 'type' does not match any of the expected tags: {expected}"
        item = {**tag_missing(CONFIG_LOC, "type", config), "msg": message, "type": "union_tag_invalid"}
        item["ctx"].update(tag=str(tag), expected_tags=expected)
        return [item]
    untagged = untagged_members(config, {"$ref": mapping[tag]}, [*CONFIG_LOC, tag])
    errors = errors_for(config, spec.ref_name(mapping[tag]), [*CONFIG_LOC, tag])
    if not errors and not untagged:
        return value_source_errors(config, [*CONFIG_LOC, tag])
    return untagged + without_members(errors, untagged)
