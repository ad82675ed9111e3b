"""The workspace-secret endpoints: create, list, get, update, delete, dependencies.

Decisions where the reference is silent:
- A secret's value is kept only as a salted SHA-256 (the state file never holds a plain value) and is
  never part of any answer.
- PATCH needs ``type: update``, ``name`` and ``value`` every time (the model requires all three): it
  renames and replaces the value in one step.
- ``used_by`` lists what names the secret's id in a ``secret_id`` field: agents (anywhere in their
  config, custom LLM keys and headers, the initiation webhook's headers), tools (webhook headers), MCP
  servers and phone numbers. ``others`` lists ``conversation_initiation_webhook`` when an agent's
  ``platform_settings.workspace_overrides.conversation_initiation_client_data_webhook`` names it. An
  environment variable of type ``secret`` that holds it counts as a use too, for DELETE only (the model
  has no place to show it).
- Each ``used_by`` list shows at most ``dependency_limit`` entries (default 10), with ``*_has_more``.
- DELETE of a secret in use is refused with **409** ``secret_in_use``, naming the users; otherwise 204.
- The list is oldest first; without ``page_size`` it holds every secret and ``next_cursor`` is null;
  with it, ``next_cursor`` is null on the last page (there is no ``has_more``). ``search`` is a
  case-sensitive prefix of the name.
- ``dependencies/{resource_type}`` pages with ``page_size`` (default 20) and ``next_cursor``.
"""

from __future__ import annotations

import hashlib
import secrets as random
from collections.abc import Iterator
from typing import Any

from agentsync import spec
from agentsync.emulator import ids
from agentsync.emulator.agent_list import decode_cursor, encode_cursor
from agentsync.emulator.dependents import identifier
from agentsync.emulator.problems import HttpProblem, detail_problem, not_found, validation_problem
from agentsync.emulator.routing import Request, Response, json_response, no_content
from agentsync.emulator.store import Store
from agentsync.emulator.validation import strip_unknown

TABLE = "secrets"
DEFAULT_DEPENDENCY_LIMIT = 10
DEFAULT_DEPENDENCIES_PAGE = 20
RESOURCE_TYPES = ("tools", "agents", "phone_numbers")
INITIATION_WEBHOOK = (
    "platform_settings",
    "workspace_overrides",
    "conversation_initiation_client_data_webhook",
)


def value_hash(value: str, salt: str | None = None) -> str:
    """``salt$sha256(salt + value)``: what the store keeps of a secret's value."""
    salt = salt or random.token_hex(8)
    return f"{salt}${hashlib.sha256((salt + value).encode()).hexdigest()}"


def holds_value(stored: str, value: str) -> bool:
    """True when ``stored`` (a :func:`value_hash`) is the hash of ``value``."""
    salt, _, _ = stored.partition("$")
    return value_hash(value, salt) == stored


def secret_ids_in(node: Any) -> Iterator[str]:
    """Every string held by a ``secret_id`` key anywhere inside ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "secret_id" and isinstance(value, str):
                yield value
            else:
                yield from secret_ids_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from secret_ids_in(value)


class SecretApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, request: Request) -> Response:
        body = strip_unknown(request.body, spec.schema(spec.SECRET_CREATE_BODY))
        stored = {
            "secret_id": ids.secret_id(),
            "name": body["name"],
            "value_sha256": value_hash(body["value"]),
        }
        self.store.put(TABLE, stored["secret_id"], stored, request.caller.user_id)
        return json_response(_answer(stored), wrote=True)

    def get(self, request: Request) -> Response:
        return json_response(
            self._shown(self._existing(request.params["secret_id"]), DEFAULT_DEPENDENCY_LIMIT)
        )

    def listing(self, request: Request) -> Response:
        query = request.query
        chosen = [
            r for r in self.store.records(TABLE) if r.body["name"].startswith(query.get("search") or "")
        ]
        keyed = [([r.seq, r.seq], r) for r in chosen]
        if query.get("cursor"):
            after = decode_cursor(query["cursor"], "secrets", False)
            keyed = [(k, r) for k, r in keyed if k > after]
        size = query.get("page_size")
        page = keyed[:size] if size else keyed
        cursor = encode_cursor(page[-1][0], "secrets", False) if len(keyed) > len(page) else None
        limit = query.get("dependency_limit") or DEFAULT_DEPENDENCY_LIMIT
        return json_response(
            {"secrets": [self._shown(r.body, limit) for _, r in page], "next_cursor": cursor}
        )

    def patch(self, request: Request) -> Response:
        body = strip_unknown(request.body, spec.schema(spec.SECRET_PATCH_BODY))
        with self.store.lock:
            stored = self._existing(request.params["secret_id"])
            stored.update(name=body["name"], value_sha256=value_hash(body["value"]))
            self.store.put(TABLE, stored["secret_id"], stored, request.caller.user_id)
        return json_response(_answer(stored), wrote=True)

    def delete(self, request: Request) -> Response:
        secret_id = request.params["secret_id"]
        with self.store.lock:
            self._existing(secret_id)
            users = self._users(secret_id)
            if users:
                raise in_use(secret_id, users)
            self.store.remove(TABLE, secret_id)
        return no_content()

    def dependencies(self, request: Request) -> Response:
        secret_id, kind = request.params["secret_id"], request.params["resource_type"]
        if kind not in RESOURCE_TYPES:
            raise _bad_resource_type(kind)
        self._existing(secret_id)
        found = list(enumerate(self._dependents(kind, secret_id)))
        if request.query.get("cursor"):
            after = decode_cursor(request.query["cursor"], "dependencies", False)
            found = [(i, d) for i, d in found if [i, i] > after]
        page = found[: int(request.query.get("page_size") or DEFAULT_DEPENDENCIES_PAGE)]
        more = len(found) > len(page)
        cursor = encode_cursor([page[-1][0]] * 2, "dependencies", False) if more else None
        return json_response({"dependencies": [d for _, d in page], "next_cursor": cursor})

    # -- who uses a secret ---------------------------------------------------------------------------

    def _dependents(self, kind: str, secret_id: str) -> list[dict[str, Any]]:
        return [shown for body, shown in self._candidates(kind) if secret_id in set(secret_ids_in(body))]

    def _candidates(self, kind: str) -> Iterator[tuple[Any, dict[str, Any]]]:
        if kind == "agents":
            for agent in self.store.agent_records():
                yield agent.body, identifier(agent)
        elif kind == "tools":
            for tool in sorted(self.store.tool_records(), key=lambda r: r.seq):
                yield (
                    tool.body["tool_config"],
                    _available(tool.body["id"], tool.body["tool_config"], tool.seq),
                )
        elif kind == "mcp_servers":
            for server in sorted(self.store.mcp_server_records(), key=lambda r: r.seq):
                config = server.body["config"]
                yield config, _available(server.body["id"], config, server.seq)
        elif kind == "phone_numbers":
            for number in self.store.records("phone_numbers"):
                yield (
                    number.body,
                    {k: number.body[k] for k in ("phone_number_id", "phone_number", "label", "provider")},
                )

    def _users(self, secret_id: str) -> list[str]:
        """Every resource that holds ``secret_id``, as ``kind id`` labels."""
        found = [
            f"{kind} {_id_of(d)}"
            for kind in (*RESOURCE_TYPES, "mcp_servers")
            for d in self._dependents(kind, secret_id)
        ]
        for record in self.store.records("environment_variables"):
            if secret_id in set(secret_ids_in(record.body.get("values"))):
                found.append(f"environment variable {record.body['label']}")
        return found

    def _others(self, secret_id: str) -> list[str]:
        for agent in self.store.agent_records():
            if secret_id in set(secret_ids_in(_at(agent.body, INITIATION_WEBHOOK))):
                return ["conversation_initiation_webhook"]
        return []

    def _shown(self, stored: dict[str, Any], limit: int) -> dict[str, Any]:
        used: dict[str, Any] = {}
        for kind in (*RESOURCE_TYPES, "mcp_servers"):
            found = self._dependents(kind, stored["secret_id"])
            used[kind] = found[:limit]
            if kind != "mcp_servers":
                used[f"{kind}_has_more"] = len(found) > limit
        used["others"] = self._others(stored["secret_id"])
        return {**_answer(stored), "used_by": used}

    def _existing(self, secret_id: str) -> dict[str, Any]:
        found = self.store.get(TABLE, secret_id)
        if found is None:
            raise not_found("secret", secret_id)
        return found


def _answer(stored: dict[str, Any]) -> dict[str, Any]:
    return {"type": "stored", "secret_id": stored["secret_id"], "name": stored["name"]}


def _available(resource_id: str, config: dict[str, Any], seq: int) -> dict[str, Any]:
    # Creation times are not kept for tools and MCP servers; the creation order stands in for one.
    return {
        "id": resource_id,
        "name": str(config.get("name", "")),
        "type": "available",
        "created_at_unix_secs": seq,
        "access_level": "admin",
    }


def _id_of(dependent: dict[str, Any]) -> str:
    return str(dependent.get("id") or dependent.get("phone_number_id"))


def _at(node: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def in_use(secret_id: str, users: list[str]) -> HttpProblem:
    message = (
        f"Secret {secret_id} is in use by {len(users)} resource(s): {', '.join(users)}. "
        "Remove it from them before deleting it."
    )
    return detail_problem(409, "conflict_error", "secret_in_use", message)


def _bad_resource_type(given: str) -> HttpProblem:
    expected = ", ".join(f"'{t}'" for t in RESOURCE_TYPES)
    return validation_problem(
        [
            {
                "loc": ["path", "resource_type"],
                "msg": "Input should be 'tools', 'agents' or 'phone_numbers'",
                "type": "enum",
                "input": given,
                "ctx": {"expected": expected},
            }
        ]
    )
