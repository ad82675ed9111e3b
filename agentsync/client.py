"""Talking to the ElevenLabs API: one keep-alive session, auth, timeouts, retries, pagination, concurrency.

Every failure becomes an :class:`~agentsync.errors.ApiError` or :class:`~agentsync.errors.NetworkError`
whose message is one sentence a user can act on. The API key lives only in the session headers: it is
never part of a message, a repr or a file.
"""

from __future__ import annotations

import hashlib
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
from urllib.parse import urlencode, urlsplit

from agentsync import __version__, answers, progress
from agentsync.answers import (
    MAX_LIST_ITEMS,
    WRITE_METHODS,
    api_error,
    content_type,
    decode,
    endless,
    has_more,
    network_error,
    next_cursor,
    object_answer,
    overdue,
    page_items,
    parse_retry_after,
    redirected,
    too_large,
)
from agentsync.deadline import Ticket, Watchdog
from agentsync.errors import ApiError, NetworkError, UsageError
from agentsync.hosts import is_loopback
from agentsync.project import RESIDENCIES
from agentsync.transport import Answer, BodyTooLarge, Transport, TransportError

__all__ = [
    "NO_RETRY",
    "Client",
    "RetryPolicy",
    "checked_key",
    "connect",
    "page_cap",
    "parse_retry_after",
    "resolve_base_url",
]

T = TypeVar("T")
R = TypeVar("R")

API_KEY_HEADER = "xi-api-key"
DEFAULT_RESIDENCY = "global"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The overall deadline of one request, as a multiple of the read timeout when not given: time for a
# slow answer, never for one that trickles in for ever.
DEADLINE_FACTOR = 3.0
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
    that never quotes the key, since a header cannot carry it."""
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
        # Kept only to take it out of what the server sends back (see _without_key); never shown. A key
        # of a few characters (a test's) would match ordinary text, and hides nothing anyway.
        key = checked_key(api_key).encode()
        self._key = key if len(key) >= MIN_MASKED_KEY else b""
        self._concealed: tuple[bytes, ...] = ()  # see conceal
        headers = {
            API_KEY_HEADER: checked_key(api_key),
            "Accept": "application/json",
            "User-Agent": user_agent or f"agentsync/{__version__}",
        }
        # Proxies are never used (they would see the key) and redirects never followed.
        self._transport = Transport(self.base_url, headers, timeout=timeout, pool_size=concurrency)
        # Requests in flight, whichever threads send them (a fetch and reads started before it may
        # overlap): never more than ``concurrency``.
        self._slots = threading.BoundedSemaphore(concurrency)
        # Saved plans prove a secret is unchanged with an HMAC under this key, which only a holder of the
        # API key can compute: a plan file downloaded from CI says nothing guessable about the value.
        self.digest_key = hashlib.sha256(
            b"agentsync secret digest\0" + checked_key(api_key).encode()
        ).digest()
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
        self._transport.close()
        self._watchdog.close()

    def conceal(self, values: Iterable[str]) -> None:
        """Take ``values`` (what the project's ``${env.*}`` resolved to) out of every answer that is
        not a success, shown as ``(sensitive)``: an error may quote what a request sent, and errors are
        printed. Successful bodies are data the plan compares, and are left as they are."""
        self._concealed = tuple(sorted({v.encode() for v in values if v}, key=len, reverse=True))

    @property
    def stats(self) -> dict[str, int]:
        """Requests sent per HTTP method, and ``retries``: e.g. ``{"GET": 12, "PATCH": 3, "retries": 1}``."""
        with self._lock:
            return dict(self._counts)

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, keep: bool = True) -> Any:
        """The decoded answer; ``keep=False`` for one that is used once and dropped (a read-back):
        only a kept body's strings are shared with the other bodies (``answers.decode``)."""
        return self._request("GET", path, params=params, retry=True, shared=keep)

    def post(self, path: str, body: Mapping[str, Any] | None = None, *, retry: bool = False) -> Any:
        # A create is never blindly retried: a lost answer could mean the resource now exists.
        return object_answer("POST", self._url(path), self._request("POST", path, body=body, retry=retry))

    def patch(self, path: str, body: Mapping[str, Any]) -> Any:
        # Re-sending the same PATCH converges to the same state, so it is safe to retry.
        return object_answer("PATCH", self._url(path), self._request("PATCH", path, body=body, retry=True))

    def put(self, path: str, body: Mapping[str, Any]) -> Any:
        # A PUT replaces the whole resource with the same body each time: safe to retry.
        return object_answer("PUT", self._url(path), self._request("PUT", path, body=body, retry=True))

    def delete(self, path: str) -> None:
        self._request("DELETE", path, retry=True)

    def paginate(
        self, path: str, items_key: str, params: Mapping[str, Any] | None = None, *, until: str = "has_more"
    ) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list; stops on ``has_more`` (not on a null cursor), or, with
        ``until="next_cursor"``, on a null ``next_cursor`` (lists that have no ``has_more``). A list
        longer than :func:`page_cap` pages, or a cursor given twice, is an error: it would never end."""
        query = dict(params or {})
        url = self._url(path)
        cap = page_cap(int(query.get("page_size") or DEFAULT_PAGE_SIZE))
        seen: set[str] = set()
        for number in range(1, cap + 1):
            page = self.get(path, query)
            progress.emit(progress.Page(path, number))
            yield from page_items(page, items_key, url)
            more = has_more(page, url) if until == "has_more" else page.get("next_cursor") is not None
            if not more:
                return
            query["cursor"] = next_cursor(page, seen, url)
        raise endless(url, cap)

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
        shared: bool = False,
        first: _Success | _Failure | None = None,
        started: float | None = None,
    ) -> Any:
        url = self._url(path)
        policy = self.retry if retry else NO_RETRY
        started = time.monotonic() if started is None else started
        attempt = 0
        while True:
            attempt += 1
            if attempt == 1 and first is not None:
                outcome = first
            else:
                outcome = self._attempt(method, url, params, body, shared)
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
            if progress.active():
                why = str(outcome.status) if outcome.status else type(outcome.error).__name__
                progress.emit(progress.Retry(method, path, attempt + 1, wait, why))
            time.sleep(wait)

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        shared: bool = False,
    ) -> _Success | _Failure:
        self._count(method)
        began = time.monotonic()
        with self._slots, self._watchdog.guard(self.deadline) as ticket:  # the deadline starts once sent
            sent = self._send(method, url, params, body, ticket)
        return self._judged(method, url, sent, began, shared)

    def _judged(
        self, method: str, url: str, sent: Answer | _Failure, began: float, shared: bool
    ) -> _Success | _Failure:
        """What one attempt came to: the decoded answer, or a failure saying whether to try again."""
        if progress.active():
            _report(method, url[len(self.base_url) :], sent, time.monotonic() - began)
        if isinstance(sent, _Failure):
            return sent
        if self._key:
            sent = _without(sent, self._key, KEY_SHOWN_AS)
        if self._concealed and sent.status >= 300:
            for value in self._concealed:
                sent = _without(sent, value, CONCEALED_AS)
        if sent.status in REDIRECT_STATUSES and sent.header("location"):
            return _Failure(redirected(method, url, sent), retryable=False)
        if sent.status < 400:
            return _Success(decode(method, url, sent, shared=shared))
        return _failure(method, url, sent)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        ticket: Ticket,
    ) -> Answer | _Failure:
        """Send one request and read its whole answer before ``ticket``'s deadline."""
        target = url[len(self.base_url) :]
        query = _query(params)
        if query:
            target = f"{target}?{urlencode(query, doseq=True)}"
        data = None if body is None else json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        try:
            answer = self._transport.request(
                method, target, data, limit=answers.MAX_BODY_BYTES, on_socket=ticket.attach
            )
        except (TransportError, BodyTooLarge) as exc:
            return self._sent(method, url, exc, expired=ticket.expired)
        return self._sent(method, url, answer, expired=ticket.expired)

    def _sent(
        self, method: str, url: str, outcome: Answer | TransportError | BodyTooLarge, *, expired: bool
    ) -> Answer | _Failure:
        """The answer of one exchange, or the failure it was; ``expired`` when its deadline passed."""
        if expired:
            # A cut can end a body that has no length as if it were complete: never trust it.
            return _Failure(overdue(method, url, self.deadline), retryable=False)
        if isinstance(outcome, TransportError):
            return _Failure(network_error(method, url, outcome, self.timeout), retryable=True)
        if isinstance(outcome, BodyTooLarge):
            return _Failure(too_large(method, url), retryable=False)
        return outcome

    # -- a GET whose first attempt another thread sent (agentsync.multiplex) --------------------------

    @property
    def transport(self) -> Transport:
        return self._transport

    @property
    def slots(self) -> threading.BoundedSemaphore:
        """The bound on requests in flight, shared by every way of sending."""
        return self._slots

    def counted(self, method: str) -> None:
        """Count one attempt sent elsewhere, as :attr:`stats` counts its own."""
        self._count(method)

    def target(self, path: str) -> str:
        """The request target of a GET of ``path`` (no query)."""
        return self._url(path)[len(self.base_url) :]

    def finish_get(
        self,
        path: str,
        outcome: Answer | TransportError | BodyTooLarge,
        *,
        began: float,
        expired: bool = False,
    ) -> Any:
        """The decoded body of a GET of ``path`` whose first attempt was sent at ``began`` and came to
        ``outcome``: judged as :meth:`get` judges its own, and, when that failed, tried again under the
        same retry policy and total time (so this may sleep: call it where waiting is allowed)."""
        url = self._url(path)
        first = self._judged("GET", url, self._sent("GET", url, outcome, expired=expired), began, True)
        return self._request("GET", path, retry=True, shared=True, first=first, started=began)


# -- helpers ---------------------------------------------------------------------------------------


def _report(method: str, path: str, sent: Answer | _Failure, seconds: float) -> None:
    if isinstance(sent, _Failure):
        error = None if sent.status else type(sent.error).__name__
        progress.emit(progress.Request(method, path, sent.status, seconds, error))
    else:
        progress.emit(progress.Request(method, path, sent.status, seconds))


@dataclass(frozen=True)
class _Success:
    value: Any


@dataclass(frozen=True)
class _Failure:
    error: ApiError | NetworkError
    retryable: bool
    status: int = 0
    retry_after: float | None = None


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


KEY_SHOWN_AS = b"[the API key]"
CONCEALED_AS = b"(sensitive)"  # as plans show a secret
MIN_MASKED_KEY = 8  # ElevenLabs keys are about 50 characters


def _without(answer: Answer, value: bytes, shown: bytes) -> Answer:
    """``answer`` with ``value`` (the API key, or a secret) replaced by ``shown`` wherever the server
    wrote it back: an error message that quotes the request, a request id, a Location, a name. Whatever
    the server says may be printed. One search of the body when it is not there."""
    text = value.decode()
    if value not in answer.content and not any(text in v for v in answer.headers.values()):
        return answer
    headers = {name: v.replace(text, shown.decode()) for name, v in answer.headers.items()}
    return Answer(answer.status, headers, answer.content.replace(value, shown))


def _failure(method: str, url: str, response: Answer) -> _Failure:
    status = response.status
    error = api_error(
        method,
        url,
        status,
        response.text,
        content_type(response),
        request_id=response.header("x-request-id") or response.header("request-id") or None,
    )
    if status >= 500 and method in WRITE_METHODS:
        error.ambiguous = True
    return _Failure(
        error,
        retryable=status in RETRYABLE_STATUSES,
        status=status,
        retry_after=parse_retry_after(response.header("retry-after") or None),
    )
