"""Remote state to project files: ``agentsync pull``, the plan run in reverse.

Fetch and plan exactly as ``plan`` does; a declared agent with no change keeps its file byte for byte,
and a changed one is edited field by field (:mod:`agentsync.reverse` decides what each field gets) with
a round-trip YAML editor that keeps comments, key order and quoting. A remote agent with no file gets a
new one: its writable fields minus server defaults, required keys kept, written so that it loads back as
exactly the remote value. Every output is rendered before anything is written, then staged and renamed
one by one, included files first, so that an error leaves each file either old or new.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsync import planner
from agentsync.adoption import drop_override_ids, foreign_markers, set_override_id, untouched_sample
from agentsync.files import stage
from agentsync.kinds.agent import AGENT
from agentsync.kinds.tag import TAG
from agentsync.plan import Action, FieldChange
from agentsync.project import PROJECT_FILE
from agentsync.pullselect import (
    AgentDef,
    Selected,
    _owned,
    agent_owners,
    get_agent,
    list_all_agents,
    list_summaries,
    list_tags,
    render_tags,
    select_by_keys,
    select_listed,
    summary_tags,
    tags_match,
)
from agentsync.pullview import PROMPT_PATH, TAGS_FILE, TOP_ORDER, PullError, strip_defaults, writable_view
from agentsync.remote import RemoteState, fetch
from agentsync.reverse import Exporter, reverse, secret_values
from agentsync.yamlwrite import Editor, FileRef, dump, to_plain, yaml_engine

if TYPE_CHECKING:
    from agentsync.client import Client
    from agentsync.project import Project

# pull writes agent files and the tag list: the two kinds it knows how to render.
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
    from agentsync.defaults import agent_defaults

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
