"""What differs between two environments of one project, for a promotion review (``agentsync diff``).

Offline, each side is the project's resolved definitions in that environment (variables and overrides
applied, ``${env.*}`` left as its placeholder, as ``validate`` reads them). Live, each side is what that
environment's workspace holds for the fields either side declares, with the ids of managed resources
written back as ``${KIND.KEY.id}`` (ids differ per workspace by design) and every field whose value comes
from ``${env.*}`` shown as its placeholder: secret values are never read into the result, and their
equality is never compared either. Pure but for :func:`live_side`, which reads a fetched state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agentsync.diff import changes, desired_view, managed_view
from agentsync.errors import IdentityError
from agentsync.kinds import KINDS, Definition, Kind
from agentsync.plan import FieldChange
from agentsync.project import Project
from agentsync.remote import RemoteState, index_of

Key = tuple[str, str]  # (kind name, key)
JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Side:
    """One environment's view of every resource: (kind, key) -> managed view, or None when its
    workspace has no such resource (live only)."""

    name: str
    views: Mapping[Key, dict[str, Any] | None]


@dataclass(frozen=True)
class Difference:
    kind: str
    key: str
    only_in: str | None  # the environment that alone has the resource, else None
    fields: tuple[FieldChange, ...]  # old: the left environment's value, new: the right one's


@dataclass(frozen=True)
class EnvDiff:
    left: str
    right: str
    live: bool
    differences: tuple[Difference, ...]
    same: int

    @property
    def has_differences(self) -> bool:
        return bool(self.differences)


def offline_side(project: Project) -> Side:
    """The resolved definitions of ``project`` in its selected environment."""
    views: dict[Key, dict[str, Any] | None] = {}
    for kind, key, definition in _definitions(project):
        views[(kind.name, key)] = _masked(desired_view(kind.fields, definition.config), definition)
    return Side(_name(project), views)


def live_side(project: Project, remote: RemoteState, shapes: Mapping[Key, Mapping[str, Any]]) -> Side:
    """What the workspace of ``project``'s environment holds for each definition, reduced to ``shapes``
    (the fields either environment declares); a definition with no remote match is None."""
    namespace = project.namespace
    found: dict[Key, tuple[Kind, Any, Definition] | None] = {}
    ids: dict[str, str] = {}
    for kind in KINDS:
        if not remote.fetched(kind):
            continue
        bodies = remote.bodies_of(kind)
        present = [i for i in remote.listed(kind) if str(i[kind.api.id_field]) in bodies]
        index = index_of(kind, present, namespace)
        for key, definition in sorted(project.of(kind).items()):
            remote_id = _match(kind, definition, index, bodies, namespace)
            if remote_id is None or remote_id not in bodies:
                found[(kind.name, key)] = None
                continue
            ids[remote_id] = f"${{{kind.name}.{key}.id}}"
            body = kind.identity.hide(bodies[remote_id], namespace)
            found[(kind.name, key)] = (kind, body, definition)
    views: dict[Key, dict[str, Any] | None] = {}
    for item, entry in found.items():
        if entry is None:
            views[item] = None
            continue
        kind, body, definition = entry
        view = managed_view(kind.fields, shapes.get(item, {}), body)
        views[item] = _masked(_referenced(view, ids), definition)
    return Side(_name(project), views)


def shapes(*projects: Project) -> dict[Key, dict[str, Any]]:
    """For each resource, the declared fields of every given environment merged: what a live side shows."""
    merged: dict[Key, dict[str, Any]] = {}
    for project in projects:
        for kind, key, definition in _definitions(project):
            merged[(kind.name, key)] = _merge(merged.get((kind.name, key), {}), dict(definition.config))
    return merged


def compare(left: Side, right: Side, *, live: bool) -> EnvDiff:
    """Every resource whose views differ between ``left`` and ``right``, in kind order then key."""
    order = {kind.name: index for index, kind in enumerate(KINDS)}
    keys = sorted(set(left.views) | set(right.views), key=lambda k: (order.get(k[0], 99), k[1]))
    differences: list[Difference] = []
    for kind, key in keys:
        a, b = left.views.get((kind, key)), right.views.get((kind, key))
        if a is None and b is None:
            continue
        if a is None or b is None:
            differences.append(Difference(kind, key, left.name if b is None else right.name, ()))
            continue
        fields = tuple(changes(a, b))
        if fields:
            differences.append(Difference(kind, key, None, fields))
    same = len(keys) - len(differences)
    return EnvDiff(left.name, right.name, live, tuple(differences), same)


def _name(project: Project) -> str:
    return project.environment.name if project.environment is not None else "(default)"


def _definitions(project: Project) -> Iterator[tuple[Kind, str, Definition]]:
    for kind in KINDS:
        for key, definition in sorted(project.of(kind).items()):
            yield kind, key, definition


def _match(
    kind: Kind, definition: Definition, index: Any, bodies: Mapping[str, Any], namespace: str
) -> str | None:
    try:
        return kind.identity.match(definition, index, bodies, namespace).remote_id
    except IdentityError:
        return None  # an ambiguous identity is the plan's to report; here it has no one side


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _referenced(value: Any, ids: Mapping[str, str]) -> Any:
    """``value`` with every string that is a managed resource's id written as its reference."""
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_referenced(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _referenced(v, ids) for k, v in value.items()}
    return value


def _masked(view: dict[str, Any], definition: Definition) -> dict[str, Any]:
    """``view`` with the value at every path that comes from ``${env.*}`` replaced by its placeholder."""
    for path, template in definition.secrets.items():
        _put(view, path, template)
    return view


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _put(node: Any, path: JsonPath, value: str) -> None:
    """Set ``path`` in ``node`` to ``value`` where the path exists (a view may hold less than the file)."""
    if not path:
        return
    for part in path[:-1]:
        if not _has(node, part):
            return
        node = node[part]
    if _has(node, path[-1]):
        node[path[-1]] = value
