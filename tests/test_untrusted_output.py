"""Remote values are data: escaped in Markdown, neutralised on terminals, escaped in URLs; and the
emulator stops on SIGTERM however early it arrives."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from agentsync import ids
from agentsync.cli import run
from agentsync.errors import AgentsyncError
from agentsync.resources.agent import marker

ROOT = Path(__file__).parent.parent
NS = "t"
ATTACK_ID = "../../../v1/user?x="
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _project(root: Path, agents: dict[str, dict[str, Any]], tags: list[dict[str, Any]] | None = None) -> Path:
    (root / "agents").mkdir(parents=True, exist_ok=True)
    (root / "agentsync.yaml").write_text(f"namespace: {NS}\n", encoding="utf-8")
    for key, config in agents.items():
        (root / "agents" / f"{key}.yaml").write_text(json.dumps(config), encoding="utf-8")
    if tags is not None:
        (root / "tags.yaml").write_text(json.dumps(tags), encoding="utf-8")
    return root


# ------------------------------------------------------------------------------------------- URLs


class _Workspace(BaseHTTPRequestHandler):
    """A workspace of one owned agent whose id the server chose; every request path is recorded raw."""

    protocol_version = "HTTP/1.1"
    server: _RecordingServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        agent_id = self.server.agent_id
        agent = {"agent_id": agent_id, "name": "Bot", "tags": [marker(NS, "bot")], "conversation_config": {}}
        path = self.path.partition("?")[0]
        if path == "/v1/convai/agents":
            self._send(200, {"agents": [agent], "has_more": False, "next_cursor": None})
        elif path == "/v1/convai/agents/" + ids.segment(agent_id):
            self._send(200, agent)
        else:
            self._send(404, {"detail": {"status": "not_found", "message": "no such route"}})

    def _send(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _Workspace)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def recording(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[_RecordingServer]:
    server = _RecordingServer(getattr(request, "param", "agent_1"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("ELEVENLABS_BASE_URL", server.url)
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk_test_key")
    yield server
    server.shutdown()
    server.server_close()


def test_an_attack_id_in_an_agent_file_is_a_located_error_and_sends_nothing(
    tmp_path: Path, recording: _RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, {"bot": {"name": "Bot", "id": ATTACK_ID}})
    code = run(["plan", "-C", str(project)])
    err = capsys.readouterr().err
    assert code == 1
    assert "agents/bot.yaml:1:" in err
    assert f"id: '{ATTACK_ID}' is not an id" in err
    assert recording.paths == []


def test_an_attack_id_in_tags_yaml_is_a_located_error(
    tmp_path: Path, recording: _RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, {}, tags=[{"title": "vip", "id": ATTACK_ID}])
    code = run(["plan", "-C", str(project)])
    err = capsys.readouterr().err
    assert code == 1
    assert "tags.yaml:1:" in err
    assert f"[0].id: '{ATTACK_ID}' is not an id" in err
    assert recording.paths == []


@pytest.mark.parametrize("recording", [ATTACK_ID], indirect=True)
def test_an_id_sent_by_the_server_stays_inside_its_path_segment(
    tmp_path: Path, recording: _RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, {"bot": {"name": "Bot v2"}})
    code = run(["plan", "-C", str(project), "--show-body"])
    out = capsys.readouterr().out
    assert code == 0, out
    escaped = "/v1/convai/agents/..%2F..%2F..%2Fv1%2Fuser%3Fx%3D"
    assert escaped in recording.paths
    assert all(path.startswith("/v1/convai/agents") for path in recording.paths), recording.paths
    assert f"PATCH {escaped}" in out


@pytest.mark.parametrize("recording", [".."], indirect=True)
def test_a_dot_segment_id_from_the_server_is_refused_before_it_is_requested(
    tmp_path: Path, recording: _RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, {"bot": {"name": "Bot"}})
    code = run(["plan", "-C", str(project)])
    err = capsys.readouterr().err
    assert code == 1
    assert "the id '..' cannot be used in a request path" in err
    assert "Traceback" not in err
    assert all(path.startswith("/v1/convai/agents?") for path in recording.paths), recording.paths


@pytest.mark.parametrize("value", ["a/b", "a?b", "a#b", "a%2Fb", "../x", "a b", "é\x1b"])
def test_an_id_is_one_segment_that_decodes_back_to_itself(value: str) -> None:
    encoded = ids.segment(value)
    assert set(encoded) <= UNRESERVED | {"%"}
    assert unquote(encoded) == value


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_dot_segments_are_refused(value: str) -> None:
    with pytest.raises(AgentsyncError):
        ids.segment(value)


# ------------------------------------------------------------------------------------- the emulator


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_accepting(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else b""
            time.sleep(0.001)
    raise AssertionError(f"the emulator never accepted on port {port}")


@pytest.mark.slow
def test_the_emulator_stops_on_a_sigterm_sent_as_soon_as_its_port_accepts(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    for attempt in range(12):
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "agentsync", "emulator", "--port", str(port), "--state", str(state)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            _wait_until_accepting(port, process, time.monotonic() + 30)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"attempt {attempt}: the emulator ignored SIGTERM") from None
        assert code == 0, (attempt, process.stderr.read() if process.stderr else b"")
        assert process.stderr is not None
        assert b"Traceback" not in process.stderr.read()
        process.stderr.close()
        # The state is saved on the way out, every time.
        assert state.is_file()
