"""The HTTP/1.1 server (stdlib, threaded, keep-alive) and the :class:`Emulator` that owns it.

Every response carries ``Content-Length`` (except 204, which by RFC 9110 must not) and a ``request-id``
header; every error body carries the same ``request_id``. Faults never touch ``/_emulator/*``. Stats
count every ``/v1`` request by method, route template and status (0 for a dropped connection).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections import Counter
from dataclasses import asdict, fields
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from agentsync.emulator import ids
from agentsync.emulator.app import App
from agentsync.emulator.config import EmulatorConfig, Faults
from agentsync.emulator.faults import FaultInjector, Verdict
from agentsync.emulator.problems import HttpProblem, detail_problem, route_not_found, validation_problem
from agentsync.emulator.routing import Response, json_response
from agentsync.emulator.store import Store

CONTROL_PREFIX = "/_emulator/"
UNMATCHED = "<unmatched>"


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self._committed: Counter[tuple[str, str]] = Counter()

    def record(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._counts[(method, route, status)] += 1

    def committed_then_failed(self, method: str, route: str) -> None:
        """A write that was stored although its client got a 5xx or a dropped connection."""
        with self._lock:
            self._committed[(method, route)] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._committed.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            rows = [
                {"method": m, "route": r, "status": s, "count": c}
                for (m, r, s), c in sorted(self._counts.items())
            ]
            committed = [
                {"method": m, "route": r, "count": c} for (m, r), c in sorted(self._committed.items())
            ]
        return {
            "requests": rows,
            "total": sum(row["count"] for row in rows),
            "committed_then_failed": committed,
        }


class Emulator:
    """A local ElevenLabs agents API. ``start()`` serves on a background thread; use as a context manager."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.store = Store()
        self._faults = FaultInjector(self.config.faults)
        self._stats = Stats()
        self._app = App(
            self.store, list(self.config.keys), self.config.workspace_id, lambda: self._faults.faults
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._state_path = Path(self.config.state_file) if self.config.state_file else None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Load the state file (if any), bind, and serve in a daemon thread; returns once listening."""
        if self._state_path is not None:
            self.store.load(self._state_path)
        self._server = _Server((self.config.host, self.config.port), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="agentsync-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections, and save the state file (if any)."""
        server, self._server = self._server, None
        if server is None:
            return
        # shutdown() waits for serve_forever to notice; a thread that never started would never answer.
        if self._thread is not None and self._thread.is_alive():
            server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.save_state()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- control -----------------------------------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        self._faults.configure(faults)

    @property
    def faults(self) -> Faults:
        return self._faults.faults

    def stats(self) -> dict[str, Any]:
        return self._stats.snapshot()

    def reset(self) -> None:
        """Empty the store and zero the stats (faults stay as they are)."""
        self.store.clear()
        self._stats.reset()

    def add_phone_number(
        self, phone_number: str, label: str = "", provider: str = "twilio"
    ) -> dict[str, Any]:
        """Import a phone number (the API's import operation is not emulated); returns its GET body."""
        number = self._app.phone_numbers.add(phone_number, label, provider)
        self.save_state()
        return number

    def _import_number(self, raw: bytes) -> Response:
        """``POST /_emulator/phone-numbers`` with ``{phone_number, label?, provider?}``."""
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("phone_number"), str):
            raise detail_problem(
                400, "validation_error", "invalid_body", "Give {phone_number, label?, provider?}."
            )
        label, provider = str(data.get("label") or ""), str(data.get("provider") or "twilio")
        return json_response(self.add_phone_number(data["phone_number"], label, provider))

    def save_state(self) -> None:
        if self._state_path is not None:
            with self.store.lock:
                self.store.save(self._state_path)

    # -- serving (called from the handler threads) -------------------------------------------------

    def serve(self, method: str, target: str, headers: Any, raw: bytes) -> Response | None:
        """The answer to one request, or None to drop the connection without answering."""
        path, _, query = target.partition("?")
        if path.startswith(CONTROL_PREFIX):
            return _with_request_id(self._control(method, path, raw), ids.request_id())
        request_id = ids.request_id()
        route_name, response = self._serve_api(method, path, query, headers, raw)
        self._stats.record(method, route_name, response.status if response else 0)
        return _with_request_id(response, request_id) if response else None

    def _serve_api(
        self, method: str, path: str, query: str, headers: Any, raw: bytes
    ) -> tuple[str, Response | None]:
        try:
            route, params = self._app.find(method, path)
        except HttpProblem as problem:
            return UNMATCHED, _problem_response(problem)
        with self._faults.in_flight() as allowed:
            verdict = self._faults.before(allowed)
            if verdict is not None:
                return route.template, _verdict_response(verdict)
            try:
                response = self._app.handle(route, params, query, headers, raw)
            except HttpProblem as problem:
                return route.template, _problem_response(problem)
            return route.template, self._after(method, route.template, response)

    def _after(self, method: str, route: str, response: Response) -> Response | None:
        if not response.wrote:
            return self._faults.hostile(method, route, response)
        self.save_state()
        verdict = self._faults.after_write()
        if verdict is None:
            return response
        self._stats.committed_then_failed(method, route)
        return _verdict_response(verdict)

    def _control(self, method: str, path: str, raw: bytes) -> Response:
        try:
            if (method, path) == ("GET", "/_emulator/stats"):
                return json_response(self.stats())
            if (method, path) == ("POST", "/_emulator/reset"):
                self.reset()
                return json_response({"ok": True})
            if (method, path) == ("GET", "/_emulator/faults"):
                return json_response(asdict(self.faults))
            if (method, path) == ("POST", "/_emulator/faults"):
                self.set_faults(faults_from_json(raw))
                return json_response(asdict(self.faults))
            if (method, path) == ("POST", "/_emulator/phone-numbers"):
                return self._import_number(raw)
            raise route_not_found()
        except HttpProblem as problem:
            return _problem_response(problem)


def faults_from_json(raw: bytes) -> Faults:
    """``POST /_emulator/faults`` body: any subset of the Faults fields; the rest take their defaults."""
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        data = None
    known = {f.name for f in fields(Faults)}
    if not isinstance(data, dict) or set(data) - known:
        unknown = sorted(set(data) - known) if isinstance(data, dict) else []
        raise validation_problem(
            [
                {
                    "loc": ["body", *unknown[:1]],
                    "msg": "Expected a JSON object of Faults fields",
                    "type": "value_error",
                    "input": data,
                }
            ]
        )
    for name in ("not_kept_paths", "hostile_kinds"):
        if name in data:
            data[name] = tuple(data[name])
    try:
        return Faults(**data)
    except ValueError as exc:
        raise validation_problem(
            [
                {
                    "loc": ["body", "hostile_kinds"],
                    "msg": str(exc),
                    "type": "value_error",
                    "input": data.get("hostile_kinds"),
                }
            ]
        ) from None


def _problem_response(problem: HttpProblem) -> Response:
    response = json_response(problem.body, problem.status)
    return Response(response.status, response.body, dict(problem.headers))


def _verdict_response(verdict: Verdict) -> Response | None:
    return _problem_response(verdict.problem) if verdict.problem is not None else None


def _with_request_id(response: Response, request_id: str) -> Response:
    headers = {**response.headers, "request-id": request_id}
    body = response.body
    if response.status >= 400 and body and "Content-Type" not in response.headers:  # JSON, not an HTML page
        body = _stamp(body, request_id)
    return Response(response.status, body, headers, response.wrote)


def _stamp(body: bytes, request_id: str) -> bytes:
    data = json.loads(body)
    if isinstance(data.get("detail"), dict):
        data["detail"]["request_id"] = request_id
    else:
        data["request_id"] = request_id
    return json.dumps(data, separators=(",", ":")).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], emulator: Emulator
    ) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (one refusing a huge body resets the connection) is not the server's error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            (self._connections.add if alive else self._connections.discard)(conn)

    def close_connections(self) -> None:
        with self._connections_lock:
            open_now = list(self._connections)
        for conn in open_now:
            _shutdown(conn)


def _shutdown(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer
        conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "agentsync-emulator"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # One write per response and no Nagle delay: keep-alive clients see sub-millisecond answers.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):  # the client went away; nothing left to flush
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the library never prints."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def __getattr__(self, name: str) -> Any:
        # Every other method (HEAD, OPTIONS, TRACE, QUERY, ...) is routed too, so it gets the API's
        # JSON 405 with ``Allow`` instead of the stdlib's HTML 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        response = self.server.emulator.serve(self.command, self.path, self.headers, raw)
        if response is None:
            self.close_connection = True
            _shutdown(self.connection)
            return
        encoded = _encode(response)
        if self.command == "HEAD":  # the headers a GET would have, and no body (RFC 9110)
            encoded = encoded[: len(encoded) - len(response.body)]
        with contextlib.suppress(OSError):  # a client that refuses a (huge) body hangs up mid-write
            self.wfile.write(encoded)


def _encode(response: Response) -> bytes:
    reason = HTTPStatus(response.status).phrase
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    headers = dict(response.headers)
    # A chunked body (only the hostile ``huge_chunked`` answer) is already framed and has no length.
    if response.status != 204:
        headers.setdefault("Content-Type", "application/json")
    if response.status != 204 and "Transfer-Encoding" not in headers:
        headers["Content-Length"] = str(len(response.body))
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body
