"""The remote state: what the workspace holds for the kinds and keys in scope.

One fetcher for every kind and every caller (plan, apply's freshness check and look-ups, pull): each
listing of each kind the project manages, every page, each item shape-checked; then, for a kind whose
list holds summaries, one GET per object in scope. Any failure raises; nothing that failed to load is
ever reported as absent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agentsync import progress
from agentsync import targets as targeting
from agentsync.errors import ApiError
from agentsync.ids import segment
from agentsync.kinds import KINDS, Definition, Kind
from agentsync.kinds.base import Index, JsonObject
from agentsync.responses import check_dependent, check_page

if TYPE_CHECKING:
    from agentsync.client import Client
    from agentsync.project import Project


class Early(Protocol):
    """What the fetcher takes from reads started before the project was loaded (agentsync.prefetch)."""

    def result(self) -> tuple[dict[str, tuple[JsonObject, ...]], dict[tuple[str, str], Any]]: ...


class ApiClient(Protocol):
    """What the fetcher and the applier need of ``agentsync.client.Client`` (a Protocol, so tests may
    wrap it)."""

    base_url: str

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, keep: bool = True) -> Any: ...
    def post(self, path: str, body: Mapping[str, Any] | None = None, *, retry: bool = False) -> Any: ...
    def patch(self, path: str, body: Mapping[str, Any]) -> Any: ...
    def put(self, path: str, body: Mapping[str, Any]) -> Any: ...
    def delete(self, path: str) -> None: ...
    def paginate(
        self, path: str, items_key: str, params: Mapping[str, Any] | None = None, *, until: str = "has_more"
    ) -> Iterable[dict[str, Any]]: ...
    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]: ...


@dataclass(frozen=True)
class RemoteState:
    """``items`` maps a kind's name to every object its listings returned (one per id); ``bodies`` to
    the full bodies by id (the items themselves when the list is full, else only the objects in scope).
    A kind that was not fetched is absent from both."""

    items: Mapping[str, tuple[JsonObject, ...]]
    bodies: Mapping[str, Mapping[str, JsonObject]]
    base_url: str = ""
    stats: dict[str, int] = field(default_factory=dict)
    # kind -> id -> the agents that use it, for the objects a plan may delete (kinds with dependents).
    dependents: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    # The key of the secret digests a plan keeps (derived from the API key the state was read with).
    digest_key: bytes = b""

    def fetched(self, kind: Kind) -> bool:
        return kind.name in self.items

    def listed(self, kind: Kind) -> tuple[JsonObject, ...]:
        return self.items.get(kind.name, ())

    def bodies_of(self, kind: Kind) -> Mapping[str, JsonObject]:
        return self.bodies.get(kind.name, {})


def item_path(kind: Kind, remote_id: str) -> str:
    """The item path of one object, its id escaped as one path segment."""
    return kind.api.item.format(id=segment(remote_id))


def fetch(
    client: Client,
    project: Project,
    *,
    targets: Sequence[str] = (),
    early: Early | None = None,
    also: Sequence[Kind] = (),
    later: Sequence[Kind] = (),
) -> RemoteState:
    """Read exactly what the plan needs for every kind the project manages (and the listings of the
    kinds in ``also``: what ``pull --all`` brings in); what ``early`` (see :mod:`agentsync.prefetch`)
    has read already is taken from it, not read again. The kinds in ``later`` are listed only: the
    caller reads their bodies itself and completes the state with :func:`with_bodies`."""
    kinds = [k for k in KINDS if project.manages(k) or k in also]
    names = {k.name for k in kinds}
    read, known = early.result() if early is not None else ({}, {})
    listed = list_kinds(client, [k for k in kinds if k.name not in read])
    listed.update({name: items for name, items in read.items() if name in names})
    selection = targeting.parse(targets)
    bodies: dict[str, Mapping[str, JsonObject]] = {}
    for kind in kinds:
        if kind.api.list_is_full:
            bodies[kind.name] = {str(i[kind.api.id_field]): i for i in listed[kind.name]}
    partial = [k for k in kinds if not k.api.list_is_full]
    wanted = {k.name: in_scope(k, project, listed[k.name], selection) for k in partial if k not in later}
    bodies.update(get_many(client, partial, wanted, project, known))
    users = users_of(client, [(k, i) for k in kinds for i in unclaimed(k, project, listed[k.name])])
    users.update(
        {k.name: listed_users(k, listed[k.name], client.base_url) for k in kinds if k.api.dependents_field}
    )
    key = getattr(client, "digest_key", b"")
    return RemoteState(listed, bodies, client.base_url, stats=client.stats, dependents=users, digest_key=key)


def with_bodies(
    client: Client,
    state: RemoteState,
    project: Project,
    kinds: Sequence[Kind],
    read: Mapping[str, JsonObject],
) -> RemoteState:
    """``state`` with the bodies the plan needs of ``kinds`` (those :func:`fetch` left for later), taken
    from ``read`` (kind-qualified ``KIND/ID`` keys) and GET for any it lacks."""
    selection = targeting.parse(())
    wanted = {k.name: in_scope(k, project, state.listed(k), selection) for k in kinds}
    bodies = {
        k.name: {i: read[f"{k.name}/{i}"] for i in wanted[k.name] if f"{k.name}/{i}" in read} for k in kinds
    }
    missing = {k.name: [i for i in wanted[k.name] if i not in bodies[k.name]] for k in kinds}
    for name, found in get_many(client, kinds, missing, project).items():
        bodies[name].update(found)
    return dataclasses.replace(state, bodies={**state.bodies, **bodies})


def list_kinds(client: ApiClient, kinds: Sequence[Kind]) -> dict[str, tuple[JsonObject, ...]]:
    """Every listing of every kind, read side by side, one object per id."""
    jobs = [(k, params) for k in kinds for params in k.api.listings]
    pages = _all_or_raise(client.map(lambda job: list_items(client, *job), jobs))
    found: dict[str, dict[str, JsonObject]] = {k.name: {} for k in kinds}
    for (kind, _), items in zip(jobs, pages, strict=True):
        for item in items:
            # The same id on two pages (or in two listings) is one object, not an ambiguity.
            found[kind.name].setdefault(str(item[kind.api.id_field]), item)
    return {name: tuple(items.values()) for name, items in found.items()}


def list_items(
    client: ApiClient,
    kind: Kind,
    params: Mapping[str, Any] | None = None,
    *,
    seen: Callable[[JsonObject], None] | None = None,
) -> list[JsonObject]:
    """Every page of one listing, each item checked before anything reads it; ``seen`` is called with
    each checked item as its page arrives."""
    query = dict(params or {})
    if kind.api.page_size:
        query.setdefault("page_size", kind.api.page_size)
    url = client.base_url + kind.api.collection
    if kind.api.pagination == "none":
        page = client.get(kind.api.collection, query or None)
        items = page.get(kind.api.items_key) if isinstance(page, Mapping) else None
        if not kind.api.items_key and isinstance(page, list):
            items = page  # phone numbers: the answer is the list itself
        if not isinstance(items, list):
            items = [check_page(page, url, kind.api.items_key)]  # raises: one sentence naming the URL
    else:
        items = client.paginate(kind.api.collection, kind.api.items_key, query, **paging(kind))
    checked = []
    for item in items:
        checked.append(kind.api.check_item(item, url))
        if seen is not None:
            seen(checked[-1])
    return checked


def unclaimed(kind: Kind, project: Project, items: Sequence[JsonObject]) -> list[str]:
    """The owned objects of a kind with dependents that no definition claims: what a prune would delete,
    and so what needs its users checked. A superset of the planner's deletes, never a subset."""
    if kind.api.dependents is None:
        return []
    namespace = project.namespace
    index = index_of(kind, items, namespace)
    definitions = project.of(kind).values()
    keys = {d.key for d in definitions} | {d.renamed_from or "" for d in definitions}
    keys |= {kind.identity.key_of(d.config, namespace) or "" for d in definitions if not d.id}
    ids = {d.id for d in definitions if d.id}
    owned = kind.identity.owned(index, project.authoritative(kind))
    return [i for key, found in owned.items() if key not in keys for i in found if i not in ids]


def users_of(client: Client, jobs: Sequence[tuple[Kind, str]]) -> dict[str, dict[str, tuple[str, ...]]]:
    """The agents that use each object (an agent the key cannot see counts, as ``(unknown agent)``)."""
    answers = _all_or_raise(client.map(lambda job: _users(client, *job), jobs))
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for (kind, remote_id), agents in zip(jobs, answers, strict=True):
        found.setdefault(kind.name, {})[remote_id] = agents
    return found


def listed_users(kind: Kind, items: Sequence[JsonObject], base_url: str) -> dict[str, tuple[str, ...]]:
    """The agents that use each object, as the objects themselves list them (``Api.dependents_field``)."""
    found: dict[str, tuple[str, ...]] = {}
    url = base_url + kind.api.collection
    for item in items:
        agents = [check_dependent(a, url) for a in item.get(kind.api.dependents_field or "") or []]
        found[str(item[kind.api.id_field])] = tuple(str(a.get("id") or "(unknown agent)") for a in agents)
    return found


def _users(client: Client, kind: Kind, remote_id: str) -> tuple[str, ...]:
    path = (kind.api.dependents or "").format(id=segment(remote_id))
    agents = [check_dependent(a, client.base_url + path) for a in client.paginate(path, "agents", {})]
    return tuple(str(a.get("id") or "(unknown agent)") for a in agents)


def paging(kind: Kind) -> dict[str, str]:
    """How a list of ``kind`` says it has another page (no argument for the common ``has_more``)."""
    return {} if kind.api.pagination == "has_more" else {"until": kind.api.pagination}


def get_one(client: ApiClient, kind: Kind, remote_id: str) -> JsonObject:
    """One full object, checked to have the API's shape."""
    path = item_path(kind, remote_id)
    return kind.api.check(client.get(path), client.base_url + path)


def index_of(kind: Kind, items: Sequence[JsonObject], namespace: str) -> Index:
    return kind.identity.index(items, kind.api.id_field, namespace)


def in_scope(
    kind: Kind, project: Project, items: Sequence[JsonObject], selection: targeting.Selection
) -> list[str]:
    """The ids whose full body the plan needs: declared ``id:`` values (even when the list does not
    show them: the GET then reports 404), the objects owned by a declared key or by the source of a
    ``renamed_from``, and owned objects without a definition (prune candidates), limited by targets."""
    index = index_of(kind, items, project.namespace)
    definitions = project.of(kind)
    owned = kind.identity.owned(index, project.authoritative(kind))
    selected = targeting.of(selection, kind, set(definitions) | set(owned))
    sources = {d.renamed_from: key for key, d in definitions.items() if d.renamed_from}
    ids: list[str] = []
    for key in sorted(set(definitions) | set(owned)):
        if selected is None or key in selected or sources.get(key) in selected:
            definition = definitions.get(key)
            looked_up = kind.identity.lookup_key(definition) if definition is not None else key
            ids.extend(_ids_for(definition, index.keys.get(looked_up, ()), owned, key))
    return list(dict.fromkeys(ids))


def _ids_for(
    definition: Definition | None, matched: Sequence[str], owned: Mapping[str, Sequence[str]], key: str
) -> list[str]:
    ids: list[str] = []
    if definition is not None and definition.id:
        ids.append(definition.id)
    ids.extend(matched)
    ids.extend(owned.get(key, ()))
    if definition is not None and definition.renamed_from:
        ids.extend(owned.get(definition.renamed_from, ()))
    return ids


def get_many(
    client: Client,
    kinds: Sequence[Kind],
    wanted: Mapping[str, Sequence[str]],
    project: Project,
    known: Mapping[tuple[str, str], Any] | None = None,
) -> dict[str, dict[str, JsonObject]]:
    """GET every wanted id of every kind side by side, but those ``known`` already answered (a body or
    the exception its GET raised). A 404 for a declared ``id:`` is left out (the planner reports it);
    any other failure raises."""
    jobs = [(k, i) for k in kinds for i in wanted.get(k.name, ())]
    earlier = known or {}
    missing = [job for job in jobs if not _answered(earlier.get((job[0].name, job[1])))]
    fetched = client.map(progress.counted(lambda job: get_one(client, *job), len(missing)), missing)
    late = {(k.name, i): answer for (k, i), answer in zip(missing, fetched, strict=True)}
    answers = [late.get((k.name, i), earlier.get((k.name, i))) for k, i in jobs]
    found: dict[str, dict[str, JsonObject]] = {k.name: {} for k in kinds}
    declared = {(k.name, d.id) for k in kinds for d in project.of(k).values() if d.id}
    for (kind, remote_id), body in zip(jobs, answers, strict=True):
        if isinstance(body, ApiError) and body.status == 404 and (kind.name, remote_id) in declared:
            continue
        found[kind.name][remote_id] = _all_or_raise([body])[0]
    return found


def _answered(answer: Any) -> bool:
    """Whether an early answer stands (a body or the failure its GET ended with, retries done); one
    that never ran (cancelled by a stop) is read now."""
    return answer is not None and not isinstance(answer, CancelledError)


def _all_or_raise(results: list[Any]) -> list[Any]:
    """The results, or the first failure raised: a partial read must never pass for the whole."""
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
