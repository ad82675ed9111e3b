"""An overall deadline per request.

requests' timeout bounds each read from the socket, not the request: a server that sends one byte a
second, in its headers or in its body, keeps a request open for as long as it likes. A :class:`Watchdog`
(one thread per client) cuts the connection of any request that outlives its deadline, wherever it is
blocked, and the client turns the cut into one sentence naming the URL.

The connection a request uses is learned from the connection pool (:class:`WatchedAdapter`), in the
thread that sends the request (its socket when it connects, or when the pool hands out a kept-alive
one), so nothing here depends on how urllib3 reads headers or bodies.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# After a cut, the connection is cut again this often until the request ends: a cut that came while the
# connection was still being opened found no socket to shut down.
RECUT_INTERVAL = 0.05

_current = threading.local()


class Ticket:
    """One request's deadline: which socket it reads from, and whether the deadline passed."""

    __slots__ = ("_lock", "_sock", "done", "expired")

    def __init__(self, at: float) -> None:
        self.expired = False
        self.done = False
        # Kept here, not read from the connection at the cut: http.client lets go of the connection's
        # socket once the headers of an answer that ends with the connection are read.
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sock = sock
            expired = self.expired
        if expired:
            _cut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            sock = self._sock
        if sock is not None:
            _cut(sock)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._sock = None


def _cut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also under TLS: it wakes a read blocked in another thread without
    # touching the TLS object that thread is using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """Expires tickets at their deadline; started on first use, a daemon, stopped by :meth:`close`."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Ticket]] = []
        self._cond = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextlib.contextmanager
    def guard(self, seconds: float) -> Iterator[Ticket]:
        """A ticket for the request sent in this block, in this thread."""
        ticket = self._start(seconds)
        _current.ticket = ticket
        try:
            yield ticket
        finally:
            _current.ticket = None
            ticket.finish()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()

    def _start(self, seconds: float) -> Ticket:
        at = time.monotonic() + seconds
        ticket = Ticket(at)
        with self._cond:
            # Requests mostly end in the order they began, so finished tickets gather at the top.
            while self._heap and self._heap[0][2].done:
                heapq.heappop(self._heap)
            self._push(ticket, at)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="agentsync-deadline", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is ticket:
                self._cond.notify()
        return ticket

    def _push(self, ticket: Ticket, at: float) -> None:
        heapq.heappush(self._heap, (at, next(self._order), ticket))

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, ticket = heapq.heappop(self._heap)
                ticket.expire()
                self._push(ticket, time.monotonic() + RECUT_INTERVAL)


def _attach(sock: socket.socket | None) -> None:
    ticket: Ticket | None = getattr(_current, "ticket", None)
    if ticket is not None:
        ticket.attach(sock)


# A reused connection is learned when the pool hands it out; a new one when it connects.
class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _attach(self.sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _attach(self.sock)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        _attach(getattr(conn, "sock", None))
        return conn


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        _attach(getattr(conn, "sock", None))
        return conn


class WatchedAdapter(HTTPAdapter):
    """An adapter whose pools tell the current ticket which connection its request uses."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
