"""Transport-free request and response values, and the route table's entry type."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentsync.emulator.config import ApiKey


@dataclass(frozen=True)
class Request:
    """A request that passed routing, validation and auth."""

    method: str
    route: str
    params: dict[str, str]
    query: dict[str, Any]
    body: Any
    caller: ApiKey


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # True when the store changed: drives "commit then fail" and saving the state file.
    wrote: bool = False


def json_response(value: Any, status: int = 200, *, wrote: bool = False) -> Response:
    return Response(status, json.dumps(value, separators=(",", ":")).encode(), wrote=wrote)


def raw_json_response(body: bytes, *, wrote: bool = False) -> Response:
    return Response(200, body, wrote=wrote)


def no_content() -> Response:
    return Response(204, b"", wrote=True)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    """``template`` is the OpenAPI path (it names the operation and the stats row)."""

    method: str
    template: str
    handler: Handler
    # Component schema of the body, checked before auth; None when the handler validates it.
    body_schema: str | None = None
    body_required: bool = False
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        return found.groupdict() if found else None
