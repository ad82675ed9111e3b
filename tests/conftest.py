"""Shared fixtures. Anything that talks HTTP talks to the emulator over real HTTP on 127.0.0.1.

- ``emulator_session``: one emulator for the whole session (free port, admin and member keys, no faults).
- ``emulator``: the same emulator, reset (empty store, zero stats, no faults) before each test.
- ``api_env``: ``ELEVENLABS_BASE_URL`` / ``ELEVENLABS_API_KEY`` pointed at ``emulator`` with the admin key.

Property tests explore new random examples on every local run; under CI (``CI`` set) they run a fixed
derandomised set, so a merge is never failed by an example nobody has seen before. A counterexample
found locally is fixed, and kept as an explicit test.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings

from agentsync.emulator import ADMIN_KEY, Emulator, EmulatorConfig, Faults
from tests import rawhttp

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(host="127.0.0.1", port=0)) as emu:
        yield emu


@pytest.fixture
def emulator(emulator_session: Emulator) -> Iterator[Emulator]:
    emulator_session.set_faults(Faults())
    emulator_session.reset()
    yield emulator_session
    emulator_session.set_faults(Faults())


@pytest.fixture
def api_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("ELEVENLABS_BASE_URL", emulator.url)
    monkeypatch.setenv("ELEVENLABS_API_KEY", ADMIN_KEY)
    return emulator


# --- a raw HTTP server (tests/rawhttp.py) -------------------------------------------------------


@pytest.fixture
def serve() -> Iterator[Callable[..., rawhttp.Server]]:
    listeners: list[socket.socket] = []

    def start(reply: rawhttp.Reply, *, close_after: bool = False) -> rawhttp.Server:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)
        server = rawhttp.Server(
            reply, url=f"http://127.0.0.1:{listener.getsockname()[1]}", close_after=close_after
        )
        threading.Thread(target=server.serve, args=(listener,), daemon=True).start()
        return server

    yield start
    for listener in listeners:
        listener.close()


@pytest.fixture
def tls_server() -> Iterator[rawhttp.TlsServer]:
    listener = socket.create_server(("127.0.0.1", 0))
    server = rawhttp.TlsServer(
        lambda _: rawhttp.with_length(), url=f"https://127.0.0.1:{listener.getsockname()[1]}"
    )
    threading.Thread(target=server.serve, args=(listener,), daemon=True).start()
    yield server
    listener.close()
