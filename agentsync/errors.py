"""One exception root for the whole library.

Every error agentsync raises on purpose derives from :class:`AgentsyncError`. It carries data
(file location, HTTP status, request id, ...) and renders its own one-sentence message; the command
line turns it into that message and an exit code in exactly one place (``agentsync.cli``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    # Only with --detailed-exitcode: the plan has changes (Terraform's contract). Nothing else may use 2,
    # which is why usage errors exit 1 here, unlike click's default.
    CHANGES = 2
    # `agentsync test` (and `plan --test`): no test failed, but some could not run.
    TESTS_NOT_RUN = 3
    INTERRUPTED = 130


class Location(NamedTuple):
    """A place in a project file; line and column are 1-based, as editors show them."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding of validation: where, how bad, what, and the source line to show under it."""

    location: Location | None
    message: str
    severity: Severity = Severity.ERROR
    source_line: str | None = None
    # What the problem was found in ("agent"), so that one cause found in many (a "*" override) can
    # be reported once, with the count.
    subject: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"{where}{self.severity.value}: {self.message}"
        if self.source_line is not None and self.location is not None:
            caret = " " * (max(self.location.col, 1) - 1) + "^"
            text += f"\n    {self.source_line}\n    {caret}"
        return text


class AgentsyncError(Exception):
    """The root of every error agentsync raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UsageError(AgentsyncError):
    """The command line was wrong (an option, an argument, a missing environment variable)."""


class ProjectError(AgentsyncError):
    """A project file is wrong in a way that stops loading; carries its location when known."""

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
        source_line: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.location = location
        self.source_line = source_line

    def render(self) -> str:
        text = Problem(self.location, self.message, Severity.ERROR, self.source_line).render()
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class ValidationFailed(AgentsyncError):
    """Validation found errors; every problem (warnings included) is kept, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.is_error]
        noun = "error" if len(errors) == 1 else "errors"
        super().__init__(f"the project has {len(errors)} {noun}")
        self.problems = problems

    def render(self) -> str:
        body = "\n".join(p.render() for p in self.problems)
        return f"{body}\n{super().render()}"


class IdentityError(AgentsyncError):
    """Which remote resource a definition means is ambiguous or contradictory; agentsync never guesses."""


@dataclass
class ApiErrorDetail:
    status: int
    method: str
    url: str
    message: str
    request_id: str | None = None
    code: str | None = None
    field_errors: list[str] = field(default_factory=list)


class ApiError(AgentsyncError):
    """The API answered with an error status. The message is one sentence built from the response.

    ``ambiguous`` is True when a write failed in a way that leaves open whether the server applied it
    (a 5xx on POST/PATCH/DELETE): the caller must look before it tries again."""

    ambiguous: bool = False

    def __init__(self, detail: ApiErrorDetail, *, hint: str | None = None, ambiguous: bool = False) -> None:
        super().__init__(detail.message, hint=hint)
        self.detail = detail
        self.ambiguous = ambiguous

    @property
    def status(self) -> int:
        return self.detail.status


class NetworkError(AgentsyncError):
    """No usable HTTP answer: connection refused, timed out, dropped, or a body that is not the API's.

    ``ambiguous`` is True when a write may have reached the server before the failure (timeout, dropped
    connection on POST/PATCH/DELETE)."""

    ambiguous: bool = False
    # True when the answer did not come in time: the server may still be working on the request.
    late: bool = False

    def __init__(
        self, message: str, *, url: str, hint: str | None = None, ambiguous: bool = False, late: bool = False
    ) -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.ambiguous = ambiguous
        self.late = late


class StalePlanError(AgentsyncError):
    """A saved plan no longer matches the workspace; nothing was written."""

    def __init__(self, message: str, *, stale: list[str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.stale = stale


class SafetyError(AgentsyncError):
    """A safety rule refused the plan (prune, share of changes, attached phone numbers, no TTY)."""


class PlanFileError(AgentsyncError):
    """A saved plan file cannot be read or is for another project, environment or format version."""
