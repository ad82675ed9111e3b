"""The network side of running `plan` on an untrusted pull request: attack servers on 127.0.0.1 that
trickle, page for ever, loop cursors or answer a write with nothing; keys that requests would print or
choke on; project files that try to choose where the key goes. Each attack ends in one clear sentence,
in bounded time, and never with the key in any output.

The attack servers are small threads started here: every handler is bounded (a few seconds at most) and
stops as soon as the test that started it ends."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agentsync import answers
from agentsync import client as client_module
from agentsync.cli import options, run
from agentsync.client import Client, RetryPolicy, checked_key, connect, page_cap
from agentsync.emulator import ADMIN_KEY, Emulator
from agentsync.errors import NetworkError, UsageError
from agentsync.project import Environment, Project, Settings

ONCE = RetryPolicy(max_attempts=1)
TRICKLE_INTERVAL = 0.05  # well under the read timeout, so only an overall deadline can end the request
TRICKLE_LIMIT = 200  # bytes: 10 s at most, so a handler stops by itself even if nothing cuts it

Handler = Callable[["_Attack"], None]


class _Attack(BaseHTTPRequestHandler):
    """Answers each path with the behaviour registered for it in ``routes``."""

    protocol_version = "HTTP/1.1"
    routes: dict[str, Handler] = {}
    stop = threading.Event()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.routes[self.path.split("?")[0]](self)

    do_POST = do_PATCH = do_GET

    def json(self, status: int, value: Any) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def trickle(self, data: bytes) -> None:
        for byte in data[:TRICKLE_LIMIT]:
            if self.stop.is_set():
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return  # the client cut the connection, as it should
            time.sleep(TRICKLE_INTERVAL)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture
def attack() -> Iterator[tuple[str, dict[str, Handler]]]:
    routes: dict[str, Handler] = {}
    handler: Any = type("Handler", (_Attack,), {"routes": routes, "stop": threading.Event()})
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", routes
    handler.stop.set()
    server.shutdown()
    server.server_close()


# -- 1. an overall deadline per request ------------------------------------------------------------------


def trickle_headers(h: _Attack) -> None:
    h.wfile.write(b"HTTP/1.1 200 OK\r\n")
    h.trickle(b"X-Slow: " + b"a" * 1000 + b"\r\n\r\n{}")


def trickle_body(h: _Attack) -> None:
    body = b'{"agents": [' + b" " * 1000 + b'], "has_more": false}'
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.flush()
    h.trickle(body)


def trickle_unsized_body(h: _Attack) -> None:
    # No length and no chunking: the body ends when the connection does, so a cut looks like an end.
    h.close_connection = True
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.flush()
    h.trickle(b'{"agents": []}' + b" " * 1000)


def quick(h: _Attack) -> None:
    h.json(200, {"agents": [], "has_more": False})


@pytest.mark.parametrize("mode", [trickle_headers, trickle_body, trickle_unsized_body])
def test_a_trickling_answer_is_cut_at_the_deadline_with_one_sentence(
    mode: Handler, attack: tuple[str, dict[str, Handler]]
) -> None:
    url, routes = attack
    routes["/slow"] = mode
    started = time.monotonic()
    with Client(url, "k", timeout=2.0, deadline=0.6, retry=ONCE) as c, pytest.raises(NetworkError) as caught:
        c.get("/slow")
    elapsed = time.monotonic() - started
    assert 0.55 < elapsed < 2.0  # the read timeout (2 s) never fired: bytes kept coming
    assert caught.value.message == (
        f"GET {url}/slow got no whole answer within its 0.6 s deadline, so it was cut off"
    )
    assert not caught.value.ambiguous


def test_a_cut_write_is_ambiguous_and_not_retried(attack: tuple[str, dict[str, Handler]]) -> None:
    url, routes = attack
    calls: list[str] = []

    def slow_write(h: _Attack) -> None:
        calls.append(h.command)
        trickle_body(h)

    routes["/w"] = slow_write
    fast = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01)
    with Client(url, "k", timeout=2.0, deadline=0.3, retry=fast) as c, pytest.raises(NetworkError) as caught:
        c.patch("/w", {"name": "x"})
    assert caught.value.ambiguous and "0.3 s deadline" in caught.value.message
    assert calls == ["PATCH"]  # a server that slow is not asked again


def test_an_answer_inside_the_deadline_is_read_and_the_client_stays_usable(
    attack: tuple[str, dict[str, Handler]],
) -> None:
    url, routes = attack
    routes["/slow"], routes["/quick"] = trickle_body, quick

    def short_trickle(h: _Attack) -> None:
        body = b'{"ok": true}'
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.flush()
        h.trickle(body)  # 12 bytes: 0.6 s

    routes["/short"] = short_trickle
    with Client(url, "k", timeout=2.0, deadline=3.0, retry=ONCE, concurrency=1) as c:
        assert c.get("/short") == {"ok": True}
        c.deadline = 0.3
        with pytest.raises(NetworkError):
            c.get("/slow")
        assert c.get("/quick") == {"agents": [], "has_more": False}


def test_the_default_deadline_is_a_small_multiple_of_the_read_timeout() -> None:
    with Client("https://api.elevenlabs.io", "k", timeout=10.0) as c:
        assert c.deadline == 10.0 * client_module.DEADLINE_FACTOR
    with Client("https://api.elevenlabs.io", "k", timeout=10.0, deadline=12.5) as c:
        assert c.deadline == 12.5


# -- 2. pagination bounds ----------------------------------------------------------------------------------


def test_the_page_cap_comes_from_the_largest_workspace_and_the_page_size() -> None:
    assert page_cap(100) == answers.MAX_LIST_ITEMS // 100 + 1
    assert page_cap(30) == -(-answers.MAX_LIST_ITEMS // 30) + 1


def test_a_list_that_never_ends_stops_at_the_page_cap(
    attack: tuple[str, dict[str, Handler]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, routes = attack
    monkeypatch.setattr(client_module, "MAX_LIST_ITEMS", 500)
    monkeypatch.setattr(answers, "MAX_LIST_ITEMS", 500)
    pages: list[str] = []

    def forever(h: _Attack) -> None:
        pages.append(h.path)
        h.json(
            200,
            {"agents": [{"agent_id": f"a{len(pages)}"}], "has_more": True, "next_cursor": f"c{len(pages)}"},
        )

    routes["/list"] = forever
    with Client(url, "k", retry=ONCE) as c, pytest.raises(NetworkError) as caught:
        list(c.paginate("/list", "agents", {"page_size": 100}))
    assert len(pages) == page_cap(100) == 6
    assert caught.value.message == (
        f"the list at {url}/list still says has_more after 6 pages, more than any workspace holds "
        "(500 resources), so it was not read to the end"
    )


def test_a_cursor_loop_is_detected(attack: tuple[str, dict[str, Handler]]) -> None:
    url, routes = attack
    cursors = iter(["a", "b", "a", "b"])
    routes["/list"] = lambda h: h.json(200, {"agents": [], "has_more": True, "next_cursor": next(cursors)})
    with Client(url, "k", retry=ONCE) as c, pytest.raises(NetworkError) as caught:
        list(c.paginate("/list", "agents"))
    assert caught.value.message == (
        f"the list answer from {url}/list gives a next_cursor it gave before, so paging it would loop for ever"
    )


def test_a_missing_cursor_is_still_refused(attack: tuple[str, dict[str, Handler]]) -> None:
    url, routes = attack
    routes["/list"] = lambda h: h.json(200, {"agents": [], "has_more": True, "next_cursor": None})
    with Client(url, "k", retry=ONCE) as c, pytest.raises(NetworkError, match="gives no new next_cursor"):
        list(c.paginate("/list", "agents"))


# -- 5. answers that are not what a write returns ----------------------------------------------------------


def no_content(h: _Attack) -> None:
    h.send_response(204)
    h.end_headers()


def empty_ok(h: _Attack) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "0")
    h.end_headers()


@pytest.mark.parametrize(
    ("route", "said"), [("/204", "no body"), ("/empty", "no body"), ("/list", "JSON that is not an object")]
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_write_answered_without_a_json_object_is_one_sentence(
    route: str, said: str, method: str, attack: tuple[str, dict[str, Handler]]
) -> None:
    url, routes = attack
    routes["/204"], routes["/empty"] = no_content, empty_ok
    routes["/list"] = lambda h: h.json(200, ["not", "an", "object"])
    with Client(url, "k", retry=ONCE) as c, pytest.raises(NetworkError) as caught:
        c.post(route, {}) if method == "POST" else c.patch(route, {})
    assert caught.value.message == (
        f"the answer to {method} {url}{route} has {said} where the API sends a JSON object, "
        "so it is unknown whether the write took"
    )
    assert caught.value.ambiguous  # apply looks for the resource before it tries again


# -- 3. the key ------------------------------------------------------------------------------------------

KEY_BODY = "sk_Q7zXk9W2mNv4"
BAD_KEYS = {
    "inner newline": f"{KEY_BODY}\nX-Qz7: 1",
    "two newlines": f"{KEY_BODY}\n\n",
    "space": f"{KEY_BODY} tail",
    "not latin-1": f"{KEY_BODY}ключ",
    "latin-1 but not ascii": f"{KEY_BODY}é",
    "control character": f"{KEY_BODY}\x1b[2J",
}


def leaked(key: str, output: bytes) -> list[str]:
    """Every 4-character piece of the key (in UTF-8) found in the output, and any non-ASCII byte of it."""
    raw = key.encode()
    pieces = {raw[i : i + 4] for i in range(len(raw) - 3)}
    found = [p.decode(errors="replace") for p in pieces if p in output]
    return found + [repr(b) for b in raw if b > 0x7F and bytes([b]) in output]


def run_cli(project: Path, key: str, url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {"ELEVENLABS_API_KEY": key, "ELEVENLABS_BASE_URL": url, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "agentsync", "plan", "-C", str(project), *args],
        env=env,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agentsync.yaml").write_text("namespace: keys\n")
    (tmp_path / "agents" / "bot.yaml").write_text(json.dumps({"name": "Bot"}))
    return tmp_path


# Every bad key without --debug; the two requests would print or crash on with it too.
CASES = [(case, ()) for case in sorted(BAD_KEYS)] + [
    (case, ("--debug",)) for case in ("inner newline", "not latin-1")
]


@pytest.mark.parametrize(("case", "debug"), CASES)
def test_a_key_no_header_can_carry_is_one_sentence_without_any_of_it(
    case: str, debug: tuple[str, ...], small_project: Path, emulator: Emulator
) -> None:
    key = BAD_KEYS[case]
    done = run_cli(small_project, key, emulator.url, *debug)
    assert done.returncode == 1
    err = done.stderr.decode()
    assert done.stdout == b"" and ("Traceback" not in err or debug)  # --debug shows where, never the key
    assert err.splitlines()[-2 if debug else 0].startswith(
        "error: the API key in the environment variable ELEVENLABS_API_KEY has a character an HTTP header "
        "cannot carry"
    ), err
    assert leaked(key, done.stdout + done.stderr) == []
    assert emulator.stats()["requests"] == []  # refused before anything was sent


def test_one_trailing_newline_is_dropped_silently(small_project: Path, emulator: Emulator) -> None:
    for ending in ("\n", "\r\n"):
        done = run_cli(small_project, ADMIN_KEY + ending, emulator.url)
        assert done.returncode == 0, done.stderr.decode()
        assert b"1 to create" in done.stdout
        assert leaked(ADMIN_KEY, done.stdout + done.stderr) == []


def test_the_key_check_itself() -> None:
    assert checked_key("sk_abc\n") == "sk_abc" and checked_key("sk_abc\r\n") == "sk_abc"
    assert checked_key("sk_abc") == "sk_abc"
    with pytest.raises(UsageError, match="the API key in X is empty"):
        checked_key("\n", "X")
    for key in BAD_KEYS.values():
        with pytest.raises(UsageError) as caught:
            Client("https://api.elevenlabs.io", key)
        assert KEY_BODY not in caught.value.render()
    with pytest.raises(UsageError, match="ELEVENLABS_API_KEY_PROD has a character"):
        connect(None, None, api_key=BAD_KEYS["not latin-1"], key_source="ELEVENLABS_API_KEY_PROD")


# -- 4. where the key goes -------------------------------------------------------------------------------

HOSTILE_SETTINGS = """namespace: n
environments:
  prod:
    base_url: {url}
    api_key_env: {var}
"""


def settings_project(root: Path, url: str, var: str = "ELEVENLABS_API_KEY", extra: str = "") -> Path:
    (root / "agents").mkdir(exist_ok=True)
    (root / "agentsync.yaml").write_text(HOSTILE_SETTINGS.format(url=url, var=var) + extra)
    (root / "agents" / "bot.yaml").write_text(json.dumps({"name": "Bot"}))
    return root


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example",
        "https://api.elevenlabs.io.evil.example",
        "https://api.elevenlabs.io@evil.example",
        "https://evil.example/#https://api.elevenlabs.io",
        "http://api.elevenlabs.io",
        "http://10.0.0.5:8080",
    ],
)
def test_a_file_cannot_send_the_key_to_another_host(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_project(tmp_path, url)
    assert run(["validate", str(tmp_path)]) == 1
    seen = capsys.readouterr()
    err = seen.out + seen.err
    assert (
        f"agentsync.yaml:4:15: error: environments.prod.base_url: {url!r} is not an ElevenLabs API host"
        in err
    )
    assert "a project file cannot send the API key anywhere else" in err


@pytest.mark.parametrize(
    "url",
    [
        "https://api.elevenlabs.io",
        "https://API.eu.residency.elevenlabs.io/",
        "http://127.0.0.1:8000",
        "http://localhost:1",
    ],
)
def test_elevenlabs_hosts_and_loopback_are_fine_in_a_file(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_project(tmp_path, url, "ELEVENLABS_API_KEY_PROD")
    assert run(["validate", str(tmp_path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "var", ["GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "ELEVENLABS_", "elevenlabs_api_key"]
)
def test_a_file_cannot_take_the_key_from_another_secret(
    var: str,
    tmp_path: Path,
    attack: tuple[str, dict[str, Handler]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, routes = attack
    seen: list[str | None] = []

    def record(handler: Any) -> None:
        seen.append(handler.headers.get("xi-api-key"))
        quick(handler)

    routes["/v1/convai/agents"] = record
    settings_project(tmp_path, "https://api.elevenlabs.io", var, "default_environment: prod\n")
    monkeypatch.setenv(var, "ghp_Q7zXk9W2mNv4token")
    monkeypatch.setenv("ELEVENLABS_BASE_URL", url)
    assert run(["plan", "-C", str(tmp_path), "--allow-base-url-override"]) == 1
    err = capsys.readouterr().err
    assert (
        f"agentsync.yaml:5:18: error: environments.prod.api_key_env: {var!r} does not start with ELEVENLABS_"
        in err
    )
    assert seen == [] and "Q7zXk9W2" not in err


def test_connect_time_refuses_what_a_file_declared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A project built without the loader (a library caller) is held to the same rule before any request.
    monkeypatch.delenv("ELEVENLABS_BASE_URL", raising=False)
    workspace = options.WorkspaceOptions(tmp_path, "prod", None, None, 1, False)
    for env, says in [
        (
            Environment("prod", base_url="https://evil.example"),
            "environments.prod.base_url: 'https://evil.example'",
        ),
        (Environment("prod", api_key_env="GITHUB_TOKEN"), "environments.prod.api_key_env: 'GITHUB_TOKEN'"),
    ]:
        project = Project(tmp_path, Settings(), {}, env)
        with pytest.raises(UsageError, match=re.escape(says)):
            options.endpoint(workspace, project)
    # The operator names any host on the command line; the file has no say in it.
    workspace = options.WorkspaceOptions(tmp_path, "prod", "https://proxy.internal.example", None, 1, False)
    project = Project(tmp_path, Settings(), {}, Environment("prod", residency="eu-residency"))
    assert options.endpoint(workspace, project).base_url == "https://proxy.internal.example"


def test_an_exported_base_url_does_not_silently_beat_the_environment(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_project(tmp_path, "https://api.eu.residency.elevenlabs.io", extra="default_environment: prod\n")
    assert run(["plan", "-C", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        f"error: ELEVENLABS_BASE_URL is {api_env.url} but environment prod in agentsync.yaml declares "
        "https://api.eu.residency.elevenlabs.io, and agentsync will not choose between them silently"
    )
    assert api_env.stats()["requests"] == []
    assert run(["plan", "-C", str(tmp_path), "--allow-base-url-override"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"agentsync plan: environment prod · namespace n · {api_env.url}"
    assert run(["plan", "-C", str(tmp_path), "--allow-base-url-override", "--format", "markdown"]) == 0
    assert f"API `{api_env.url}`" in capsys.readouterr().out.splitlines()[0]


def test_an_exported_base_url_equal_to_the_declared_one_needs_no_flag(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_project(tmp_path, api_env.url + "/", extra="default_environment: prod\n")
    assert run(["plan", "-C", str(tmp_path)]) == 0, capsys.readouterr().err
