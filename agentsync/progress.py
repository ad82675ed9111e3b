"""What a long run is doing, as events: pages listed, resources fetched, writes landed, requests sent,
retries and waits. The library only emits them; the command line decides whether to show them (a
terminal, ``-v``) and how. With no listener installed, emitting costs one attribute read.

Events carry paths, statuses, counts, kinds and keys, never a request or response body and never a
header, so no listener can show a key or a secret value."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import NamedTuple, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Request(NamedTuple):
    """One HTTP attempt: ``status`` None when no answer came (``error`` says why)."""

    method: str
    path: str
    status: int | None
    seconds: float
    error: str | None = None


class Retry(NamedTuple):
    method: str
    path: str
    attempt: int
    wait: float
    reason: str


class Page(NamedTuple):
    """Page ``number`` of a listing was read."""

    path: str
    number: int


class Fetched(NamedTuple):
    done: int
    total: int


class Wrote(NamedTuple):
    """One planned change landed: ``outcome`` as the apply report names it."""

    kind: str
    key: str
    action: str
    outcome: str
    done: int
    total: int


Event = Request | Retry | Page | Fetched | Wrote
Listener = Callable[[Event], None]

_listener: Listener | None = None


def emit(event: Event) -> None:
    listener = _listener
    if listener is not None:
        listener(event)


def active() -> bool:
    return _listener is not None


@contextlib.contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Send every event to ``listener`` (called from worker threads too) while the block runs."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


def counted(fn: Callable[[T], R], total: int) -> Callable[[T], R]:
    """``fn``, emitting ``Fetched(n, total)`` as each call returns (from any thread, failures included)."""
    if _listener is None:
        return fn
    ticks = itertools.count(1)
    lock = threading.Lock()

    def call(item: T) -> R:
        try:
            return fn(item)
        finally:
            with lock:
                done = next(ticks)
            emit(Fetched(done, total))

    return call
