"""What apply reports: the outcome of each planned change, the report as a whole and its exit status,
the options of a run, and the note each write carries about what made it."""

from __future__ import annotations

import enum
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from agentsync.errors import AgentsyncError, ExitCode
from agentsync.kinds import Ref
from agentsync.plan import Action

REPORT_FORMAT_VERSION = 1


class Outcome(str, enum.Enum):
    APPLIED = "applied"
    NOT_CONVERGED = "not_converged"
    FAILED = "failed"
    SKIPPED = "skipped"
    # --dry-run: everything was checked and this write would have been sent.
    WOULD_APPLY = "would_apply"


@dataclass(frozen=True)
class Result:
    """What happened to one planned change. ``paths`` are the dotted paths that did not take;
    ``recovered`` says an ambiguous create was found already done (by marker or title) instead of re-sent."""

    kind: str
    action: Action
    key: str
    outcome: Outcome
    name: str | None = None
    remote_id: str | None = None
    reason: str | None = None
    paths: tuple[str, ...] = ()
    recovered: bool = False

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key}"

    @property
    def ref(self) -> Ref:
        return Ref(self.kind, self.key)


@dataclass(frozen=True)
class ApplyReport:
    results: tuple[Result, ...]
    dry_run: bool = False
    interrupted: bool = False
    version_description: str | None = None
    requests: dict[str, int] = field(default_factory=dict)
    # The signal that stopped the apply (SIGINT or SIGTERM), for the shell's 128 + N exit status.
    signal: int | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    def by_outcome(self, outcome: Outcome) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.outcome is outcome)

    @property
    def ok(self) -> bool:
        bad = (Outcome.FAILED, Outcome.NOT_CONVERGED, Outcome.SKIPPED)
        return not self.interrupted and not any(r.outcome in bad for r in self.results)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 128 + self.signal if self.signal else int(ExitCode.INTERRUPTED)
        return int(ExitCode.OK if self.ok else ExitCode.ERROR)


@dataclass(frozen=True)
class ApplyOptions:
    """``create_attempts`` bounds how often one create is tried (ambiguous failures resolved by lookup
    count too); the delays come from ``backoff`` (attempt number, error) so tests can make them zero."""

    dry_run: bool = False
    version_description: str | None = None
    create_attempts: int = 5
    # How long to keep looking for a create whose answer came too late before sending it again.
    settle_seconds: float = 60.0
    backoff: Callable[[int, AgentsyncError], float] | None = None


# ------------------------------------------------------------------------------------ version note


def version_description(root: FsPath, message: str | None) -> str | None:
    """What made this change: ``--message`` when given, else the git commit and subject of ``root``."""
    if message:
        return message
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = out.stdout.strip()
    return f"agentsync apply: {line}" if out.returncode == 0 and line else None
