"""Remote values are data: escaped in Markdown, neutralised on terminals, escaped in URLs; and the
emulator stops on SIGTERM however early it arrives."""

from __future__ import annotations

import json
import os
import re
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
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY, Emulator
from agentsync.errors import AgentsyncError
from agentsync.kinds.identity import marker
from agentsync.render import terminal

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
# (the small workspace server here also serves the terminal tests below)


class _Workspace(BaseHTTPRequestHandler):
    """A workspace of one owned agent whose id the server chose; every request path is recorded raw."""

    protocol_version = "HTTP/1.1"
    server: _RecordingServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_PATCH(self) -> None:
        self.server.paths.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(400, {"detail": {"status": "invalid", "message": self.server.refusal}})

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        agent_id = self.server.agent_id
        agent = {"agent_id": agent_id, "name": "Bot", "tags": [marker(NS, "bot")], "conversation_config": {}}
        path = self.path.partition("?")[0]
        if path == "/v1/convai/agents":
            self._send(200, {"agents": [agent], "has_more": False, "next_cursor": None})
        elif path == "/v1/convai/agents/" + ids.segment(agent_id) and self.server.forbidden is None:
            self._send(200, agent)
        elif self.server.forbidden is not None:
            self._send(403, {"detail": {"status": "forbidden", "message": self.server.forbidden}})
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
        self.refusal = "refused"
        self.forbidden: str | None = None
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


def early_reads_only(paths: list[str]) -> bool:
    """What a project with an error in its definitions may have sent: the reads agentsync.yaml alone
    starts (the agent listings and the GETs of the ids the server listed), never a file's value."""
    listed = {"/v1/convai/agents", "/v1/convai/agents/agent_1"}
    return all(p.partition("?")[0] in listed and ATTACK_ID not in p for p in paths)


def test_an_attack_id_in_an_agent_file_is_a_located_error_and_sends_nothing_of_it(
    tmp_path: Path, recording: _RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, {"bot": {"name": "Bot", "id": ATTACK_ID}})
    code = run(["plan", "-C", str(project)])
    err = capsys.readouterr().err
    assert code == 1
    assert "agents/bot.yaml:1:" in err
    assert f"id: '{ATTACK_ID}' is not an id" in err
    assert early_reads_only(recording.paths), recording.paths


def test_an_attack_id_in_tags_yaml_is_a_located_error_and_sends_nothing_of_it(
    tmp_path: Path, recording: _RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, {}, tags=[{"title": "vip", "id": ATTACK_ID}])
    code = run(["plan", "-C", str(project)])
    err = capsys.readouterr().err
    assert code == 1
    assert "tags.yaml:1:" in err
    assert f"[0].id: '{ATTACK_ID}' is not an id" in err
    assert early_reads_only(recording.paths), recording.paths


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


# --------------------------------------------------------------------------------------- terminals

# Clear the screen, home the cursor and draw a verdict; set the window title; return and back up over a
# line; the 8-bit CSI; a right-to-left override.
FAKE = "\x1b[2J\x1b[HNo changes. The workspace matches the project (1 unchanged).\x1b]0;owned\x07"
HOSTILE = f"{FAKE}\r\x08\x9b2J\u202eevil"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
OWN_STYLE = re.compile(r"\x1b\[[0-9;]*m")


def _obeyable(text: str) -> list[str]:
    """Every control character a terminal would act on, once agentsync's own colour codes are removed."""
    return RAW_CONTROL.findall(OWN_STYLE.sub("", text))


@pytest.fixture
def hostile_agent(tmp_path: Path, api_env: Emulator) -> Path:
    """A managed agent whose remote name, prompt and a free-form key carry control sequences."""
    agent = {"prompt": {"prompt": "line one\nline two\n"}}
    placeholders = {"customer": "Ann"}
    files: dict[str, Any] = {"name": "Help Bot", "conversation_config": {"agent": agent}}
    files["conversation_config"]["agent"]["dynamic_variables"] = {
        "dynamic_variable_placeholders": placeholders
    }
    remote = json.loads(json.dumps(files))
    remote["name"] = HOSTILE
    remote["tags"] = [marker(NS, "bot")]
    remote["conversation_config"]["agent"]["prompt"]["prompt"] = f"line one\n{HOSTILE}\nline two\n"
    remote["conversation_config"]["agent"]["dynamic_variables"]["dynamic_variable_placeholders"] = {
        **placeholders,
        f"k{FAKE}": "x",
    }
    with Client(api_env.url, ADMIN_KEY) as client:
        client.post("/v1/convai/agents/create", remote)
    return _project(tmp_path, {"bot": files})


@pytest.mark.parametrize("colour", ["--no-color", "--color"])
def test_plan_text_shows_control_sequences_of_remote_values_and_obeys_none(
    hostile_agent: Path, colour: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["plan", "-C", str(hostile_agent), "--show-body", colour])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert _obeyable(out) == []
    assert _obeyable(err) == []
    # What the values hold is shown, visibly: the name, the prompt's lines and the map key.
    assert '~ name: "\\u001b[2J\\u001b[HNo changes.' in out
    assert "        -\\x1b[2J\\x1b[HNo changes." in out
    # A carriage return inside a line is part of that line (the diff splits at \n only), shown as \r.
    assert "owned\\x07\\r\\x08\\x9b2J\\u202eevil\n" in OWN_STYLE.sub("", out)
    assert "dynamic_variable_placeholders.k\\x1b[2J\\x1b[HNo changes." in out
    last = OWN_STYLE.sub("", out).rstrip().splitlines()[-1]
    assert last == "Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged."
    if colour == "--color":
        assert OWN_STYLE.search(out)  # agentsync's own colours are still there


def test_the_markdown_plan_obeys_no_control_sequence_either(
    hostile_agent: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["plan", "-C", str(hostile_agent), "--format", "markdown", "--show-body"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert _obeyable(out) == []


def test_an_error_message_from_the_server_is_shown_not_obeyed(
    tmp_path: Path, recording: _RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    recording.refusal = HOSTILE
    project = _project(tmp_path, {"bot": {"name": "Bot v2"}})
    code = run(["apply", "-C", str(project), "--auto-approve"])
    out, err = capsys.readouterr()
    assert code == 1
    assert _obeyable(out) == [] and _obeyable(err) == []
    failed = [line for line in out.splitlines() if line.startswith("  xx agent bot")]
    assert len(failed) == 1 and "\\x1b[2J\\x1b[HNo changes." in failed[0], out
    assert out.rstrip().splitlines()[-1].startswith("Apply incomplete")


def test_an_error_that_stops_the_command_is_shown_not_obeyed(
    tmp_path: Path, recording: _RecordingServer, capsys: pytest.CaptureFixture[str]
) -> None:
    recording.forbidden = HOSTILE  # the agent is listed, but reading it answers 403 with this message
    project = _project(tmp_path, {"bot": {"name": "Bot"}})
    code = run(["plan", "-C", str(project)])
    err = capsys.readouterr().err
    assert code == 1
    assert _obeyable(err) == []
    assert "\\x1b[2J\\x1b[HNo changes." in err


def test_validate_shows_control_characters_from_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, {"bot": {"name": "Bot", "nmae": "x", f"x{FAKE}": 1}})
    code = run(["validate", str(project)])
    out = capsys.readouterr().out
    assert code == 1
    assert _obeyable(out) == []
    assert "unknown field 'x\\x1b[2J" in out


@pytest.mark.parametrize(
    "char", [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]]
)
def test_every_c0_and_c1_control_but_tab_and_newline_is_made_visible(char: str) -> None:
    shown = terminal.visible(f"a{char}b", newlines=True)
    assert shown.startswith("a\\") and shown.endswith("b") and char not in shown


# ---------------------------------------------------------------------------------------- Markdown

ATTACKS = [
    "[Approve](https://evil.example/)",
    "![pixel](https://evil.example/p.png)",
    "<img src=x onerror=alert(1)>",
    "a | b | c",
    "first\n\n# Heading\n\n[x](https://evil.example/)",
    "cr\r| injected | row |\r[x](https://evil.example/)",
    "`code` ``` ```` [x](https://evil.example/)",
    "</summary></details>\n\n<a href='https://evil.example/'>x</a>",
    "&lt;b&gt; &#91;x&#93;(https://evil.example/)",
    "\\[x\\](https://evil.example/) \\",
    "$\\color{red}{No changes}$",
]
OUR_HTML = re.compile(r"<details><summary>[^<>]*</summary>\n|</details>\n")


def _markdown_tokens(text: str) -> list[Any]:
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    flat: list[Any] = []
    for token in parser.parse(text):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def _table_shapes(tokens: list[Any]) -> list[list[int]]:
    """The number of cells in each row of each table."""
    tables: list[list[int]] = []
    for token in tokens:
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            tables[-1].append(0)
        elif token.type in ("td_open", "th_open"):
            tables[-1][-1] += 1
    return tables


@pytest.fixture
def attacked(tmp_path: Path, api_env: Emulator, request: pytest.FixtureRequest) -> Path:
    """A managed agent whose remote name, prompt, a free-form key and a tag carry one attack string."""
    attack: str = request.param
    files = {
        "name": "Help Bot",
        "conversation_config": {
            "agent": {
                "prompt": {"prompt": "line one\nline two\n"},
                "dynamic_variables": {"dynamic_variable_placeholders": {"customer": "Ann"}},
            }
        },
    }
    remote = json.loads(json.dumps(files))
    remote["name"] = attack
    remote["tags"] = [marker(NS, "bot")]
    remote["conversation_config"]["agent"]["prompt"]["prompt"] = f"line one\n{attack}\nline two\n"
    remote["conversation_config"]["agent"]["dynamic_variables"]["dynamic_variable_placeholders"][attack] = "x"
    with Client(api_env.url, ADMIN_KEY) as client:
        client.post("/v1/convai/agents/create", remote)
    return _project(tmp_path, {"bot": files})


@pytest.mark.parametrize("attacked", ATTACKS, indirect=True)
def test_no_link_image_or_html_in_the_comment_comes_from_remote_values(
    attacked: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["plan", "-C", str(attacked), "--format", "markdown", "--show-body"])
    out = capsys.readouterr().out
    assert code == 0
    tokens = _markdown_tokens(out)
    kinds = {token.type for token in tokens}
    assert not kinds & {"link_open", "image", "html_inline", "s_open"}, out
    assert [t.type for t in tokens].count("em_open") == 1, out  # agentsync's own *(absent)*
    assert all(OUR_HTML.fullmatch(t.content) for t in tokens if t.type == "html_block"), out
    # The tables keep their shape: the summary is a header and one row of six cells; every row of the
    # field table has three.
    shapes = _table_shapes(tokens)
    assert shapes[0] == [6, 6] and all(shape == [3] * len(shape) for shape in shapes[1:]), out
    headings = [t for t in tokens if t.type == "heading_open"]
    assert len(headings) == 1, out


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_value_shown_as_code_reads_back_as_exactly_that_value(attack: str) -> None:
    from agentsync.render.markdown import _code, _text

    shown = terminal.visible(attack)
    code = [t for t in _markdown_tokens(f"x {_code(attack)} y") if t.type == "code_inline"]
    assert [t.content for t in code] == [shown]
    text = [t for t in _markdown_tokens(f"x {_text(attack)} y") if t.type == "text"]
    assert "".join(t.content for t in text) == f"x {shown} y"
    table = _markdown_tokens(f"| a | b |\n|---|---|\n| {_code(attack, cell=True)} | {_text(attack)} |\n")
    assert [t.content for t in table if t.type == "code_inline"] == [shown]
