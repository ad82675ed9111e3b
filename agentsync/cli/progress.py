"""Progress on stderr for plan and apply: on a terminal, a status line for listing pages and fetches and
one line per write as it lands; with ``-v``, one line per request (method, path, status, time), retry
and wait, terminal or not. Nothing when stderr is piped (without ``-v``) or with ``--quiet``.

Only paths, statuses, counts, kinds and keys reach these lines (:mod:`agentsync.progress`), each shown
through :func:`agentsync.render.terminal.visible`: never a key, a body or a control character."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO, TypeVar

import click

from agentsync import progress
from agentsync.errors import UsageError
from agentsync.render.terminal import visible

F = TypeVar("F", bound=Callable[..., Any])

MARKS = {"applied": "ok", "would_apply": "..", "not_converged": "!!", "failed": "xx", "skipped": "--"}
CLEAR = "\r\x1b[K"

_current: Display | None = None


def progress_options(fn: F) -> F:
    """Add ``-q/--quiet`` and ``-v/--verbose``; the command receives ``quiet`` and ``verbose``."""
    fn = click.option("-v", "--verbose", is_flag=True, help="Log every request, retry and wait on stderr.")(
        fn
    )
    return click.option("-q", "--quiet", is_flag=True, help="Show no progress on stderr.")(fn)


class Display:
    def __init__(self, stream: TextIO, *, live: bool, verbose: bool) -> None:
        self.stream = stream
        self.live = live
        self.verbose = verbose
        self.status = ""
        self.lock = threading.Lock()

    def __call__(self, event: progress.Event) -> None:
        with self.lock:
            if isinstance(event, progress.Page):
                self._show_status(f"listing {event.path}: page {event.number}")
            elif isinstance(event, progress.Fetched):
                self._show_status(f"fetched {event.done}/{event.total}")
            elif isinstance(event, progress.Wrote):
                if self.live or self.verbose:
                    mark = MARKS.get(event.outcome, "  ")
                    what = event.outcome.replace("_", " ")
                    self._line(
                        f"  {mark} {event.kind} {event.key} {event.action}: {what} ({event.done}/{event.total})"
                    )
            elif self.verbose:
                self._line(_log(event))

    def _show_status(self, text: str) -> None:
        if self.live:
            self.status = visible(text)
            self.stream.write(CLEAR + self.status)
            self.stream.flush()

    def _line(self, text: str) -> None:
        prefix = CLEAR if self.status else ""
        self.stream.write(prefix + visible(text) + "\n")
        if self.status:
            self.stream.write(self.status)
        self.stream.flush()

    def clear(self) -> None:
        with self.lock:
            if self.status:
                self.stream.write(CLEAR)
                self.stream.flush()
                self.status = ""


def _log(event: progress.Event) -> str:
    if isinstance(event, progress.Request):
        answer = str(event.status) if event.status else f"no answer ({event.error})"
        return f"{event.method} {event.path} {answer} {event.seconds * 1000:.0f} ms"
    if isinstance(event, progress.Retry):
        return (
            f"retrying {event.method} {event.path} after {event.reason}: attempt {event.attempt}, "
            f"waiting {event.wait:.2f} s"
        )
    return str(event)


@contextlib.contextmanager
def showing(quiet: bool, verbose: bool, stream: TextIO | None = None) -> Iterator[None]:
    """Install the display for the block, when there is anything to show."""
    global _current
    if quiet and verbose:
        raise UsageError("--quiet and --verbose cannot be combined")
    out = stream or sys.stderr
    isatty = getattr(out, "isatty", None)
    live = not quiet and bool(isatty and isatty())
    if not (live or verbose):
        yield
        return
    display = Display(out, live=live, verbose=verbose)
    _current = display
    try:
        with progress.listening(display):
            yield
    finally:
        display.clear()
        _current = None


def clear() -> None:
    """Take the status line off the terminal before other output (the plan, a question)."""
    if _current is not None:
        _current.clear()
