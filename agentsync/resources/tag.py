"""Conversation tags: workspace-level labels, matched by title (or by ``id:`` when given)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentsync.errors import Location

WRITABLE_FIELDS: tuple[str, ...] = ("title", "description")
TITLE_MAX = 120
DESCRIPTION_MAX = 1000


@dataclass(frozen=True)
class TagDef:
    """One entry of ``tags.yaml``. ``config`` holds the declared fields (``title``, maybe ``description``)."""

    config: Mapping[str, Any]
    id: str | None = None
    location: Location | None = None

    @property
    def title(self) -> str:
        title: str = self.config["title"]
        return title
