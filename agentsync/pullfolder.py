"""The files of folder-per-key kinds (``agents/KEY.yaml``, ``tools/KEY.yaml``, ...): a new file rendered
from a GET body, or an existing file edited field by field towards the workspace (the plan in reverse).

A new file holds the writable fields minus server defaults (the kind's ``keep`` fields and required ones
stay), in the kind's order, written so that it loads back as exactly the remote value; long strings the
layout names (``as_files``) may go behind ``!file``. Included files come before the file that includes
them, so that a pull stopped between renames never leaves a dangling ``!file``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsync.kinds import Definition, Kind, Ref
from agentsync.layouts import PROMPTS_DIR
from agentsync.pullview import PullError, kind_defaults, strip_defaults, writable_view
from agentsync.reverse import Exporter, reverse, unknown_ids
from agentsync.yamlemit import emit_new
from agentsync.yamlwrite import Editor, FileRef, dump, to_plain, yaml_engine

if TYPE_CHECKING:
    from agentsync.plan import FieldChange


@dataclass(frozen=True)
class Source:
    """What one new file is made from: its kind and key, the GET body, and the id to write when the
    resource is not owned yet (so that the next apply adopts it instead of creating a twin)."""

    kind: Kind
    key: str
    body: Mapping[str, Any]
    adopt_id: str | None = None


@dataclass(frozen=True)
class Style:
    """How new files are written: every writable field (``full``), and long strings behind ``!file``."""

    full: bool = False
    as_files: bool = False


def file_path(root: Path, kind: Kind, key: str) -> Path:
    return root / kind.layout.where / f"{key}.yaml"


def included(key: str, content: str, index: int) -> FileRef:
    """``FOLDER/prompts/<key>.md`` (a second long string gets ``-2``), relative to the file's directory."""
    depth = key.count("/")
    suffix = "" if index == 0 else f"-{index + 1}"
    return FileRef("../" * depth + f"{PROMPTS_DIR}/{key}{suffix}.md", content)


def new_content(
    source: Source, namespace: str, style: Style, exporter: Exporter | None = None
) -> dict[str, Any]:
    """The plain content of a new file: writable fields minus server defaults (required ones stay),
    written as the loader reads it back, long strings maybe behind ``!file``."""
    kind = source.kind
    full = writable_view(kind, source.body, namespace)
    chosen = full if style.full else strip_defaults(kind, full, kind_defaults(kind))
    exporter = exporter or Exporter({})
    exported = exporter.export(exporter.clean(chosen), Ref(kind.name, source.key))
    target = {k: exported[k] for k in (*kind.layout.order, *exported) if k in exported}
    for index, path in enumerate(kind.layout.as_files):
        text = _get_path(target, path)
        if style.as_files and isinstance(text, str):
            _set_path(target, path, included(source.key, text, index))
    if source.adopt_id is not None:
        target["id"] = source.adopt_id
    return target


def _get_path(value: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _set_path(value: Any, path: Sequence[str | int], new: Any) -> None:
    for part in path[:-1]:
        value = value[part]
    value[path[-1]] = new


def render_new(
    root: Path,
    source: Source,
    namespace: str,
    style: Style,
    exporter: Exporter | None = None,
    *,
    has_schema: bool | None = None,
) -> tuple[dict[Path, str], list[str]]:
    """Every file a new resource needs, path -> new text (included files first), and the notes about
    ids it leaves raw. The text is written directly where :mod:`agentsync.yamlemit` can, by the
    round-trip engine otherwise: the same bytes either way. ``has_schema`` says whether the project has
    the kind's schema, when the caller already looked."""
    path = file_path(root, source.kind, source.key)
    content = new_content(source, namespace, style, exporter)
    comment = _schema_comment(root, path, source.kind, has_schema)
    extra: dict[str, str] = {}
    text = emit_new(content, path.parent, extra, comment)
    if text is None:
        editor = Editor(path.parent, root=root)
        document = editor.new(content)
        if comment is not None:
            document.yaml_set_start_comment(comment)
        text, extra = dump(document), editor.extra
    notes = unknown_ids(source.kind, content, f"{source.kind.noun} {source.key}")
    return {**{Path(p): t for p, t in extra.items()}, path: text}, notes


def render_changes(
    root: Path, kind: Kind, definition: Definition, fields: Sequence[FieldChange], exporter: Exporter
) -> tuple[dict[Path, str], tuple[str, ...]]:
    """An existing file edited field by field towards the workspace (the plan in reverse); no files
    when nothing is to be written, so a resource with no change keeps its file byte for byte."""
    path = root / definition.file
    document = load_mapping(path)
    raw = to_plain(document, path.parent, root)
    reversal = reverse(kind, definition, fields, raw, exporter)
    if not reversal.edits:
        return {}, reversal.notes
    editor = Editor(path.parent, root=root)
    for edit in reversal.edits:
        editor.apply(document, edit)
    text = dump(document)
    written = to_plain(document, path.parent, root)
    notes = unknown_ids(kind, written, f"{kind.noun} {definition.key}") if isinstance(written, dict) else []
    return {**{Path(p): t for p, t in editor.extra.items()}, path: text}, (*reversal.notes, *notes)


def load_mapping(path: Path) -> Any:
    from ruamel.yaml.error import YAMLError

    try:
        document = yaml_engine().load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        raise PullError(
            f"cannot merge into {path}: it is not valid YAML ({exc.__class__.__name__})",
            hint="fix or delete the file and pull again",
        ) from exc
    if not isinstance(document, Mapping):
        raise PullError(
            f"cannot merge into {path}: it does not hold a mapping of fields",
            hint="fix or delete the file and pull again",
        )
    return document


def _schema_comment(root: Path, path: Path, kind: Kind, exists: bool | None = None) -> str | None:
    """The comment that points editors at the project's schema of the kind, but only when the project
    has one: a path to a schema that is not there would be a broken promise in every file."""
    schema = root / "schemas" / kind.layout.schema_file
    if not (schema.is_file() if exists is None else exists):
        return None
    relative = Path(os.path.relpath(schema, path.parent)).as_posix()
    return f"yaml-language-server: $schema={relative}"
