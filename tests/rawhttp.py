"""A raw HTTP server for client tests: it answers each request with exact bytes (any framing, any
breakage), counts connections and keeps what it read; and the same behind TLS with a test
certificate. The fixtures that start them (``serve``, ``tls_server``) are in conftest.py."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BODY = json.dumps({"agents": [], "has_more": False}).encode()

Reply = Callable[[bytes], bytes | None]  # the request's bytes -> the answer's bytes (None: close at once)


@dataclass
class Server:
    """Answers each request with ``reply``; counts connections and keeps every request it read."""

    reply: Reply
    url: str = ""
    connections: int = 0
    seen: list[bytes] = field(default_factory=list)
    close_after: bool = False  # close each connection after one answer

    def serve(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._accepted, args=(conn,), daemon=True).start()

    def _accepted(self, conn: socket.socket) -> None:
        self._talk(conn)

    def _talk(self, conn: socket.socket) -> None:
        # The client may hang up in the middle of an answer it refuses; that ends the conversation.
        with contextlib.suppress(OSError):
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            reader = io.BufferedReader(socket.SocketIO(conn, "rb"))
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                self.seen.append(request)
                answer = self.reply(request)
                if answer is None:
                    return
                conn.sendall(answer)
                if self.close_after:
                    conn.shutdown(socket.SHUT_WR)
                    return


def _read_request(reader: io.BufferedReader[socket.SocketIO]) -> bytes | None:
    lines = []
    length = 0
    while True:
        line = reader.readline()
        if not line:
            return None
        lines.append(line)
        if line == b"\r\n":
            break
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    body = reader.read(length) if length else b""
    return b"".join(lines) + body


def answer(body: bytes, *headers: str, status: str = "200 OK", version: str = "HTTP/1.1") -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"{version} {status}\r\n{head}\r\n".encode() + body


def with_length(body: bytes = BODY, *headers: str) -> bytes:
    return answer(body, "Content-Type: application/json", f"Content-Length: {len(body)}", *headers)


def chunked(body: bytes, size: int = 7) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    return answer(encoded, "Content-Type: application/json", "Transfer-Encoding: chunked")


DATA = Path(__file__).parent / "data"
# A self-signed certificate for 127.0.0.1 (valid until 2126), made for these tests only.
TLS_CERT = DATA / "tls-test-cert.pem"
TLS_KEY = DATA / "tls-test-key.pem"


@dataclass
class TlsServer(Server):
    """A :class:`Server` behind TLS with the test certificate."""

    def _accepted(self, conn: socket.socket) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS_CERT, TLS_KEY)
        try:
            secured = context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):  # the client refused the certificate
            conn.close()
            return
        self._talk(secured)
