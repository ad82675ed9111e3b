"""Hostile answers: a successful read whose body is broken in one of the ways a proxy, a bad deploy or a
truncated transfer breaks real answers. Clients must turn each into a clear error, never a wrong plan.

Only 200 answers to GET are touched, so the store itself never changes. The kinds:

- ``truncated``: the first half of the JSON body.
- ``not_object``: the body wrapped in a JSON list.
- ``wrong_type``: a list's items array becomes a string; an agent's ``conversation_config`` becomes a number;
  a tag's ``title`` becomes a number; in an answer that is the list itself, each ``phone_number``.
- ``bad_items``: every item of a list answer becomes a number.
- ``no_has_more``: a list answer without ``has_more``.
- ``html``: a 502 with an HTML error page, as a load balancer sends it.
- ``huge``: a valid JSON object of ``huge_bytes`` bytes, with its Content-Length.
- ``huge_chunked``: the same, sent chunked (no Content-Length), so only counting the bytes can stop it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agentsync.emulator.config import HOSTILE_KINDS
from agentsync.emulator.routing import Response

KINDS = HOSTILE_KINDS

# List answers only: "phone_numbers" is also a field of a GET agent body, so it is not one of them.
LIST_KEYS = (
    "agents",
    "conversation_tags",
    "tools",
    "mcp_servers",
    "secrets",
    "environment_variables",
    "tests",
)
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>The upstream server did not answer.</p></body></html>"
)


def corrupt(kind: str, response: Response, huge_bytes: int) -> Response:
    """``response`` (a 200 JSON answer) broken the ``kind`` way; unknown kinds are a bug in the caller."""
    return _MAKERS[kind](response, huge_bytes)


def _truncated(response: Response, huge_bytes: int) -> Response:
    return Response(200, response.body[: max(1, len(response.body) // 2)])


def _not_object(response: Response, huge_bytes: int) -> Response:
    return Response(200, b"[" + response.body + b"]")


def _reshaped(change: Callable[[dict[str, Any]], None]) -> Callable[[Response, int], Response]:
    def make(response: Response, huge_bytes: int) -> Response:
        data = json.loads(response.body)
        if isinstance(data, dict):
            change(data)
        elif isinstance(data, list) and change is _wrong_type:
            # An answer that is the list itself (phone numbers): each number becomes a number.
            for item in data:
                if isinstance(item, dict) and "phone_number" in item:
                    item["phone_number"] = 42
        return Response(200, json.dumps(data).encode())

    return make


def _wrong_type(data: dict[str, Any]) -> None:
    for key in LIST_KEYS:
        if key in data:
            data[key] = "not a list"
            return
    if "conversation_config" in data:
        data["conversation_config"] = 42
    elif "title" in data:
        data["title"] = 42


def _bad_items(data: dict[str, Any]) -> None:
    for key in LIST_KEYS:
        if isinstance(data.get(key), list):
            data[key] = list(range(len(data[key]) or 1))


def _no_has_more(data: dict[str, Any]) -> None:
    data.pop("has_more", None)


def _html(response: Response, huge_bytes: int) -> Response:
    return Response(502, HTML_PAGE, {"Content-Type": "text/html; charset=utf-8"})


def _huge_body(size: int) -> bytes:
    head, tail = b'{"padding":"', b'"}'
    return head + b"a" * max(0, size - len(head) - len(tail)) + tail


def _huge(response: Response, huge_bytes: int) -> Response:
    return Response(200, _huge_body(huge_bytes))


def _huge_chunked(response: Response, huge_bytes: int) -> Response:
    body = _huge_body(huge_bytes)
    # One chunk and the terminator: the server writes the body as is, without a Content-Length.
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    return Response(200, chunked, {"Transfer-Encoding": "chunked"})


_MAKERS: dict[str, Callable[[Response, int], Response]] = {
    "truncated": _truncated,
    "not_object": _not_object,
    "wrong_type": _reshaped(_wrong_type),
    "bad_items": _reshaped(_bad_items),
    "no_has_more": _reshaped(_no_has_more),
    "html": _html,
    "huge": _huge,
    "huge_chunked": _huge_chunked,
}
