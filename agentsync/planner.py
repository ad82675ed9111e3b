"""The plan builder behind :func:`agentsync.plan.build_plan`: identity, then one Change per resource.

Pure: the loaded project and the fetched remote state in, a Plan out. Identity rules are DESIGN.md §2:
agents by their ownership marker (or ``id:`` to adopt, ``renamed_from`` to re-key), tags by title (or
``id:``); any ambiguity is an IdentityError, never a guess.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentsync import diff
from agentsync import variables as templates
from agentsync.errors import IdentityError
from agentsync.ids import segment
from agentsync.plan import (
    Action,
    Change,
    Kind,
    Plan,
    SecretRef,
    fingerprint_agent,
    fingerprint_tag,
)
from agentsync.project import Project
from agentsync.remote import RemoteState
from agentsync.resources import agent as agents
from agentsync.resources import tag as tags
from agentsync.resources.agent import AgentDef
from agentsync.resources.tag import TagDef

AGENTS_CREATE = "/v1/convai/agents/create"
AGENT_PATH = "/v1/convai/agents/{id}"
TAGS_PATH = "/v1/convai/tags"
TAG_PATH = "/v1/convai/tags/{id}"


@dataclass(frozen=True)
class Match:
    """Which remote agent a definition means: none (create), or an id with the way it was found."""

    definition: AgentDef
    remote_id: str | None
    adopt: bool = False
    previous_key: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The changes of one kind, the number of no-ops, the managed resources that exist remotely."""

    changes: list[Change]
    deletes: list[Change]
    unchanged: int
    managed: int
    warnings: tuple[str, ...] = ()


# --- agent identity -----------------------------------------------------------------------------------


def _where(definition: AgentDef) -> str:
    location = definition.location_of(())
    return f"{location or definition.file}: "


def _match_by_id(definition: AgentDef, remote: RemoteState, owner: str | None, namespace: str) -> Match:
    body = remote.agents.get(definition.id or "")
    if body is None:
        raise IdentityError(
            f"{_where(definition)}agent '{definition.key}' declares id: {definition.id}, "
            "but the workspace has no agent with that id",
            hint="correct the id, or remove `id:` to create a new agent",
        )
    others = [
        k
        for k in agents.owned_keys(agents.summary_tags(body), namespace)
        if k not in (definition.key, definition.renamed_from)
    ]
    if others:
        raise IdentityError(
            f"{_where(definition)}agent '{definition.key}' declares id: {definition.id}, but "
            f"that agent belongs to '{others[0]}' (it carries {agents.marker(namespace, others[0])})",
            hint=f"declare `renamed_from: {others[0]}` to re-key it, or correct the id",
        )
    if owner is not None and owner != definition.id:
        raise IdentityError(
            f"{_where(definition)}agent '{definition.key}' declares id: {definition.id}, but "
            f"agent {owner} already carries its marker {agents.marker(namespace, definition.key)}",
            hint="remove `id:` or delete the other agent",
        )
    keys = agents.owned_keys(agents.summary_tags(body), namespace)
    previous = definition.renamed_from if definition.renamed_from in keys else None
    return Match(definition, definition.id, adopt=not keys, previous_key=previous)


def _match_renamed(
    definition: AgentDef, owned: Mapping[str, list[str]], owner: str | None, namespace: str
) -> Match:
    old = definition.renamed_from or ""
    source = agents.only_owner(old, owned.get(old, []), namespace)
    if owner is not None and source is not None:
        raise IdentityError(
            f"{_where(definition)}agent '{definition.key}' is renamed from '{old}', but both "
            f"keys have an agent: {owner} and {source}",
            hint=f"delete one of them, or remove `renamed_from: {old}`",
        )
    if source is not None:
        return Match(definition, source, previous_key=old)
    return Match(definition, owner)


def match_agent(
    definition: AgentDef, remote: RemoteState, owned: Mapping[str, list[str]], namespace: str
) -> Match:
    """The remote agent ``definition`` means, by ``id:``, ``renamed_from`` or its own marker."""
    owner = agents.only_owner(definition.key, owned.get(definition.key, []), namespace)
    if definition.id:
        return _match_by_id(definition, remote, owner, namespace)
    if definition.renamed_from:
        return _match_renamed(definition, owned, owner, namespace)
    return Match(definition, owner)


def _present(owned: Mapping[str, list[str]], remote: RemoteState) -> dict[str, list[str]]:
    """Ownership restricted to agents whose GET succeeded: one that vanished between the list and the
    GET (404) no longer exists."""
    return {k: [i for i in ids if i in remote.agents] for k, ids in owned.items()}


# --- agent changes ------------------------------------------------------------------------------------


def _create_agent(definition: AgentDef, namespace: str) -> Change:
    config = definition.config
    mark = agents.marker(namespace, definition.key)
    body: dict[str, Any] = {k: copy.deepcopy(config[k]) for k in agents.WRITABLE_FIELDS if k in config}
    body.setdefault("conversation_config", {})
    body["tags"] = agents.with_marker(mark, config.get("tags") or [], namespace)
    view = diff.desired_view(config, namespace=namespace)
    return Change(
        Kind.AGENT,
        Action.CREATE,
        definition.key,
        None,
        config.get("name"),
        tuple(diff.changes({}, view)),
        "POST",
        AGENTS_CREATE,
        body,
        tuple(diff.json_patch({}, view)),
        fingerprint_agent(None, mark),
        source=definition.location_of(()),
    )


def _tags_to_send(match: Match, remote_body: Mapping[str, Any], namespace: str) -> list[str]:
    config = match.definition.config
    declared = config["tags"] if "tags" in config else agents.summary_tags(remote_body)
    return agents.with_marker(agents.marker(namespace, match.definition.key), declared or [], namespace)


def _update_agent(match: Match, remote_body: Mapping[str, Any], namespace: str) -> Change | None:
    """The update (or adopt) of a matched agent, or None when nothing it manages differs."""
    definition = match.definition
    declared = diff.desired_view(definition.config, namespace=namespace)
    current = diff.managed_view(definition.config, remote_body, namespace=namespace)
    wanted = diff.complete(declared, current)
    body = diff.patch_body(declared, current, wanted)
    rekey = match.adopt or match.previous_key is not None
    if not body and not rekey:
        return None
    if "tags" in body or rekey:
        body["tags"] = _tags_to_send(match, remote_body, namespace)
    assert match.remote_id is not None, "only a matched agent is updated"
    action = Action.ADOPT if match.adopt else Action.UPDATE
    name = definition.config.get("name", remote_body.get("name"))
    return Change(
        Kind.AGENT,
        action,
        definition.key,
        match.remote_id,
        name,
        tuple(diff.changes(current, wanted)),
        "PATCH",
        AGENT_PATH.format(id=segment(match.remote_id)),
        body,
        tuple(diff.json_patch(current, wanted)),
        fingerprint_agent(remote_body, agents.marker(namespace, definition.key)),
        source=definition.location_of(()),
        previous_key=match.previous_key,
    )


def _delete_agent(key: str, agent_id: str, body: Mapping[str, Any], namespace: str) -> Change:
    return Change(
        Kind.AGENT,
        Action.DELETE,
        key,
        agent_id,
        body.get("name"),
        (),
        "DELETE",
        AGENT_PATH.format(id=segment(agent_id)),
        None,
        (),
        fingerprint_agent(body, agents.marker(namespace, key)),
        attached=agents.attached_resources(body),
    )


def _agent_change(match: Match, remote: RemoteState, namespace: str) -> Change | None:
    if match.remote_id is None:
        return _create_agent(match.definition, namespace)
    return _update_agent(match, remote.agents[match.remote_id], namespace)


def _prune_agents(
    project: Project, remote: RemoteState, owned: Mapping[str, list[str]], selected: set[str] | None
) -> list[Change]:
    kept = set(project.agents) | set(agents.renamed_sources(project.agents))
    doomed = [
        (k, i) for k, ids in owned.items() if k not in kept for i in ids if selected is None or k in selected
    ]
    return [_delete_agent(k, i, remote.agents[i], project.namespace) for k, i in sorted(doomed, reverse=True)]


# --- references and secrets ---------------------------------------------------------------------------


def _known_ids(matches: Sequence[Match], owned: Mapping[str, list[str]]) -> dict[str, str]:
    """Agent key -> remote id for every key whose agent exists in the workspace (this namespace)."""
    ids = {k: v[0] for k, v in owned.items() if len(v) == 1}
    ids.update({m.definition.key: m.remote_id for m in matches if m.remote_id is not None})
    return ids


def _resolve_references(
    match: Match, ids: Mapping[str, str], creates: set[str], declared: set[str]
) -> tuple[Match, tuple[str, ...]]:
    """The match with every ``${agent.KEY.id}`` of an existing agent replaced by its id, and the keys
    still referenced: agents created in this plan, whose ids apply fills in after their create."""
    definition = match.definition
    if not definition.references:
        return match, ()
    config = templates.substitute_references(dict(definition.config), ids)
    pending = tuple(dict.fromkeys(templates.references_in(config)))
    for key in pending:
        if key in declared and key not in creates:
            raise IdentityError(
                f"{_reference_site(definition, key)}${{agent.{key}.id}} names agent '{key}', "
                "which does not exist yet and is not part of this plan",
                hint=f"add --target {key} so that it is created first",
            )
        if key not in creates:
            raise IdentityError(
                f"{_reference_site(definition, key)}${{agent.{key}.id}} names agent '{key}', "
                "which is neither declared in this project nor in the workspace",
                hint="correct the key, or declare the agent under agents/",
            )
    return dataclasses.replace(match, definition=dataclasses.replace(definition, config=config)), pending


def _reference_site(definition: AgentDef, key: str) -> str:
    for path, text in definition.references.items():
        if key in templates.references_in(text):
            return f"{definition.location_of(path) or definition.file}: "
    return _where(definition)


def _check_cycles(pending: Mapping[str, tuple[str, ...]], creates: set[str]) -> None:
    """Two agents created in one plan that reference each other cannot be created in any order."""
    loop = templates.find_cycle(
        {k: tuple(d for d in v if d in creates) for k, v in pending.items() if k in creates}
    )
    if loop is not None:
        raise IdentityError(
            f"agents reference each other in a loop and none exists yet: {' -> '.join(loop)}",
            hint="create one of them first without the reference (or with a fixed id), "
            "then add the reference",
        )


def _secrets(definition: AgentDef) -> tuple[SecretRef, ...]:
    found = []
    for path, template in sorted(definition.secrets.items(), key=lambda item: str(item[0])):
        present, value = templates.value_at(definition.config, path)
        if present:
            found.append(SecretRef(path, template, templates.secret_hash(templates.secret_text(value))))
    return tuple(found)


def _with_context(change: Change | None, match: Match, pending: tuple[str, ...]) -> Change | None:
    if change is None:
        return None
    return dataclasses.replace(change, depends_on=pending, secrets=_secrets(match.definition))


def _agent_changes(
    project: Project, matches: Sequence[Match], remote: RemoteState, owned: Mapping[str, list[str]]
) -> list[Change | None]:
    namespace = project.namespace
    ids = _known_ids(matches, owned)
    creates = {m.definition.key for m in matches if m.remote_id is None}
    resolved = [_resolve_references(m, ids, creates, set(project.agents)) for m in matches]
    _check_cycles({m.definition.key: deps for m, deps in resolved}, creates)
    return [_with_context(_agent_change(m, remote, namespace), m, deps) for m, deps in resolved]


def plan_agents(project: Project, remote: RemoteState, *, prune: bool, targets: Sequence[str]) -> Outcome:
    """Creates, updates and adopts in key order (apply orders them by ``depends_on``), and with
    ``prune`` the deletes of owned agents that no longer have a file, in reverse order."""
    namespace = project.namespace
    owned = _present(agents.owners(remote.agent_summaries, namespace), remote)
    selected = agents.agent_targets(targets, set(project.agents) | {k for k, v in owned.items() if v})
    chosen = [d for k, d in sorted(project.agents.items()) if selected is None or k in selected]
    found = _agent_changes(project, [match_agent(d, remote, owned, namespace) for d in chosen], remote, owned)
    changes = [c for c in found if c is not None]
    deletes = _prune_agents(project, remote, owned, selected)
    managed = len({i for ids in owned.values() for i in ids})
    if prune:
        return Outcome(changes, deletes, len(found) - len(changes), managed)
    return Outcome(changes, [], len(found) - len(changes), managed, _unpruned(deletes, "agent"))


def _unpruned(deletes: Sequence[Change], noun: str) -> tuple[str, ...]:
    """Owned resources without a definition are left alone without --prune; say so, once."""
    if not deletes:
        return ()
    names = ", ".join(sorted({c.key for c in deletes}))
    plural = noun if len(deletes) == 1 else f"{noun}s"
    return (
        f"{len(deletes)} {plural} managed by this project no longer declared ({names}): "
        f"kept, since --prune was not given",
    )


# --- tags ---------------------------------------------------------------------------------------------


def _tag_change(definition: TagDef, current: Mapping[str, Any] | None) -> Change | None:
    declared = {k: definition.config[k] for k in tags.WRITABLE_FIELDS if k in definition.config}
    wanted = diff.canonical(declared)
    if current is None:
        return Change(
            Kind.TAG,
            Action.CREATE,
            definition.title,
            None,
            definition.title,
            tuple(diff.changes({}, wanted)),
            "POST",
            TAGS_PATH,
            copy.deepcopy(declared),
            tuple(diff.json_patch({}, wanted)),
            fingerprint_tag(None, definition.title),
            source=definition.location,
        )
    seen = diff.canonical(tags.tag_view(declared, current))
    body = diff.patch_body(wanted, seen)
    if not body:
        return None
    old_title = current.get("title")
    return Change(
        Kind.TAG,
        Action.UPDATE,
        definition.title,
        current["tag_id"],
        definition.title,
        tuple(diff.changes(seen, wanted)),
        "PATCH",
        TAG_PATH.format(id=segment(current["tag_id"])),
        body,
        tuple(diff.json_patch(seen, wanted)),
        fingerprint_tag(current, definition.title),
        source=definition.location,
        previous_key=old_title if old_title != definition.title else None,
    )


def _delete_tag(tag: Mapping[str, Any]) -> Change:
    title = str(tag.get("title"))
    return Change(
        Kind.TAG,
        Action.DELETE,
        title,
        tag["tag_id"],
        title,
        (),
        "DELETE",
        TAG_PATH.format(id=segment(tag["tag_id"])),
        None,
        (),
        fingerprint_tag(tag, title),
    )


def _tag_targets(targets: Sequence[str], known: set[str]) -> set[str] | None:
    if not targets:
        return None
    titles = {t[len(agents.TAG_TARGET_PREFIX) :] for t in targets if t.startswith(agents.TAG_TARGET_PREFIX)}
    unknown = sorted(titles - known)
    if unknown:
        raise agents.unknown_target(
            agents.TAG_TARGET_PREFIX + unknown[0],
            [agents.TAG_TARGET_PREFIX + k for k in known],
            what="conversation tag",
        )
    return titles


def plan_tags(project: Project, remote: RemoteState, *, prune: bool, targets: Sequence[str]) -> Outcome:
    """Tag creates and updates in file order; with ``prune`` and an authoritative tag list, deletes."""
    definitions = project.tags if project.tags is not None else []
    if remote.tags is None:
        # Tags were not fetched, so they are not managed; a tag target is still checked.
        _tag_targets(targets, {d.title for d in definitions})
        return Outcome([], [], 0, 0)
    existing = list(remote.tags)
    authoritative = project.settings.tags_authoritative and project.tags is not None
    known = {d.title for d in definitions} | (
        {str(t.get("title")) for t in existing} if authoritative else set()
    )
    selected = _tag_targets(targets, known)
    matches = [(d, tags.match_tag(d, existing)) for d in definitions]
    matched_ids = {m["tag_id"] for _, m in matches if m is not None}
    chosen = [(d, m) for d, m in matches if selected is None or d.title in selected]
    found = [_tag_change(d, m) for d, m in chosen]
    changes = [c for c in found if c is not None]
    strays = [t for t in existing if t["tag_id"] not in matched_ids]
    deletes = [
        _delete_tag(t)
        for t in reversed(strays)
        if authoritative and (selected is None or t.get("title") in selected)
    ]
    managed = len(existing) if authoritative else len(matched_ids)
    if prune:
        return Outcome(changes, deletes, len(found) - len(changes), managed)
    return Outcome(changes, [], len(found) - len(changes), managed, _unpruned(deletes, "conversation tag"))


# --- the plan -----------------------------------------------------------------------------------------


def rename_warnings(changes: Sequence[Change]) -> list[str]:
    """A create and a delete of agents with one name look like a rename done by hand."""
    created = {c.name: c for c in changes if c.kind is Kind.AGENT and c.action is Action.CREATE and c.name}
    warnings = []
    for gone in changes:
        deleted = gone.kind is Kind.AGENT and gone.action is Action.DELETE
        new = created.get(gone.name) if deleted and gone.name else None
        if new is not None:
            where = new.source.file if new.source else f"the file of agent '{new.key}'"
            warnings.append(
                f"agent '{new.key}' would be created and agent '{gone.key}' ({gone.remote_id}) "
                f"deleted, both named '{gone.name}': if this is a rename, add "
                f"`renamed_from: {gone.key}` to {where} to keep the agent, its id and history"
            )
    return warnings


def build(project: Project, remote: RemoteState, *, prune: bool = False, targets: Sequence[str] = ()) -> Plan:
    """See :func:`agentsync.plan.build_plan`."""
    parts = [
        plan_tags(project, remote, prune=prune, targets=targets),
        plan_agents(project, remote, prune=prune, targets=targets),
    ]
    ordered = [c for p in parts for c in p.changes] + [c for p in reversed(parts) for c in p.deletes]
    return Plan(
        changes=tuple(ordered),
        unchanged=sum(p.unchanged for p in parts),
        managed=sum(p.managed for p in parts),
        namespace=project.namespace,
        base_url=remote.base_url,
        environment=project.environment.name if project.environment else None,
        warnings=(*[w for p in parts for w in p.warnings], *rename_warnings(ordered)),
    )
