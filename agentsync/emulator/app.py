"""The emulated API without its transport: route, validate (422 before auth, as the real API does),
authenticate, then run the handler. Faults, stats and request ids are the server's business."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from jsonschema import Draft202012Validator

from agentsync import spec
from agentsync.emulator.agent_tests import AgentTestApi
from agentsync.emulator.agent_tests import request_errors as test_errors
from agentsync.emulator.agents import AgentApi
from agentsync.emulator.config import ApiKey, Faults
from agentsync.emulator.environment_variables import EnvironmentVariableApi
from agentsync.emulator.environment_variables import request_errors as env_var_errors
from agentsync.emulator.mcp_servers import McpServerApi
from agentsync.emulator.phone_numbers import PhoneNumberApi
from agentsync.emulator.problems import (
    HttpProblem,
    invalid_key,
    method_not_allowed,
    missing_key,
    route_not_found,
    validation_problem,
)
from agentsync.emulator.query import parse_query
from agentsync.emulator.routing import Request, Response, Route
from agentsync.emulator.secrets import SecretApi
from agentsync.emulator.store import Store
from agentsync.emulator.tags import TagApi
from agentsync.emulator.test_runs import TestRunApi
from agentsync.emulator.tools import ToolApi, request_errors
from agentsync.emulator.validation import errors_for, errors_from, validator_for

AGENT_DUPLICATE_BODY = "Body_Duplicate_Agent_v1_convai_agents__agent_id__duplicate_post"
ASSIGN_BODY = "AssignConversationTagsRequestModel"
# The test bodies are unions tagged by ``type``; the route names the first model and the check takes all.
TEST_CREATE = spec.TEST_CREATE_BODIES["llm"]
TEST_UPDATE = spec.TEST_UPDATE_BODIES["llm"]


class App:
    def __init__(
        self, store: Store, keys: list[ApiKey], workspace_id: str, faults: Callable[[], Faults]
    ) -> None:
        self.keys = {k.key: k for k in keys}
        self.phone_numbers = PhoneNumberApi(store)
        self.routes = (
            build_routes(AgentApi(store, faults), TagApi(store, workspace_id))
            + resource_routes(ToolApi(store), McpServerApi(store))
            + workspace_routes(
                SecretApi(store), EnvironmentVariableApi(store, workspace_id, faults), self.phone_numbers
            )
        )
        self.routes += testing_routes(AgentTestApi(store), TestRunApi(store, workspace_id, faults))
        # A template's parameters never hold a slash, so only templates with as many slashes as the
        # path can match it: each request tries those (a handful) instead of every route.
        self._by_depth: dict[int, list[Route]] = {}
        for route in self.routes:
            self._by_depth.setdefault(route.template.count("/"), []).append(route)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``METHOD path`` (404 / 405 in FastAPI's words when there is none).

        As in Starlette, any route matching both wins; otherwise the first path that matches answers
        405 and lists its methods in ``Allow``."""
        candidates = self._by_depth.get(path.count("/"), [])
        matching = [(route, params) for route in candidates if (params := route.match(path)) is not None]
        for route, params in matching:
            if route.method == method:
                return route, params
        if not matching:
            raise route_not_found()
        first = matching[0][0].template
        raise method_not_allowed(sorted({r.method for r, _ in matching if r.template == first}))

    def handle(
        self,
        route: Route,
        params: dict[str, str],
        query_string: str,
        headers: Mapping[str, str],
        raw_body: bytes,
    ) -> Response:
        query = parse_query(route.method, route.template, parse_qs(query_string, keep_blank_values=True))
        body = read_body(route, raw_body)
        caller = self.authenticate(headers.get("xi-api-key"))
        return route.handler(Request(route.method, route.template, params, query, body, caller))

    def authenticate(self, key: str | None) -> ApiKey:
        if not key:
            raise missing_key()
        found = self.keys.get(key)
        if found is None:
            raise invalid_key()
        return found


def build_routes(agents: AgentApi, tags: TagApi) -> list[Route]:
    # Literal paths come before the templated path they would otherwise match.
    return [
        Route("POST", "/v1/convai/agents/create", agents.create, spec.AGENT_CREATE_BODY, True),
        Route("GET", "/v1/convai/agents", agents.list),
        Route("GET", "/v1/convai/agents/summaries", agents.summaries),
        Route("GET", "/v1/convai/agents/{agent_id}", agents.get),
        Route("PATCH", "/v1/convai/agents/{agent_id}", agents.patch, spec.AGENT_PATCH_BODY),
        Route("DELETE", "/v1/convai/agents/{agent_id}", agents.delete),
        Route("POST", "/v1/convai/agents/{agent_id}/duplicate", agents.duplicate, AGENT_DUPLICATE_BODY),
        Route("GET", "/v1/convai/tags", tags.list),
        Route("POST", "/v1/convai/tags", tags.create, spec.TAG_CREATE_BODY, True),
        Route("GET", "/v1/convai/tags/{tag_id}", tags.get),
        Route("PATCH", "/v1/convai/tags/{tag_id}", tags.patch, spec.TAG_PATCH_BODY, True),
        Route("DELETE", "/v1/convai/tags/{tag_id}", tags.delete),
        Route("POST", "/v1/convai/conversations/{conversation_id}/tags", tags.assign, ASSIGN_BODY, True),
        Route("DELETE", "/v1/convai/conversations/{conversation_id}/tags/{tag_id}", tags.unassign),
    ]


def resource_routes(tools: ToolApi, mcp: McpServerApi) -> list[Route]:
    """The routes of the resources agents point at: tools and MCP servers."""
    return [
        Route("GET", "/v1/convai/tools", tools.list),
        Route("POST", "/v1/convai/tools", tools.create, spec.TOOL_CREATE_BODY, True),
        Route("GET", "/v1/convai/tools/{tool_id}", tools.get),
        Route("PATCH", "/v1/convai/tools/{tool_id}", tools.patch, spec.TOOL_UPDATE_BODY, True),
        Route("DELETE", "/v1/convai/tools/{tool_id}", tools.delete),
        Route("GET", "/v1/convai/tools/{tool_id}/dependent-agents", tools.dependents),
        Route("GET", "/v1/convai/mcp-servers", mcp.list),
        Route("POST", "/v1/convai/mcp-servers", mcp.create, spec.MCP_SERVER_CREATE_BODY, True),
        Route("GET", "/v1/convai/mcp-servers/{mcp_server_id}", mcp.get),
        Route(
            "PATCH", "/v1/convai/mcp-servers/{mcp_server_id}", mcp.patch, spec.MCP_SERVER_UPDATE_BODY, True
        ),
        Route("DELETE", "/v1/convai/mcp-servers/{mcp_server_id}", mcp.delete),
    ]


def workspace_routes(
    secrets: SecretApi, env_vars: EnvironmentVariableApi, numbers: PhoneNumberApi
) -> list[Route]:
    """The routes of workspace resources: secrets, environment variables (no DELETE), phone numbers."""
    secret = "/v1/convai/secrets/{secret_id}"
    env_var = "/v1/convai/environment-variables/{env_var_id}"
    number = "/v1/convai/phone-numbers/{phone_number_id}"
    return [
        Route("GET", "/v1/convai/secrets", secrets.listing),
        Route("POST", "/v1/convai/secrets", secrets.create, spec.SECRET_CREATE_BODY, True),
        Route("GET", secret, secrets.get),
        Route("PATCH", secret, secrets.patch, spec.SECRET_PATCH_BODY, True),
        Route("DELETE", secret, secrets.delete),
        Route("GET", secret + "/dependencies/{resource_type}", secrets.dependencies),
        Route("GET", "/v1/convai/environment-variables", env_vars.list),
        Route("POST", "/v1/convai/environment-variables", env_vars.create, spec.ENV_VAR_CREATE_BODY, True),
        Route("GET", env_var, env_vars.get),
        Route("PATCH", env_var, env_vars.patch, spec.ENV_VAR_PATCH_BODY, True),
        Route("GET", "/v1/convai/phone-numbers", numbers.list),
        Route("GET", number, numbers.get),
        Route("PATCH", number, numbers.patch, spec.PHONE_NUMBER_PATCH_BODY, True),
    ]


def testing_routes(tests: AgentTestApi, runs: TestRunApi) -> list[Route]:
    """The routes of agent tests and their runs."""
    invocation = "/v1/convai/test-invocations/{test_invocation_id}"
    return [
        Route("GET", "/v1/convai/agent-testing", tests.list),
        Route("POST", "/v1/convai/agent-testing/create", tests.create, TEST_CREATE, True),
        Route("GET", "/v1/convai/agent-testing/{test_id}", tests.get),
        Route("PUT", "/v1/convai/agent-testing/{test_id}", tests.put, TEST_UPDATE, True),
        Route("DELETE", "/v1/convai/agent-testing/{test_id}", tests.delete),
        Route("POST", "/v1/convai/agents/{agent_id}/run-tests", runs.run, spec.RUN_TESTS_BODY, True),
        Route("GET", "/v1/convai/test-invocations", runs.list),
        Route("GET", invocation, runs.get),
        Route("POST", f"{invocation}/resubmit", runs.resubmit, spec.RESUBMIT_TESTS_BODY, True),
    ]


def read_body(route: Route, raw: bytes) -> Any:
    """The parsed body, checked against the route's schema; 422 when missing, malformed or invalid."""
    if route.body_schema is None:
        return None
    if not raw:  # only an empty body is absent; whitespace is malformed JSON, as FastAPI reads it
        if route.body_required:
            raise validation_problem(
                [{"loc": ["body"], "msg": "Field required", "type": "missing", "input": None}]
            )
        return {}
    body = parse_json(raw)
    errors = body_errors(route.body_schema, body)
    if errors:
        raise validation_problem(errors)
    return body


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid UTF-8"
        raise validation_problem(
            [
                {
                    "loc": ["body", position],
                    "msg": "JSON decode error",
                    "type": "json_invalid",
                    "input": {},
                    "ctx": {"error": reason},
                }
            ]
        ) from None


def body_errors(schema_name: str, body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return [
            {
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "type": "model_attributes_type",
                "input": body,
            }
        ]
    if schema_name == spec.AGENT_PATCH_BODY:
        return errors_from(_lenient_patch_validator().iter_errors(body), ["body"])
    if schema_name == spec.TOOL_CREATE_BODY:
        return request_errors(body)
    if schema_name == spec.ENV_VAR_CREATE_BODY:
        return env_var_errors(body)

    if schema_name == TEST_CREATE:
        return test_errors(body, spec.TEST_CREATE_BODIES)
    if schema_name == TEST_UPDATE:
        return test_errors(body, spec.TEST_UPDATE_BODIES)
    return errors_for(body, schema_name, ["body"])


@lru_cache(maxsize=1)
def _lenient_patch_validator() -> Draft202012Validator:
    """The PATCH body as the raw API types it: the config parts are free-form objects, checked in full
    only after they are merged with the stored agent."""
    node = json.loads(json.dumps(spec.schema(spec.AGENT_PATCH_BODY)))
    for name in ("conversation_config", "platform_settings"):
        node["properties"][name].pop("$ref", None)
    return validator_for(node)


__all__ = ["App", "HttpProblem"]
