"""Conversation tags: workspace-level labels, matched by title (or by ``id:`` when given)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentsync.errors import IdentityError, Location

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


def tag_view(declared: Mapping[str, Any], remote: Mapping[str, Any]) -> dict[str, Any]:
    """The declared writable fields of ``remote``: what a tag definition manages."""
    return {k: remote[k] for k in WRITABLE_FIELDS if k in declared and k in remote}


def _where(definition: TagDef) -> str:
    return f"{definition.location}: " if definition.location else ""


def _by_title(title: str, remote: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [t for t in remote if t.get("title") == title]


def check_unique_title(definition: TagDef, remote: Sequence[Mapping[str, Any]]) -> None:
    """Two remote tags with a declared title leave no safe way to tell which one is meant."""
    found = _by_title(definition.title, remote)
    if len(found) > 1:
        ids = ", ".join(str(t.get("tag_id")) for t in found)
        raise IdentityError(
            f"{_where(definition)}the workspace has {len(found)} conversation tags titled "
            f"'{definition.title}' ({ids})",
            hint="delete or rename all but one in the workspace, or add `id:` to the entry in tags.yaml",
        )


def match_tag(definition: TagDef, remote: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The remote tag ``definition`` means: by ``id:`` when given (so a new title is a rename), else by
    title; None when it does not exist yet. A missing ``id:`` or an ambiguous title is an error."""
    check_unique_title(definition, remote)
    if definition.id is None:
        found = _by_title(definition.title, remote)
        return found[0] if found else None
    for tag in remote:
        if tag.get("tag_id") == definition.id:
            return tag
    raise IdentityError(
        f"{_where(definition)}tag '{definition.title}' declares id: {definition.id}, but the workspace "
        f"has no conversation tag with that id",
        hint="remove `id:` to match the tag by title (or create it), or correct the id",
    )
