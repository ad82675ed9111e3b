"""Load a project from disk: YAML with ``file:line:col`` kept on every value, ``!file`` includes, and
full validation with every problem collected before anything is raised.

Pipeline per file: read (size, UTF-8) -> compose (ruamel, C parser when available) -> convert the node
tree to plain JSON values plus a location per path -> apply the selected environment's overrides ->
interpolate ``${var.*}``/``${env.*}`` (``agentsync.variables``) -> validate (``agentsync.schema``) on the
resolved values. Nothing here prints.
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agentsync import schema, spec
from agentsync import variables as templates
from agentsync.errors import Location, Problem, Severity, ValidationFailed
from agentsync.project import (
    AGENTS_DIR,
    PROJECT_FILE,
    TAGS_FILE,
    Environment,
    Project,
    Settings,
    namespaces,
    settings_from,
)
from agentsync.resources.agent import WRITABLE_FIELDS, AgentDef
from agentsync.resources.tag import TagDef

JsonPath = tuple[str | int, ...]

MAX_FILE_BYTES = 5 * 1024 * 1024
# An agent with a large workflow has a few thousand values; anything near this bound is an alias bomb.
MAX_VALUES = 100_000
MAX_DEPTH = 64
FILE_TAG = "!file"
_CORE = "tag:yaml.org,2002:"


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
        self._lines: dict[str, list[str]] = {}

    def remember(self, file: str, text: str) -> None:
        self._lines[file] = text.splitlines()

    def line(self, location: Location) -> str | None:
        lines = self._lines.get(location.file)
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
        if path.is_dir():
            self.error(where, f"{name} is a directory, not a file")
            return None
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                self.error(
                    where,
                    f"{name} is {size / 1048576:.1f} MB; project files are limited to "
                    f"{MAX_FILE_BYTES // 1048576} MB",
                )
                return None
            data = path.read_bytes()
        except OSError as exc:
            self.error(where, f"cannot read {name}: {exc.strerror or exc}")
            return None
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
            return False, _compose(text)
        except MarkedYAMLError as exc:
            self.problems.append(_syntax_problem(exc, text, name))
        except YAMLError as exc:
            self.error(Location(name, 1, 1), f"invalid YAML: {str(exc).splitlines()[0]}")
        except RecursionError:
            self.error(Location(name, 1, 1), "the YAML is nested too deeply to read")
        return True, None


def _compose(text: str) -> Node | None:
    """Compose with libyaml when it is installed (several times faster), and let ruamel's own parser
    decide when libyaml refuses: libyaml follows YAML 1.1 and rejects some valid YAML 1.2, such as
    ``{url: https://x}`` in a flow mapping."""
    try:
        node: Node | None = YAML(typ="safe").compose(text)
    except MarkedYAMLError:
        node = YAML(typ="safe", pure=True).compose(text)
    return node


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
    return Location(name, node.start_mark.line + 1, node.start_mark.column + 1)


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
            raise _TooBig(self._too_big_message(node, path))
        self.value_locations[path] = _loc(self.name, node)
        self.locations.setdefault(path, _loc(self.name, node))
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def _too_big_message(self, node: Node, path: JsonPath) -> str:
        if id(node) in self.active:
            return "an alias refers to a value that contains it (a recursive alias)"
        if len(path) > MAX_DEPTH:
            return f"values are nested more than {MAX_DEPTH} levels deep"
        return f"the file expands to more than {MAX_VALUES} values (an alias bomb?); aliases are bounded"

    def _mapping(self, node: MappingNode, path: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in self._entries(node):
            if not isinstance(key_node, ScalarNode):
                self.reader.error(_loc(self.name, key_node), "a mapping key must be a plain value")
                continue
            key = str(key_node.value)
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

    def _entries(self, node: MappingNode) -> list[tuple[Node, Node]]:
        """The mapping's entries with YAML merge keys (``<<: *base``) expanded; own keys come first."""
        own = [(k, v) for k, v in node.value if k.tag != _CORE + "merge"]
        merged: list[tuple[Node, Node]] = []
        for key, value in node.value:
            if key.tag == _CORE + "merge":
                sources = value.value if isinstance(value, SequenceNode) else [value]
                merged.extend(e for s in sources if isinstance(s, MappingNode) for e in self._entries(s))
        names = {_key_name(k) for k, _ in own}
        extra = [(k, v) for k, v in merged if _key_name(k) not in names]
        return own + [
            e for i, e in enumerate(extra) if _key_name(e[0]) not in {_key_name(k) for k, _ in extra[:i]}
        ]

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag or ""
        if tag == FILE_TAG:
            return self._include(node)
        if tag.startswith("!"):
            self.reader.error(
                _loc(self.name, node), f"unknown tag {tag}; the only tag agentsync knows is !file"
            )
            return node.value
        return _construct(node)

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
        return self.reader.read_text(target, where) or ""


def _key_name(key: Node) -> object:
    """A hashable name for a mapping key; a complex key (``? [a]: b``) is its own name, and
    ``_mapping`` reports it as an error."""
    return key.value if isinstance(key, ScalarNode) else id(key)


def target_in(reader: Reader, target: Path) -> Path:
    """``target`` relative to the project as the user sees it (the real root may differ by symlinks)."""
    return reader.root / target.relative_to(reader.real_root)


def _construct(node: ScalarNode) -> Any:
    tag = (node.tag or "").removeprefix(_CORE)
    builders: dict[str, Callable[[str], Any]] = {
        "null": lambda text: None,
        "bool": lambda text: text.lower() == "true",
        "int": _int,
        "float": _float,
    }
    builder = builders.get(tag)
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


class _TooBig(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_document(reader: Reader, path: Path, *, allow_empty: bool = False) -> Document | None:
    """Parse ``path``, turning a runaway document into one problem instead of a crash."""
    try:
        return reader.document(path, allow_empty=allow_empty)
    except _TooBig as exc:
        reader.error(Location(reader.rel(path), 1, 1), exc.message)
        return None


def interpolate(
    document: Document, context: templates.Context, *, typed_root: str | None = None
) -> tuple[Document, list[Problem]]:
    """The document with ``${var.*}`` and ``${env.*}`` resolved in every string value, and the
    problems of the placeholders that could not be (each at its ``file:line:col``).

    A value that is one whole placeholder becomes a number or boolean when the schema of ``typed_root``
    wants one there (``daily_limit: ${var.DAILY}``); otherwise placeholders produce text.
    """
    walk = _Interpolation(document, context, typed_root)
    value = walk.value(document.value, ())
    resolved = replace(document, value=value, secrets=walk.secrets, references=walk.references)
    return resolved, walk.problems


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


# ------------------------------------------------------------------------------------------- projects


def load_project(
    root: Path | str, *, environment: str | None = None, environ: Mapping[str, str] | None = None
) -> Project:
    """Load and validate the project at ``root``; raise ValidationFailed if there is any error.
    Warnings (catalogue values the spec does not know) go to ``Project.warnings``. ``${env.*}`` reads
    ``environ`` (default: the process environment), and an unset one is an error here."""
    source = os.environ if environ is None else environ
    project, problems = assemble(Path(root), environment, source)
    if project is None or any(p.is_error for p in problems):
        raise ValidationFailed(problems)
    project.warnings = problems
    return project


def validate_project(root: Path | str, *, environment: str | None = None) -> list[Problem]:
    """Every problem of the project at ``root`` (errors and warnings), in file order, without raising.

    Offline and secret-free, as a CI step runs it: ``${env.*}`` is checked by syntax only (plan and
    apply report an unset one). Without ``environment`` and without a default one, every environment
    is validated and a problem found in only some of them names them."""
    project, problems = assemble(Path(root), environment, None)
    # An environment that was asked for and is unknown is the problem to report, not a reason to check all.
    if project is None or environment is not None or not project.settings.environments:
        return problems
    if project.environment is not None:
        return problems
    return _per_environment(Path(root), sorted(project.settings.environments))


def _per_environment(root: Path, names: list[str]) -> list[Problem]:
    found: dict[tuple[Location | None, str, Severity], list[str]] = {}
    problems: dict[tuple[Location | None, str, Severity], Problem] = {}
    for name in names:
        for problem in assemble(root, name, None)[1]:
            key = (problem.location, problem.message, problem.severity)
            found.setdefault(key, []).append(name)
            problems.setdefault(key, problem)
    out = [
        p
        if len(found[k]) == len(names)
        else replace(p, message=f"{p.message} (environment {', '.join(found[k])})")
        for k, p in problems.items()
    ]
    return _ordered(out)


def assemble(
    root: Path, environment: str | None, environ: Mapping[str, str] | None = None
) -> tuple[Project | None, list[Problem]]:
    """Read every project file and collect every problem; the project is None if it has no settings.
    ``environ`` None checks ``${env.*}`` by syntax only."""
    problems: list[Problem] = []
    sources = Sources()
    reader = Reader(root, problems, sources)
    settings_doc = _settings_document(reader)
    if settings_doc is None:
        return None, _ordered(sources.attach(problems))
    settings = settings_from(settings_doc.value if not _has_errors(problems) else {})
    selected = _environment(reader, settings, environment, settings_doc)
    scope = [selected.namespace or settings.namespace] if selected else namespaces(settings)
    context = templates.Context(
        selected.variables if selected else {}, environ, selected.name if selected else None
    )
    layers = _override_layers(settings_doc, selected.name if selected else None)
    agents = _agents(reader, scope, context, layers)
    problems.extend(_override_keys(settings_doc, agents))
    tags = _tags(reader, context)
    project = Project(root, settings, agents, tags, selected)
    return project, _ordered(sources.attach(problems))


def _has_errors(problems: list[Problem]) -> bool:
    return any(p.is_error for p in problems)


def _ordered(problems: list[Problem]) -> list[Problem]:
    def key(p: Problem) -> tuple[int, str, int, int]:
        loc = p.location
        return (0, "", 0, 0) if loc is None else (1, loc.file, loc.line, loc.col)

    return sorted(problems, key=key)


def _settings_document(reader: Reader) -> Document | None:
    root = reader.root
    if not root.is_dir():
        reader.error(None, f"{root} is not a directory")
        return None
    path = root / PROJECT_FILE
    if not path.exists():
        reader.error(None, f"{root} has no {PROJECT_FILE}; run `agentsync init` to create a project")
        return None
    document = read_document(reader, path, allow_empty=True)
    if document is None:
        return None
    if not isinstance(document.value, dict):
        reader.error(
            document.location_of(()),
            f"{PROJECT_FILE} must be a mapping of settings "
            f"(namespace, environments, ...), not {_kind(document.value)}",
        )
        return None
    before = len(reader.problems)
    reader.problems.extend(schema.check(document, schema.project_validator()))
    reader.problems.extend(_settings_rules(document))
    return document if len(reader.problems) == before else Document(document.file, {})


def _settings_rules(document: Document) -> list[Problem]:
    """What the schema cannot say about agentsync.yaml."""
    value = document.value
    problems = []
    # A non-mapping environments: is the schema's error already; these rules only read a mapping.
    known = value.get("environments") if isinstance(value.get("environments"), dict) else {}
    for name, env in known.items():
        if isinstance(env, dict) and "base_url" in env and "residency" in env:
            problems.append(
                Problem(
                    document.location_of(("environments", name, "residency")),
                    f"environments.{name}: set base_url or residency, not both",
                )
            )
    default = value.get("default_environment")
    if isinstance(default, str) and default not in known:
        problems.append(
            Problem(
                document.location_of(("default_environment",), value=True),
                f"default_environment: {_unknown_env(default, known)}",
            )
        )
    return problems


def _unknown_env(name: str, known: Mapping[str, Any]) -> str:
    listed = ", ".join(sorted(known)) if known else "none (add an `environments:` section)"
    return f"unknown environment '{name}'; the project defines: {listed}"


def _environment(reader: Reader, settings: Settings, name: str | None, doc: Document) -> Environment | None:
    chosen = name or settings.default_environment
    if chosen is None:
        return None
    found = settings.environments.get(chosen)
    if found is None and name is not None:
        reader.error(
            doc.location_of(("environments",)) if settings.environments else None,
            _unknown_env(chosen, settings.environments),
        )
    return found


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a string" if isinstance(value, str) else "a single value"


# --------------------------------------------------------------------------------------------- agents

PROMPTS_DIR = "prompts"


def agent_files(root: Path) -> list[tuple[str, Path]]:
    """(key, path) of every agent file: ``agents/**/*.yaml`` except under ``agents/prompts/``."""
    base = root / AGENTS_DIR
    if not base.is_dir():
        return []
    found = []
    for path in sorted(base.rglob("*.yaml")):
        relative = path.relative_to(base)
        if relative.parts[0] != PROMPTS_DIR:
            found.append((relative.with_suffix("").as_posix(), path))
    return found


def _agents(
    reader: Reader, scope: list[str], context: templates.Context, layers: list[Override]
) -> dict[str, AgentDef]:
    agents: dict[str, AgentDef] = {}
    documents: dict[str, Document] = {}
    _stray_files(reader)
    for key, path in agent_files(reader.root):
        document = read_document(reader, path)
        if document is None or not _agent_shape(reader, document):
            continue
        for layer in layers:
            if layer.key in ("*", key):
                _overlay(document, layer)
        document, found = interpolate(document, context, typed_root=spec.AGENT_RESPONSE)
        reader.problems.extend(found)
        reader.problems.extend(_check_agent(document, scope))
        documents[key] = document
        agents[key] = _agent_def(key, document)
    reader.problems.extend(_cross_agent_rules(agents, documents))
    reader.problems.extend(_reference_warnings(agents, documents))
    return agents


def _reference_warnings(agents: dict[str, AgentDef], documents: dict[str, Document]) -> list[Problem]:
    """A reference to an agent no file declares can only work if the workspace has it (plan checks)."""
    problems: list[Problem] = []
    for document in documents.values():
        for path, text in document.references.items():
            for name in dict.fromkeys(templates.references_in(text)):
                if name not in agents:
                    close = difflib.get_close_matches(name, list(agents), n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    problems.append(
                        Problem(
                            document.location_of(path, value=True),
                            f"{_dotted(path)}: ${{agent.{name}.id}} names an agent no file "
                            f"declares; plan fails unless the workspace has it{hint}",
                            Severity.WARNING,
                        )
                    )
    return problems


# --- environment overrides ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    """One ``environments.ENV.overrides.agents.KEY`` entry (``*``: every agent), with where it is."""

    key: str
    value: dict[str, Any]
    source: Document
    path: JsonPath


def _override_layers(settings_doc: Document, environment: str | None) -> list[Override]:
    """The selected environment's overrides, ``*`` first so that a named agent's entry wins."""
    if environment is None:
        return []
    base: JsonPath = ("environments", environment, "overrides", "agents")
    entries = (settings_doc.value.get("environments") or {}).get(environment) or {}
    table = (entries.get("overrides") or {}).get("agents") or {}
    ordered_keys = sorted(table, key=lambda k: k != "*")
    return [
        Override(k, table[k], settings_doc, (*base, k)) for k in ordered_keys if isinstance(table[k], dict)
    ]


def _override_keys(settings_doc: Document, agents: dict[str, AgentDef]) -> list[Problem]:
    """An override for an agent the project does not declare is a typo or a stale entry: a warning, so
    that deleting an agent's file (or pulling into an empty agents/) is not blocked by it."""
    problems: list[Problem] = []
    for name, env in (settings_doc.value.get("environments") or {}).items():
        table = ((env or {}).get("overrides") or {}).get("agents") or {}
        for key in table:
            if key != "*" and key not in agents:
                close = difflib.get_close_matches(key, list(agents), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                path = ("environments", name, "overrides", "agents", key)
                problems.append(
                    Problem(
                        settings_doc.location_of(path),
                        f"environments.{name}.overrides.agents: no agent '{key}' in agents/{hint}",
                        Severity.WARNING,
                    )
                )
    return problems


def _overlay(document: Document, layer: Override, path: JsonPath = ()) -> None:
    """Deep-merge ``layer`` into ``document`` in place: mappings merge key by key, anything else
    (lists, scalars) replaces. The merged paths point at agentsync.yaml, where their value now is."""
    target = _value_at(document.value, path)
    source = _value_at(layer.value, path)
    for key, value in source.items():
        here = (*path, key)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            document.locations[here] = layer.source.location_of((*layer.path, *here))
            _overlay(document, layer, here)
            continue
        target[key] = copy.deepcopy(value)
        _move_locations(document, layer, here)


def _value_at(value: Any, path: JsonPath) -> Any:
    for part in path:
        value = value[part]
    return value


def _move_locations(document: Document, layer: Override, here: JsonPath) -> None:
    for table in (document.locations, document.value_locations):
        for stale in [p for p in table if p[: len(here)] == here]:
            del table[stale]
    prefix = (*layer.path, *here)
    for source, target in (
        (layer.source.locations, document.locations),
        (layer.source.value_locations, document.value_locations),
    ):
        for found, location in source.items():
            if found[: len(prefix)] == prefix:
                target[here + found[len(prefix) :]] = location


def _stray_files(reader: Reader) -> None:
    base = reader.root / AGENTS_DIR
    if not base.is_dir():
        return
    for path in sorted(base.rglob("*.yml")):
        if path.relative_to(base).parts[0] != PROMPTS_DIR:
            reader.problems.append(
                Problem(
                    Location(reader.rel(path), 1, 1),
                    "ignored: agent files must end in .yaml",
                    Severity.WARNING,
                )
            )


def _agent_shape(reader: Reader, document: Document) -> bool:
    if isinstance(document.value, dict):
        return True
    reader.error(
        document.location_of(()),
        "an agent file must be a mapping of agent fields "
        f"(name, conversation_config, ...), not {_kind(document.value)}",
    )
    return False


def _check_agent(document: Document, scope: list[str]) -> list[Problem]:
    problems = schema.check(document, schema.agent_validator())
    problems.extend(schema.catalogue_warnings(document))
    problems.extend(_marker_problems(document, scope))
    return problems


def _marker_problems(document: Document, scope: list[str]) -> list[Problem]:
    """A tag that looks like an ownership marker would let a file claim another agent."""
    tags = document.value.get("tags")
    problems = []
    for index, tag in enumerate(tags if isinstance(tags, list) else []):
        for namespace in scope:
            if isinstance(tag, str) and tag.startswith(f"{namespace}:"):
                problems.append(
                    Problem(
                        document.location_of(("tags", index), value=True),
                        f"tags[{index}]: '{tag}' looks like agentsync's ownership marker "
                        f"(namespace '{namespace}'); agentsync adds the marker itself, "
                        "remove it",
                    )
                )
    return problems


def _agent_def(key: str, document: Document) -> AgentDef:
    value = document.value
    config = {k: v for k, v in value.items() if k in WRITABLE_FIELDS}
    locations = {p: loc for p, loc in document.locations.items() if not p or (p[0] in WRITABLE_FIELDS)}
    return AgentDef(
        key=key,
        file=document.file,
        config=config,
        id=_text_or_none(value.get("id")),
        renamed_from=_text_or_none(value.get("renamed_from")),
        locations=locations,
        secrets={p: t for p, t in document.secrets.items() if p and p[0] in WRITABLE_FIELDS},
        references={p: t for p, t in document.references.items() if p and p[0] in WRITABLE_FIELDS},
    )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _cross_agent_rules(agents: dict[str, AgentDef], documents: dict[str, Document]) -> list[Problem]:
    """Rules across files: one agent per id, per key (ignoring case) and per previous key."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for key, agent_def in agents.items():
        claims = [
            ("key", key.lower(), ()),
            ("id", agent_def.id, ("id",)),
            ("renamed_from", agent_def.renamed_from, ("renamed_from",)),
        ]
        for what, claim, path in claims:
            if claim is None:
                continue
            other = seen.setdefault((what, claim), key)
            if other != key:
                problems.append(
                    Problem(documents[key].location_of(path, value=bool(path)), _clash(what, claim, other))
                )
        if agent_def.renamed_from in agents:
            problems.append(
                Problem(
                    documents[key].location_of(("renamed_from",), value=True),
                    f"renamed_from: '{agent_def.renamed_from}' still has its own file "
                    f"(agents/{agent_def.renamed_from}.yaml); a rename moves the file",
                )
            )
    return problems


def _clash(what: str, claim: str, other: str) -> str:
    if what == "key":
        return f"agent key clashes with '{other}' (keys differ only in case, which some file systems merge)"
    if what == "id":
        return f"id: agent {claim} is already adopted by agents/{other}.yaml"
    return f"renamed_from: '{claim}' is already claimed by agents/{other}.yaml"


# ----------------------------------------------------------------------------------------------- tags


def _tags(reader: Reader, context: templates.Context) -> list[TagDef] | None:
    path = reader.root / TAGS_FILE
    if not path.exists() and not path.is_symlink():
        return None
    document = read_document(reader, path)
    if document is None:
        return []
    document, found = interpolate(document, context)
    reader.problems.extend(found)
    reader.problems.extend(_no_secrets_in_tags(document))
    if not isinstance(document.value, list):
        reader.error(
            document.location_of(()),
            f"{TAGS_FILE} must be a list of tags ({{title, description}}), not {_kind(document.value)}",
        )
        return []
    before = len(reader.problems)
    reader.problems.extend(schema.check(document, schema.tags_validator()))
    reader.problems.extend(_tag_duplicates(document))
    if len(reader.problems) != before:
        return []
    return [_tag_def(document, i, item) for i, item in enumerate(document.value)]


def _no_secrets_in_tags(document: Document) -> list[Problem]:
    """A conversation tag's title and description are shown to everyone in the workspace, so they are
    no place for a secret; agentsync masks secrets only where an agent definition holds them."""
    return [
        Problem(
            document.location_of(path, value=True),
            f"{TAGS_FILE} cannot use ${{env.*}}: tag titles and descriptions are visible to the whole "
            f"workspace (found in {template!r}); use ${{var.*}} for per-environment text",
        )
        for path, template in document.secrets.items()
    ]


def _tag_def(document: Document, index: int, item: dict[str, Any]) -> TagDef:
    config: dict[str, Any] = {k: item[k] for k in ("title", "description") if k in item}
    return TagDef(config=config, id=item.get("id"), location=document.location_of((index,), value=True))


def _tag_duplicates(document: Document) -> list[Problem]:
    problems: list[Problem] = []
    for field_name in ("title", "id"):
        seen: dict[str, int] = {}
        for index, item in enumerate(document.value):
            value = item.get(field_name) if isinstance(item, dict) else None
            if not isinstance(value, str):
                continue
            first = seen.setdefault(value, index)
            if first != index:
                line = document.location_of((first, field_name), value=True).line
                problems.append(
                    Problem(
                        document.location_of((index, field_name), value=True),
                        f"[{index}].{field_name}: duplicate {field_name} '{value}' (first at line {line})",
                    )
                )
    return problems
