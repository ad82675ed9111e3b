"""An overall deadline per request.

A socket timeout bounds each read, not the request: a server that sends one byte a second, in its
headers or in its body, keeps a request open for as long as it likes. A :class:`Watchdog` (one thread
per client) cuts the connection of any request that outlives its deadline, wherever it is blocked, and
the client turns the cut into one sentence naming the URL.

The transport tells the request's :class:`Ticket` which socket it uses (a new one when it connects, a
kept-alive one when the pool hands it out), so nothing here depends on how answers are read.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator

# After a cut, the connection is cut again this often until the request ends: a cut that came while the
# connection was still being opened found no socket to shut down.
RECUT_INTERVAL = 0.05


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

    def attach(self, sock: socket.socket) -> None:
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
        """A ticket for the request sent in this block."""
        ticket = self._start(seconds)
        try:
            yield ticket
        finally:
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
