"""Writing files so that a reader (or a crash) sees the old content or the whole new one, never half."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Sequence
from pathlib import Path


def stage(path: Path, text: str, *, flush: bool = True, made: set[Path] | None = None) -> Path:
    """Write ``text`` to a hidden temporary sibling of ``path`` (same folder, so the rename that follows
    is atomic), flushed to disk, with ``path``'s permissions; return the sibling. With ``flush`` False
    the caller flushes every staged file at once (:func:`flush_all`) before any rename. ``made`` holds
    the folders a caller staging many files already created.

    Plain ``os`` calls (no temporary-file machinery, no text wrapper, one ``stat``): staging a thousand
    new files is on the critical path of a pull, after its last request."""
    folder = path.parent
    if made is None or folder not in made:
        folder.mkdir(parents=True, exist_ok=True)
        if made is not None:
            made.add(folder)
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    data = text.encode("utf-8")
    for _ in range(100):
        temporary = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))
    try:
        try:
            written = 0
            while written < len(data):
                written += os.write(handle, data[written:])
            os.fchmod(handle, mode)  # the exact mode, whatever the umask
            if flush:
                os.fsync(handle)
        finally:
            os.close(handle)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def flush_all(paths: Sequence[Path]) -> None:
    """The staged ``paths`` on disk, in one call where the system has one: one flush for a thousand
    staged files costs what one file's did (a pull of 1,000 new files spent a quarter second in
    fsyncs). Elsewhere each file is flushed in turn."""
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:
        with open(path, "rb+") as stream:
            os.fsync(stream.fileno())


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename."""
    os.replace(stage(path, text), path)
