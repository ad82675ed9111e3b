"""HTTP/1.1 over kept-alive sockets: just what the API client needs, and nothing it would have to undo.

The client sends small JSON requests to one host and reads JSON answers. A general HTTP library spends
more CPU per request than the request itself (header objects, hooks, adapters, proxy and cookie
handling the client switches off anyway), so this module speaks the protocol directly:

- one pool of connections to the one host, each used by one request at a time, kept alive between
  requests and dropped on any doubt (an error, a cut, an answer that ends with the connection);
- answers framed by ``Content-Length``, by chunks, or by the connection closing; a ``gzip`` answer is
  inflated; every body is refused past a size limit, before or while it is read (a declared length is
  checked first, an inflated body as it grows);
- redirects are never followed and proxies never used, so the key header goes only to its host;
- a failure is a :class:`TransportError` saying whether the request may have reached the server, so a
  lost write is never mistaken for one that was never sent.

Each request tells ``on_socket`` which socket it uses, so a watchdog in another thread can cut it at
its deadline, whatever it is blocked on.
"""

from __future__ import annotations

import contextlib
import io
import re
import select
import socket
import threading
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ssl

__all__ = ["Answer", "BodyTooLarge", "Transport", "TransportError", "Truncated", "read_body", "read_head"]

MAX_LINE = 65_536  # the longest status or header line read
MAX_HEADERS = 200
READ_SIZE = 65_536
_STATUS_WITHOUT_BODY = frozenset({204, 304})
# What a request target may hold: visible ASCII only. Ids are escaped before they reach a path; this
# is the last check that no space or line break can end the request line and start another request.
_UNSAFE_TARGET = re.compile(r"[^\x21-\x7e]")


class TransportError(Exception):
    """A request that got no whole HTTP answer.

    ``sent`` is False only when the request certainly never left this machine (the connection or its
    TLS handshake failed); ``timed_out`` is True when a socket wait ran out of time.
    """

    def __init__(self, reason: str, *, sent: bool, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent
        self.timed_out = timed_out


class Truncated(TransportError):
    """An answer that stops before its end: the connection was dropped (or, for bytes read ahead of
    time, nothing more has arrived yet)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, sent=True)


class BodyTooLarge(Exception):
    """An answer whose body is over the limit; nothing more of it was read."""


class Answer:
    """One HTTP answer: status, headers (names in lower case) and the whole body."""

    __slots__ = ("content", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def text(self) -> str:
        """The body as text, in the charset the answer names (UTF-8 when it names none)."""
        charset = "utf-8"
        for part in self.header("content-type").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"'")
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


class _Connection:
    __slots__ = ("reader", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = io.BufferedReader(socket.SocketIO(sock, "rb"), READ_SIZE)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.close()
        with contextlib.suppress(OSError):
            self.sock.close()

    def stale(self) -> bool:
        """True when the server has closed this idle connection (or sent something unasked)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


class Transport:
    """Requests to the host of ``base_url``, with ``headers`` on every one; safe across threads."""

    def __init__(self, base_url: str, headers: Mapping[str, str], *, timeout: float, pool_size: int) -> None:
        parts = urlsplit(base_url)
        self.secure = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.secure else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._pool_size = pool_size
        authority = self.host if ":" not in self.host else f"[{self.host}]"
        if parts.port is not None:
            authority = f"{authority}:{parts.port}"
        lines = [f"Host: {authority}", "Accept-Encoding: gzip"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._closed = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None,
        *,
        limit: int,
        on_socket: Callable[[socket.socket], None],
    ) -> Answer:
        """Send one request for ``target`` (path and query) and read its whole answer.

        Raises :class:`TransportError` when no whole answer came, :class:`BodyTooLarge` when the body
        is over ``limit`` bytes.
        """
        message = self.message(method, target, body)
        # A kept-alive connection the server has closed is dropped here; one it closes while the request
        # is on its way fails like any dropped connection, and the client's retry policy decides.
        conn = self._checkout() or self._connect()
        on_socket(conn.sock)
        try:
            return self._exchange(conn, message, limit)
        except BaseException:
            conn.close()
            raise

    def message(self, method: str, target: str, body: bytes | None) -> bytes:
        """The bytes of one request: its line, this transport's headers and the body."""
        if _UNSAFE_TARGET.search(target) or not target.startswith("/"):
            raise TransportError("the request path holds a character no request line may carry", sent=False)
        head = [f"{method} {self.prefix}{target} HTTP/1.1\r\n".encode("latin-1"), self._head]
        if body is not None:
            head.append(f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode())
        head.append(b"\r\n")
        return b"".join(head) + (body or b"")

    # -- connections -----------------------------------------------------------------------------

    def lend(self) -> socket.socket:
        """The socket of a kept-alive or a new connection, for a caller that does its own reading
        (:mod:`agentsync.multiplex`); raises :class:`TransportError` when no connection can be made.
        Hand it back with :meth:`take_back` once its last answer was read whole, or close it."""
        conn = self._checkout() or self._connect()
        return conn.sock

    def take_back(self, sock: socket.socket) -> None:
        """Keep a lent socket for later requests, blocking again with this transport's timeout."""
        try:
            sock.settimeout(self.timeout)
        except OSError:
            sock.close()
            return
        self._checkin(_Connection(sock))

    def _checkout(self) -> _Connection | None:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or not conn.stale():
                return conn
            conn.close()

    def _checkin(self, conn: _Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._pool_size:
                self._idle.append(conn)
                return
        conn.close()

    def _connect(self) -> _Connection:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except socket.gaierror:
            raise TransportError("the host name does not resolve", sent=False) from None
        except TimeoutError:
            raise TransportError("timed out", sent=False, timed_out=True) from None
        except ConnectionRefusedError:
            raise TransportError("connection refused", sent=False) from None
        except OSError as exc:
            raise TransportError(f"the connection failed ({exc.strerror or exc})", sent=False) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            sock.close()
            raise TransportError(f"the connection failed ({exc.strerror or exc})", sent=False) from None
        return _Connection(self._secured(sock) if self.secure else sock)

    def _secured(self, sock: socket.socket) -> socket.socket:
        """``sock`` after the TLS handshake. ssl is imported only here: a plain-HTTP run (the
        emulator) never needs it, and importing it is a few milliseconds before the first request."""
        import ssl

        try:
            return self._context().wrap_socket(sock, server_hostname=self.host)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            reason = exc.verify_message or "the certificate was not accepted"
            raise TransportError(f"the TLS certificate was refused ({reason})", sent=False) from None
        except TimeoutError:
            sock.close()
            raise TransportError("timed out", sent=False, timed_out=True) from None
        except OSError as exc:
            sock.close()
            raise TransportError(f"the TLS handshake failed ({exc})", sent=False) from None

    def _context(self) -> ssl.SSLContext:
        import ssl

        if self._tls is None:
            context = ssl.create_default_context()
            with contextlib.suppress(ImportError, OSError):
                import certifi

                context.load_verify_locations(certifi.where())
            self._tls = context
        return self._tls

    # -- one exchange ----------------------------------------------------------------------------

    def _exchange(self, conn: _Connection, message: bytes, limit: int) -> Answer:
        try:
            conn.sock.sendall(message)
            status, headers, keep = read_head(conn.reader)
            content, whole = read_body(conn.reader, status, headers, limit)
        except TimeoutError:
            raise TransportError("timed out", sent=True, timed_out=True) from None
        except OSError as exc:
            raise TransportError(f"the connection was dropped ({exc.strerror or exc})", sent=True) from None
        if keep and whole:
            self._checkin(conn)
        else:
            conn.close()
        return Answer(status, headers, content)


def read_head(reader: io.BufferedIOBase) -> tuple[int, dict[str, str], bool]:
    readline = reader.readline
    while True:
        line = readline(MAX_LINE + 1)
        if not line:
            raise Truncated("the connection was closed before any answer")
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or len(line) > MAX_LINE or not code.isdigit():
            raise TransportError("the answer is not HTTP", sent=True)
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                raise TransportError("the answer has a header line too long to be HTTP", sent=True)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise Truncated("the connection was dropped in the middle of the headers")
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise TransportError("the answer has a header that is not HTTP", sent=True)
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        else:
            raise TransportError("the answer has too many headers to be HTTP", sent=True)
        status = int(code)
        if 100 <= status < 200 and status != 101:
            continue  # an interim answer (100 Continue): the real one follows
        connection = headers.get("connection", "").lower()
        keep = version == "HTTP/1.1" and "close" not in connection
        return status, headers, keep


def read_body(
    reader: io.BufferedIOBase, status: int, headers: Mapping[str, str], limit: int
) -> tuple[bytes, bool]:
    """The body, and whether it ended where the answer said it would (so the connection is reusable)."""
    read = reader.read
    if status in _STATUS_WITHOUT_BODY or 100 <= status < 200:
        return b"", True
    inflate = _Inflater(limit) if headers.get("content-encoding", "").lower() == "gzip" else None
    chunks: list[bytes] = []
    size = 0

    def take(data: bytes, *, inflated: bool = False) -> None:
        nonlocal size
        if inflate is not None and not inflated:
            data = inflate.feed(data)
        size += len(data)
        if size > limit:
            raise BodyTooLarge
        chunks.append(data)

    if "chunked" in headers.get("transfer-encoding", "").lower():
        _read_chunks(reader, take, limit)
        whole = True
    elif "content-length" in headers:
        declared = headers["content-length"].split(",")[0].strip()
        if not declared.isdigit():
            raise TransportError("the answer has a Content-Length that is not a number", sent=True)
        length = int(declared)
        if length > limit:
            raise BodyTooLarge
        _read_exactly(reader, length, take)
        whole = True
    else:
        while data := read(READ_SIZE):
            take(data)
        whole = False  # ended by the connection closing
    if inflate is not None:
        take(inflate.finish(), inflated=True)
    return b"".join(chunks), whole


def _read_exactly(reader: io.BufferedIOBase, count: int, take: Callable[[bytes], None]) -> None:
    while count:
        data = reader.read(min(count, READ_SIZE))
        if not data:
            raise Truncated("the connection was dropped in the middle of the answer")
        count -= len(data)
        take(data)


def _read_chunks(reader: io.BufferedIOBase, take: Callable[[bytes], None], limit: int) -> None:
    readline = reader.readline
    while True:
        line = readline(MAX_LINE + 1)
        if not line:
            raise Truncated("the connection was dropped in the middle of the answer")
        size_text = line.split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise TransportError("the answer has a chunk that is not HTTP", sent=True) from None
        if size < 0:
            raise TransportError("the answer has a chunk that is not HTTP", sent=True)
        if size == 0:
            break
        if size > limit:
            raise BodyTooLarge
        _read_exactly(reader, size, take)
        if readline(MAX_LINE + 1) not in (b"\r\n", b"\n"):
            raise TransportError("the answer has a chunk that is not HTTP", sent=True)
    for _ in range(MAX_HEADERS + 1):  # trailers, up to the empty line
        line = readline(MAX_LINE + 1)
        if line in (b"\r\n", b"\n", b""):
            return
    raise TransportError("the answer has too many trailers to be HTTP", sent=True)


class _Inflater:
    """gzip inflation that never makes more than the limit allows: a small answer cannot become a
    huge one in memory."""

    def __init__(self, limit: int) -> None:
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._room = limit + 1

    def feed(self, data: bytes) -> bytes:
        if self._room <= 0:  # zlib reads a max_length of 0 as no limit at all
            raise BodyTooLarge
        try:
            out = self._inflate.decompress(data, self._room)
        except zlib.error:
            raise TransportError("the answer's gzip body is broken", sent=True) from None
        if self._inflate.unconsumed_tail:
            raise BodyTooLarge
        self._room -= len(out)
        return out

    def finish(self) -> bytes:
        try:
            rest = self._inflate.flush()
        except zlib.error:
            raise TransportError("the answer's gzip body is broken", sent=True) from None
        if not self._inflate.eof:
            raise TransportError("the answer's gzip body ends early", sent=True)
        return rest
