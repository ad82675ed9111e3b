"""What pull decides about ownership: where an adopting ``id:`` goes, which agents belong to another
project, and which files are the untouched sample of ``agentsync init``.

Ids are per workspace, so with an environment selected the ``id:`` that adopts an existing agent is
written under ``environments.ENV.overrides.agents.KEY.id`` in agentsync.yaml (a round-trip edit that
keeps comments), never into the shared agent file; once the agent carries this namespace's marker the
id is redundant and pull removes it again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from agentsync.errors import AgentsyncError
from agentsync.project import PROJECT_FILE, Project
from agentsync.yamlwrite import dump, yaml_engine

# A tag shaped like ``<namespace>:<key>``: agentsync's ownership marker, of this or another project.
MARKER_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9][A-Za-z0-9._/-]*")
TEMPLATES = "data/templates"


class SettingsEditError(AgentsyncError):
    """agentsync.yaml cannot take the id pull has to write; nothing was written."""


def foreign_markers(tags: Sequence[str], namespace: str) -> list[str]:
    """The tags of an agent that look like another namespace's ownership marker."""
    return [t for t in tags if MARKER_SHAPE.fullmatch(t) and not t.startswith(f"{namespace}:")]


# --- ids in agentsync.yaml ------------------------------------------------------------------------------


def _load(root: Path, text: str | None) -> Any:

    source = text if text is not None else (root / PROJECT_FILE).read_text(encoding="utf-8")
    document = yaml_engine().load(source)
    if not isinstance(document, Mapping):
        raise SettingsEditError(
            f"cannot write an id into {PROJECT_FILE}: it does not hold a mapping of settings",
            hint="fix agentsync.yaml and pull again",
        )
    return document


def _entry(document: Any, path: Sequence[str], *, create: bool) -> Any:
    from ruamel.yaml.comments import CommentedMap

    node = document
    for part in path:
        child = node.get(part) if isinstance(node, Mapping) else None
        if child is None and create:
            child = node[part] = CommentedMap()
        if not isinstance(child, Mapping):
            return None
        node = child
    return node


def set_override_id(
    root: Path, environment: str, key: str, agent_id: str, text: str | None = None, *, plural: str
) -> str:
    """agentsync.yaml (``text``, or the file on disk) with ``environments.ENV.overrides.PLURAL.KEY.id``."""

    document = _load(root, text)
    entry = _entry(document, ("environments", environment, "overrides", plural, key), create=True)
    if entry is None:
        raise SettingsEditError(
            f"cannot write the id of agent '{key}' into {PROJECT_FILE}: "
            f"environments.{environment}.overrides.{plural}.{key} is not a mapping",
            hint="fix agentsync.yaml and pull again",
        )
    entry["id"] = agent_id
    return str(dump(document))


def drop_override_ids(
    root: Path, environment: str, keys: Sequence[str], text: str | None = None, *, plural: str
) -> str | None:
    """agentsync.yaml without the ``id`` overrides of ``keys`` in ``environment`` (None when it has none);
    an entry left empty goes too."""

    document = _load(root, text)
    table = _entry(document, ("environments", environment, "overrides", plural), create=False)
    found = [
        k
        for k in keys
        if isinstance(table, Mapping) and isinstance(table.get(k), Mapping) and "id" in table[k]
    ]
    if table is None or not found:
        return None
    for key in found:
        del table[key]["id"]
        if not table[key]:
            del table[key]
    return str(dump(document))


# --- the sample of agentsync init -----------------------------------------------------------------------


def _template_files() -> Iterator[tuple[str, str]]:
    def walk(node: Any, prefix: str) -> Iterator[tuple[str, str]]:
        for child in node.iterdir():
            name = f"{prefix}{child.name}"
            if child.is_dir():
                yield from walk(child, f"{name}/")
            elif not child.name.startswith("."):
                yield name, child.read_text(encoding="utf-8")

    yield from walk(resources.files("agentsync").joinpath(TEMPLATES), "")


def untouched_sample(project: Project, pulled: set[str]) -> list[Path]:
    """The sample agent files of ``agentsync init`` (and their prompts) that are still exactly as init
    wrote them and name no agent of the workspace: ``pull --all`` removes them, since a plan would
    otherwise create an agent the workspace never had."""
    found: list[Path] = []
    for name, text in _template_files():
        if not name.startswith("agents/") or name.endswith("/"):
            continue
        path = project.root / name
        key = name.removeprefix("agents/").removesuffix(".yaml")
        if key in pulled or not path.is_file() or path.read_text(encoding="utf-8") != text:
            continue
        found.append(path)
    agents = [p for p in found if p.suffix == ".yaml"]
    return agents + [p for p in found if p.suffix != ".yaml"] if agents else []
