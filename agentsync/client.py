"""Talking to the ElevenLabs API: one keep-alive session, auth, timeouts, retries, pagination, concurrency.

Every failure becomes an :class:`~agentsync.errors.ApiError` or :class:`~agentsync.errors.NetworkError`
whose message is one sentence a user can act on. The API key lives only in the session headers: it is
never part of a message, a repr or a file.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from agentsync import __version__
from agentsync.deadline import Ticket, Watchdog, WatchedAdapter
from agentsync.errors import ApiError, ApiErrorDetail, NetworkError, UsageError
from agentsync.hosts import is_loopback
from agentsync.project import RESIDENCIES

T = TypeVar("T")
R = TypeVar("R")

API_KEY_HEADER = "xi-api-key"
DEFAULT_RESIDENCY = "global"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# The largest answer read: a page of 100 agent summaries or one agent with long prompts is well under
# 1 MiB; anything near this is a misdirected URL or a broken proxy, and reading it would only eat memory.
MAX_BODY_BYTES = 32 * 2**20
BODY_CHUNK = 64 * 1024
# The overall deadline of one request, as a multiple of the read timeout when not given: time for a
# slow answer, never for one that trickles in for ever.
DEADLINE_FACTOR = 3.0
# More resources of one kind than any workspace is taken to hold; a list that pages past them is a server
# that never ends it (see page_cap).
MAX_LIST_ITEMS = 100_000
DEFAULT_PAGE_SIZE = 30  # what the agents list sends when no page_size is asked for (the tags list: 100)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # per request, first try included
    base_delay: float = 0.5  # jittered exponential backoff: uniform(0, min(max_delay, base * 2**n))
    max_delay: float = 10.0
    max_total: float = 60.0  # give up when the next wait would pass this many seconds since the first try

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """The wait before try ``attempt + 1``: the server's Retry-After when given, else full jitter."""
        if retry_after is not None:
            return max(0.0, min(self.max_delay, retry_after))
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


NO_RETRY = RetryPolicy(max_attempts=1)


def resolve_base_url(base_url: str | None, residency: str | None) -> str:
    """The API root from an explicit URL, else a residency name (``global``, ``us``, ``eu-residency``,
    ``in-residency``, ``sg-residency``, as the official CLI names them), else the global API."""
    if base_url:
        return _checked_url(base_url)
    name = (residency or DEFAULT_RESIDENCY).strip().lower()
    if name not in RESIDENCIES:
        known = ", ".join(RESIDENCIES)
        raise UsageError(f"unknown residency {residency!r}", hint=f"use one of: {known}")
    return RESIDENCIES[name]


def checked_key(api_key: str, where: str = "") -> str:
    """The key as it goes into the header. One trailing line break (what ``echo`` and many secret stores
    add) is dropped silently; any other character that is not visible ASCII is refused, in a sentence
    that never quotes the key, since requests would print the whole header or crash on it."""
    for ending in ("\r\n", "\n"):
        if api_key.endswith(ending):
            api_key = api_key[: -len(ending)]
            break
    source = f" in {where}" if where else ""
    if not api_key:
        raise UsageError(f"the API key{source} is empty", hint="set it to the key ElevenLabs shows")
    if not all("!" <= char <= "~" for char in api_key):
        raise UsageError(
            f"the API key{source} has a character an HTTP header cannot carry "
            "(a space, a line break, a control character or a non-ASCII letter)",
            hint="set it to the key exactly as ElevenLabs shows it",
        )
    return api_key


def page_cap(page_size: int) -> int:
    """The most pages a list may have: :data:`MAX_LIST_ITEMS` at ``page_size`` a page, one more for a
    last empty page. A server that still says ``has_more`` after that is never going to stop."""
    return math.ceil(MAX_LIST_ITEMS / max(page_size, 1)) + 1


def _checked_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"the base URL {url!r} is not an http(s) URL", hint="write it like https://api.elevenlabs.io"
        )
    return url.strip().rstrip("/")


def check_transport(base_url: str) -> None:
    """Refuse to send a key in clear text anywhere but this machine."""
    parts = urlsplit(base_url)
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        raise UsageError(
            f"refusing to send the API key over plain HTTP to {parts.hostname}",
            hint="use an https:// base URL (plain http is allowed only for 127.0.0.1 and localhost)",
        )


def connect(
    base_url: str | None = None,
    residency: str | None = None,
    *,
    api_key: str | None,
    key_source: str = "ELEVENLABS_API_KEY",
    **options: Any,
) -> Client:
    """A :class:`Client` for the resolved base URL; a missing key is a usage error naming where it
    was looked for (``key_source``, an environment variable name)."""
    if not api_key:
        raise UsageError(
            f"no API key: the environment variable {key_source} is not set",
            hint=f"export {key_source}=... (the key is read only from the environment)",
        )
    key = checked_key(api_key, f"the environment variable {key_source}")
    return Client(resolve_base_url(base_url, residency), key, **options)


class Client:
    """A thread-safe API client: ``get``/``post``/``patch``/``delete`` return the decoded JSON body."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        deadline: float | None = None,
        concurrency: int = 8,
        retry: RetryPolicy = RetryPolicy(),
        user_agent: str | None = None,
    ) -> None:
        self.base_url = _checked_url(base_url)
        check_transport(self.base_url)
        if concurrency < 1:
            raise UsageError(f"concurrency must be at least 1, not {concurrency}")
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else timeout * DEADLINE_FACTOR
        self.concurrency = concurrency
        self.retry = retry
        self._session = _make_session(checked_key(api_key), concurrency, user_agent)
        # One prepared request per method, copied for each call: Session.request merges the session's
        # settings and re-checks every header each time, which costs more CPU than the request itself.
        self._templates = {
            m: self._session.prepare_request(requests.Request(m, self.base_url))
            for m in ("GET", "POST", "PATCH", "PUT", "DELETE")
        }
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._watchdog = Watchdog()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, concurrency={self.concurrency})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()
        self._watchdog.close()

    @property
    def stats(self) -> dict[str, int]:
        """Requests sent per HTTP method, and ``retries``: e.g. ``{"GET": 12, "PATCH": 3, "retries": 1}``."""
        with self._lock:
            return dict(self._counts)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._request("GET", path, params=params, retry=True)

    def post(self, path: str, body: Mapping[str, Any] | None = None, *, retry: bool = False) -> Any:
        # A create is never blindly retried: a lost answer could mean the resource now exists.
        return _object_answer("POST", self._url(path), self._request("POST", path, body=body, retry=retry))

    def patch(self, path: str, body: Mapping[str, Any]) -> Any:
        # Re-sending the same PATCH converges to the same state, so it is safe to retry.
        return _object_answer("PATCH", self._url(path), self._request("PATCH", path, body=body, retry=True))

    def put(self, path: str, body: Mapping[str, Any]) -> Any:
        # A PUT replaces the whole resource with the same body each time: safe to retry.
        return _object_answer("PUT", self._url(path), self._request("PUT", path, body=body, retry=True))

    def delete(self, path: str) -> None:
        self._request("DELETE", path, retry=True)

    def paginate(
        self, path: str, items_key: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list; stops on ``has_more`` (not on a null cursor). A list
        longer than :func:`page_cap` pages, or a cursor given twice, is an error: it would never end."""
        query = dict(params or {})
        url = self._url(path)
        cap = page_cap(int(query.get("page_size") or DEFAULT_PAGE_SIZE))
        seen: set[str] = set()
        for _ in range(cap):
            page = self.get(path, query)
            yield from _page_items(page, items_key, url)
            if not _has_more(page, url):
                return
            query["cursor"] = _next_cursor(page, seen, url)
        raise _endless(url, cap)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R | BaseException]:
        """``fn`` over ``items``, at most ``concurrency`` at a time, in order; an exception takes the
        place of its result instead of being raised, so one failure never hides the others."""
        work = list(items)
        if self.concurrency == 1 or len(work) <= 1:
            return [_capture(fn, item) for item in work]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(work))) as pool:
            return list(pool.map(lambda item: _capture(fn, item), work))

    # -- one request, with retries -------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        retry: bool,
    ) -> Any:
        url = self._url(path)
        policy = self.retry if retry else NO_RETRY
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(method, url, params, body)
            if not isinstance(outcome, _Failure):
                return outcome.value
            if method == "DELETE" and attempt > 1 and outcome.status == 404:
                return None  # an earlier try that lost its answer already deleted it
            wait = policy.backoff(attempt, outcome.retry_after)
            if (
                not outcome.retryable
                or attempt >= policy.max_attempts
                or time.monotonic() - started + wait > policy.max_total
            ):
                raise outcome.error
            self._count("retries")
            time.sleep(wait)

    def _attempt(
        self, method: str, url: str, params: Mapping[str, Any] | None, body: Mapping[str, Any] | None
    ) -> _Success | _Failure:
        self._count(method)
        with self._watchdog.guard(self.deadline) as ticket:
            sent = self._send(method, url, params, body, ticket)
        if isinstance(sent, _Failure):
            return sent
        with sent:
            if sent.is_redirect:
                return _Failure(_redirected(method, url, sent), retryable=False)
            if sent.ok:
                return _Success(_decode(method, url, sent))
            return _failure(method, url, sent)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        ticket: Ticket,
    ) -> requests.Response | _Failure:
        """Send one request and read its whole answer before ``ticket``'s deadline."""
        try:
            # Streamed, so a body over MAX_BODY_BYTES is refused before it is all in memory.
            # Redirects are not followed: the key header would go along to wherever they point.
            response = self._session.send(
                self._prepare(method, url, params, body),
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
            with response:
                _read_body(method, url, response)
        except requests.RequestException as exc:
            if ticket.expired:
                return _Failure(overdue(method, url, self.deadline), retryable=False)
            return _Failure(network_error(method, url, exc, self.timeout), retryable=True)
        except NetworkError as exc:
            return _Failure(exc, retryable=False)
        if ticket.expired:
            # A cut can end a body that has no length as if it were complete: never trust it.
            return _Failure(overdue(method, url, self.deadline), retryable=False)
        return response

    def _prepare(
        self, method: str, url: str, params: Mapping[str, Any] | None, body: Mapping[str, Any] | None
    ) -> requests.PreparedRequest:
        prepared = self._templates[method].copy()
        prepared.prepare_url(url, _query(params))
        if body is not None:
            prepared.prepare_body(None, None, json=body)
        return prepared


# -- helpers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Success:
    value: Any


@dataclass(frozen=True)
class _Failure:
    error: ApiError | NetworkError
    retryable: bool
    status: int = 0
    retry_after: float | None = None


def _make_session(api_key: str, concurrency: int, user_agent: str | None) -> requests.Session:
    session = requests.Session()
    # Proxies from the environment would see the key; the API is reached directly.
    session.trust_env = False
    adapter = WatchedAdapter(pool_connections=1, pool_maxsize=max(concurrency, 1), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update(
        {
            API_KEY_HEADER: api_key,
            "Accept": "application/json",
            "User-Agent": user_agent or f"agentsync/{__version__}",
        }
    )
    return session


def _query(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Query values as the API reads them: booleans as ``true``/``false``, None left out."""
    if params is None:
        return None
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items() if v is not None}


def _capture(fn: Callable[[T], R], item: T) -> R | BaseException:
    try:
        return fn(item)
    except Exception as exc:
        return exc


def _page_items(page: Any, items_key: str, url: str) -> list[dict[str, Any]]:
    items = page.get(items_key) if isinstance(page, dict) else None
    if not isinstance(items, list):
        raise NetworkError(f"the list answer from {url} has no {items_key!r} array", url=url)
    return items


def _has_more(page: Mapping[str, Any], url: str) -> bool:
    has_more = page.get("has_more")
    if not isinstance(has_more, bool):
        # Without it a first page would pass for the whole list, and what is on the next looks absent.
        raise NetworkError(
            f"the list answer from {url} has no true/false has_more, so it may not be the whole list",
            url=url,
            hint="check that the base URL points at the ElevenLabs API, or try again",
        )
    return has_more


def _next_cursor(page: Mapping[str, Any], seen: set[str], url: str) -> str:
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


def _endless(url: str, cap: int) -> NetworkError:
    return NetworkError(
        f"the list at {url} still says has_more after {cap:,} pages, more than any workspace holds "
        f"({MAX_LIST_ITEMS:,} resources), so it was not read to the end",
        url=url,
        hint="check that the base URL points at the ElevenLabs API",
    )


def _object_answer(method: str, url: str, value: Any) -> dict[str, Any]:
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


def _read_body(method: str, url: str, response: requests.Response) -> None:
    """Read the body into ``response.content``, refusing (before or while reading) one over the limit."""
    limit = MAX_BODY_BYTES
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(method, url, limit)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(BODY_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(method, url, limit)
        chunks.append(chunk)
    response._content = b"".join(chunks)


def _too_large(method: str, url: str, limit: int) -> NetworkError:
    return NetworkError(
        f"the answer to {method} {url} is larger than {_size(limit)}, more than any API "
        "answer needs; it was not read",
        url=url,
        ambiguous=method in WRITE_METHODS,
        hint="check that the base URL points at the ElevenLabs API",
    )


def _size(count: int) -> str:
    return f"{count // 2**20} MiB" if count >= 2**20 else f"{count:,} bytes"


def _redirected(method: str, url: str, response: requests.Response) -> NetworkError:
    target = response.headers.get("Location", "another address")
    return NetworkError(
        f"{method} {url} was redirected ({response.status_code}) to {target}; agentsync does "
        "not follow redirects, so the API key stays with the host it was meant for",
        url=url,
        hint="use the base URL the redirect points at, if you trust it",
    )


def _decode(method: str, url: str, response: requests.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise NetworkError(
            f"the answer to {method} {url} is not JSON ({_content_type(response)}, status {response.status_code})",
            url=url,
            hint="check that the base URL points at the ElevenLabs API",
        ) from None


def _content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "no content type").split(";")[0].strip()


def _failure(method: str, url: str, response: requests.Response) -> _Failure:
    status = response.status_code
    error = api_error(
        method,
        url,
        status,
        response.text,
        _content_type(response),
        request_id=response.headers.get("x-request-id") or response.headers.get("request-id"),
    )
    if status >= 500 and method in WRITE_METHODS:
        error.ambiguous = True
    return _Failure(
        error,
        retryable=status in RETRYABLE_STATUSES,
        status=status,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta seconds or an HTTP date; None if unusable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
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


def network_error(method: str, url: str, exc: requests.RequestException, timeout: float) -> NetworkError:
    """The one-sentence error for a request that got no HTTP answer."""
    sent = _may_have_been_sent(exc)
    ambiguous = sent and method in WRITE_METHODS
    if isinstance(exc, requests.ConnectTimeout):
        message = f"could not connect to {url}: timed out after {timeout:g} s"
    elif isinstance(exc, requests.Timeout):
        message = f"{method} {url} timed out after {timeout:g} s without an answer"
    elif not sent:
        message = f"could not connect to {url}: {_refusal_reason(exc)}"
    else:
        message = f"the connection to {url} was dropped before {method} got an answer"
    hint = (
        "check the base URL and the network"
        if not sent
        else "try again; agentsync re-reads the workspace first"
    )
    return NetworkError(message, url=url, hint=hint, ambiguous=ambiguous)


def overdue(method: str, url: str, deadline: float) -> NetworkError:
    """The one-sentence error for a request whose answer did not arrive whole before its deadline."""
    return NetworkError(
        f"{method} {url} got no whole answer within its {deadline:g} s deadline, so it was cut off",
        url=url,
        ambiguous=method in WRITE_METHODS,
        hint="check that the base URL points at the ElevenLabs API; an answer that slow is not the API's",
    )


def _may_have_been_sent(exc: requests.RequestException) -> bool:
    """False only when the request certainly never left: the connection itself failed."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout):
        text = repr(exc)
        return not any(s in text for s in ("NewConnectionError", "NameResolutionError", "Connection refused"))
    return True


def _refusal_reason(exc: requests.RequestException) -> str:
    text = repr(exc)
    if "NameResolutionError" in text or "Name or service not known" in text:
        return "the host name does not resolve"
    if "refused" in text.lower():
        return "connection refused"
    return "the connection failed"
