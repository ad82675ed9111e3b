"""The ``api`` fixture: a requests session against the emulator that checks every response it sees.

At the end of each test every recorded body is validated: a 200 against the operation's 200 schema in
the packaged OpenAPI document, a 422 against HTTPValidationError (plus the pydantic ``input`` field),
anything else against the object-style error shape; every response must carry a ``request-id`` header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
import requests
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from agentsync import spec
from agentsync.emulator import ADMIN_KEY, MEMBER_KEY, Emulator

DOC = "urn:test:openapi"
_REGISTRY = Registry().with_resource(
    DOC, Resource.from_contents(spec.document(), default_specification=DRAFT202012)
)
ERROR_DETAIL = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "type": "object",
            "required": ["type", "code", "message", "status", "request_id"],
            "properties": {
                k: {"type": "string"} for k in ("type", "code", "message", "status", "request_id")
            },
        }
    },
}


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema, registry=_REGISTRY)


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", template) + "$")


# Literal paths first, so /agents/create is not taken for /agents/{agent_id}.
_OPERATIONS = sorted(spec.document()["paths"], key=lambda p: p.count("{"))


def operation_template(method: str, path: str) -> str:
    for template in _OPERATIONS:
        if _pattern(template).match(path) and method.lower() in spec.document()["paths"][template]:
            return template
    raise AssertionError(f"no operation for {method} {path}")


def success_schema(method: str, template: str) -> dict[str, Any] | None:
    responses = spec.operation(method, template)["responses"]
    content = (responses.get("200") or {}).get("content")
    if not content:
        return None
    found: dict[str, Any] = content["application/json"]["schema"]
    return _absolute(found)


def _absolute(node: Any) -> Any:
    """Point the document's local $refs at the registered document."""
    if isinstance(node, dict):
        return {k: (f"{DOC}{v}" if k == "$ref" else _absolute(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute(v) for v in node]
    return node


@dataclass
class Api:
    """requests against the emulator with a key, recording every response for the final check."""

    emulator: Emulator
    session: requests.Session = field(default_factory=requests.Session)
    seen: list[tuple[str, str, requests.Response]] = field(default_factory=list)

    def call(
        self, method: str, path: str, *, key: str | None = ADMIN_KEY, **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["xi-api-key"] = key
        response = self.session.request(
            method, self.emulator.url + path, headers=headers, timeout=10, **kwargs
        )
        self.seen.append((method, path.split("?")[0], response))
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def create_agent(self, body: dict[str, Any] | None = None, **kwargs: Any) -> str:
        payload = {"conversation_config": {}} if body is None else body
        response = self.post("/v1/convai/agents/create", json=payload, **kwargs)
        assert response.status_code == 200, response.text
        agent_id: str = response.json()["agent_id"]
        return agent_id

    def create_tag(
        self, title: str, *, key: str = ADMIN_KEY, description: str | None = None
    ) -> dict[str, Any]:
        response = self.post("/v1/convai/tags", json={"title": title, "description": description}, key=key)
        assert response.status_code == 200, response.text
        tag: dict[str, Any] = response.json()
        return tag

    def check_all(self) -> None:
        for method, path, response in self.seen:
            check_response(method, path, response)


def check_response(method: str, path: str, response: requests.Response) -> None:
    where = f"{method} {path} -> {response.status_code}"
    assert response.headers.get("request-id"), f"{where}: no request-id header"
    if response.status_code == 204:
        assert response.content == b"", where
        return
    body = response.json()
    if response.status_code == 422:
        _validator(_absolute({"$ref": "#/components/schemas/HTTPValidationError"})).validate(body)
        assert body["request_id"] and all("input" in item for item in body["detail"]), where
    elif response.status_code in (404, 405) and isinstance(body.get("detail"), str):
        assert body["request_id"], where  # FastAPI's answer for a route that does not exist
    elif response.status_code >= 400:
        _validator(ERROR_DETAIL).validate(body)
    elif response.status_code == 200:
        schema = success_schema(method, operation_template(method, path))
        if schema is not None:
            errors = list(_validator(schema).iter_errors(body))
            assert not errors, f"{where}: {errors[0].message} at {list(errors[0].absolute_path)}"


@pytest.fixture
def api(emulator: Emulator) -> Iterator[Api]:
    client = Api(emulator)
    yield client
    client.session.close()
    client.check_all()


__all__ = ["ADMIN_KEY", "MEMBER_KEY", "Api"]
