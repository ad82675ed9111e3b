"""The plan builder: identity, references, then one Change per resource, for every kind.

Pure: the loaded project and the fetched remote state in, a Plan out. Each kind's identity strategy
says which remote object a definition means (any ambiguity is an IdentityError, never a guess); the
kind's fields say how to diff it; references ``${KIND.KEY.id}`` are resolved across kinds before
anything is compared, and what still points at a resource created in this plan becomes a dependency.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentsync import changes as build
from agentsync import targets as targeting
from agentsync import variables as templates
from agentsync.errors import IdentityError, SafetyError
from agentsync.kinds import KINDS, Definition, Kind, Ref, by_name
from agentsync.kinds.base import Index, JsonObject, Match
from agentsync.plan import Action, Change, Plan, dotted
from agentsync.project import Project
from agentsync.remote import RemoteState, index_of


@dataclass(frozen=True)
class Matched:
    kind: Kind
    definition: Definition
    match: Match


@dataclass(frozen=True)
class KindState:
    """One kind as the planner sees it: the remote index (objects whose body was read), the whole
    listing's index (for warnings about objects out of scope), and the selected definitions."""

    kind: Kind
    index: Index
    listing: Index
    owned: Mapping[str, tuple[str, ...]]
    selected: frozenset[str] | None
    matches: tuple[Matched, ...]
    outside: tuple[Matched, ...] = ()  # definitions outside the targets: only their ids are used


class Prepared:
    """Updates worked out ahead of the plan, one body at a time while the others are still being read,
    so that little planning is left once the last answer is in.

    An entry is used only for exactly the inputs it was computed from: the same definition and body
    objects and an equal match, with no references to resolve and no rotation. Anything else (a
    definition whose references resolve into a new one, a match the full index decides otherwise) is
    planned as if nothing had been prepared, so the plan is the same either way."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._found: dict[tuple[str, str], tuple[Definition, JsonObject, Match, Change | None]] = {}

    def __len__(self) -> int:
        return len(self._found)

    def add(self, kind: Kind, remote_id: str, body: JsonObject) -> None:
        """Plan the update of the definition whose marker ``body`` carries, if there is exactly one."""
        namespace = self._project.namespace
        key = kind.identity.key_of(body, namespace)
        definition = self._project.of(kind).get(key) if key is not None else None
        if definition is None or definition.references or definition.id or definition.renamed_from:
            return
        match = Match(remote_id)
        try:
            change = build.update(kind, definition, match, body, namespace)
        except Exception:  # the plan meets the same failure again, and reports it there
            return
        self._found[(kind.name, definition.key)] = (definition, body, match, change)

    def lookup(self, m: Matched, body: JsonObject) -> tuple[bool, Change | None]:
        """(True, the update) when it was prepared from exactly these inputs; (False, None) otherwise."""
        entry = self._found.get((m.kind.name, m.definition.key))
        if entry is None or entry[0] is not m.definition or entry[1] is not body or entry[2] != m.match:
            return False, None
        return True, entry[3]


def build_plan(
    project: Project,
    remote: RemoteState,
    *,
    prune: bool = False,
    targets: Sequence[str] = (),
    rotate: Sequence[str] = (),
    prepared: Prepared | None = None,
) -> Plan:
    """The plan that brings ``remote`` to what ``project`` declares. Pure: no I/O.

    Deletes only with ``prune``; ``targets`` (agent keys, ``KIND:KEY``) limit the plan, and an unknown
    target is a UsageError. ``rotate`` (``KIND:KEY``) names existing resources whose write-only fields
    are sent again, since the API never shows them to compare. Ambiguous or contradictory identities
    raise IdentityError. ``prepared`` holds updates already worked out from these same inputs
    (:class:`Prepared`); the plan is the same with or without it.
    """
    selection = targeting.parse(targets)
    states = [_state(k, project, remote, selection) for k in KINDS if remote.fetched(k)]
    _check_unfetched(project, remote, selection)
    writes, resolved = _writes(project, remote, states, _rotated(project, rotate), prepared)
    candidates = [d for s in reversed(states) for d in _deletes(s, project, remote)]
    deletes = [d for d in candidates if not by_name(d.kind).api.no_delete]
    replaced = [c for c in writes if c is not None and c.action is Action.REPLACE]
    _check_in_use(replaced + (deletes if prune else []), resolved, remote)
    warnings = [w for s in states for w in _warnings(s, project, writes, deletes, prune)]
    warnings.extend(w for s in states for w in _unseen(s, writes))
    warnings.extend(_kept(candidates))
    return Plan(
        changes=tuple([c for c in writes if c is not None] + (deletes if prune else [])),
        unchanged=sum(1 for c in writes if c is None),
        managed=sum(_managed(s, project) for s in states),
        namespace=project.namespace,
        base_url=remote.base_url,
        environment=project.environment.name if project.environment else None,
        warnings=tuple(warnings),
        meta=_native_meta(project),
    )


def _native_meta(project: Project) -> dict[str, Any]:
    """Native environments share one workspace, and one plan covers them all: the plan names them."""
    if not project.settings.native:
        return {}
    mapped = {name: env.elevenlabs_environment for name, env in project.settings.environments.items()}
    return {"elevenlabs_environments": mapped}


def _check_unfetched(project: Project, remote: RemoteState, selection: targeting.Selection) -> None:
    # A kind that was not fetched is not managed; a target naming it is still checked.
    for kind in KINDS:
        if not remote.fetched(kind):
            targeting.of(selection, kind, set(project.of(kind)))


def _state(kind: Kind, project: Project, remote: RemoteState, selection: targeting.Selection) -> KindState:
    namespace = project.namespace
    bodies = remote.bodies_of(kind)
    listed = remote.listed(kind)
    # A summary whose GET found nothing vanished in between (404): it no longer exists.
    present = [i for i in listed if str(i[kind.api.id_field]) in bodies]
    index = index_of(kind, present, namespace)
    owned = kind.identity.owned(index, project.authoritative(kind))
    definitions = project.of(kind)
    selected = targeting.of(selection, kind, set(definitions) | set(owned))
    chosen = [d for k, d in sorted(definitions.items()) if selected is None or k in selected]
    matches = tuple(Matched(kind, d, kind.identity.match(d, index, bodies, namespace)) for d in chosen)
    outside = [d for k, d in sorted(definitions.items()) if selected is not None and k not in selected]
    known = tuple(m for m in (_quietly(kind, d, index, bodies, namespace) for d in outside) if m is not None)
    return KindState(kind, index, index_of(kind, listed, namespace), owned, selected, matches, known)


def _quietly(
    kind: Kind, definition: Definition, index: Index, bodies: Mapping[str, JsonObject], namespace: str
) -> Matched | None:
    """The match of a definition outside the targets, for resolving references to it; a definition
    that cannot be matched is simply not known (the plan does not touch it)."""
    try:
        return Matched(kind, definition, kind.identity.match(definition, index, bodies, namespace))
    except IdentityError:
        return None


# --- creates, updates and adopts ----------------------------------------------------------------------


def _rotated(project: Project, rotate: Sequence[str]) -> frozenset[Ref]:
    """The declared resources ``rotate`` names (a UsageError for one that is not declared, or whose
    kind has nothing write-only to send again)."""
    selection = targeting.parse(rotate)
    found: set[Ref] = set()
    for kind in KINDS:
        keys = set(project.of(kind)) if kind.fields.write_only else set()
        found.update(Ref(kind.name, key) for key in targeting.of(selection, kind, keys) or ())
    return frozenset(found)


def _writes(
    project: Project,
    remote: RemoteState,
    states: Sequence[KindState],
    rotate: frozenset[Ref] = frozenset(),
    prepared: Prepared | None = None,
) -> tuple[list[Change | None], list[Matched]]:
    matches = [m for s in states for m in s.matches]
    ids = {**_unselected_ids(project, states), **_known_ids(states)}
    creates = {Ref(m.kind.name, m.definition.key) for m in matches if m.match.remote_id is None}
    declared = {Ref(k.name, key) for k in KINDS for key in project.of(k)}
    resolved = [_resolve(m, ids, creates, declared) for m in matches]
    replaced = {
        Ref(m.kind.name, m.definition.key) for m, _ in resolved if _replaced(m, remote, project.namespace)
    }
    if replaced:  # what references a replaced resource waits for its new id, as for a create
        ids = {r: i for r, i in ids.items() if r not in replaced}
        creates |= replaced
        resolved = [_resolve(m, ids, creates, declared) for m in matches]
    _check_cycles({Ref(m.kind.name, m.definition.key): deps for m, deps in resolved}, creates)
    changes = [
        _change(m, deps, remote, project.namespace, Ref(m.kind.name, m.definition.key) in rotate, prepared)
        for m, deps in resolved
    ]
    return changes, [m for m, _ in resolved]


def _replaced(m: Matched, remote: RemoteState, namespace: str) -> bool:
    if m.match.remote_id is None or not m.kind.fields.replace_on:
        return False
    body = remote.bodies_of(m.kind)[m.match.remote_id]
    return bool(build.replaced_paths(m.kind, m.definition, body, namespace))


def _change(
    m: Matched,
    pending: tuple[Ref, ...],
    remote: RemoteState,
    namespace: str,
    rotate: bool = False,
    prepared: Prepared | None = None,
) -> Change | None:
    if m.match.remote_id is None:
        if m.kind.api.no_create:
            raise _not_there(m.kind, m.definition)
        change: Change | None = build.create(m.kind, m.definition, namespace)
    else:
        body = remote.bodies_of(m.kind)[m.match.remote_id]
        ready, change = prepared.lookup(m, body) if prepared is not None and not rotate else (False, None)
        if not ready:
            change = build.update(m.kind, m.definition, m.match, body, namespace, rotate=rotate)
    if change is None:
        return None
    return dataclasses.replace(
        change, depends_on=pending, secrets=build.secrets(m.definition, remote.digest_key)
    )


def _not_there(kind: Kind, definition: Definition) -> IdentityError:
    return IdentityError(
        f"{definition.where}{kind.noun} '{definition.key}' does not exist in the workspace, and "
        f"{kind.api.no_create}",
        hint=f"correct it, or remove it from {kind.layout.where}",
    )


def _known_ids(states: Sequence[KindState]) -> dict[Ref, str]:
    """Every reference that names an existing resource: matched definitions, and owned objects with
    exactly one id (a marker kind's agents without a file in this checkout)."""
    # A natural key is the object's own name, not a definition key: only markers name a definition.
    ids = {
        Ref(s.kind.name, k): v[0]
        for s in states
        if s.kind.identity.marks
        for k, v in s.owned.items()
        if len(v) == 1
    }
    for state in states:
        for m in (*state.outside, *state.matches):
            if m.match.remote_id is not None:
                ids[Ref(state.kind.name, m.definition.key)] = m.match.remote_id
    return ids


def _unselected_ids(project: Project, states: Sequence[KindState]) -> dict[Ref, str]:
    """The ids of definitions that targets leave out, found in their kind's whole listing by ``id:`` or
    by the key identity matches on (exactly one object), so that a selected resource can reference them."""
    ids: dict[Ref, str] = {}
    for state in states:
        chosen = {m.definition.key for m in state.matches}
        for key, definition in project.of(state.kind).items():
            found = state.listing.keys.get(state.kind.identity.lookup_key(definition), ())
            if key not in chosen and (definition.id or len(found) == 1):
                ids[Ref(state.kind.name, key)] = definition.id or found[0]
    return ids


def _resolve(
    m: Matched, ids: Mapping[Ref, str], creates: set[Ref], declared: set[Ref]
) -> tuple[Matched, tuple[Ref, ...]]:
    """The match with every reference to an existing resource replaced by its id, and the references
    still pending: resources created in this plan, whose ids apply fills in after their create."""
    definition = m.definition
    if not definition.references:
        return m, ()
    config = templates.substitute_references(dict(definition.config), ids)
    pending = tuple(dict.fromkeys(templates.references_in(config)))
    for ref in pending:
        if ref not in creates:
            raise _unresolved(definition, ref, declared)
    return dataclasses.replace(m, definition=dataclasses.replace(definition, config=config)), pending


def _unresolved(definition: Definition, ref: Ref, declared: set[Ref]) -> IdentityError:
    kind = next(k for k in KINDS if k.name == ref.kind)
    site = _reference_site(definition, ref)
    if ref in declared:
        return IdentityError(
            f"{site}{ref.text} names {kind.noun} '{ref.key}', which does not exist yet and is not part of "
            "this plan",
            hint=f"add --target {targeting.label(kind, ref.key)} so that it is created first",
        )
    return IdentityError(
        f"{site}{ref.text} names {kind.noun} '{ref.key}', which is neither declared in this project nor "
        "in the workspace",
        hint=f"{_did_you_mean(ref, declared)}correct the key, or declare the {kind.noun} under {kind.layout.where}",
    )


def _did_you_mean(ref: Ref, declared: set[Ref]) -> str:
    close = difflib.get_close_matches(ref.key, sorted(r.key for r in declared if r.kind == ref.kind), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def _reference_site(definition: Definition, ref: Ref) -> str:
    for path, text in definition.references.items():
        if ref in templates.references_in(text):
            return f"{definition.location_of(path) or definition.file}: "
    return definition.where


def _check_cycles(pending: Mapping[Ref, tuple[Ref, ...]], creates: set[Ref]) -> None:
    """Resources created in one plan that reference each other cannot be created in any order."""
    loop = templates.find_cycle(
        {k: tuple(d for d in v if d in creates) for k, v in pending.items() if k in creates}
    )
    if loop is not None:
        raise IdentityError(
            f"resources reference each other in a loop and none exists yet: "
            f"{' -> '.join(f'{r.kind} {r.key}' for r in loop)}",
            hint="create one of them first without the reference (or with a fixed id), then add the reference",
        )


# --- deletes ------------------------------------------------------------------------------------------


def _deletes(state: KindState, project: Project, remote: RemoteState) -> list[Change]:
    """Owned objects that no definition declares or matches, newest key first (prune candidates)."""
    definitions = project.of(state.kind)
    identity = state.kind.identity
    # Owned keys are markers' definition keys, or natural keys (a file that renames its object no
    # longer keeps the old one just because its file key is the old name).
    kept = set(definitions) if identity.marks else {identity.lookup_key(d) for d in definitions.values()}
    kept |= {d.renamed_from for d in definitions.values() if d.renamed_from}
    matched = {m.match.remote_id for m in state.matches}
    bodies = remote.bodies_of(state.kind)
    doomed = [
        (key, remote_id)
        for key, ids in state.owned.items()
        if key not in kept and (state.selected is None or key in state.selected)
        for remote_id in ids
        if remote_id not in matched and remote_id in bodies
    ]
    return [build.delete(state.kind, k, i, bodies[i]) for k, i in sorted(doomed, reverse=True)]


def _check_in_use(deletes: Sequence[Change], resolved: Sequence[Matched], remote: RemoteState) -> None:
    """A delete (or a replacement, which deletes the old object) of an object that resources still use
    is refused, naming them, unless each of them is deleted in this plan too or no longer mentions the
    object once the plan is applied. Nothing is ever deleted by force."""
    if not deletes:
        return  # nothing to check: no need to write out every definition
    gone = {c.remote_id for c in deletes}
    after = {m.match.remote_id: json.dumps(m.definition.config) for m in resolved if m.match.remote_id}
    held = []
    for change in deletes:
        users = remote.dependents.get(change.kind, {}).get(change.remote_id or "", ())
        still = [
            u for u in users if u not in gone and (u not in after or f'"{change.remote_id}"' in after[u])
        ]
        if still:
            held.append(f"{change.label} ({change.remote_id}) is used by {', '.join(still)}")
    if held:
        raise SafetyError(
            f"the plan would delete what other resources still use: {'; '.join(held)}",
            hint="remove the references in the same plan (or delete those resources, or let them reference "
            "it by ${KIND.KEY.id}), then plan again",
        )


def _managed(state: KindState, project: Project) -> int:
    if state.kind.identity.marks or project.authoritative(state.kind):
        return len({i for ids in state.owned.values() for i in ids})
    return len({m.match.remote_id for m in state.matches if m.match.remote_id is not None})


# --- warnings -----------------------------------------------------------------------------------------


def _warnings(
    state: KindState,
    project: Project,
    writes: Sequence[Change | None],
    deletes: Sequence[Change],
    prune: bool,
) -> list[str]:
    kind = state.kind
    mine = [c for c in writes if c is not None and c.kind == kind.name]
    gone = [c for c in deletes if c.kind == kind.name]
    found: list[str] = []
    if not prune and gone:
        found.append(_unpruned(kind, gone))
    creates = [m.definition for m in state.matches if m.match.remote_id is None]
    found.extend(kind.identity.warnings(creates, state.listing, project.namespace))
    if kind.layout.is_folder and prune:
        found.extend(_rename_warnings(kind, mine, gone))
    return found


def _unseen(state: KindState, writes: Sequence[Change | None]) -> list[str]:
    """An existing resource with write-only fields shows no change, because the API never shows those
    fields: say so, once per kind, rather than let "no changes" claim they match."""
    kind = state.kind
    if not kind.fields.write_only:
        return []
    written = {c.key for c in writes if c is not None and c.kind == kind.name}
    kept = sorted(
        m.definition.key for m in state.matches if m.match.remote_id and m.definition.key not in written
    )
    if not kept:
        return []
    fields = ", ".join(dotted(p) for p in kind.fields.write_only)
    return [
        f"{len(kept)} {kind.noun}{' exists' if len(kept) == 1 else 's exist'} ({', '.join(kept)}): {fields} not compared, "
        f"since the API never returns it; to send it again, rotate it (--rotate-{kind.name} "
        f"{kept[0] if len(kept) == 1 else 'KEY'})"
    ]


def _kept(candidates: Sequence[Change]) -> list[str]:
    """Owned objects no file declares, of a kind that is never deleted: reported, never dropped silently."""
    found = []
    for kind in KINDS:
        kept = sorted({c.key for c in candidates if c.kind == kind.name})
        if kept and kind.api.no_delete:
            noun = kind.noun if len(kept) == 1 else f"{kind.noun}s"
            found.append(
                f"{len(kept)} {noun} no longer declared ({', '.join(kept)}): kept: {kind.api.no_delete}"
            )
    return found


def _unpruned(kind: Kind, deletes: Sequence[Change]) -> str:
    """Owned resources without a definition are left alone without --prune; say so, once."""
    names = ", ".join(sorted({c.key for c in deletes}))
    noun = kind.noun if len(deletes) == 1 else f"{kind.noun}s"
    return f"{len(deletes)} {noun} managed by this project no longer declared ({names}): kept, since --prune was not given"


def _rename_warnings(kind: Kind, writes: Sequence[Change], deletes: Sequence[Change]) -> list[str]:
    """A create and a delete with one name look like a rename done by hand."""
    created = {c.name: c for c in writes if c.action is Action.CREATE and c.name}
    found = []
    for gone in deletes:
        new = created.get(gone.name) if gone.name else None
        if new is not None:
            where = new.source.file if new.source else f"the file of {kind.noun} '{new.key}'"
            found.append(
                f"{kind.noun} '{new.key}' would be created and {kind.noun} '{gone.key}' ({gone.remote_id}) "
                f"deleted, both named '{gone.name}': if this is a rename, add "
                f"`renamed_from: {gone.key}` to {where} to keep the {kind.noun}, its id and history"
            )
    return found
