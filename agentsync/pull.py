"""Remote state to project files: ``agentsync pull``, the plan run in reverse, for every kind.

One loop over KINDS. For each kind in scope: list (the fetcher plan uses), select (what the files
declare, what the project's marker owns, with ``--all`` every listed object), GET what the list does
not hold, then write the kind's layout. A declared resource with no change keeps its file (or its list
entry) byte for byte; a changed one is edited field by field (:mod:`agentsync.reverse`); a remote object
with no file gets a new one (:mod:`agentsync.pullfolder`) or a new entry (:mod:`agentsync.pulllist`).
Every id of a resource pulled or managed in this run is written as ``${KIND.KEY.id}``. Every output is
rendered before anything is written, then staged and renamed one by one.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agentsync.adoption import drop_override_ids, set_override_id, untouched_sample
from agentsync.kinds import KINDS, Kind, Ref, by_name
from agentsync.kinds.base import JsonObject
from agentsync.plan import Action, Change
from agentsync.project import PROJECT_FILE
from agentsync.pullearly import EarlyBodies
from agentsync.pullfolder import Source, Style, file_path, render_changes, render_new
from agentsync.pulllist import Entry, render_list
from agentsync.pullselect import Scope, Selected, check_keys, declared, listed
from agentsync.pullview import PullError
from agentsync.pullwrite import (
    FileAction,
    FileChange,
    Output,
    action,
    classify,
    relative,
    remove_files,
    write_files,
)
from agentsync.remote import RemoteState, fetch, get_one, list_items, with_bodies
from agentsync.reverse import Exporter, secret_values

if TYPE_CHECKING:
    from agentsync.client import Client
    from agentsync.project import Project

__all__ = [
    "FileAction",
    "FileChange",
    "PullError",
    "PullOptions",
    "PullResult",
    "Pulled",
    "pull",
    "write_files",
]


@dataclass(frozen=True)
class PullOptions:
    keys: tuple[str, ...] = ()
    all: bool = False
    search: str | None = None
    full: bool = False
    prompts_as_files: bool = False
    adopt_foreign: bool = False

    @property
    def narrowed(self) -> bool:
        """KEYs or a search name resources of the kinds a bare key names (agents), and nothing else."""
        return bool(self.keys) or self.search is not None


@dataclass(frozen=True)
class Pulled:
    """One resource pull wrote (or found already written): its kind, key, remote id, and file."""

    kind: str
    key: str
    remote_id: str
    file: str
    adopted: bool = False  # not owned yet: the file's ``id:`` makes the next apply adopt it


@dataclass(frozen=True)
class PullResult:
    """What pull did (or, with ``dry_run``, would do), file by file and resource by resource, and what
    it did not write and why."""

    files: tuple[FileChange, ...]
    resources: tuple[Pulled, ...]
    kinds: tuple[str, ...]  # the kinds pull looked at, in dependency order
    skipped: tuple[Ref, ...]
    dry_run: bool = False
    stats: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> tuple[FileChange, ...]:
        return tuple(f for f in self.files if f.action is not FileAction.UNCHANGED)

    def count(self, kind: str) -> int:
        return sum(1 for r in self.resources if r.kind == kind)


@dataclass(frozen=True)
class Run:
    """One pull's inputs, shared by every kind's step."""

    client: Client
    project: Project
    options: PullOptions
    remote: RemoteState
    # The kinds whose schema the project has (schemas/<kind>.schema.json): looked up once per pull,
    # not once per new file.
    schemas: frozenset[str] = frozenset()
    early: EarlyBodies | None = None  # bodies read while the listings were still coming in


def pull(
    client: Client,
    project: Project,
    options: PullOptions,
    *,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> PullResult:
    """Write the selected resources of every kind in scope into the project's files. Everything is
    fetched and rendered before the first byte is written."""
    kinds = in_scope(project, options)
    targets = tuple(k for k in options.keys if any(k in project.of(kind) for kind in kinds))
    # pull --all reads every object anyway: a kind with no file yet is only listed here, and its bodies
    # are read below, each new file rendered as its body arrives.
    later = [k for k in kinds if options.all and not k.api.list_is_full and not project.of(k)]
    early = _early(client, project, options, kinds, later)
    try:
        remote = fetch(client, project, targets=targets, early=early, also=kinds, later=later)
        run = Run(client, project, options, remote, _schemas(project, kinds), early)
        return _pull(run, kinds, targets, later, environ, dry_run)
    finally:
        if early is not None:
            early.close()


def _early(
    client: Client, project: Project, options: PullOptions, kinds: Sequence[Kind], later: Sequence[Kind]
) -> EarlyBodies | None:
    """The reads to start before the listings are whole, for ``pull --all``: every kind the fetch lists,
    and the bodies of the kinds it leaves to pull (see :mod:`agentsync.pullearly`)."""
    if not later:
        return None
    listed = [k for k in KINDS if project.manages(k) or k in kinds]
    return EarlyBodies(client, listed, later, project.namespace, adopt_foreign=options.adopt_foreign)


def _pull(
    run: Run,
    kinds: Sequence[Kind],
    targets: Sequence[str],
    later: Sequence[Kind],
    environ: Mapping[str, str] | None,
    dry_run: bool,
) -> PullResult:
    client, project, options = run.client, run.project, run.options
    out = Output()
    picks: dict[str, list[Selected]] = {}
    skipped: list[Ref] = []
    for kind in kinds:
        picks[kind.name], missing = _select(run, kind, out)
        if kind.layout.is_folder:  # a list file becomes the workspace's list: its other entries go
            skipped.extend(Ref(kind.name, key) for key in missing)
    exporter = _exporter(run, kinds, picks, environ)
    prerender = _Prerender(run, kinds, picks, exporter)
    bodies = _bodies(run, kinds, picks, prerender.render)
    if later:
        read = {f"{ref.kind}/{ref.key}": body for ref, body in bodies.items()}
        run = dataclasses.replace(run, remote=with_bodies(client, run.remote, project, later, read))
    changes = _plan(run, targets)
    for kind in kinds:
        if kind.layout.is_folder:
            _render_folder(run, kind, picks[kind.name], bodies, changes, exporter, out, prerender.done)
        else:
            _render_list(run, kind, picks[kind.name], bodies, changes, exporter, out)
    if options.all:
        out.removed.extend(untouched_sample(project, _keys(picks)))
        gone = set(out.removed)
        skipped = [r for r in skipped if not _sample_removed(project, r, gone)]
    files = classify(project.root, out)
    if not dry_run:
        write_files({p: t for p, t in out.files.items() if _changes_file(p, t)})
        remove_files(out.removed)
    return PullResult(
        files,
        _pulled(run, kinds, picks),
        tuple(k.name for k in kinds),
        tuple(skipped),
        dry_run,
        dict(client.stats),
        tuple(out.notes),
    )


def _schemas(project: Project, kinds: Sequence[Kind]) -> frozenset[str]:
    folder = project.root / "schemas"
    return frozenset(k.name for k in kinds if (folder / k.layout.schema_file).is_file())


def _sample_removed(project: Project, ref: Ref, removed: set[Path]) -> bool:
    """Whether the file of a declared, unpulled ``ref`` is init's sample that this pull removes."""
    definition = project.of(by_name(ref.kind)).get(ref.key)
    return definition is not None and project.root / definition.file in removed


def _keys(picks: Mapping[str, Sequence[Selected]]) -> set[str]:
    return {s.key for chosen in picks.values() for s in chosen}


def _changes_file(path: Path, text: str) -> bool:
    return action(path, text) is not FileAction.UNCHANGED


def in_scope(project: Project, options: PullOptions) -> list[Kind]:
    """The kinds a pull looks at: with KEYs or a search, those a bare key names; with ``--all``, every
    kind; otherwise the kinds the project has files for (plain pull touches nothing else)."""
    if options.narrowed:
        return [k for k in KINDS if k.bare_target]
    if options.all:
        return list(KINDS)
    return [k for k in KINDS if k.name in project.definitions]


# --- selection -------------------------------------------------------------------------------------------


def _scope(run: Run, kind: Kind) -> Scope:
    items: Sequence[JsonObject] = run.remote.listed(kind)
    searched = run.options.search is not None
    if run.options.search is not None:
        # A search is one listing of its own: everything it finds is asked for.
        items = list_items(run.client, kind, {"search": run.options.search})
    first = frozenset(str(i[kind.api.id_field]) for i in items if searched or _in_first_listing(kind, i))
    definitions = run.project.of(kind)
    return Scope(kind, items, first, definitions, run.remote.bodies_of(kind), run.project.namespace)


def _in_first_listing(kind: Kind, item: JsonObject) -> bool:
    """Whether the first listing holds ``item`` (an agent summary says ``archived``, the parameter that
    tells the two agent listings apart): a later listing brings in only what the project owns."""
    return all(item.get(name, value) == value for name, value in kind.api.listings[0].items())


def _select(run: Run, kind: Kind, out: Output) -> tuple[list[Selected], list[str]]:
    """The objects of ``kind`` pull writes, and the declared keys that are not in the workspace yet."""
    scope = _scope(run, kind)
    options = run.options
    if options.keys:
        chosen, skipped = declared(scope, options.keys, strict=True)
    elif options.search is not None:
        chosen, skipped = [], []
    else:
        chosen, skipped = declared(scope)
    if options.all or options.search is not None or not kind.layout.is_folder:
        # A list file holds the workspace's whole list; --all and --search bring in what has no file.
        chosen, notes = listed(scope, chosen, options.adopt_foreign)
        out.note(notes)
    check_keys(kind, chosen)
    return chosen, skipped


Rendered = tuple[dict[Path, str], list[str]]


class _Prerender:
    """New files rendered on the threads that fetch their bodies, as each body arrives: rendering is
    most of a large pull's CPU, and this way it runs while other requests wait on the network instead
    of after the last one. Only a resource with no file yet is rendered early; it needs nothing but its
    body and the references, which the listings already fixed."""

    def __init__(
        self, run: Run, kinds: Sequence[Kind], picks: Mapping[str, Sequence[Selected]], exporter: Exporter
    ) -> None:
        self._run, self._exporter = run, exporter
        self._new = {
            Ref(kind.name, s.remote_id): (kind, s)
            for kind in kinds
            if kind.layout.is_folder
            for s in picks[kind.name]
            if s.key not in run.project.of(kind)
        }
        self.done: dict[Ref, Rendered] = {}

    def render(self, kind: Kind, remote_id: str, body: JsonObject) -> None:
        ref = Ref(kind.name, remote_id)
        if ref in self._new:
            self.done[ref] = _render_new(self._run, kind, self._new[ref][1], body, self._exporter)


def _render_new(run: Run, kind: Kind, item: Selected, body: JsonObject, exporter: Exporter) -> Rendered:
    project = run.project
    style = Style(full=run.options.full, as_files=run.options.prompts_as_files)
    per_environment = project.environment is not None and not item.owned
    adopt = None if item.owned or per_environment else item.remote_id
    source = Source(kind, item.key, body, adopt)
    schema = kind.name in run.schemas
    return render_new(project.root, source, project.namespace, style, exporter, has_schema=schema)


def _bodies(
    run: Run,
    kinds: Sequence[Kind],
    picks: Mapping[str, Sequence[Selected]],
    arrived: Callable[[Kind, str, JsonObject], None] | None = None,
) -> dict[Ref, JsonObject]:
    """The full body of every chosen object: from the fetch, else one GET each, side by side;
    ``arrived`` sees each fetched body on the thread that fetched it."""
    found: dict[Ref, JsonObject] = {}
    jobs: list[tuple[Kind, str]] = []
    for kind in kinds:
        known = run.remote.bodies_of(kind)
        for item in picks[kind.name]:
            body = known.get(item.remote_id)
            if body is not None:
                found[Ref(kind.name, item.remote_id)] = body
            else:
                jobs.append((kind, item.remote_id))

    def one(job: tuple[Kind, str]) -> JsonObject:
        body = run.early.body(*job) if run.early is not None else None
        if body is None:
            body = get_one(run.client, *job)
        if arrived is not None:
            arrived(*job, body)
        return body

    answers = run.client.map(one, jobs)
    for (kind, remote_id), answer in zip(jobs, answers, strict=True):
        if isinstance(answer, BaseException):
            raise answer  # nothing is written from a partial read
        found[Ref(kind.name, remote_id)] = answer
    return found


def _exporter(
    run: Run,
    kinds: Sequence[Kind],
    picks: Mapping[str, Sequence[Selected]],
    environ: Mapping[str, str] | None,
) -> Exporter:
    """Ids of what this run pulls or manages (owned objects of a marker kind included), as references."""
    ids: dict[str, Ref] = {}
    namespace = run.project.namespace
    for kind in kinds:
        if kind.identity.marks:
            index = kind.identity.index(list(run.remote.listed(kind)), kind.api.id_field, namespace)
            ids.update(
                {found[0]: Ref(kind.name, key) for key, found in index.keys.items() if len(found) == 1}
            )
        ids.update({s.remote_id: Ref(kind.name, s.key) for s in picks[kind.name]})
    definitions = [d for kind in KINDS for d in run.project.of(kind).values()]
    secrets = secret_values(definitions, os.environ if environ is None else environ)
    return Exporter(ids, secrets)


def _plan(run: Run, targets: Sequence[str]) -> dict[Ref, Change]:
    """The plan's changes by resource, when any file declares something (a pull into an empty project
    has nothing to compare)."""
    if not any(run.project.of(k) for k in KINDS):
        return {}
    from agentsync import planner  # the planner and deepdiff under it: only when there is a plan

    plan = planner.build_plan(run.project, run.remote, targets=targets)
    return {Ref(c.kind, c.key): c for c in plan.changes}


# --- rendering -------------------------------------------------------------------------------------------


def _render_folder(
    run: Run,
    kind: Kind,
    chosen: Sequence[Selected],
    bodies: Mapping[Ref, JsonObject],
    changes: Mapping[Ref, Change],
    exporter: Exporter,
    out: Output,
    rendered: Mapping[Ref, Rendered] | None = None,
) -> None:
    project = run.project
    root = project.root
    definitions = project.of(kind)
    for item in chosen:
        definition = definitions.get(item.key)
        if definition is not None:
            out.looked_at.append(root / definition.file)
            out.owners[root / definition.file] = (kind.name, item.key)
            change = changes.get(Ref(kind.name, item.key))
            if change is not None and change.action in (Action.UPDATE, Action.ADOPT):
                edited, reasons = render_changes(root, kind, definition, change.fields, exporter)
                out.add(edited, kind.name, item.key, root / definition.file)
                out.note(reasons)
            continue
        ref = Ref(kind.name, item.remote_id)
        early = (rendered or {}).get(ref)
        files, notes = early if early is not None else _render_new(run, kind, item, bodies[ref], exporter)
        per_environment = project.environment is not None and not item.owned
        out.add(files, kind.name, item.key, file_path(root, kind, item.key))
        out.note(notes)
        if per_environment and project.environment is not None:
            settings = root / PROJECT_FILE
            text = set_override_id(
                root,
                project.environment.name,
                item.key,
                item.remote_id,
                out.files.get(settings),
                plural=kind.plural,
            )
            out.files[settings] = text
    if kind.identity.marks:
        _drop_redundant_ids(run, kind, chosen, out)


def _drop_redundant_ids(run: Run, kind: Kind, chosen: Sequence[Selected], out: Output) -> None:
    """An ``id`` override is redundant once the resource carries this namespace's marker."""
    project = run.project
    if project.environment is None:
        return
    owned = [s.key for s in chosen if s.owned and s.declared]
    path = project.root / PROJECT_FILE
    text = drop_override_ids(
        project.root, project.environment.name, owned, out.files.get(path), plural=kind.plural
    )
    if text is not None:
        out.files[path] = text


def _render_list(
    run: Run,
    kind: Kind,
    chosen: Sequence[Selected],
    bodies: Mapping[Ref, JsonObject],
    changes: Mapping[Ref, Change],
    exporter: Exporter,
    out: Output,
) -> None:
    path = run.project.root / kind.layout.where
    declared_keys = set(run.project.of(kind))
    entries = [
        Entry(
            s.key,
            s.remote_id,
            bodies[Ref(kind.name, s.remote_id)],
            changed=s.key not in declared_keys or Ref(kind.name, s.key) in changes,
        )
        for s in chosen
    ]
    if not entries and not path.is_file():
        return  # nothing in the workspace and no file: the project does not start managing the kind
    text, notes = render_list(path, kind, entries, exporter, frozenset(declared_keys))
    out.owners[path] = (kind.name, None)
    out.note(notes)
    if text is None:
        out.looked_at.append(path)
    else:
        out.files[path] = text


def _pulled(run: Run, kinds: Sequence[Kind], picks: Mapping[str, Sequence[Selected]]) -> tuple[Pulled, ...]:
    found: list[Pulled] = []
    root = run.project.root
    for kind in kinds:
        definitions = run.project.of(kind)
        for item in picks[kind.name]:
            definition = definitions.get(item.key)
            if definition is not None:
                where = definition.file
            elif kind.layout.is_folder:
                where = relative(file_path(root, kind, item.key), root).as_posix()
            else:
                where = kind.layout.where
            adopted = kind.identity.marks and not item.owned and definition is None
            found.append(Pulled(kind.name, item.key, item.remote_id, where, adopted))
    return tuple(found)
