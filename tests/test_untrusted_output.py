"""Remote values are data: escaped in Markdown, neutralised on terminals, escaped in URLs; and the
emulator stops on SIGTERM however early it arrives."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


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
