"""The API key and ``${env.*}`` secrets never leave the process except in the requests that need them.

Every command runs with a known fake key and a secret value, with and without ``--debug``, on happy and
failing paths (401, connection refused, 5xx, a server-side refusal, plain HTTP to a remote host). Then
stdout, stderr, every log record (at DEBUG) and every file written are searched for
either. The emulator's own state is the server's and is not searched; the test checks the secret did
reach the server, so a leak-free result cannot come from the secret never being used.
"""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentsync.cli import options, run
from agentsync.client import RetryPolicy
from agentsync.emulator import Emulator, EmulatorConfig, Faults
from agentsync.emulator.config import ApiKey

FAKE_KEY = "sk_live_FAKEKEY_0123456789abcdef"
SECRET = "s3cr3t-FAKE-VALUE-42"
# Fragments too: a key cut in a log line, or a secret in a diff of one word, is still a leak.
NEEDLES = (FAKE_KEY, "FAKEKEY_0123456789", SECRET, "s3cr3t-FAKE")

BOT = {
    "name": "Bot",
    "tags": ["support"],
    "conversation_config": {"agent": {"first_message": "Hello!", "language": "en"}},
    "platform_settings": {
        "workspace_overrides": {
            "conversation_initiation_client_data_webhook": {
                "url": "https://crm.example/hook",
                "request_headers": {"Authorization": "Bearer ${env.CRM_TOKEN}"},
            }
        }
    },
}


@pytest.fixture
def server() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(keys=[ApiKey(FAKE_KEY, user_id="user_fake")])) as emu:
        yield emu


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log record of every logger, at DEBUG, as text."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s"))
    root = logging.getLogger()
    saved = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # A record that must arrive, so that a capture that sees nothing cannot pass for a clean one.
    logging.getLogger("agentsync.test.probe").debug("capture is on")
    yield sink
    root.removeHandler(handler)
    root.setLevel(saved)


@pytest.fixture
def project(tmp_path: Path, server: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(options, "RETRY", RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002))
    root = tmp_path / "project"
    (root / "agents").mkdir(parents=True)
    (root / "agentsync.yaml").write_text("namespace: sec\n")
    (root / "agents" / "bot.yaml").write_text(json.dumps(BOT))
    monkeypatch.setenv("ELEVENLABS_API_KEY", FAKE_KEY)
    monkeypatch.setenv("ELEVENLABS_BASE_URL", server.url)
    monkeypatch.setenv("CRM_TOKEN", SECRET)
    return root


class Runs:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.seen: list[str] = []
        self.codes: list[tuple[str, int]] = []

    def __call__(self, *args: str) -> int:
        code = -1
        for debug in ((), ("--debug",)):
            code = run([*args, *debug])
            out = self.capsys.readouterr()
            self.seen.append(out.out + out.err)
            self.codes.append((" ".join([*args, *debug]), code))
        return code


def assert_clean(text: str, where: str) -> None:
    for needle in NEEDLES:
        assert needle not in text, f"{needle!r} leaked into {where}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_no_command_leaks_the_key_or_a_secret(
    project: Path,
    server: Emulator,
    tmp_path: Path,
    logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = Runs(capsys)
    p = str(project)
    assert runs("init", str(tmp_path / "fresh")) in (0, 1)
    assert runs("validate", p) == 0
    for fmt in ("text", "markdown", "json"):
        assert (
            runs("plan", "-C", p, "--show-body", "--format", fmt, "--out", str(tmp_path / f"plan.{fmt}")) == 0
        )
    assert (
        runs("apply", "-C", p, "--auto-approve") == 0
    )  # the first run creates; the --debug one finds nothing
    bot = json.loads((project / "agents" / "bot.yaml").read_text())
    bot["conversation_config"]["agent"]["first_message"] = "Changed"
    (project / "agents" / "bot.yaml").write_text(json.dumps(bot))
    saved = tmp_path / "saved.json"
    run(["plan", "-C", p, "--out", str(saved)])
    assert run(["apply", "-C", p, str(saved), "--auto-approve", "--format", "json"]) == 0
    bot["conversation_config"]["agent"]["first_message"] = "Changed again"
    (project / "agents" / "bot.yaml").write_text(json.dumps(bot))
    assert runs("apply", "-C", p, "--auto-approve", "--format", "json") == 0
    assert runs("pull", "-C", p, "--all") == 0
    assert runs("pull", "-C", p, "--all", "--full") == 0

    # Failing paths: a refused key, nobody listening, a failing server, a server-side refusal, plain HTTP.
    server.set_faults(Faults(error_rate=1.0))
    assert runs("plan", "-C", p) == 1
    server.set_faults(Faults())
    monkeypatch.setenv("ELEVENLABS_API_KEY", FAKE_KEY + "-revoked")
    assert runs("plan", "-C", p) == 1
    monkeypatch.setenv("ELEVENLABS_API_KEY", FAKE_KEY)
    monkeypatch.setenv("ELEVENLABS_BASE_URL", f"http://127.0.0.1:{free_port()}")
    assert runs("plan", "-C", p) == 1
    assert runs("apply", "-C", p, "--auto-approve") == 1
    monkeypatch.setenv("ELEVENLABS_BASE_URL", "http://api.example.com")
    assert runs("plan", "-C", p) == 1
    monkeypatch.setenv("ELEVENLABS_BASE_URL", server.url)
    bot["conversation_config"]["agent"]["language"] = "ja"  # the server refuses it with the English TTS model
    (project / "agents" / "bot.yaml").write_text(json.dumps(bot))
    assert runs("apply", "-C", p, "--auto-approve") == 1

    for i, text in enumerate(runs.seen):
        assert_clean(text, f"the output of `{runs.codes[i][0]}`")
    assert any("Traceback" in text for text in runs.seen), "no --debug run printed a traceback"
    assert "capture is on" in logs.getvalue(), "the log capture saw nothing"
    assert_clean(logs.getvalue(), "the logs")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_clean(path.read_text(errors="replace"), str(path))
    # The secret did reach the one place it belongs.
    stored = json.dumps([r.body for r in server.store.agent_records()])
    assert f"Bearer {SECRET}" in stored


def test_the_key_is_refused_over_plain_http_to_a_remote_host_before_any_connection(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: attempts.append(a))
    for url in ("http://api.example.com", "http://10.0.0.8:8000", "http://[2001:db8::1]/"):
        monkeypatch.setenv("ELEVENLABS_BASE_URL", url)
        assert run(["plan", "-C", str(project)]) == 1
        err = capsys.readouterr().err
        assert "refusing to send the API key over plain HTTP" in err and "Traceback" not in err
    assert attempts == []


@pytest.mark.parametrize("target", ["../../outside.md", "/etc/hostname", "prompts/../../../outside.md"])
def test_file_cannot_read_outside_the_project(
    project: Path, tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "outside.md").write_text(SECRET)
    (project / "agents" / "prompts").mkdir(exist_ok=True)
    (project / "agents" / "bot.yaml").write_text(
        f"name: Bot\nconversation_config:\n  agent:\n    prompt:\n      prompt: !file {target}\n"
    )
    assert run(["validate", str(project)]) == 1
    out = capsys.readouterr()
    said = out.out + out.err
    assert "bot.yaml:5:" in said and "outside" in said.lower() and SECRET not in said


def test_file_through_a_symlink_cannot_read_outside_the_project(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "outside.md").write_text(SECRET)
    (project / "agents" / "link.md").symlink_to(tmp_path / "outside.md")
    (project / "agents" / "bot.yaml").write_text(
        "name: Bot\nconversation_config:\n  agent:\n    prompt:\n      prompt: !file link.md\n"
    )
    assert run(["validate", str(project)]) == 1
    out = capsys.readouterr()
    said = out.out + out.err
    assert "bot.yaml:5:" in said and "must be inside it" in said and SECRET not in said
