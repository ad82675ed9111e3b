"""What pull writes, as values (file by file, with the kind and key each file holds), and the writing
itself: every file staged beside its target first, then one rename each."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from agentsync.files import flush_all, stage
from agentsync.pullview import PullError


class FileAction(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REMOVE = "remove"


@dataclass(frozen=True)
class FileChange:
    path: Path  # relative to the project root
    action: FileAction
    kind: str | None = None  # the kind whose resource (or list) the file holds; None: settings, prompts
    key: str | None = None  # the resource's key, for a file of one resource


@dataclass
class Output:
    """Everything one pull writes, in write order, and removes; which kind and key each file holds."""

    files: dict[Path, str] = field(default_factory=dict)
    removed: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    owners: dict[Path, tuple[str, str | None]] = field(default_factory=dict)
    looked_at: list[Path] = field(default_factory=list)

    def add(self, files: Mapping[Path, str], kind: str, key: str | None, main: Path) -> None:
        self.files.update(files)
        self.owners[main] = (kind, key)

    def note(self, notes: Sequence[str]) -> None:
        self.notes.extend(n for n in notes if n not in self.notes)


def action(path: Path, text: str) -> FileAction:
    if not path.is_file():
        return FileAction.CREATE
    current = path.read_text(encoding="utf-8")
    return FileAction.UNCHANGED if current == text else FileAction.UPDATE


def classify(root: Path, out: Output) -> tuple[FileChange, ...]:
    """Every file pull wrote, would write, removed or looked at and left alone, sorted by path."""
    changes = [_change(root, out, p, action(p, t)) for p, t in out.files.items()]
    changes += [_change(root, out, p, FileAction.REMOVE) for p in out.removed]
    changes += [_change(root, out, p, FileAction.UNCHANGED) for p in out.looked_at if p not in out.files]
    return tuple(sorted(changes, key=lambda c: c.path.as_posix()))


def _change(root: Path, out: Output, path: Path, what: FileAction) -> FileChange:
    kind, key = out.owners.get(path, (None, None))
    return FileChange(relative(path, root), what, kind, key)


def relative(path: Path, root: Path) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return path


def write_files(files: Mapping[Path, str]) -> None:
    """Write all ``files`` or none of the new content: a failure while staging removes every staged
    file and leaves the originals untouched; renames happen only after every file is staged, in the
    order given (an included file before the file that includes it)."""
    staged: list[tuple[Path, Path]] = []
    made: set[Path] = set()
    try:
        for path, text in files.items():
            staged.append((stage(path, text, flush=False, made=made), path))
        flush_all(
            [temporary for temporary, _ in staged]
        )  # the new content is on disk before any rename makes it the file
    except OSError as exc:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise PullError(
            f"could not write {getattr(exc, 'filename', None) or 'a file'}: {exc.strerror}",
            hint="nothing was changed; fix the permissions or free space and pull again",
        ) from exc
    for temporary, path in staged:
        os.replace(temporary, path)


def remove_files(paths: Sequence[Path]) -> None:
    """Remove files, definition files before the included text they point at."""
    for path in sorted(paths, key=lambda p: p.suffix != ".yaml"):
        path.unlink(missing_ok=True)
