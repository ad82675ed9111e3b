"""The plan as a value: what would change, per resource, and how it would be written.

A plan is built from the loaded project and the fetched remote state and nothing else (no I/O). It
is rendered, saved with ``plan --out`` and applied exactly by ``apply PLAN_FILE``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from agentsync.errors import Location

PLAN_FORMAT_VERSION = 1

Path = tuple[str | int, ...]


class Kind(str, enum.Enum):
    TAG = "tag"
    AGENT = "agent"


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    ADOPT = "adopt"
    DELETE = "delete"


class _Absent:
    """Stands for "no value": the old side of a created field, the new side of a released one."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


def dotted(path: Path) -> str:
    """``("conversation_config", "agent", "tools", 0)`` -> ``conversation_config.agent.tools[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class FieldChange:
    """One changed path of the managed view, with its old and new values (either may be ABSENT)."""

    path: Path
    old: Any = ABSENT
    new: Any = ABSENT

    @property
    def dotted(self) -> str:
        return dotted(self.path)


@dataclass(frozen=True)
class Change:
    """One resource the plan would write. ``body`` is the exact request body (None for DELETE);
    ``fingerprint`` identifies the remote state the change was computed from, so that apply can refuse a
    stale plan before any write."""

    kind: Kind
    action: Action
    key: str
    remote_id: str | None
    name: str | None
    fields: tuple[FieldChange, ...]
    method: str
    path: str
    body: dict[str, Any] | None
    json_patch: tuple[dict[str, Any], ...]
    fingerprint: str
    source: Location | None = None
    depends_on: tuple[str, ...] = ()
    attached: tuple[str, ...] = ()
    previous_key: str | None = None


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    unchanged: int
    managed: int
    namespace: str
    base_url: str
    environment: str | None = None
    warnings: tuple[str, ...] = ()
    format_version: int = PLAN_FORMAT_VERSION
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)
