"""The files of list kinds (``tags.yaml``, ``secrets.yaml``, ``environment-variables.yaml``,
``phone-numbers.yaml``): one entry per remote object, matched to the file's entries by ``id:`` or by the
kind's natural key.

An existing file keeps its order and comments; an entry whose resource has no change stays exactly as
written (templates included), a changed one is rewritten from the workspace, one whose object is gone
is removed, and new objects are appended. A write-only field (a secret's value) is never readable: the
entry keeps the value the file gives it, or gets the placeholder ``${env.NAME}``, NAME being the entry's
key in upper case with every run of other characters as ``_`` (``crm-token`` -> ``CRM_TOKEN``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentsync.kinds import Kind, Ref
from agentsync.pullview import PullError
from agentsync.reverse import Exporter, unknown_ids
from agentsync.values import same
from agentsync.yamlwrite import Editor, dump, to_plain, yaml_engine

ENV_NAME_INVALID = re.compile(r"[^A-Z0-9]+")


def env_name(key: str) -> str:
    """The environment variable a pulled write-only value is read from: ``crm-token`` -> ``CRM_TOKEN``."""
    name = ENV_NAME_INVALID.sub("_", key.upper()).strip("_") or "VALUE"
    return f"_{name}" if name[0].isdigit() else name


@dataclass(frozen=True)
class Entry:
    """One remote object of a list kind: its key, its id, and whether its definition has a change."""

    key: str
    remote_id: str
    item: Mapping[str, Any]
    changed: bool = True


def entry_key(kind: Kind, item: Mapping[str, Any]) -> str | None:
    node: Any = item
    for part in kind.layout.key_path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, str) else None


def entry_content(
    kind: Kind, entry: Entry, old: Mapping[str, Any] | None, exporter: Exporter
) -> dict[str, Any]:
    """The plain content of one entry: the writable fields the workspace sets, in the kind's order, ids
    of known resources as references; write-only fields from the file's entry, else a placeholder."""
    item = entry.item
    content: dict[str, Any] = {}
    for name in (*kind.layout.order, *kind.fields.writable):
        if name in content or name not in kind.fields.writable:
            continue
        if (name,) in kind.fields.write_only:
            kept = (old or {}).get(name)
            content[name] = kept if isinstance(kept, str) else f"${{env.{env_name(entry.key)}}}"
        elif item.get(name) is not None and not (isinstance(item[name], str) and exporter.leaks(item[name])):
            # A string holding a resolved secret of this project is never written.
            content[name] = exporter.export(exporter.clean(item[name]), Ref(kind.name, entry.key))
    if old is not None and "id" in old:
        content["id"] = entry.remote_id
    return content


def render_list(
    path: Path,
    kind: Kind,
    entries: Sequence[Entry],
    exporter: Exporter,
    declared: frozenset[str] | None = None,
) -> tuple[str | None, list[str]]:
    """The new text of the kind's list file (None when it would stay exactly as it is), and the notes
    about ids it leaves raw. An entry the loaded project does not hold (its key is not in ``declared``:
    the selected environment leaves it out) stays as it is."""
    from ruamel.yaml.comments import CommentedSeq

    _check_keys(kind, entries)
    document = _load(path)
    before = to_plain(document, path.parent) if document is not None else None
    if not isinstance(document, CommentedSeq):
        document = CommentedSeq()
    editor = Editor(path.parent)
    remaining = list(entries)
    notes: list[str] = []
    for node in list(document):
        match = _match(kind, node, remaining)
        if match is None:
            key = entry_key(kind, to_plain(node, path.parent)) if isinstance(node, Mapping) else None
            if declared is None or key is None or key in declared:
                document.remove(node)
            continue
        remaining.remove(match)
        if match.changed:
            plain = to_plain(node, path.parent)
            content = entry_content(kind, match, plain, exporter)
            editor.update_map(node, content)
            notes.extend(unknown_ids(kind, content, f"{kind.noun} {match.key}"))
    for entry in remaining:
        content = entry_content(kind, entry, None, exporter)
        document.append(editor.new(content))
        notes.extend(unknown_ids(kind, content, f"{kind.noun} {entry.key}"))
        notes.extend(_placeholder_notes(kind, entry, content))
    if before is not None and same(to_plain(document, path.parent), before):
        return None, notes
    return dump(document, top_level_list=True), notes


def _placeholder_notes(kind: Kind, entry: Entry, content: Mapping[str, Any]) -> list[str]:
    """What to export before the next plan: a write-only value is never read back, so a new entry
    asks for it by a placeholder the operator has to fill."""
    placeholder = f"${{env.{env_name(entry.key)}}}"
    return [
        f"{kind.layout.where}: {kind.noun} {entry.key}'s {path[0]} is {placeholder}; export "
        f"{env_name(entry.key)} before plan (the API never returns it, and apply sends it only to create "
        f"the {kind.noun} or with --rotate-{kind.name})"
        for path in kind.fields.write_only
        if len(path) == 1 and content.get(str(path[0])) == placeholder
    ]


def _check_keys(kind: Kind, entries: Sequence[Entry]) -> None:
    seen: dict[str, str] = {}
    field = ".".join(str(p) for p in kind.layout.key_path)
    for entry in entries:
        if entry.key in seen:
            raise PullError(
                f"two {kind.noun}s have the {field} {entry.key!r} ({seen[entry.key]} and {entry.remote_id}); "
                f"{kind.layout.where} matches them by {field}",
                hint="rename or delete one of them in the workspace, then pull again",
            )
        seen[entry.key] = entry.remote_id


def _load(path: Path) -> Any:
    if not path.is_file():
        return None
    from ruamel.yaml.error import YAMLError

    try:
        return yaml_engine(top_level_list=True).load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        raise PullError(
            f"cannot merge into {path}: it is not valid YAML ({exc.__class__.__name__})",
            hint="fix or delete the file and pull again",
        ) from exc


def _match(kind: Kind, node: Any, entries: Sequence[Entry]) -> Entry | None:
    if not isinstance(node, Mapping):
        return None
    for entry in entries:
        if ("id" in node and entry.remote_id == node["id"]) or (
            "id" not in node and entry.key == entry_key(kind, to_plain(node, Path(".")))
        ):
            return entry
    return None
