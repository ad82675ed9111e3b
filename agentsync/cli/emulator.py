"""``agentsync emulator``: run the local ElevenLabs API in the foreground until Ctrl-C.

With ``--state FILE`` the store is loaded on start and saved atomically after every write and on stop.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import click

from agentsync.emulator import Emulator, EmulatorConfig, Faults
from agentsync.emulator.config import ROLES, ApiKey, default_keys
from agentsync.emulator.hostile import KINDS
from agentsync.errors import AgentsyncError, ExitCode, UsageError

# How long a stop request (SIGTERM) can wait before the main thread acts on it.
WAKE_INTERVAL = 0.1


def parse_key(text: str, index: int = 1) -> ApiKey:
    """``KEY``, ``KEY:USER`` or ``KEY:USER:ROLE`` (role admin or member, default admin; user ``user_<index>``)."""
    parts = text.split(":")
    if not parts[0] or len(parts) > 3:
        raise UsageError(f"--api-key {text!r} is not KEY, KEY:USER or KEY:USER:ROLE")
    user = parts[1] if len(parts) > 1 and parts[1] else f"user_{index}"
    role = parts[2] if len(parts) > 2 else "admin"
    if role not in ROLES:
        raise UsageError(f"--api-key {text!r}: the role must be one of {', '.join(ROLES)}")
    return ApiKey(parts[0], user_id=user, role=role)


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option(
    "--state",
    "state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Load the store from FILE on start; save it after every write and on stop.",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY[:USER[:ROLE]]",
    help="Accept this key (repeatable). Default: the built-in admin and member keys.",
)
@click.option(
    "--latency", type=click.FloatRange(0), default=0.0, show_default=True, help="Seconds added per request."
)
@click.option(
    "--jitter",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Up to this many more seconds, at random.",
)
@click.option(
    "--max-concurrent",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Answer 429 concurrent_limit_exceeded beyond this many in-flight requests (0: no limit).",
)
@click.option(
    "--retry-after", type=click.IntRange(0), default=1, show_default=True, help="Retry-After on a 429."
)
@click.option(
    "--error-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True, help="Share answered 5xx."
)
@click.option(
    "--rate-limit-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share answered 429 rate_limit_exceeded.",
)
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of connections closed without an answer.",
)
@click.option(
    "--commit-then-fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of writes stored and then answered 5xx or dropped.",
)
@click.option("--seed", type=int, default=None, help="Seed for the random faults.")
@click.option(
    "--not-kept",
    "not_kept",
    multiple=True,
    metavar="PATH",
    help="Dotted agent path a PATCH silently does not store (repeatable).",
)
@click.option(
    "--map-merge", is_flag=True, help="Merge free-form maps key by key on PATCH instead of replacing them."
)
@click.option(
    "--hostile-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of successful reads answered with a broken body (truncated, wrong shape, HTML, huge).",
)
@click.option(
    "--hostile-kind",
    "hostile_kinds",
    multiple=True,
    type=click.Choice(KINDS),
    help="Only this kind of broken body (repeatable; default: all).",
)
@click.option(
    "--test-run-delay",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Seconds a test run stays pending before its graded outcome shows.",
)
@click.option(
    "--hostile-route",
    default="",
    metavar="TEMPLATE",
    help="Only break answers of this route, e.g. /v1/convai/agents/{agent_id}.",
)
def command(
    host: str,
    port: int,
    state: Path | None,
    api_keys: tuple[str, ...],
    not_kept: tuple[str, ...],
    map_merge: bool,
    hostile_kinds: tuple[str, ...],
    **knobs: float | int | str | None,
) -> int:
    """Run the local ElevenLabs API emulator in the foreground (Ctrl-C stops it)."""
    keys = [parse_key(k, i) for i, k in enumerate(api_keys, 1)] or default_keys()
    faults = Faults(
        **knobs,  # type: ignore[arg-type]
        not_kept_paths=not_kept,
        map_merge=map_merge,
        hostile_kinds=hostile_kinds,
    )
    emulator = Emulator(EmulatorConfig(host=host, port=port, keys=keys, faults=faults, state_file=state))
    # Before the port opens: a supervisor that sees it accept may send SIGTERM at once.
    stop = _stop_on_sigterm()
    try:
        emulator.start()
    except OSError as exc:
        raise AgentsyncError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port, or 0 for a free one",
        ) from exc
    try:
        _announce(emulator, keys, state)
        _wait(stop)
    except KeyboardInterrupt:
        click.echo("Stopping.", err=True)
    finally:
        emulator.stop()
    return int(ExitCode.OK)


class _StopRequest:
    """Set by the SIGTERM handler; a plain flag, because a handler that takes a lock (``Event.set``)
    can deadlock with the main thread it interrupts, and one that raises can land inside
    ``Emulator.start`` and leave a half-started server behind."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True


def _stop_on_sigterm() -> _StopRequest:
    """Treat SIGTERM (docker stop, systemd, CI runners) as a request to stop, so the state is saved."""
    stop = _StopRequest()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    return stop


def _wait(stop: _StopRequest) -> None:
    # Short sleeps, not one endless wait: Python runs signal handlers only between bytecodes of the
    # main thread, and a signal that arrives just before an untimed lock wait would never be acted on.
    while not stop.requested:
        time.sleep(WAKE_INTERVAL)
    click.echo("Stopping.", err=True)


def _announce(emulator: Emulator, keys: list[ApiKey], state: Path | None) -> None:
    click.echo(f"ElevenLabs API emulator listening on {emulator.url}")
    for key in keys:
        click.echo(f"  xi-api-key: {key.key}  (user {key.user_id}, {key.role})")
    if state is not None:
        click.echo(f"  state file: {state} (saved after every write)")
    click.echo(f"  export ELEVENLABS_BASE_URL={emulator.url}")
    click.echo("Press Ctrl-C to stop.", err=True)
