"""GETs sent and read by one thread: many requests in flight without a thread waiting on each.

A plan reads the body of every owned agent, thousands of them, ``concurrency`` at a time. With a thread
per request in flight, each answer wakes its own thread, which must win the interpreter lock from the
other fifteen (and from the main thread, loading files meanwhile) once to read and again to send the
next request; those hand-overs cost more CPU than reading the answer. Here one thread keeps up to
``concurrency`` kept-alive connections busy, waits on all of them at once, and reads each answer when
its bytes are in.

Only the first attempt of a GET is made here, and only its sending and reading are new: the answer is
framed by the transport's own rules (:func:`~agentsync.transport.read_head` and
:func:`~agentsync.transport.read_body`: lengths, chunks, gzip, the size limit) and judged by the client
as it judges its own (:meth:`~agentsync.client.Client.finish_get`). A success is decoded on this thread;
anything else (an error status, a dropped connection, a timeout, no connection at all) goes to a worker
thread, which tries again under the client's retry policy, so a backoff never holds up the others. Each
request has the client's deadline from the moment it is sent and the client's read timeout between two
reads; requests in flight count against the client's own bound, shared with those sent by threads.
"""

from __future__ import annotations

import collections
import contextlib
import io
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

from agentsync import answers
from agentsync.transport import (
    MAX_HEADERS,
    MAX_LINE,
    READ_SIZE,
    Answer,
    BodyTooLarge,
    TransportError,
    Truncated,
    read_body,
    read_head,
)

if TYPE_CHECKING:
    from agentsync.client import Client

__all__ = ["Multiplexer"]

# While every slot is taken by requests other threads sent, look again this often.
SLOT_POLL = 0.005
# Past this many bytes beyond twice the body limit, an answer is refused unread: more than any head
# and body the transport would take (the heads it accepts, a body at the limit, gzip and chunk framing).
HEAD_ROOM = MAX_LINE * (MAX_HEADERS + 2)

Outcome = Answer | TransportError | BodyTooLarge


class _Job:
    __slots__ = ("future", "path", "then")

    def __init__(self, path: str, then: Callable[[Any], Any], future: Future[Any]) -> None:
        self.path = path
        self.then = then
        self.future = future


class _Exchange:
    """One request in flight: its job, its connection, and what has arrived of the answer."""

    __slots__ = ("began", "buffer", "deadline", "ended", "head", "job", "next_try", "quiet_until", "sock")

    def __init__(self, job: _Job, sock: socket.socket, began: float, deadline: float, quiet: float) -> None:
        self.job = job
        self.sock = sock
        self.began = began
        self.deadline = began + deadline
        self.quiet_until = began + quiet
        self.buffer = bytearray()
        self.ended = False
        # (status, headers, keep, where the body starts) once the head is read.
        self.head: tuple[int, dict[str, str], bool, int] | None = None
        # Past this size the answer is parsed again even with no sign that it is whole, so that a head
        # or body the transport refuses is refused; doubling it keeps the parsing linear in the size.
        self.next_try = READ_SIZE


class _Arrived(io.BytesIO):
    """The bytes of an answer that has arrived so far. A line cut off by the end of them is an answer
    still on its way (:class:`Truncated`), unless the connection has ended there."""

    def __init__(self, data: bytes | bytearray, *, ended: bool) -> None:
        super().__init__(data)
        self._size = len(data)
        self._ended = ended

    def readline(self, size: int | None = -1, /) -> bytes:
        line = super().readline(size)
        if not self._ended and not line.endswith(b"\n") and self.tell() == self._size:
            raise Truncated("the answer has not all arrived")
        return line


class Multiplexer:
    """GETs of paths under ``client``'s base URL, on one thread; retries on ``workers``."""

    def __init__(self, client: Client, workers: Executor) -> None:
        self._client = client
        self._transport = client.transport
        self._workers = workers
        self._limit = max(1, client.concurrency)
        self._deadline = client.deadline
        self._quiet = self._transport.timeout
        self._waits: tuple[type[BaseException], ...] = (BlockingIOError, InterruptedError)
        if self._transport.secure:  # ssl only where it is already in use
            import ssl

            self._waits += (ssl.SSLWantReadError, ssl.SSLWantWriteError)
        self._lock = threading.Lock()
        self._pending: collections.deque[_Job] = collections.deque()  # under the lock
        self._arrived: list[socket.socket] = []  # opened by workers, under the lock
        self._opening = 0  # under the lock
        self._closed = False  # under the lock
        self._free: list[socket.socket] = []  # this thread's only
        self._busy: dict[socket.socket, _Exchange] = {}  # this thread's only
        self._selector = selectors.DefaultSelector()
        self._wake_in, self._wake_out = socket.socketpair()
        for end in (self._wake_in, self._wake_out):
            end.setblocking(False)
        self._selector.register(self._wake_in, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name="agentsync-multiplex", daemon=True)
        self._thread.start()

    def submit(self, path: str, then: Callable[[Any], Any]) -> Future[Any]:
        """The future of ``then(body)``, ``body`` being the decoded answer to a GET of ``path``. It is
        cancelled if this closes first."""
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                future.cancel()
                return future
            # Only a first waiting GET needs the thread woken: with others waiting, it is already busy
            # starting them, or waits for a connection or a slot, whose arrival wakes it anyway.
            idle = not self._pending
            self._pending.append(_Job(path, then, future))
        if idle:
            self._wake()
        return future

    def close(self) -> None:
        """Stop: GETs not yet answered are cancelled (those already retrying on a worker go on), and
        idle connections go back to the transport for the requests that follow."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # -- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while self._turn():
                pass
        finally:
            self._shut()

    def _turn(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._free.extend(self._arrived)
            self._arrived.clear()
        waiting = self._start()
        for key, _ in self._selector.select(self._timeout(waiting)):
            if key.fileobj is self._wake_in:
                self._drain()
            else:
                self._readable(key.data)
        self._expire(time.monotonic())
        return True

    def _start(self) -> bool:
        """Send what waits on the free connections, and have the missing ones opened; True when a
        request waits only for a slot that another thread's request holds."""
        while True:
            with self._lock:
                if not self._pending:
                    return False
                wanted = 0
                if not self._free:
                    # Opened by a worker since this turn began: not free yet, but counted.
                    coming = self._opening + len(self._arrived)
                    room = self._limit - len(self._busy) - coming
                    wanted = max(0, min(len(self._pending) - coming, room))
                    self._opening += wanted
                elif self._client.slots.acquire(blocking=False):
                    job = self._pending.popleft()
                else:
                    return True
            if not self._free:
                for _ in range(wanted):
                    self._spawn(self._open)
                return False
            self._send(self._free.pop(), job)

    def _timeout(self, waiting: bool) -> float | None:
        now = time.monotonic()
        ends = [min(e.deadline, e.quiet_until) for e in self._busy.values()]
        timeout = max(0.0, min(ends) - now) if ends else None
        if waiting:
            timeout = SLOT_POLL if timeout is None else min(timeout, SLOT_POLL)
        return timeout

    def _send(self, sock: socket.socket, job: _Job) -> None:
        began = time.monotonic()
        self._client.counted("GET")
        try:
            message = self._transport.message("GET", self._client.target(job.path), None)
            if sock.gettimeout() != 0.0:  # once per connection (each call is a system call)
                sock.setblocking(False)
            sent = _send_some(sock, message, self._waits)
            if sent < len(message):  # a full send buffer (rare for a GET): the rest within the timeout
                sock.settimeout(self._quiet)
                sock.sendall(message[sent:])
                sock.setblocking(False)
        except TransportError as exc:  # a path no request line may carry: nothing was sent
            self._free.append(sock)
            self._client.slots.release()
            self._elsewhere(job, exc, began)
            return
        except OSError as exc:
            _close(sock)
            self._client.slots.release()
            self._elsewhere(job, _dropped(exc), began)
            return
        exchange = _Exchange(job, sock, began, self._deadline, self._quiet)
        self._busy[sock] = exchange
        self._selector.register(sock, selectors.EVENT_READ, exchange)

    def _readable(self, exchange: _Exchange) -> None:
        try:
            data = exchange.sock.recv(READ_SIZE)
        except self._waits:
            return
        except OSError as exc:
            self._failed(exchange, _dropped(exc))
            return
        exchange.quiet_until = time.monotonic() + self._quiet
        if data:
            exchange.buffer += data
        else:
            exchange.ended = True
        if len(exchange.buffer) > 2 * answers.MAX_BODY_BYTES + HEAD_ROOM:
            self._failed(exchange, BodyTooLarge())
            return
        self._try_whole(exchange)

    def _try_whole(self, exchange: _Exchange) -> None:
        """Parse what has arrived when it may be a whole answer: its head ended, then as much body as
        it declared, a chunked body's closing empty line, the connection's end, or twice the bytes of
        the last try. Each try is the transport's own parsing from the start, so trying at every read
        would cost the square of a large answer's size."""
        buffer, ended = exchange.buffer, exchange.ended
        due = ended or len(buffer) >= exchange.next_try
        if exchange.head is None:
            end = max(buffer.rfind(b"\n\r\n"), buffer.rfind(b"\n\n"))
            if end < 0 and not due:
                return
            head = buffer if due or end < 0 else buffer[: end + (3 if buffer[end + 1] == 13 else 2)]
            arrived = _Arrived(bytes(head), ended=ended or head is not buffer)
            try:
                status, headers, keep = read_head(arrived)
            except Truncated as exc:
                self._retry_later(exchange, exc)
                return
            except TransportError as exc:
                self._failed(exchange, exc)
                return
            exchange.head = (status, headers, keep, arrived.tell())
        status, headers, keep, start = exchange.head
        if "content-length" in headers and "chunked" not in headers.get("transfer-encoding", "").lower():
            due = ended  # the declared length says when it is whole, and whether it is too large
        if not (due or _body_may_be_whole(status, headers, buffer, start)):
            return
        arrived = _Arrived(bytes(memoryview(buffer)[start:]), ended=ended)
        try:
            content, whole = read_body(arrived, status, headers, answers.MAX_BODY_BYTES)
        except Truncated as exc:
            self._retry_later(exchange, exc)
            return
        except (TransportError, BodyTooLarge) as exc:
            self._failed(exchange, exc)
            return
        if not whole and not ended:
            exchange.next_try = 2 * len(buffer)
            return  # an answer ended by the connection closing: not yet closed
        reusable = keep and whole and not ended and not arrived.read(1)
        self._end(exchange, keep_connection=reusable)
        answer = Answer(status, headers, content)
        job, began = exchange.job, exchange.began
        if 200 <= status < 300:
            self._finish(job, lambda: self._client.finish_get(job.path, answer, began=began))
        else:
            self._elsewhere(job, answer, began)

    def _retry_later(self, exchange: _Exchange, cut: Truncated) -> None:
        if exchange.ended:
            self._failed(exchange, cut)
        else:
            exchange.next_try = 2 * len(exchange.buffer)

    def _expire(self, now: float) -> None:
        for exchange in [e for e in self._busy.values() if now >= min(e.deadline, e.quiet_until)]:
            timed_out = TransportError("timed out", sent=True, timed_out=True)
            self._failed(exchange, timed_out, expired=now >= exchange.deadline)

    def _failed(self, exchange: _Exchange, outcome: Outcome, *, expired: bool = False) -> None:
        self._end(exchange, keep_connection=False)
        self._elsewhere(exchange.job, outcome, exchange.began, expired=expired)

    def _end(self, exchange: _Exchange, *, keep_connection: bool) -> None:
        self._selector.unregister(exchange.sock)
        del self._busy[exchange.sock]
        self._client.slots.release()
        if keep_connection:
            self._free.append(exchange.sock)
        else:
            _close(exchange.sock)

    def _shut(self) -> None:
        for exchange in list(self._busy.values()):
            self._end(exchange, keep_connection=False)
            exchange.job.future.cancel()
        with self._lock:
            pending, self._pending = list(self._pending), collections.deque()
            idle = self._free + self._arrived
            self._free, self._arrived = [], []
        for job in pending:
            job.future.cancel()
        for sock in idle:
            self._transport.take_back(sock)
        self._selector.close()
        for end in (self._wake_in, self._wake_out):
            end.close()

    # -- waking the thread, and work for the workers -------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # already awake (a full pipe) or already shut
            self._wake_out.send(b"\0")

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_in.recv(4096):
                pass

    def _open(self) -> None:
        """On a worker: a connection for the requests waiting. When none can be made, one of them goes
        the client's own way, which connects, fails and tries again as it always does."""
        try:
            sock = self._transport.lend()
        except TransportError:
            with self._lock:
                self._opening -= 1
                job = self._pending.popleft() if self._pending else None
            if job is not None:
                self._finish(job, lambda: self._client.get(job.path))
            return
        with self._lock:
            self._opening -= 1
            closed = self._closed
            if not closed:
                self._arrived.append(sock)
        if closed:
            self._transport.take_back(sock)
        else:
            self._wake()

    def _elsewhere(self, job: _Job, outcome: Outcome, began: float, *, expired: bool = False) -> None:
        """The rest of a GET whose first attempt did not succeed: judged, and tried again, on a worker."""
        self._spawn(
            lambda: self._finish(
                job, lambda: self._client.finish_get(job.path, outcome, began=began, expired=expired)
            ),
            job,
        )

    def _spawn(self, work: Callable[[], None], job: _Job | None = None) -> None:
        try:
            self._workers.submit(work)
        except RuntimeError:  # the workers have stopped: so has whoever waited for this
            if job is not None:
                job.future.cancel()
            else:
                with self._lock:
                    self._opening -= 1

    @staticmethod
    def _finish(job: _Job, body: Callable[[], Any]) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            result = job.then(body())
        except Exception as exc:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)


def _send_some(sock: socket.socket, message: bytes, waits: tuple[type[BaseException], ...]) -> int:
    """What a non-blocking send took of ``message`` (usually all of a GET's few hundred bytes)."""
    try:
        return sock.send(message)
    except waits:
        return 0


def _body_may_be_whole(status: int, headers: dict[str, str], buffer: bytearray, start: int) -> bool:
    """Whether the body after ``start`` may be complete, by how the head frames it."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return buffer.endswith((b"\n\r\n", b"\n\n"))  # the last chunk and the trailers end so
    declared = headers.get("content-length")
    if declared is not None:
        length = declared.split(",")[0].strip()
        return (
            not length.isdigit() or len(buffer) - start >= int(length) or int(length) > answers.MAX_BODY_BYTES
        )
    return status in (204, 304) or status < 200  # no body; otherwise only the connection's end ends it


def _dropped(exc: OSError) -> TransportError:
    if isinstance(exc, TimeoutError):
        return TransportError("timed out", sent=True, timed_out=True)
    return TransportError(f"the connection was dropped ({exc.strerror or exc})", sent=True)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
