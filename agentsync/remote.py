"""The remote state: what the workspace holds for the kinds and keys in scope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RemoteState:
    """``agent_summaries`` is every summary the list endpoint returned (archived ones included);
    ``agents`` maps agent id to the full GET body, only for the agents in scope; ``tags`` is the whole
    conversation-tag list, or None when tags were not fetched (the project does not manage them)."""

    agent_summaries: tuple[Mapping[str, Any], ...]
    agents: Mapping[str, Mapping[str, Any]]
    tags: tuple[Mapping[str, Any], ...] | None
    base_url: str = ""
    stats: dict[str, int] = field(default_factory=dict)
