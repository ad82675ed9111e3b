"""The round-trip YAML pull writes with: new files rendered, existing ones edited in place so that
comments, key order and quoting survive, and ``!file`` includes kept inside the project."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsync.plan import ABSENT
from agentsync.pullview import PullError, _is_list
from agentsync.reverse import Edit
from agentsync.values import same

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------------------------------
# YAML: rendering new files and editing existing ones in place (ruamel round-trip).

FILE_TAG = "!file"
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def yaml_engine(*, top_level_list: bool = False) -> Any:
    """The one YAML configuration pull reads and writes with: round-trip, quotes kept, no re-wrapping
    of long lines (a re-wrapped unchanged line would be noise in review), ``null`` spelt out. Nested
    lists are indented under their key; a file that is a list (tags.yaml) starts at column one."""
    from ruamel.yaml import YAML

    engine = YAML()
    engine.preserve_quotes = True
    engine.width = 4096
    if top_level_list:
        engine.indent(mapping=2, sequence=2, offset=0)
    else:
        engine.indent(mapping=2, sequence=4, offset=2)
    engine.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    engine.representer.add_representer(str, _represent_str)
    return engine


# The emitter takes NEL for a line break: in single quotes, or in a literal block, it writes one, and
# the text reads back with a space (or a real break) where the NEL was. Double quotes escape it (\N).
_NEL = "\x85"


def _represent_str(representer: Any, data: str) -> Any:
    if _NEL in data:
        return representer.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    return representer.represent_str(data)


def dump(document: Any, *, top_level_list: bool = False) -> str:
    import io

    buffer = io.StringIO()
    _dumper(top_level_list).dump(document, buffer)
    return buffer.getvalue()


_DUMPERS = threading.local()


def _dumper(top_level_list: bool) -> Any:
    """The thread's engine for writing: building one (and its classes) costs more than a small dump, and
    pull renders new files on the threads that fetch them."""
    engines: dict[bool, Any] | None = getattr(_DUMPERS, "engines", None)
    if engines is None:
        engines = _DUMPERS.engines = {}
    if top_level_list not in engines:
        engines[top_level_list] = yaml_engine(top_level_list=top_level_list)
    return engines[top_level_list]


@dataclass(frozen=True)
class FileRef:
    """A string kept in its own file, written as ``!file <relative path>``."""

    relative: str
    content: str


def _is_file_ref(node: Any) -> bool:
    from ruamel.yaml.comments import TaggedScalar

    return isinstance(node, TaggedScalar) and str(node.tag) == FILE_TAG


def _literal_ok(text: str) -> bool:
    """Whether a block scalar keeps this string exactly (trailing blanks and odd characters do not)."""
    if "\n" not in text.rstrip("\n") or "\r" in text or "\t" in text or _NEL in text:
        return False
    lines = text.split("\n")
    return all(line == line.rstrip(" ") for line in lines) and not text.startswith((" ", "\n"))


def to_yaml(value: Any, extra: dict[str, str], base: Path) -> Any:
    """A plain JSON value as round-trip nodes: lists of scalars in flow style, multi-line strings as
    literal blocks; a :class:`FileRef` becomes a ``!file`` tag and its content an extra file."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
    from ruamel.yaml.scalarstring import LiteralScalarString

    if isinstance(value, FileRef):
        extra[os.path.normpath(base / value.relative)] = value.content
        return TaggedScalar(value=value.relative, tag=FILE_TAG)
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, child in value.items():
            out[key] = to_yaml(child, extra, base)
        if flow_map(value):
            out.fa.set_flow_style()  # positions and limits read best on one line: {x: 0, y: 150}
        return out
    if _is_list(value):
        seq = CommentedSeq([to_yaml(v, extra, base) for v in value])
        if flow_list(value):
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str) and _literal_ok(value):
        return LiteralScalarString(value)
    return value


def flow_map(value: Mapping[Any, Any]) -> bool:
    """The maps written on one line: up to three numbers under keys safe in flow style."""
    return (
        0 < len(value) <= 3
        and all(_is_number(v) for v in value.values())
        and all(isinstance(k, str) and _flow_safe(k) for k in value)
    )


def flow_list(value: Sequence[Any]) -> bool:
    """The lists written on one line: scalars only, strings short, on one line and safe in flow style."""
    return all(_flow_item(v) for v in value)


def _flow_item(value: Any) -> bool:
    if isinstance(value, str):
        return _short(value) and _flow_safe(value)
    return not isinstance(value, (Mapping, list, tuple))


def _flow_safe(text: str) -> bool:
    """ruamel writes ``12:30`` or ``a?b`` unquoted in a flow list, where the C parser (the loader's)
    ends a plain scalar at the colon or the question mark: an error, or a mapping where the API had a
    string. Such a string keeps its list in block style, where it is quoted when it must be."""
    return ":" not in text and "?" not in text


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(value: Any) -> bool:
    return isinstance(value, str) and "\n" not in value and len(value) <= 60


def to_plain(node: Any, base: Path, root: Path | None = None) -> Any:
    """Round-trip nodes back to plain JSON values as the file wrote them (templates unresolved); a
    ``!file`` node reads as its file's text, and only from inside ``root`` (the loader's rule)."""
    if _is_file_ref(node):
        return read_included(base, str(node.value), root or base)
    if isinstance(node, Mapping):
        return {str(k): to_plain(v, base, root) for k, v in node.items()}
    if _is_list(node):
        return [to_plain(v, base, root) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node) if isinstance(node, str) else node


def inside(root: Path, target: Path) -> bool:
    return target.resolve().is_relative_to(root.resolve())


def read_included(base: Path, relative: str, root: Path) -> str | None:
    target = base / relative
    if not relative or not inside(root, target) or not target.is_file():
        return None
    return target.read_text(encoding="utf-8")


@dataclass
class Editor:
    """Edits one loaded document towards new content, keeping every node whose value did not change.

    ``base`` is the directory ``!file`` paths are relative to; ``extra`` collects the files those
    nodes point at, with their new text."""

    base: Path
    extra: dict[str, str] = field(default_factory=dict)
    root: Path | None = None

    def update_map(self, node: Any, target: Mapping[str, Any], keep: Iterable[str] = ()) -> None:
        for key in [k for k in node if k not in target and k not in keep]:
            del node[key]
        for key, value in target.items():
            node[key] = self.replace(node[key], value) if key in node else self.new(value)

    def new(self, value: Any) -> Any:
        return to_yaml(value, self.extra, self.base)

    def replace(self, old: Any, value: Any) -> Any:
        """The node to hold ``value`` where ``old`` is: ``old`` itself whenever it can stay."""
        if isinstance(value, FileRef) and not _is_file_ref(old):
            return self.new(value)
        if _is_file_ref(old) and isinstance(value, (str, FileRef)):
            text = value.content if isinstance(value, FileRef) else value
            target = self.base / str(old.value)
            if self.root is not None and not inside(self.root, target):
                raise PullError(
                    f"!file {old.value} leaves the project directory; pull writes only inside it",
                    hint="point the !file at a file inside the project",
                )
            self.extra[os.path.normpath(target)] = text
            return old
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            self.update_map(old, value)
            return old
        if _is_list(old) and _is_list(value) and not isinstance(old, str):
            return self._replace_list(old, value)
        return old if same(to_plain(old, self.base, self.root), value) else self.new(value)

    def _replace_list(self, old: Any, value: Sequence[Any]) -> Any:
        for index, item in enumerate(value[: len(old)]):
            old[index] = self.replace(old[index], item)
        del old[len(value) :]
        old.extend(self.new(v) for v in value[len(old) :])
        return old

    def apply(self, document: Any, edit: Edit) -> None:
        """Write one reversed field at its node, creating the mappings on the way when needed."""
        from ruamel.yaml.comments import CommentedMap

        parent: Any = document
        for part in edit.path[:-1]:
            if isinstance(parent, dict) and part not in parent:
                parent[part] = CommentedMap()
            parent = parent[part]
        last = edit.path[-1]
        if edit.value is ABSENT:
            if last in parent:
                del parent[last]
        elif last in parent:
            parent[last] = self.replace(parent[last], edit.value)
        else:
            parent[last] = self.new(edit.value)
