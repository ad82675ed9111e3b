"""The agent-testing endpoints: create, list, get, update (PUT), delete.

Decisions where the reference is silent:
- A test body is a union of three models told apart by ``type`` (``llm``, ``tool``, ``simulation``).
  A body with a known ``type`` is checked against that model; one without ``type`` takes the first model
  it is valid for (``llm`` first, whose ``type`` default is ``llm``); an unknown ``type`` is a 422 naming
  ``["body", "type"]``. Unknown keys are ignored, as pydantic does.
- PUT is a full replace: the stored test becomes the new body completed with the schema defaults, so a
  field left out is not kept. PATCH is not a method of the path and answers 405 with ``Allow``. The
  test keeps its id, its creation time and its creator.
- The list is newest first; ``search`` is a case-insensitive substring of the name; ``types`` keeps the
  tests of those types; ``page_size`` defaults to 30. Folders are not emulated, so ``parent_folder_id``,
  ``sort_mode`` and ``sharing_mode`` change nothing.
- DELETE answers 200 with ``{}``, even while agents still list the test in ``attached_tests`` (their
  lists are left as they are).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from agentsync import spec
from agentsync.emulator import ids
from agentsync.emulator.agent_list import decode_cursor, encode_cursor
from agentsync.emulator.agents import access_info
from agentsync.emulator.config import ApiKey
from agentsync.emulator.defaults import fill_new
from agentsync.emulator.problems import not_found
from agentsync.emulator.routing import Request, Response, json_response
from agentsync.emulator.store import ResourceRecord, Store
from agentsync.emulator.validation import errors_for, strip_unknown

DEFAULT_PAGE_SIZE = 30


class AgentTestApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, request: Request) -> Response:
        now = int(time.time())
        test_id = ids.test_id()
        entry = {"test": stored_test(test_id, request.body), "created": now, "updated": now}
        self.store.put_test(test_id, entry, request.caller.user_id)
        return json_response({"id": test_id}, wrote=True)

    def get(self, request: Request) -> Response:
        return json_response(self.existing(request.params["test_id"])["test"])

    def list(self, request: Request) -> Response:
        records = self.store.test_records()
        return json_response(list_tests(records, request.query, request.caller.user_id))

    def put(self, request: Request) -> Response:
        test_id = request.params["test_id"]
        with self.store.lock:
            entry = self.existing(test_id)
            entry["test"] = stored_test(test_id, request.body)
            entry["updated"] = int(time.time())
            self.store.put_test(test_id, entry, request.caller.user_id)
        return json_response(entry["test"], wrote=True)

    def delete(self, request: Request) -> Response:
        test_id = request.params["test_id"]
        with self.store.lock:
            self.existing(test_id)
            self.store.delete_test(test_id)
        return json_response({}, wrote=True)

    def existing(self, test_id: str) -> dict[str, Any]:
        found = self.store.get_test(test_id)
        if found is None:
            raise not_found("test", test_id)
        return found


def variant_of(body: Mapping[str, Any], models: Mapping[str, str]) -> str | None:
    """The test type a body is: its ``type`` when known, else the first model it is valid for."""
    given = body.get("type")
    if "type" in body:
        return given if isinstance(given, str) and given in models else None
    for test_type, model in models.items():
        if not errors_for(body, model, ["body"]):
            return test_type
    return spec.TEST_TYPES[0]


def request_errors(body: dict[str, Any], models: Mapping[str, str]) -> list[dict[str, Any]]:
    """422 items for a create or update body, checked against the model its ``type`` names."""
    test_type = variant_of(body, models)
    if test_type is None:
        expected = ", ".join(f"'{t}'" for t in models)
        return [
            {
                "loc": ["body", "type"],
                "msg": f"Input should be {expected}",
                "type": "literal_error",
                "input": body.get("type"),
                "ctx": {"expected": expected},
            }
        ]
    return errors_for(body, models[test_type], ["body"])


def stored_test(test_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The GET body of a test: the request's known fields with every default of its model filled in."""
    test_type = variant_of(body, spec.TEST_CREATE_BODIES) or spec.TEST_TYPES[0]
    response = spec.schema(spec.TEST_RESPONSES[test_type])
    kept = strip_unknown(body, spec.schema(spec.TEST_CREATE_BODIES[test_type]))
    kept.pop("parent_folder_id", None)
    filled: dict[str, Any] = fill_new(copy.deepcopy({**kept, "type": test_type}), None, response)
    return {**filled, "id": test_id}


def summary(record: ResourceRecord) -> dict[str, Any]:
    test = record.body["test"]
    return {
        "id": test["id"],
        "name": test["name"],
        "access_info": access_info_of(record),
        "created_at_unix_secs": record.body["created"],
        "last_updated_at_unix_secs": record.body["updated"],
        "type": test["type"],
        "entity_type": "test",
        "folder_parent_id": None,
        "folder_path": [],
        "children_count": None,
        "conversation_initiation_source": test.get("conversation_initiation_source"),
    }


def access_info_of(record: ResourceRecord) -> dict[str, Any]:
    return access_info(ApiKey("", record.owner_user_id))


def list_tests(records: list[ResourceRecord], query: Mapping[str, Any], caller_id: str) -> dict[str, Any]:
    chosen = [r for r in records if _matches(r, query)]
    keyed = sorted((([r.seq, r.seq], r) for r in chosen), key=lambda p: p[0], reverse=True)
    if query.get("cursor"):
        after = decode_cursor(query["cursor"], "tests", True)
        keyed = [(k, r) for k, r in keyed if k < after]
    page = keyed[: int(query.get("page_size") or DEFAULT_PAGE_SIZE)]
    has_more = len(keyed) > len(page)
    cursor = encode_cursor(page[-1][0], "tests", True) if has_more else None
    return {"tests": [summary(r) for _, r in page], "next_cursor": cursor, "has_more": has_more}


def _matches(record: ResourceRecord, query: Mapping[str, Any]) -> bool:
    test = record.body["test"]
    search = query.get("search")
    if search and search.casefold() not in str(test.get("name", "")).casefold():
        return False
    return not query.get("types") or test.get("type") in query["types"]
