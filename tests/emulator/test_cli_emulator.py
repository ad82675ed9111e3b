"""``agentsync emulator`` in a subprocess: prints the URL and keys, serves, stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from agentsync.cli.emulator import parse_key
from agentsync.emulator import ApiKey
from agentsync.errors import UsageError


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agentsync", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serves_until_ctrl_c_and_saves_state(tmp_path: Path) -> None:
    state = tmp_path / "emu.json"
    proc = start("--state", str(state), "--api-key", "sk_test:alice:member", "--latency", "0")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        assert "sk_test" in proc.stdout.readline()
        created = requests.post(
            f"{url}/v1/convai/tags", json={"title": "cli"}, headers={"xi-api-key": "sk_test"}, timeout=5
        )
        assert created.json()["owner_user_id"] == "alice"
        assert (
            requests.get(
                f"{url}/v1/convai/tags", headers={"xi-api-key": "sk_emulator_admin"}, timeout=5
            ).status_code
            == 401
        )
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert json.loads(state.read_text())["tags"][0]["body"]["title"] == "cli"


def test_sigterm_stops_cleanly_too(tmp_path: Path) -> None:
    proc = start()
    assert proc.stdout is not None and proc.stdout.readline().startswith("ElevenLabs API emulator listening")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err


def test_corrupt_state_file_fails_with_one_sentence(tmp_path: Path) -> None:
    state = tmp_path / "broken.json"
    state.write_text("{oops")
    proc = start("--state", str(state))
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 1 and str(state) in err and "Traceback" not in err
    assert state.read_text() == "{oops"


def test_parse_key_forms() -> None:
    assert parse_key("k") == ApiKey("k", user_id="user_1", role="admin")
    assert parse_key("k:bob:member", 2) == ApiKey("k", user_id="bob", role="member")
    for bad in ("", "k:u:owner", "a:b:c:d"):
        with pytest.raises(UsageError):
            parse_key(bad)
