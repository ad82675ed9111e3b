"""Definitions, projects and remote states built in memory, for tests of the pure stages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from agentsync.errors import Location
from agentsync.kinds import Definition
from agentsync.kinds.base import Path as JsonPath
from agentsync.project import Project, Settings
from agentsync.remote import RemoteState

NS = "agentsync"


def agent_def(
    key: str,
    file: str | None = None,
    config: Mapping[str, Any] | None = None,
    *,
    id: str | None = None,
    renamed_from: str | None = None,
    locations: Mapping[JsonPath, Location] | None = None,
    secrets: Mapping[JsonPath, str] | None = None,
    references: Mapping[JsonPath, str] | None = None,
) -> Definition:
    return Definition(
        kind="agent",
        key=key,
        file=file or f"agents/{key}.yaml",
        config=dict(config if config is not None else {"name": key}),
        id=id,
        renamed_from=renamed_from,
        locations=dict(locations or {}),
        secrets=dict(secrets or {}),
        references=dict(references or {}),
    )


def tag_def(config: Mapping[str, Any], id: str | None = None, location: Location | None = None) -> Definition:
    return Definition(
        kind="tag",
        key=str(config["title"]),
        file="tags.yaml",
        config=dict(config),
        id=id,
        locations={(): location} if location is not None else {},
    )


def make_project(
    agents: Iterable[Definition] = (),
    tags: Sequence[Definition] | None = None,
    *,
    authoritative: bool = False,
    namespace: str = NS,
    root: Path = Path("."),
) -> Project:
    definitions: dict[str, dict[str, Definition]] = {"agent": {a.key: a for a in agents}}
    if tags is not None:
        definitions["tag"] = {t.key: t for t in tags}
    settings = Settings(namespace=namespace, authoritative=frozenset({"tags"} if authoritative else ()))
    return Project(root=root, settings=settings, definitions=definitions)


def make_remote(
    bodies: Iterable[Mapping[str, Any]] = (),
    tags: Sequence[Mapping[str, Any]] | None = None,
    *,
    summaries: Sequence[Mapping[str, Any]] | None = None,
    base_url: str = "http://127.0.0.1:1",
) -> RemoteState:
    full = list(bodies)
    listed = (
        summaries
        if summaries is not None
        else [{"agent_id": b["agent_id"], "name": b.get("name"), "tags": b.get("tags") or []} for b in full]
    )
    items: dict[str, tuple[Mapping[str, Any], ...]] = {"agent": tuple(listed)}
    by_id: dict[str, Mapping[str, Mapping[str, Any]]] = {"agent": {b["agent_id"]: b for b in full}}
    if tags is not None:
        items["tag"] = tuple(tags)
        by_id["tag"] = {t["tag_id"]: t for t in tags}
    return RemoteState(items, by_id, base_url)
