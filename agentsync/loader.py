"""Load a project from disk: YAML with ``file:line:col`` kept on every value, ``!file`` includes, and
full validation with every problem collected before anything is raised.

Pipeline per file: read (size, UTF-8) -> compose (ruamel, C parser when available) -> convert the node
tree to plain JSON values plus a location per path -> apply the selected environment's overrides ->
interpolate ``${var.*}``/``${env.*}`` (``agentsync.variables``) -> validate (``agentsync.schema``) on the
resolved values. Nothing here prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agentsync import reading
from agentsync import variables as templates
from agentsync.composer import CORE, compose, tag_of
from agentsync.errors import Location, Problem, Severity
from agentsync.values import any_leaf

JsonPath = tuple[str | int, ...]

MIB = 1024 * 1024
# Read at most this much of one file, and of all the project's files together (see agentsync.reading).
# The longest prompt the API takes is far below the per-file bound; parsing 1 MiB of YAML costs about a
# second with the fast parser.
MAX_FILE_BYTES = 1 * MIB
MAX_PROJECT_BYTES = 16 * MIB
# An agent with a large workflow has a few thousand values; anything near this bound is an alias bomb.
MAX_VALUES = 100_000
MAX_DEPTH = 64
FILE_TAG = "!file"
MERGE = CORE + "merge"


@dataclass
class Document:
    """One parsed YAML file. ``locations`` points at the key of a mapping entry (where a reader looks
    for a field); ``value_locations`` at the value itself (where a wrong value is)."""

    file: str
    value: Any
    locations: dict[JsonPath, Location] = field(default_factory=dict)
    value_locations: dict[JsonPath, Location] = field(default_factory=dict)
    # After interpolation: the paths whose value came (in part) from ``${env.*}``, and the paths that
    # still hold ``${agent.KEY.id}``, each with the text the file wrote.
    secrets: dict[JsonPath, str] = field(default_factory=dict)
    references: dict[JsonPath, str] = field(default_factory=dict)

    def location_of(self, path: JsonPath, *, value: bool = False) -> Location:
        table = self.value_locations if value else self.locations
        for end in range(len(path), -1, -1):
            found = table.get(tuple(path[:end])) or self.locations.get(tuple(path[:end]))
            if found is not None:
                return found
        return Location(self.file, 1, 1)


class Sources:
    """The text of every file read, so that a problem can show its line under the message."""

    def __init__(self) -> None:
        # The text as read, split only when a problem asks for a line: a list of lines is a string
        # object per line, for every file of the project, where problems name a few.
        self._texts: dict[str, str] = {}

    def remember(self, file: str, text: str) -> None:
        self._texts[file] = text

    def line(self, location: Location) -> str | None:
        text = self._texts.get(location.file)
        lines = text.splitlines() if text is not None else None
        if lines is None or not 0 < location.line <= len(lines):
            return None
        return lines[location.line - 1].replace("\t", " ")

    def attach(self, problems: list[Problem]) -> list[Problem]:
        return [
            p
            if p.location is None or p.source_line is not None
            else replace(p, source_line=self.line(p.location))
            for p in problems
        ]


class Reader:
    """Reads project files relative to ``root``; every problem goes to ``problems``."""

    def __init__(self, root: Path, problems: list[Problem], sources: Sources) -> None:
        self.root = root
        self.real_root = root.resolve()
        self.problems = problems
        self.sources = sources
        self.bytes_read = 0
        # Keys of list entries left out because their file has errors: a reference to one is not
        # also reported as naming nothing.
        self.unusable: dict[str, set[str]] = {}
        # The real path of every folder a file was read from (agentsync.reading.read_bounded).
        self.real_folders: dict[Path, Path] = {}

    def error(self, location: Location | None, message: str) -> None:
        self.problems.append(Problem(location, message, Severity.ERROR))

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def read_text(self, path: Path, where: Location) -> str | None:
        """The file's text, or None after recording why it cannot be used."""
        name = self.rel(path)
        if path.is_dir() and not path.is_symlink():
            self.error(where, f"{name} is a directory, not a file")
            return None
        left = MAX_PROJECT_BYTES - self.bytes_read
        try:
            data = reading.read_bounded(
                path, self.real_root, name, min(MAX_FILE_BYTES, left), folders=self.real_folders
            )
        except reading.Refused as exc:
            self.error(where, _too_large(name, left) if exc.too_large else exc.message)
            return None
        except OSError as exc:
            self.error(where, f"cannot read {name}: {exc.strerror or exc}")
            return None
        self.bytes_read += len(data)
        return self._decode(data, name)

    def _decode(self, data: bytes, name: str) -> str | None:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            self.sources.remember(name, data.decode("utf-8", errors="replace"))
            self.error(
                Location(name, line, col),
                f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            )
            return None

    def document(self, path: Path, *, allow_empty: bool = False) -> Document | None:
        """Parse one YAML file; None when it is unusable (the reason is in ``problems``)."""
        name = self.rel(path)
        text = self.read_text(path, Location(name, 1, 1))
        if text is None:
            return None
        self.sources.remember(name, text)
        failed, node = self._compose(text, name)
        if node is None:
            if not failed and allow_empty:
                return Document(name, {})
            if not failed:
                self.error(Location(name, 1, 1), "the file is empty")
            return None
        converter = _Converter(self, path.parent, name)
        value = converter.convert(node, ())
        return Document(name, value, converter.locations, converter.value_locations)

    def _compose(self, text: str, name: str) -> tuple[bool, Node | None]:
        """(failed, node): the node is None for an empty document or after a recorded failure."""
        try:
            return False, compose(text)
        except MarkedYAMLError as exc:
            self.problems.append(_syntax_problem(exc, text, name))
        except YAMLError as exc:
            self.error(Location(name, 1, 1), f"invalid YAML: {str(exc).splitlines()[0]}")
        except RecursionError:
            self.error(Location(name, 1, 1), "the YAML is nested too deeply to read")
        return True, None


def _too_large(name: str, left: int) -> str:
    if left < MAX_FILE_BYTES:
        return (
            f"{name} is past the limit for the whole project: its files may hold "
            f"{_size(MAX_PROJECT_BYTES)} together; split the project or shorten its files"
        )
    return f"{name} is larger than {_size(MAX_FILE_BYTES)}, the limit for one project file"


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB else f"{limit // 1024} KiB"


def _syntax_problem(exc: MarkedYAMLError, text: str, name: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line if mark is not None else 0
    col = mark.column if mark is not None else 0
    lines = text.splitlines()
    source = lines[line] if line < len(lines) else ""
    indent = source[: len(source) - len(source.lstrip(" \t"))]
    if "\t" in indent or "tab" in str(exc.problem or ""):
        tab_col = source.find("\t")
        column = tab_col + 1 if tab_col >= 0 else col + 1
        return Problem(
            Location(name, line + 1, column), "tab character in indentation; YAML indents with spaces only"
        )
    detail = exc.problem or "syntax error"
    context = f" ({exc.context})" if exc.context else ""
    return Problem(Location(name, line + 1, col + 1), f"invalid YAML: {detail}{context}")


def _loc(name: str, node: Node) -> Location:
    # Built as the tuple it is: a NamedTuple's own constructor is one more Python call, per node.
    mark = node.start_mark
    return _new_tuple(Location, (name, mark.line + 1, mark.column + 1))


_new_tuple = tuple.__new__


class _Converter:
    """Turns a composed node tree into plain JSON values, recording a location for every path."""

    def __init__(self, reader: Reader, base: Path, name: str) -> None:
        self.reader = reader
        self.base = base
        self.name = name
        self.count = 0
        self.active: set[int] = set()
        self.locations: dict[JsonPath, Location] = {(): Location(name, 1, 1)}
        self.value_locations: dict[JsonPath, Location] = {}

    def convert(self, node: Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_VALUES or len(path) > MAX_DEPTH or id(node) in self.active:
            raise _TooBig(self._too_big_message(node, path), self._where(path, node))
        where = _loc(self.name, node)
        self.value_locations[path] = where
        self.locations.setdefault(path, where)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def _where(self, path: JsonPath, node: Node) -> Location:
        """Where a runaway value is reported: the top-level entry of this file it is under (an alias
        or merge source is written elsewhere, so its own position would point at innocent text)."""
        found = self.locations.get(path[:1]) if path else None
        return found or _loc(self.name, node)

    def _too_big_message(self, node: Node, path: JsonPath) -> str:
        if id(node) in self.active:
            return "an alias refers to a value that contains it (a recursive alias)"
        if len(path) > MAX_DEPTH:
            return f"values are nested more than {MAX_DEPTH} levels deep"
        return f"the file expands to more than {MAX_VALUES} values (an alias bomb?); aliases are bounded"

    def _mapping(self, node: MappingNode, path: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in self._entries(node, path):
            if not isinstance(key_node, ScalarNode):
                self.reader.error(_loc(self.name, key_node), "a mapping key must be a plain value")
                continue
            # Interned: thousands of files repeat the same keys (see agentsync.answers.shared).
            key = sys.intern(str(key_node.value))
            entry: JsonPath = (*path, key)
            if key in out:
                first = self.locations[entry]
                self.reader.error(
                    _loc(self.name, key_node), f"duplicate key '{key}' (first defined at line {first.line})"
                )
                continue
            self.locations[entry] = _loc(self.name, key_node)
            out[key] = self.convert(value_node, entry)
        return out

    def _entries(self, node: MappingNode, path: JsonPath) -> list[tuple[Node, Node]]:
        """The mapping's entries with YAML merge keys (``<<: *base``) expanded; own keys come first."""
        if not _has_merge_key(node):
            return list(node.value)  # no merge key: the entries as written
        entries = [(k, v) for k, v in node.value if not _is_merge(k)]
        seen = {_key_name(k) for k, _ in entries}
        for key, value in node.value:
            if not _is_merge(key):
                continue
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if not isinstance(source, MappingNode):
                    continue
                for entry in self._merged(source, path):
                    if _key_name(entry[0]) not in seen:
                        seen.add(_key_name(entry[0]))
                        entries.append(entry)
        return entries

    def _merged(self, source: MappingNode, path: JsonPath) -> list[tuple[Node, Node]]:
        """The entries a merge key brings in. Each counts against MAX_VALUES like a value, so merges of
        merges (``<<: [*a, *a, ...]`` nine levels deep) cannot multiply out of sight."""
        if id(source) in self.active:
            raise _TooBig(
                "a merge key (<<) refers to a mapping that contains it (a recursive merge)",
                self._where(path, source),
            )
        self.active.add(id(source))
        try:
            entries = self._entries(source, path)
        finally:
            self.active.discard(id(source))
        self.count += len(entries)
        if self.count > MAX_VALUES:
            raise _TooBig(
                f"merge keys (<<) expand to more than {MAX_VALUES} values (a merge-key bomb?); "
                "merges are bounded like aliases",
                self._where(path, source),
            )
        return entries

    def _scalar(self, node: ScalarNode) -> Any:
        tag = tag_of(node)
        if tag == FILE_TAG:
            return self._include(node)
        if tag.startswith("!"):
            self.reader.error(
                _loc(self.name, node), f"unknown tag {tag}; the only tag agentsync knows is !file"
            )
            return node.value
        return _construct(node, tag)

    def _include(self, node: ScalarNode) -> str:
        where = _loc(self.name, node)
        target = (self.base / str(node.value)).resolve() if node.value else None
        # On failure the value is "" rather than None, so that one mistake is not reported twice
        # (once here and once as "expected a string, found null").
        if target is None:
            self.reader.error(where, "!file needs a path, e.g. !file prompts/support-bot.md")
            return ""
        if not target.is_relative_to(self.reader.real_root):
            self.reader.error(
                where, f"!file {node.value} leaves the project directory; included files must be inside it"
            )
            return ""
        if not target.exists():
            self.reader.error(
                where, f"!file target {self.reader.rel(target_in(self.reader, target))} does not exist"
            )
            return ""
        return normalise_newlines(self.reader.read_text(target, where) or "")


def normalise_newlines(text: str) -> str:
    """Included text with CRLF line ends as LF, as git stores a text file (``text=auto``): a checkout
    with Windows line ends (``core.autocrlf``) must not plan, or send, a carriage return on every line.
    Text with a carriage return that ends no line is left alone, as git leaves it."""
    if "\r\n" not in text or "\r" in text.replace("\r\n", ""):
        return text
    return text.replace("\r\n", "\n")


def _has_merge_key(node: MappingNode) -> bool:
    for key, _ in node.value:  # noqa: SIM110 - a loop, not a generator for every mapping of every file
        if key.value == "<<":
            return True
    return False


def _is_merge(key: Node) -> bool:
    # The text first: a merge key is always the plain scalar <<, and reading a tag costs more.
    return key.value == "<<" and tag_of(key) == MERGE


def _key_name(key: Node) -> object:
    """A hashable name for a mapping key; a complex key (``? [a]: b``) is its own name, and
    ``_mapping`` reports it as an error."""
    return key.value if isinstance(key, ScalarNode) else id(key)


def target_in(reader: Reader, target: Path) -> Path:
    """``target`` relative to the project as the user sees it (the real root may differ by symlinks)."""
    return reader.root / target.relative_to(reader.real_root)


def _construct(node: ScalarNode, tag: str) -> Any:
    builder = _BUILDERS.get(tag.removeprefix(CORE))
    if builder is None:
        return str(node.value)  # str, and timestamps or binary kept as the text the user wrote
    try:
        return builder(str(node.value))
    except ValueError:
        return str(node.value)


def _int(text: str) -> int:
    text = text.replace("_", "")
    try:
        return int(text, 10)  # YAML 1.2: a leading zero is still decimal
    except ValueError:
        return int(text, 0)  # 0x.., 0o.., 0b..


def _float(text: str) -> float:
    special = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}
    return float(special.get(text.lower(), text.replace("_", "")))


# How the plain text of each core tag becomes a value; any other tag stays text.
_BUILDERS: dict[str, Callable[[str], Any]] = {
    "null": lambda text: None,
    "bool": lambda text: text.lower() == "true",
    "int": _int,
    "float": _float,
}


class _TooBig(Exception):
    def __init__(self, message: str, location: Location) -> None:
        super().__init__(message)
        self.message = message
        self.location = location


def read_document(reader: Reader, path: Path, *, allow_empty: bool = False) -> Document | None:
    """Parse ``path``, turning a runaway document into one problem instead of a crash."""
    try:
        return reader.document(path, allow_empty=allow_empty)
    except _TooBig as exc:
        reader.error(exc.location, exc.message)
        return None


def interpolate(
    document: Document, context: templates.Context, *, typed_root: str | None = None
) -> tuple[Document, list[Problem]]:
    """The document with ``${var.*}`` and ``${env.*}`` resolved in every string value, and the
    problems of the placeholders that could not be (each at its ``file:line:col``).

    A value that is one whole placeholder becomes a number or boolean when the schema of ``typed_root``
    wants one there (``daily_limit: ${var.DAILY}``); otherwise placeholders produce text.
    """
    if not any_leaf(document.value, _is_template):
        return replace(document, secrets={}, references={}), []  # most files: nothing to resolve or copy
    walk = _Interpolation(document, context, typed_root)
    value = walk.value(document.value, ())
    resolved = replace(document, value=value, secrets=walk.secrets, references=walk.references)
    return resolved, walk.problems


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and templates.has_placeholder(value)


class _Interpolation:
    def __init__(self, document: Document, context: templates.Context, typed_root: str | None) -> None:
        self.document = document
        self.context = context
        self.typed_root = typed_root
        self.problems: list[Problem] = []
        self.secrets: dict[JsonPath, str] = {}
        self.references: dict[JsonPath, str] = {}

    def value(self, value: Any, path: JsonPath) -> Any:
        if isinstance(value, dict):
            return {k: self.value(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and templates.has_placeholder(value):
            return self.text(value, path)
        return value

    def text(self, text: str, path: JsonPath) -> Any:
        try:
            found = templates.resolve(text, self.context)
        except templates.TemplateError as exc:
            where = self.document.location_of(path, value=True)
            self.problems.append(Problem(where, f"{_dotted(path)}: {exc.message}"))
            return text
        if found.secret:
            self.secrets[path] = text
        if found.references:
            self.references[path] = text
            return found.value
        return templates.typed(self.typed_root, path, found.value) if found.whole else found.value


def _dotted(path: JsonPath) -> str:
    from agentsync.plan import dotted

    return dotted(path) or "(file)"


def describe(value: Any) -> str:
    """``a list``, ``a mapping``, ``a string``, ``a single value``: what a YAML value is, for messages."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a string" if isinstance(value, str) else "a single value"
