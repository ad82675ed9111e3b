"""The MCP-server endpoints: create, list, get, update, delete.

Decisions where the reference is silent:
- The list is unpaginated (``{"mcp_servers": [...]}``, newest first), as the reference says.
- PATCH takes MCPServerConfigUpdateRequestModel, which is partial: a field given with a value replaces
  the stored one whole (``request_headers`` included), a field given as ``null`` or left out is kept.
  The model has no ``url``, ``name``, ``transport`` or ``description``; like any key a model does not
  declare they are ignored, so the answer is 200 with the stored values unchanged, and a client that
  needs another URL creates a new server.
- ``dependent_agents`` lists the agents whose ``mcp_server_ids`` or ``native_mcp_server_ids`` hold the
  server. DELETE of a server an agent still references is refused with **409** ``mcp_server_in_use``,
  naming the agents (the endpoint has no ``force``); otherwise it answers 200 with ``{}``.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from agentsync import spec
from agentsync.emulator import ids
from agentsync.emulator.agents import access_info
from agentsync.emulator.defaults import fill_new
from agentsync.emulator.dependents import dependent_records, identifier, mcp_server_ids_of
from agentsync.emulator.problems import HttpProblem, detail_problem
from agentsync.emulator.routing import Request, Response, json_response
from agentsync.emulator.store import Store
from agentsync.emulator.validation import strip_unknown

CONFIG_OUTPUT = "MCPServerConfig-Output"


class McpServerApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, request: Request) -> Response:
        body = strip_unknown(request.body, spec.schema(spec.MCP_SERVER_CREATE_BODY))
        server = {
            "id": ids.mcp_server_id(),
            "config": fill_new(copy.deepcopy(body["config"]), None, spec.schema(CONFIG_OUTPUT)),
            "access_info": access_info(request.caller),
            "metadata": {"created_at": int(time.time()), "owner_user_id": request.caller.user_id},
        }
        self.store.put_mcp_server(server, request.caller.user_id)
        return json_response(self._shown(server), wrote=True)

    def list(self, request: Request) -> Response:
        records = sorted(self.store.mcp_server_records(), key=lambda r: r.seq, reverse=True)
        return json_response({"mcp_servers": [self._shown(r.body) for r in records]})

    def get(self, request: Request) -> Response:
        return json_response(self._shown(self._existing(request.params["mcp_server_id"])))

    def patch(self, request: Request) -> Response:
        body = strip_unknown(request.body, spec.schema(spec.MCP_SERVER_UPDATE_BODY))
        with self.store.lock:
            server = self._existing(request.params["mcp_server_id"])
            config = server["config"]
            node = spec.schema(CONFIG_OUTPUT)["properties"]
            for key, value in body.items():
                if value is not None:
                    config[key] = fill_new(value, None, node.get(key))
            self.store.put_mcp_server(server, request.caller.user_id)
        return json_response(self._shown(server), wrote=True)

    def delete(self, request: Request) -> Response:
        server_id = request.params["mcp_server_id"]
        with self.store.lock:
            self._existing(server_id)
            users = dependent_records(self.store.agent_records(), mcp_server_ids_of, server_id)
            if users:
                raise in_use(server_id, [r.body["agent_id"] for r in users])
            self.store.delete_mcp_server(server_id)
        return json_response({}, wrote=True)

    def _existing(self, server_id: str) -> dict[str, Any]:
        found = self.store.get_mcp_server(server_id)
        if found is None:
            raise detail_problem(
                404, "not_found", "mcp_server_not_found", f"MCP server with id {server_id} was not found."
            )
        return found

    def _shown(self, server: dict[str, Any]) -> dict[str, Any]:
        users = dependent_records(self.store.agent_records(), mcp_server_ids_of, server["id"])
        return {**server, "dependent_agents": [identifier(r) for r in users]}


def in_use(server_id: str, agent_ids: list[str]) -> HttpProblem:
    message = (
        f"MCP server {server_id} is used by {len(agent_ids)} agent(s): {', '.join(agent_ids)}. "
        "Remove it from their mcp_server_ids first."
    )
    return detail_problem(409, "conflict_error", "mcp_server_in_use", message)
