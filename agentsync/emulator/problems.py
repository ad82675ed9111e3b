"""Error answers of the emulated API, raised inside handlers and rendered by the server.

Two body shapes, as the real API uses them: FastAPI's 422 list (``{"detail": [{loc, msg, type, ...}]}``)
and the object-style ``{"detail": {type, code, message, status, request_id}}`` for everything else. The
request id is filled in by the server when it renders the answer.
"""

from __future__ import annotations

from typing import Any

from agentsync.errors import AgentsyncError


class HttpProblem(AgentsyncError):
    """An error response; ``body`` is the JSON body without its request id."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def detail_problem(
    status: int,
    type_: str,
    code: str,
    message: str,
    *,
    legacy_status: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpProblem:
    detail: dict[str, Any] = {
        "type": type_,
        "code": code,
        "message": message,
        "status": legacy_status or code,
    }
    if param is not None:
        detail["param"] = param
    return HttpProblem(status, {"detail": detail}, headers)


def validation_problem(errors: list[dict[str, Any]]) -> HttpProblem:
    return HttpProblem(422, {"detail": errors})


def invalid_cursor(cursor: str) -> HttpProblem:
    """A 422 for a ``cursor`` query parameter that this listing did not hand out."""
    return validation_problem(
        [
            {
                "loc": ["query", "cursor"],
                "msg": "Invalid cursor",
                "type": "value_error",
                "input": cursor,
                "ctx": {"error": "invalid cursor"},
            }
        ]
    )


def not_found(kind: str, ident: str) -> HttpProblem:
    return detail_problem(
        404, "not_found", f"{kind}_not_found", f"{kind.capitalize()} with id {ident} was not found."
    )


def missing_key() -> HttpProblem:
    message = "Neither authorization header nor xi-api-key received, please provide one."
    return detail_problem(
        401, "authentication_error", "unauthorized", message, legacy_status="needs_authorization"
    )


def invalid_key() -> HttpProblem:
    return detail_problem(
        401, "authentication_error", "unauthorized", "Invalid API key", legacy_status="invalid_api_key"
    )


def forbidden(message: str) -> HttpProblem:
    return detail_problem(403, "authorization_error", "forbidden", message, legacy_status="forbidden")


def bad_config(message: str, param: str) -> HttpProblem:
    return detail_problem(400, "validation_error", "invalid_parameters", message, param=param)


def too_many(code: str, message: str, retry_after: int) -> HttpProblem:
    legacy = "too_many_concurrent_requests" if code == "concurrent_limit_exceeded" else "system_busy"
    return detail_problem(
        429,
        "rate_limit_error",
        code,
        message,
        legacy_status=legacy,
        headers={"Retry-After": str(retry_after)},
    )


def server_error(status: int = 500) -> HttpProblem:
    return detail_problem(
        status, "internal_error", "internal_server_error", "An internal error occurred; please retry."
    )


def route_not_found() -> HttpProblem:
    # FastAPI's answer for a path no route matches.
    return HttpProblem(404, {"detail": "Not Found"})


def method_not_allowed(allowed: list[str]) -> HttpProblem:
    """FastAPI's answer for a path that exists without this method: the methods it has go in ``Allow``."""
    return HttpProblem(405, {"detail": "Method Not Allowed"}, {"Allow": ", ".join(allowed)})
