"""Remote state to project files: ``agentsync pull``, the plan run in reverse.

Fetch and plan exactly as ``plan`` does; a declared agent with no change keeps its file byte for byte,
and a changed one is edited field by field (:mod:`agentsync.reverse` decides what each field gets) with
a round-trip YAML editor that keeps comments, key order and quoting. A remote agent with no file gets a
new one: its writable fields minus server defaults, required keys kept, written so that it loads back as
exactly the remote value. Every output is rendered before anything is written, then staged and renamed
one by one, included files first, so that an error leaves each file either old or new.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsync import planner, spec
from agentsync.adoption import drop_override_ids, foreign_markers, set_override_id, untouched_sample
from agentsync.errors import AgentsyncError, UsageError
from agentsync.files import stage
from agentsync.kinds import Definition
from agentsync.kinds.agent import AGENT, READ_ONLY_PATHS
from agentsync.kinds.base import Index
from agentsync.kinds.identity import Marker, marker_key
from agentsync.kinds.tag import TAG
from agentsync.plan import ABSENT, Action, FieldChange
from agentsync.project import PROJECT_FILE
from agentsync.remote import RemoteState, fetch, get_one, index_of, list_items
from agentsync.reverse import Edit, Exporter, reverse, secret_values, shorten, tags_of_variant
from agentsync.values import same

if TYPE_CHECKING:
    from agentsync.client import Client
    from agentsync.project import Project

# pull writes agent files and the tag list: the two kinds it knows how to render.
WRITABLE_FIELDS = AGENT.fields.writable
TAGS_FILE = TAG.layout.where
AgentDef = Definition
TagDef = Definition


def summary_tags(summary: Mapping[str, Any]) -> list[str]:
    return [t for t in summary.get("tags") or [] if isinstance(t, str)]


def owned_keys(tags: Sequence[str], namespace: str) -> list[str]:
    return [k for k in (marker_key(t, namespace) for t in tags) if k is not None]


def agent_owners(summaries: Sequence[Mapping[str, Any]], namespace: str) -> dict[str, list[str]]:
    return {k: list(v) for k, v in index_of(AGENT, summaries, namespace).keys.items()}


def only_owner(key: str, ids: Sequence[str], namespace: str) -> str | None:
    return Marker(noun=AGENT.noun).only(key, Index({}, {key: tuple(ids)}), namespace)


def list_tags(client: Client) -> list[dict[str, Any]]:
    return [dict(t) for t in list_items(client, TAG)]


def list_summaries(client: Client, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(s) for s in list_items(client, AGENT, params)]


def list_all_agents(client: Client) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return list_summaries(client, {"archived": False}), list_summaries(client, {"archived": True})


def get_agent(client: Client, agent_id: str) -> Mapping[str, Any]:
    return get_one(client, AGENT, agent_id)


PROMPT_PATH: tuple[str, ...] = ("conversation_config", "agent", "prompt", "prompt")
# Top-level order of a new agent file: what a reviewer looks for first, then the API's order.
TOP_ORDER: tuple[str, ...] = ("name", "tags", "conversation_config", "platform_settings", "workflow")
# Fields the file keeps even when they equal the default: a file without a name is not reviewable.
ALWAYS_WRITTEN: frozenset[str] = frozenset({"name"})
# ``workflow`` is one value for the diff and the PATCH (DESIGN §3), so it is written whole or not at all.
ATOMIC_TOP: frozenset[str] = frozenset({"workflow", "tags"})


class PullError(AgentsyncError):
    """pull cannot do what was asked (an unknown key, a file it cannot merge into); nothing was written."""


# --------------------------------------------------------------------------------------------------
# Values: lists as the API means them (any sequence but a string).


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


# --------------------------------------------------------------------------------------------------
# The writable view of a GET body, guided by the create body's schema.


@lru_cache(maxsize=1)
def _top_schema() -> dict[str, Any]:
    return spec.schema(spec.AGENT_CREATE_BODY)


def _typed(node: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if node is None else spec.unwrap(node).node


def _variant(node: Mapping[str, Any], value: Mapping[str, Any]) -> dict[str, Any] | None:
    """The branch of a union that describes ``value``: by discriminator, else the first whose
    properties hold every key of the value."""
    branches = node.get("oneOf") or node.get("anyOf") or ()
    disc = node.get("discriminator") or {}
    tag = value.get(disc.get("propertyName", "")) if disc else None
    if isinstance(tag, str) and tag in (disc.get("mapping") or {}):
        return spec.unwrap({"$ref": disc["mapping"][tag]}).node
    typed = [spec.unwrap(b).node for b in branches if b.get("type") != "null"]
    fitting = [t for t in typed if t.get("properties") and set(value) <= set(t["properties"])]
    return fitting[0] if fitting else None


def _object_schema(node: Mapping[str, Any] | None, value: Mapping[str, Any]) -> dict[str, Any] | None:
    """The object schema for a dict value, or None when the schema cannot say (keep it as it is)."""
    target = _typed(node)
    if target is None:
        return None
    if target.get("oneOf") or target.get("anyOf"):
        return _variant(target, value)
    return target


def known_fields(value: Any, node: Mapping[str, Any] | None) -> Any:
    """``value`` without the keys its schema does not declare, and without those it marks read-only:
    the live API returns fields the spec lacks (reference §10), and the server fills read-only ones
    (``queueing_config.hold_audio``); a file holding either would fail validation."""
    if isinstance(value, Mapping):
        target = _object_schema(node, value)
        if target is None:
            return copy.deepcopy(dict(value))
        props = target.get("properties") or {}
        if props:
            return {
                k: known_fields(v, props[k])
                for k, v in value.items()
                if k in props and not props[k].get("readOnly")
            }
        extra = target.get("additionalProperties")
        child = extra if isinstance(extra, dict) else None
        return {k: known_fields(v, child) for k, v in value.items()}
    if _is_list(value):
        items = _typed(node)
        return [known_fields(v, (items or {}).get("items")) for v in value]
    return value


def _drop_path(body: dict[str, Any], path: Sequence[str | int]) -> None:
    parent: Any = body
    for part in path[:-1]:
        parent = parent.get(part) if isinstance(parent, dict) else None
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def writable_view(body: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The fields of a GET agent body that an agent file may declare, in the API's names and order.

    Read-only fields and paths, unknown keys and this namespace's ownership marker are left out."""
    props = _top_schema()["properties"]
    view = {k: known_fields(body[k], props[k]) for k in WRITABLE_FIELDS if k in body}
    for path in READ_ONLY_PATHS:
        _drop_path(view, path)
    if isinstance(view.get("tags"), list):
        view["tags"] = [t for t in view["tags"] if marker_key(str(t), namespace) is None]
    return view


# --------------------------------------------------------------------------------------------------
# Leaving out server defaults.


def _child(node: Mapping[str, Any] | None, value: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    target = _object_schema(node, value)
    found: Mapping[str, Any] | None = ((target or {}).get("properties") or {}).get(key)
    return found


def _is_atomic(node: Mapping[str, Any] | None) -> bool:
    """Lists, free-form maps and anything the schema cannot describe are compared and written whole."""
    target = _typed(node)
    if target is None:
        return True
    return target.get("type") == "array" or spec.is_free_form_map(target)


def _type_defaults(node: Mapping[str, Any] | None, value: Mapping[str, Any]) -> Any:
    """The defaults inside an object whose own default is null (the object was set, its fields may not)."""
    from agentsync.emulator.defaults import default_value

    target = _object_schema(node, value)
    return default_value(target) if target is not None else None


def strip_defaults(view: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``view`` without the leaves that equal the server default for their path.

    Objects that become empty are left out too, unless their default is not an object (a nullable
    object that was set must stay set). Lists, free-form maps and ``workflow`` are kept or dropped whole."""
    props = _top_schema()["properties"]
    out: dict[str, Any] = {}
    for key, value in view.items():
        default = defaults.get(key, _MISSING)
        if key in ALWAYS_WRITTEN or (key in ATOMIC_TOP and not same(value, default)):
            out[key] = shorten((key,), value)
        elif key not in ATOMIC_TOP:
            kept = _strip(value, default, props.get(key), (key,))
            if kept is not _MISSING:
                out[key] = kept
    return out


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Any = _Missing()


def _required(node: Mapping[str, Any] | None, value: Mapping[str, Any]) -> frozenset[str]:
    """The keys a file must keep: the required ones, and the ones that say which branch of a union
    the value is (``system_tool_type: end_call``), without which it would match several."""
    target = _object_schema(node, value)
    tags = (
        tags_of_variant(spec.unwrap(node).node, target) if node is not None and target is not None else set()
    )
    return frozenset((target or {}).get("required") or ()) | tags


def _strip(value: Any, default: Any, node: Mapping[str, Any] | None, path: tuple[str, ...] = ()) -> Any:
    """The part of ``value`` that differs from ``default``, or _MISSING when nothing does."""
    if same(value, default):
        return _MISSING
    if _is_atomic(node) and path:
        return shorten(path, value)
    if not isinstance(value, Mapping) or _is_atomic(node):
        return value
    base = default if isinstance(default, Mapping) else _type_defaults(node, value)
    base = base if isinstance(base, Mapping) else {}
    required = _required(node, value)
    out: dict[str, Any] = {}
    for key, child in value.items():
        kept = _strip(child, base.get(key, _MISSING), _child(node, value, key), (*path, key))
        if kept is not _MISSING:
            out[key] = kept
        elif key in required:
            out[key] = child  # a file without it would not validate, even though it is the default
    if not out and isinstance(default, Mapping):
        return _MISSING
    return out


# --------------------------------------------------------------------------------------------------
# Which declared fields an existing file keeps.


def merge_declared(
    declared: Any, full: Mapping[str, Any], chosen: Mapping[str, Any], node: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The new content of an existing file: every field it already declares, with its remote value
    (a managed field stays managed even when it now equals the default), plus what ``chosen`` adds."""
    out: dict[str, Any] = {}
    for key in declared if isinstance(declared, Mapping) else ():
        if key not in full:
            continue
        child = _top_schema()["properties"].get(key) if node is None else _child(node, full, key)
        inner = declared[key]
        if isinstance(inner, Mapping) and isinstance(full[key], Mapping) and not _atomic_at(node, key, child):
            out[key] = merge_declared(inner, full[key], _sub(chosen, key), child)
        else:
            out[key] = full[key]
    for key, value in chosen.items():
        out.setdefault(key, value)
    return out


def _atomic_at(node: Mapping[str, Any] | None, key: str, child: Mapping[str, Any] | None) -> bool:
    if node is None:
        return key in ATOMIC_TOP
    return _is_atomic(child)


def _sub(value: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = value.get(key)
    return found if isinstance(found, Mapping) else {}


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
    return engine


def dump(document: Any, *, top_level_list: bool = False) -> str:
    import io

    buffer = io.StringIO()
    yaml_engine(top_level_list=top_level_list).dump(document, buffer)
    return buffer.getvalue()


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
    if "\n" not in text.rstrip("\n") or "\r" in text or "\t" in text:
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
        if 0 < len(value) <= 3 and all(_is_number(v) for v in value.values()):
            out.fa.set_flow_style()  # positions and limits read best on one line: {x: 0, y: 150}
        return out
    if _is_list(value):
        seq = CommentedSeq([to_yaml(v, extra, base) for v in value])
        if all(not isinstance(v, (Mapping, list, tuple, str)) or _short(v) for v in value):
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str) and _literal_ok(value):
        return LiteralScalarString(value)
    return value


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


# --------------------------------------------------------------------------------------------------
# One agent file.

META_FIELDS: tuple[str, ...] = ("id", "renamed_from")
SCHEMA_FILE = Path("schemas") / "agent.schema.json"


@dataclass(frozen=True)
class AgentSource:
    """What one agent file is made from: its key, the GET body, and the id to write when the agent
    is not owned yet (so the next apply adopts it instead of creating a twin)."""

    key: str
    body: Mapping[str, Any]
    adopt_id: str | None = None


@dataclass(frozen=True)
class PullOptions:
    keys: tuple[str, ...] = ()
    all: bool = False
    search: str | None = None
    full: bool = False
    prompts_as_files: bool = False
    adopt_foreign: bool = False


def agent_path(root: Path, key: str) -> Path:
    return root / "agents" / f"{key}.yaml"


def prompt_ref(key: str, content: str) -> FileRef:
    """``agents/prompts/<key>.md``, written relative to the agent file's own directory."""
    depth = key.count("/")
    return FileRef("../" * depth + f"prompts/{key}.md", content)


def agent_target(
    source: AgentSource, namespace: str, options: PullOptions, exporter: Exporter | None = None
) -> dict[str, Any]:
    """The plain content of a new agent file: writable fields minus server defaults (required ones
    stay), written as the loader reads it back, the prompt maybe behind ``!file``."""
    from agentsync.emulator.defaults import agent_defaults

    full = writable_view(source.body, namespace)
    chosen = full if options.full else strip_defaults(full, agent_defaults())
    exporter = exporter or Exporter({})
    target = _ordered(exporter.export(_without_leaks(chosen, exporter), source.key))
    prompt = _get_path(target, PROMPT_PATH)
    if options.prompts_as_files and isinstance(prompt, str):
        _set_path(target, PROMPT_PATH, prompt_ref(source.key, prompt))
    if source.adopt_id is not None:
        target["id"] = source.adopt_id
    return target


def _without_leaks(value: Any, exporter: Exporter) -> Any:
    """``value`` without the strings that hold a resolved secret of this project."""
    if isinstance(value, Mapping):
        return {k: _without_leaks(v, exporter) for k, v in value.items() if not _leaf_leaks(v, exporter)}
    if isinstance(value, list):
        return [_without_leaks(v, exporter) for v in value if not _leaf_leaks(v, exporter)]
    return value


def _leaf_leaks(value: Any, exporter: Exporter) -> bool:
    return isinstance(value, str) and exporter.leaks(value)


def _ordered(view: Mapping[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in (*TOP_ORDER, *view) if k in view}


def _get_path(value: Any, path: Sequence[str]) -> Any:
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _set_path(value: dict[str, Any], path: Sequence[str], new: Any) -> None:
    for part in path[:-1]:
        value = value[part]
    value[path[-1]] = new


def render_agent(
    root: Path, source: AgentSource, namespace: str, options: PullOptions, exporter: Exporter | None = None
) -> dict[Path, str]:
    """Every file a new agent needs, path -> new text: any ``!file`` targets first, then the agent
    file (so that a pull stopped between renames never leaves a dangling ``!file``)."""
    path = agent_path(root, source.key)
    editor = Editor(path.parent, root=root)
    document = editor.new(agent_target(source, namespace, options, exporter))
    _schema_comment(document, root, path)
    text = dump(document)
    return {**{Path(p): t for p, t in editor.extra.items()}, path: text}


def render_changes(
    root: Path, definition: AgentDef, fields: Sequence[FieldChange], exporter: Exporter
) -> tuple[dict[Path, str], tuple[str, ...]]:
    """An existing agent file edited field by field towards the workspace (the plan in reverse); no
    files when nothing is to be written, so an agent with no change keeps its file byte for byte."""
    path = root / definition.file
    document = _load_mapping(path)
    raw = to_plain(document, path.parent, root)
    reversal = reverse(definition, fields, raw, exporter)
    if not reversal.edits:
        return {}, reversal.notes
    editor = Editor(path.parent, root=root)
    for edit in reversal.edits:
        editor.apply(document, edit)
    text = dump(document)
    return {**{Path(p): t for p, t in editor.extra.items()}, path: text}, reversal.notes


def _load_mapping(path: Path) -> Any:
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


def _schema_comment(document: Any, root: Path, path: Path) -> None:
    """Point editors at the project's agent schema, but only when the project has one: a path to a
    schema that is not there would be a broken promise in every file."""
    schema = root / SCHEMA_FILE
    if schema.is_file():
        relative = Path(os.path.relpath(schema, path.parent)).as_posix()
        document.yaml_set_start_comment(f"yaml-language-server: $schema={relative}")


# --------------------------------------------------------------------------------------------------
# tags.yaml: the conversation-tag list, merged into an existing file entry by entry.


def tag_entry(tag: Mapping[str, Any]) -> dict[str, Any]:
    entry = {"title": tag["title"]}
    if tag.get("description") is not None:
        entry["description"] = tag["description"]
    return entry


def _check_titles(tags: Sequence[Mapping[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for tag in tags:
        if tag["title"] in seen:
            raise PullError(
                f"two conversation tags are titled {tag['title']!r} "
                f"({seen[tag['title']]} and {tag['tag_id']}); tags.yaml matches tags by title",
                hint="rename or delete one of them in the workspace, then pull again",
            )
        seen[tag["title"]] = str(tag["tag_id"])


def render_tags(path: Path, tags: Sequence[Mapping[str, Any]]) -> str:
    """tags.yaml for the workspace's tags, oldest first; an existing file keeps its order, comments and
    ``id:`` entries, loses the tags that are gone, and gains the new ones at the end."""
    from ruamel.yaml.comments import CommentedSeq

    _check_titles(tags)
    ordered = sorted(tags, key=lambda t: (t.get("created_at_unix_secs") or 0, t["title"]))
    document = _load_tags(path)
    if not isinstance(document, CommentedSeq):
        document = CommentedSeq()
    editor = Editor(path.parent)
    remaining = list(ordered)
    for entry in list(document):
        match = _match_tag(entry, remaining)
        if match is None:
            document.remove(entry)
            continue
        remaining.remove(match)
        keep = ("id",) if "id" in entry else ()
        editor.update_map(entry, tag_entry(match) | ({"id": match["tag_id"]} if keep else {}), keep)
    document.extend(editor.new(tag_entry(t)) for t in remaining)
    return dump(document, top_level_list=True)


def tags_match(declared: Sequence[TagDef], tags: Sequence[Mapping[str, Any]]) -> bool:
    """Whether tags.yaml already says what the workspace holds: one entry per tag, same text."""
    if len(declared) != len(tags):
        return False
    remaining = list(tags)
    for definition in declared:
        match = _match_tag(
            {**definition.config, **({"id": definition.id} if definition.id else {})}, remaining
        )
        if match is None or not same(definition.config, tag_entry(match)):
            return False
        remaining.remove(match)
    return True


def _load_tags(path: Path) -> Any:
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


def _match_tag(entry: Any, tags: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not isinstance(entry, Mapping):
        return None
    for tag in tags:
        if ("id" in entry and tag["tag_id"] == entry["id"]) or (
            "id" not in entry and tag["title"] == entry.get("title")
        ):
            return tag
    return None


# --------------------------------------------------------------------------------------------------
# Which agents: selection over the list endpoint's summaries.

SLUG_INVALID = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """A file-system safe key from an agent name: lower case ASCII letters, digits and dashes."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return SLUG_INVALID.sub("-", ascii_name.lower()).strip("-")[:60].strip("-") or "agent"


def unique_key(name: str, taken: set[str]) -> str:
    base = slug(name)
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


@dataclass(frozen=True)
class Selected:
    key: str
    agent_id: str
    owned: bool


def _owned(summary: Mapping[str, Any], namespace: str) -> str | None:
    return next(iter(owned_keys(summary_tags(summary), namespace)), None)


def _sole_owner(key: str, owners: Mapping[str, list[str]], namespace: str) -> str:
    found = only_owner(key, owners[key], namespace)
    assert found is not None, "owners lists only keys that some agent carries"
    return found


def select_by_keys(
    keys: Iterable[str],
    owners: Mapping[str, list[str]],
    declared_ids: Mapping[str, str],
    namespace: str,
    *,
    strict: bool,
) -> tuple[list[Selected], list[str]]:
    """The agents for these keys: by marker, else by the file's ``id:``. A key with neither is an error
    when asked for by name (``strict``) and skipped otherwise (apply has not created it yet)."""
    chosen: list[Selected] = []
    skipped: list[str] = []
    for key in keys:
        if key in owners:
            chosen.append(Selected(key, _sole_owner(key, owners, namespace), True))
        elif key in declared_ids:
            chosen.append(Selected(key, declared_ids[key], False))
        elif strict:
            raise UsageError(
                f"no agent in the workspace carries the marker {namespace}:{key}",
                hint="use --all or --search to pull agents agentsync does not manage yet",
            )
        else:
            skipped.append(key)
    return chosen, skipped


def select_listed(
    summaries: Iterable[Mapping[str, Any]],
    owners: Mapping[str, list[str]],
    declared_ids: Mapping[str, str],
    namespace: str,
    taken: set[str],
) -> list[Selected]:
    """Every listed agent: owned ones under their key, adopted-by-file ones under that file's key,
    the rest under a new key made from the name."""
    by_id = {agent_id: key for key, agent_id in declared_ids.items()}
    chosen: list[Selected] = []
    for summary in summaries:
        agent_id = str(summary["agent_id"])
        key = _owned(summary, namespace)
        if key is not None:
            chosen.append(Selected(key, _sole_owner(key, owners, namespace), True))
        elif agent_id in by_id:
            chosen.append(Selected(by_id[agent_id], agent_id, False))
        else:
            chosen.append(Selected(unique_key(str(summary.get("name") or ""), taken), agent_id, False))
    return _dedupe(chosen)


def _dedupe(chosen: list[Selected]) -> list[Selected]:
    unique: dict[str, Selected] = {}
    for item in chosen:
        unique.setdefault(item.agent_id, item)
    return list(unique.values())


# --------------------------------------------------------------------------------------------------
# The orchestrator.

KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


class FileAction(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REMOVE = "remove"


@dataclass(frozen=True)
class FileChange:
    path: Path  # relative to the project root
    action: FileAction


@dataclass(frozen=True)
class PullResult:
    """What pull did (or, with ``dry_run``, would do), file by file, and what it did not write and why."""

    files: tuple[FileChange, ...]
    agents: tuple[str, ...]
    adopted: tuple[str, ...]
    skipped: tuple[str, ...]
    tags: int | None
    dry_run: bool = False
    stats: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> tuple[FileChange, ...]:
        return tuple(f for f in self.files if f.action is not FileAction.UNCHANGED)


@dataclass
class Output:
    """Everything one pull writes, in write order, and removes."""

    files: dict[Path, str] = field(default_factory=dict)
    removed: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pull(
    client: Client,
    project: Project,
    options: PullOptions,
    *,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> PullResult:
    """Write the selected agents (and, unless keys or a search narrow the pull, the conversation tags)
    into the project's files. Everything is fetched and rendered before the first byte is written."""
    remote = fetch(client, project, targets=tuple(k for k in options.keys if k in project.of(AGENT)))
    selected, skipped, notes = _select(client, project, options, remote)
    out = Output(notes=notes)
    bodies = {s.agent_id: remote.bodies_of(AGENT).get(s.agent_id) for s in selected}
    missing = [s for s in selected if bodies[s.agent_id] is None]
    bodies.update(zip([s.agent_id for s in missing], _fetch_bodies(client, missing), strict=True))
    exporter = _exporter(project, remote, selected, environ)
    _render_declared(project, remote, [s for s in selected if s.key in project.of(AGENT)], exporter, out)
    for item in (s for s in selected if s.key not in project.of(AGENT)):
        _render_new(project, item, bodies[item.agent_id] or {}, options, exporter, out)
    tag_count = None
    # A project without tags.yaml leaves conversation tags alone; pull --all brings them in.
    if not options.keys and not options.search and (options.all or "tag" in project.definitions):
        tag_count = _render_tags(client, project, remote, out)
    if options.all:
        out.removed.extend(untouched_sample(project, {s.key for s in selected}))
    untouched = _untouched(project, selected, tag_count is not None, out)
    changes = _classify(project.root, out.files) + _removals(project.root, out.removed) + untouched
    if not dry_run:
        write_files({p: t for p, t in out.files.items() if _action(p, t) is not FileAction.UNCHANGED})
        remove_files(out.removed)
    adopted = tuple(s.key for s in selected if not s.owned and s.key not in project.of(AGENT))
    return PullResult(
        changes,
        tuple(s.key for s in selected),
        adopted,
        tuple(skipped),
        tag_count,
        dry_run,
        dict(client.stats),
        tuple(out.notes),
    )


def _untouched(
    project: Project, selected: Sequence[Selected], tags: bool, out: Output
) -> tuple[FileChange, ...]:
    """The files pull looked at and left alone, byte for byte."""
    paths = [project.root / project.of(AGENT)[s.key].file for s in selected if s.key in project.of(AGENT)]
    if tags and "tag" in project.definitions:
        paths.append(project.root / TAGS_FILE)
    kept = [p for p in paths if p not in out.files]
    return tuple(FileChange(_relative(p, project.root), FileAction.UNCHANGED) for p in kept)


def _exporter(
    project: Project, remote: RemoteState, selected: Sequence[Selected], environ: Mapping[str, str] | None
) -> Exporter:
    owned = agent_owners(remote.listed(AGENT), project.namespace)
    ids = {ids[0]: key for key, ids in owned.items() if len(ids) == 1}
    ids.update({d.id: k for k, d in project.of(AGENT).items() if d.id})
    ids.update({s.agent_id: s.key for s in selected})
    secrets = secret_values(project.of(AGENT), os.environ if environ is None else environ)
    return Exporter(ids, secrets)


def _render_declared(
    project: Project, remote: RemoteState, chosen: Sequence[Selected], exporter: Exporter, out: Output
) -> None:
    """The files of declared agents, through the plan: only the fields it reports as changed."""
    if not chosen:
        return
    plan = planner.build_plan(project, remote, targets=tuple(s.key for s in chosen))
    for change in plan.changes:
        if change.kind != AGENT.name or change.action not in (Action.UPDATE, Action.ADOPT):
            continue
        files, notes = render_changes(project.root, project.of(AGENT)[change.key], change.fields, exporter)
        out.files.update(files)
        out.notes.extend(notes)
    _drop_redundant_ids(project, remote, chosen, out)


def _drop_redundant_ids(
    project: Project, remote: RemoteState, chosen: Sequence[Selected], out: Output
) -> None:
    """An ``id`` override is redundant once the agent carries this namespace's marker."""
    if project.environment is None:
        return
    owned = [s.key for s in chosen if s.owned]
    path = project.root / PROJECT_FILE
    text = drop_override_ids(project.root, project.environment.name, owned, out.files.get(path))
    if text is not None:
        out.files[path] = text


def _render_new(
    project: Project,
    item: Selected,
    body: Mapping[str, Any],
    options: PullOptions,
    exporter: Exporter,
    out: Output,
) -> None:
    per_environment = project.environment is not None and not item.owned
    adopt = None if item.owned or per_environment else item.agent_id
    source = AgentSource(item.key, body, adopt)
    out.files.update(render_agent(project.root, source, project.namespace, options, exporter))
    if per_environment and project.environment is not None:
        settings = out.files.get(project.root / PROJECT_FILE)
        text = set_override_id(project.root, project.environment.name, item.key, item.agent_id, settings)
        out.files[project.root / PROJECT_FILE] = text


def _render_tags(client: Client, project: Project, remote: RemoteState, out: Output) -> int:
    tags = list(remote.listed(TAG)) if remote.fetched(TAG) else list_tags(client)
    path = project.root / TAGS_FILE
    if "tag" not in project.definitions or not tags_match(list(project.of(TAG).values()), tags):
        out.files[path] = render_tags(path, tags)
    return len(tags)


def _variables(project: Project) -> Mapping[str, str]:
    return project.environment.variables if project.environment is not None else {}


def _select(
    client: Client, project: Project, options: PullOptions, remote: RemoteState
) -> tuple[list[Selected], list[str], list[str]]:
    namespace = project.namespace
    owners = agent_owners(list(remote.listed(AGENT)), namespace)
    declared_ids = {k: d.id for k, d in project.of(AGENT).items() if d.id}
    notes: list[str] = []
    if options.keys or not (options.all or options.search):
        keys = options.keys or tuple(project.of(AGENT))
        chosen, skipped = select_by_keys(keys, owners, declared_ids, namespace, strict=bool(options.keys))
    else:
        active, archived = list_all_agents(client)
        found: list[dict[str, Any]] = (
            _searched(client, options.search)
            if options.search
            else [*active, *(s for s in archived if _owned(s, namespace) is not None)]
        )
        listed, notes = _without_foreign(found, project, declared_ids, options.adopt_foreign)
        taken = set(project.of(AGENT)) | set(owners)
        chosen, skipped = select_listed(listed, owners, declared_ids, namespace, taken), []
    _check_keys(chosen)
    return chosen, skipped, notes


def _without_foreign(
    listed: Sequence[Mapping[str, Any]], project: Project, declared_ids: Mapping[str, str], adopt: bool
) -> tuple[list[Mapping[str, Any]], list[str]]:
    """An agent another project marks as its own is left to it, unless ``adopt``."""
    kept: list[Mapping[str, Any]] = []
    notes: list[str] = []
    adopted = set(declared_ids.values())
    for summary in listed:
        foreign = foreign_markers(summary_tags(summary), project.namespace)
        mine = _owned(summary, project.namespace) is not None or summary["agent_id"] in adopted
        if foreign and not mine and not adopt:
            notes.append(
                f"skipped agent {summary['agent_id']} ({summary.get('name')!r}): it carries "
                f"{foreign[0]!r}, another project's ownership marker; --adopt-foreign takes it anyway"
            )
            continue
        kept.append(summary)
    return kept, notes


def _searched(client: Client, text: str) -> list[dict[str, Any]]:
    return list_summaries(client, {"search": text})


def _fetch_bodies(client: Client, selected: Sequence[Selected]) -> list[dict[str, Any]]:
    return _all_or_raise(client.map(lambda s: dict(get_agent(client, s.agent_id)), selected))


def _all_or_raise(results: Sequence[Any]) -> list[Any]:
    """The results, or the first failure raised: nothing is written from a partial read."""
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


def _check_keys(chosen: Sequence[Selected]) -> None:
    """A key becomes a path: one taken from a remote marker must not climb out of agents/."""
    seen: dict[str, str] = {}
    for item in chosen:
        if not KEY_PATTERN.fullmatch(item.key) or ".." in item.key.split("/"):
            raise PullError(
                f"agent {item.agent_id} has the key {item.key!r}, which is not a safe file name",
                hint="fix the agent's marker tag in the workspace",
            )
        if item.key in seen:
            raise PullError(
                f"agents {seen[item.key]} and {item.agent_id} would both be written to "
                f"agents/{item.key}.yaml",
                hint="remove the id: that points at one of them",
            )
        seen[item.key] = item.agent_id


def _action(path: Path, text: str) -> FileAction:
    if not path.is_file():
        return FileAction.CREATE
    current = path.read_text(encoding="utf-8")
    return FileAction.UNCHANGED if current == text else FileAction.UPDATE


def _classify(root: Path, files: Mapping[Path, str]) -> tuple[FileChange, ...]:
    changes = [FileChange(_relative(p, root), _action(p, t)) for p, t in files.items()]
    return tuple(sorted(changes, key=lambda c: c.path.as_posix()))


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return path


# --------------------------------------------------------------------------------------------------
# Writing: every file to a temporary sibling first, then one rename each.


def write_files(files: Mapping[Path, str]) -> None:
    """Write all ``files`` or none of the new content: a failure while staging removes every staged
    file and leaves the originals untouched; renames happen only after every file is staged, in the
    order given (an included file before the file that includes it)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in files.items():
            staged.append((stage(path, text), path))
    except OSError as exc:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise PullError(
            f"could not write {getattr(exc, 'filename', None) or 'a file'}: {exc.strerror}",
            hint="nothing was changed; fix the permissions or free space and pull again",
        ) from exc
    for temporary, path in staged:
        os.replace(temporary, path)


def remove_files(paths: Sequence[Path]) -> None:
    """Remove files, agent files before the prompts they include."""
    for path in sorted(paths, key=lambda p: p.suffix != ".yaml"):
        path.unlink(missing_ok=True)


def _removals(root: Path, paths: Sequence[Path]) -> tuple[FileChange, ...]:
    return tuple(FileChange(_relative(p, root), FileAction.REMOVE) for p in paths)
