"""The environment-variable endpoints: create, list, get, update. There is no DELETE.

Decisions where the reference is silent:
- The create body is the spec's union tagged by ``type`` (string / secret / auth_connection), checked
  like the tool union (``union_tag_not_found``, ``union_tag_invalid``, errors inside a variant under its
  tag). ``values`` without a ``production`` key is **400** ``production_required``; a label already
  in use is **409** ``environment_variable_exists``. A ``secret`` value must name an existing secret
  (**404** ``secret_not_found``); auth connections are not emulated, so their ids are not checked.
- PATCH merges ``values`` key by key: a key given with a value replaces that environment's value, a
  key given as ``null`` removes that environment (``production`` cannot be removed: **400**
  ``production_required``), and a key left out keeps its value. A value of another type than the
  variable's (a plain string for a ``secret`` variable, ...) is **400** ``type_mismatch``: the type
  cannot change.
- The list is oldest first, ``page_size`` 100 by default, with ``next_cursor`` and ``has_more``;
  ``label`` is an exact match, ``type`` a filter, and ``environment`` keeps only the variables that have
  that environment and narrows their ``values`` to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from agentsync import spec
from agentsync.emulator import ids
from agentsync.emulator.agent_list import decode_cursor, encode_cursor
from agentsync.emulator.config import Faults
from agentsync.emulator.problems import HttpProblem, detail_problem, not_found
from agentsync.emulator.routing import Request, Response, json_response
from agentsync.emulator.store import Store
from agentsync.emulator.validation import errors_for, strip_unknown

TABLE = "environment_variables"
PRODUCTION = "production"
DEFAULT_PAGE_SIZE = 100
# What one value of each type holds: a string, or an object with this one id.
VALUE_KEY = {"string": None, "secret": "secret_id", "auth_connection": "auth_connection_id"}


class EnvironmentVariableApi:
    def __init__(self, store: Store, workspace_id: str, faults: Callable[[], Faults] = Faults) -> None:
        self.store = store
        self.workspace_id = workspace_id
        self.faults = faults

    def create(self, request: Request) -> Response:
        body = request.body
        variant = spec.ENV_VAR_CREATE_BODIES[body["type"]]
        body = strip_unknown(body, spec.schema(variant))
        values = body["values"]
        if PRODUCTION not in values:
            raise production_required()
        with self.store.lock:
            if any(r.body["label"] == body["label"] for r in self.store.records(TABLE)):
                raise detail_problem(
                    409,
                    "conflict_error",
                    "environment_variable_exists",
                    f"Environment variable with this label already exists: {body['label']}",
                )
            self._check_values(body["type"], values)
            now = int(time.time())
            stored = {
                "id": ids.env_var_id(),
                "label": body["label"],
                "type": body["type"],
                "values": dict(values),
                "workspace_id": self.workspace_id,
                "created_at_unix_secs": now,
                "updated_at_unix_secs": now,
                "created_by_user_id": request.caller.user_id,
            }
            self.store.put(TABLE, stored["id"], stored, request.caller.user_id)
        return json_response(stored, wrote=True)

    def get(self, request: Request) -> Response:
        return json_response(self._existing(request.params["env_var_id"]))

    def list(self, request: Request) -> Response:
        query = request.query
        environment = query.get("environment")
        chosen = [r for r in self.store.records(TABLE) if _listed(r.body, query)]
        keyed = [([r.seq, r.seq], _narrowed(r.body, environment)) for r in chosen]
        if query.get("cursor"):
            after = decode_cursor(query["cursor"], "environment_variables", False)
            keyed = [(k, b) for k, b in keyed if k > after]
        page = keyed[: int(query.get("page_size") or DEFAULT_PAGE_SIZE)]
        more = len(keyed) > len(page)
        cursor = encode_cursor(page[-1][0], "environment_variables", False) if more else None
        return json_response(
            {"environment_variables": [b for _, b in page], "next_cursor": cursor, "has_more": more}
        )

    def patch(self, request: Request) -> Response:
        body = strip_unknown(request.body, spec.schema(spec.ENV_VAR_PATCH_BODY))
        with self.store.lock:
            stored = self._existing(request.params["env_var_id"])
            changes = body["values"]
            if PRODUCTION in changes and changes[PRODUCTION] is None:
                raise production_required()
            self._check_values(stored["type"], {k: v for k, v in changes.items() if v is not None})
            faults = self.faults()
            if faults.env_values_replace:  # a server that replaces the map whole
                stored["values"] = {}
            for environment, value in changes.items():
                if value is None and not faults.env_values_keep_nulls:
                    stored["values"].pop(environment, None)
                elif value is not None:
                    stored["values"][environment] = value
            stored["updated_at_unix_secs"] = int(time.time())
            self.store.put(TABLE, stored["id"], stored, request.caller.user_id)
        return json_response(stored, wrote=True)

    def _check_values(self, type_: str, values: dict[str, Any]) -> None:
        key = VALUE_KEY[type_]
        for environment, value in values.items():
            fits = isinstance(value, str) if key is None else isinstance(value, dict) and key in value
            if not fits:
                raise type_mismatch(type_, environment)
            if key == "secret_id" and self.store.get("secrets", value[key]) is None:
                raise not_found("secret", value[key])

    def _existing(self, env_var_id: str) -> dict[str, Any]:
        found = self.store.get(TABLE, env_var_id)
        if found is None:
            raise not_found("environment_variable", env_var_id)
        return found


def _listed(body: dict[str, Any], query: dict[str, Any]) -> bool:
    if query.get("label") is not None and body["label"] != query["label"]:
        return False
    if query.get("type") is not None and body["type"] != query["type"]:
        return False
    return query.get("environment") is None or query["environment"] in body["values"]


def _narrowed(body: dict[str, Any], environment: str | None) -> dict[str, Any]:
    if environment is None:
        return body
    return {**body, "values": {environment: body["values"][environment]}}


def production_required() -> HttpProblem:
    return detail_problem(
        400,
        "validation_error",
        "production_required",
        "Environment variable values must include the 'production' key, which cannot be removed.",
        param="values.production",
    )


def type_mismatch(type_: str, environment: str) -> HttpProblem:
    return detail_problem(
        400,
        "validation_error",
        "type_mismatch",
        f"The value for environment '{environment}' does not fit an environment variable of type '{type_}'; "
        "the type of an environment variable cannot change.",
        param=f"values.{environment}",
    )


def request_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    """422 items for the create body, checked as a union tagged by ``type``."""
    tag = body.get("type")
    mapping = spec.ENV_VAR_CREATE_BODIES
    expected = ", ".join(f"'{t}'" for t in mapping)
    discriminator = {"discriminator": "'type'"}
    base: dict[str, Any] = {"loc": ["body"], "input": body, "ctx": discriminator}
    if "type" not in body:
        return [
            {**base, "msg": "Unable to extract tag using discriminator 'type'", "type": "union_tag_not_found"}
        ]
    if not isinstance(tag, str) or tag not in mapping:
        message = f"Input tag '{tag}' found using 'type' does not match any of the expected tags: {expected}"
        ctx = {**discriminator, "tag": str(tag), "expected_tags": expected}
        return [{**base, "msg": message, "type": "union_tag_invalid", "ctx": ctx}]
    return errors_for(body, mapping[tag], ["body", tag])
