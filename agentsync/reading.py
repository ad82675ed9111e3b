"""Read one project file as untrusted input: inside the project, a regular file, and bounded in size.

``plan`` runs on pull requests, so any project file may be a symlink to ``/proc/self/environ``, to a
device or to a FIFO, or may be far larger than any real definition. The real path is checked against
the project before anything is opened, the file type is checked before and after opening (without
following a symlink swapped in between), and at most ``limit + 1`` bytes are read whatever ``stat``
says: files under ``/proc`` report a size of 0, and a device reports none at all.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1024 * 1024
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class Refused(Exception):
    """The file must not be read; ``message`` is one sentence naming it. ``too_large`` tells a size
    refusal from the others, so that the caller can word the limit it applied."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_large = too_large


def real_path(path: Path, real_root: Path, name: str) -> Path:
    """The path with every symlink resolved; Refused when that leads out of ``real_root``."""
    real = path.resolve()
    if not real.is_relative_to(real_root):
        raise Refused(_outside(name, real))
    return real


def read_bounded(
    path: Path, real_root: Path, name: str, limit: int, *, folders: dict[Path, Path] | None = None
) -> bytes:
    """At most ``limit`` bytes of the regular file at ``path`` inside ``real_root``; Refused (or
    OSError) otherwise. ``folders`` keeps the real path of each folder already resolved, for a caller
    that reads many files of the same folders."""
    real, mode = _located(path, real_root, name, folders)
    _regular(mode, name)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(real, flags)
    with os.fdopen(descriptor, "rb", buffering=0) as handle:
        _regular(os.fstat(handle.fileno()).st_mode, name)
        return _read_at_most(handle, limit, name)


def _located(path: Path, real_root: Path, name: str, folders: dict[Path, Path] | None) -> tuple[Path, int]:
    """The real path of ``path`` and the mode of what is there. A path that is not itself a symlink is
    its folder's real path and its own name, so only the folder is resolved (once, with ``folders``);
    a symlink is resolved whole."""
    if folders is not None:
        try:
            status = os.lstat(path)
        except OSError:
            status = None  # resolved below, which raises what it always raised
        if status is not None and not stat.S_ISLNK(status.st_mode):
            folder = folders.get(path.parent)
            if folder is None:
                folder = folders[path.parent] = path.parent.resolve()
            real = folder / path.name
            if not real.is_relative_to(real_root):
                raise Refused(_outside(name, real))
            return real, status.st_mode
    real = real_path(path, real_root, name)
    return real, os.stat(real).st_mode


def _outside(name: str, real: Path) -> str:
    return (
        f"{name} is a symlink that leads out of the project (to {real.as_posix()}); "
        "project files must be inside the project directory"
    )


def _regular(mode: int, name: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((text for test, text in _KINDS if test(mode)), "not a regular file")
    raise Refused(f"{name} is {kind}, not a regular file; project files must be regular files")


def _read_at_most(handle: BinaryIO, limit: int, name: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = handle.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    raise Refused(f"{name} is larger than the limit", too_large=True)
