"""The sentences of the client's failures: what an HTTP error answer says (its FastAPI-style body, its
request id, ``Retry-After``), and what a request that got no answer means, in words a user can act on."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from sys import intern
from typing import Any

from agentsync.errors import ApiError, ApiErrorDetail, NetworkError
from agentsync.transport import Answer, TransportError

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# The largest answer read: a page of 100 agent summaries or one agent with long prompts is well under
# 1 MiB; anything near this is a misdirected URL or a broken proxy, and reading it would only eat memory.
MAX_BODY_BYTES = 32 * 2**20
# More resources of one kind than any workspace is taken to hold; a list that pages past them is a server
# that never ends it (see page_cap).
MAX_LIST_ITEMS = 100_000


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta seconds or an HTTP date; None if unusable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # only for a date: about 5 ms of start-up that most runs never need

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# -- error sentences -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    message: str | None = None
    code: str | None = None
    request_id: str | None = None
    field_errors: tuple[str, ...] = ()


def parse_error_body(text: str) -> _Parsed | None:
    """Read the API's error shapes: object ``detail``, list ``detail`` (422), or string ``detail``.
    None when the body is not JSON with a ``detail`` (an HTML error page, a proxy's answer)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str):
        return _Parsed(message=detail)
    if isinstance(detail, list):
        return _Parsed(field_errors=tuple(_field_error(item) for item in detail))
    if isinstance(detail, dict):
        return _object_detail(detail)
    return None


def _object_detail(detail: Mapping[str, Any]) -> _Parsed:
    code = detail.get("code") or detail.get("status")
    message = detail.get("message")
    return _Parsed(
        message=str(message) if message else None,
        code=str(code) if code else None,
        request_id=_str_or_none(detail.get("request_id")),
    )


def _str_or_none(value: Any) -> str | None:
    return str(value) if value else None


def _field_error(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = ".".join(str(part) for part in item.get("loc") or ())
    msg = item.get("msg") or item.get("message") or "invalid"
    return f"{loc}: {msg}" if loc else str(msg)


def api_error(
    method: str, url: str, status: int, text: str, content_type: str = "", request_id: str | None = None
) -> ApiError:
    """The one-sentence error for an HTTP error answer."""
    parsed = parse_error_body(text)
    if parsed is None:
        sentence = f"{method} {url} failed with HTTP {status} and a body that is not the API's ({content_type or 'not JSON'})"
        detail = ApiErrorDetail(status, method, url, sentence, request_id=request_id)
        return ApiError(detail, hint="check the base URL, or try again if the service is down")
    rid = parsed.request_id or request_id
    sentence, hint = _sentence(method, url, status, parsed, rid)
    detail = ApiErrorDetail(
        status,
        method,
        url,
        sentence,
        request_id=rid,
        code=parsed.code,
        field_errors=list(parsed.field_errors),
    )
    return ApiError(detail, hint=hint)


def _sentence(
    method: str, url: str, status: int, parsed: _Parsed, request_id: str | None
) -> tuple[str, str | None]:
    said = f": {parsed.message}" if parsed.message else ""
    where = f"{method} {url}"
    if status == 401:
        return (
            f"the API key was rejected (401) on {where}{said}",
            "check the API key variable (ELEVENLABS_API_KEY or the environment's api_key_env)",
        )
    if status == 403:
        return f"the API key is not allowed to do {where} (403){said}", "ask a workspace admin for access"
    if status == 404:
        return f"{where} found nothing (404){said}", None
    if status == 422:
        return _validation_sentence(where, parsed), "fix the field in the agent or tag file"
    if status == 429:
        return (
            f"the API is rate limiting {where} (429){said}",
            "lower --concurrency or try again in a minute",
        )
    if status >= 500:
        rid = f" (request id {request_id})" if request_id else ""
        return (
            f"the server failed with HTTP {status} on {where}{rid}{said}",
            "try again; if it keeps failing, quote the request id to ElevenLabs support",
        )
    return f"the API refused {where} (HTTP {status}){said}", None


def _validation_sentence(where: str, parsed: _Parsed) -> str:
    if not parsed.field_errors:
        return f"the API rejected {where} as invalid (422): {parsed.message or 'no details given'}"
    first = parsed.field_errors[0]
    more = len(parsed.field_errors) - 1
    extra = f" (and {more} more: {'; '.join(parsed.field_errors[1:])})" if more else ""
    return f"the API rejected {where} as invalid (422): {first}{extra}"


def network_error(method: str, url: str, exc: TransportError, timeout: float) -> NetworkError:
    """The one-sentence error for a request that got no HTTP answer."""
    ambiguous = exc.sent and method in WRITE_METHODS
    if exc.timed_out and not exc.sent:
        message = f"could not connect to {url}: timed out after {timeout:g} s"
    elif exc.timed_out:
        message = f"{method} {url} timed out after {timeout:g} s without an answer"
    elif not exc.sent:
        message = f"could not connect to {url}: {exc.reason}"
    else:
        message = f"the connection to {url} was dropped before {method} got an answer"
    hint = (
        "check the base URL and the network"
        if not exc.sent
        else "try again; agentsync re-reads the workspace first"
    )
    return NetworkError(message, url=url, hint=hint, ambiguous=ambiguous, late=exc.timed_out and exc.sent)


def overdue(method: str, url: str, deadline: float) -> NetworkError:
    """The one-sentence error for a request whose answer did not arrive whole before its deadline."""
    return NetworkError(
        f"{method} {url} got no whole answer within its {deadline:g} s deadline, so it was cut off",
        url=url,
        ambiguous=method in WRITE_METHODS,
        late=True,
        hint="check that the base URL points at the ElevenLabs API; an answer that slow is not the API's",
    )


# --- reading answers ----------------------------------------------------------------------------------


def page_items(page: Any, items_key: str, url: str) -> list[dict[str, Any]]:
    items = page.get(items_key) if isinstance(page, dict) else None
    if not isinstance(items, list):
        raise NetworkError(f"the list answer from {url} has no {items_key!r} array", url=url)
    return items


def has_more(page: Mapping[str, Any], url: str) -> bool:
    has_more = page.get("has_more")
    if not isinstance(has_more, bool):
        # Without it a first page would pass for the whole list, and what is on the next looks absent.
        raise NetworkError(
            f"the list answer from {url} has no true/false has_more, so it may not be the whole list",
            url=url,
            hint="check that the base URL points at the ElevenLabs API, or try again",
        )
    return has_more


def next_cursor(page: Mapping[str, Any], seen: set[str], url: str) -> str:
    cursor = page.get("next_cursor")
    if not isinstance(cursor, str) or not cursor:
        # Stopping here would silently lose what is on the next page.
        raise NetworkError(f"the list answer from {url} says has_more but gives no new next_cursor", url=url)
    if cursor in seen:
        raise NetworkError(
            f"the list answer from {url} gives a next_cursor it gave before, so paging it would loop for ever",
            url=url,
            hint="check that the base URL points at the ElevenLabs API, or try again",
        )
    seen.add(cursor)
    return cursor


def endless(url: str, cap: int) -> NetworkError:
    return NetworkError(
        f"the list at {url} still says has_more after {cap:,} pages, more than any workspace holds "
        f"({MAX_LIST_ITEMS:,} resources), so it was not read to the end",
        url=url,
        hint="check that the base URL points at the ElevenLabs API",
    )


def object_answer(method: str, url: str, value: Any) -> dict[str, Any]:
    """A write's answer, which the API always sends as a JSON object (the resource, or its new id)."""
    if isinstance(value, dict):
        return value
    said = "no body" if value is None else "JSON that is not an object"
    raise NetworkError(
        f"the answer to {method} {url} has {said} where the API sends a JSON object, so it is "
        "unknown whether the write took",
        url=url,
        ambiguous=True,
        hint="check that the base URL points at the ElevenLabs API; agentsync re-reads the workspace first",
    )


def too_large(method: str, url: str) -> NetworkError:
    """The one-sentence error for an answer over :data:`MAX_BODY_BYTES`, which was not read."""
    limit = MAX_BODY_BYTES
    return NetworkError(
        f"the answer to {method} {url} is larger than {_size(limit)}, more than any API "
        "answer needs; it was not read",
        url=url,
        ambiguous=method in WRITE_METHODS,
        hint="check that the base URL points at the ElevenLabs API",
    )


def _size(count: int) -> str:
    return f"{count // 2**20} MiB" if count >= 2**20 else f"{count:,} bytes"


def redirected(method: str, url: str, response: Answer) -> NetworkError:
    target = response.header("location", "another address")
    return NetworkError(
        f"{method} {url} was redirected ({response.status}) to {target}; agentsync does "
        "not follow redirects, so the API key stays with the host it was meant for",
        url=url,
        hint="use the base URL the redirect points at, if you trust it",
    )


def decode(method: str, url: str, response: Answer, *, shared: bool = True) -> Any:
    """The JSON of an answer; ``shared`` interns its keys and short strings (see ``_decode_shared``),
    which pays for a body that is kept and costs CPU for one that is looked at once and dropped."""
    if response.status == 204 or not response.content:
        return None
    try:
        if not shared:
            return json.loads(response.content)
        return _decode_shared(response.content)
    except RecursionError:  # nested deeper than the hook can go: decoded as it is
        pass
    except ValueError:
        raise NetworkError(
            f"the answer to {method} {url} is not JSON ({content_type(response)}, status {response.status})",
            url=url,
            hint="check that the base URL points at the ElevenLabs API",
        ) from None
    return json.loads(response.content)


# Strings up to this long are shared between answers (sys.intern): the keys, enums, model and voice
# names that every agent body repeats. Longer ones (prompts, messages) are rarely equal.
SHARED_STRING_LENGTH = 64


def _shared_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {
        intern(k): intern(v) if type(v) is str and len(v) <= SHARED_STRING_LENGTH else v for k, v in pairs
    }


_SHARING_DECODER = json.JSONDecoder(object_pairs_hook=_shared_object)


def _decode_shared(content: bytes) -> Any:
    """JSON with the keys and short values of every object interned as the decoder builds it: thousands
    of agent bodies hold the same few hundred keys and defaults, and the decoder makes a new string for
    each one (half of a body's memory). Interned strings are freed with their last user."""
    return _SHARING_DECODER.decode(content.decode(json.detect_encoding(content), "surrogatepass"))


def content_type(response: Answer) -> str:
    return response.header("content-type", "no content type").split(";")[0].strip()
