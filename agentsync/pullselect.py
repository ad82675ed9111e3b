"""Which remote objects pull writes, for one kind: those a file declares (matched as the plan matches
them), those the project owns through its marker, and with ``--all`` (or ``--search``) every listed one,
under a key made from its name when it has none yet."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from agentsync.adoption import foreign_markers
from agentsync.errors import IdentityError, UsageError
from agentsync.kinds import Definition, Kind
from agentsync.kinds.base import Index, JsonObject
from agentsync.pullview import PullError
from agentsync.remote import index_of

SLUG_INVALID = re.compile(r"[^a-z0-9]+")
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


def slug(name: str, fallback: str) -> str:
    """A file-system safe key from a name: lower case ASCII letters, digits and dashes (``fallback``
    when none is left)."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return SLUG_INVALID.sub("-", ascii_name.lower()).strip("-")[:60].strip("-") or fallback


def unique_key(name: str, taken: set[str], fallback: str) -> str:
    base = slug(name, fallback)
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


@dataclass(frozen=True)
class Selected:
    key: str
    remote_id: str
    owned: bool
    declared: bool = False


@dataclass(frozen=True)
class Scope:
    """What one kind's selection reads: the whole listing (first listing first), the ids of the first
    listing (for marker kinds, a later listing such as archived agents counts only where owned)."""

    kind: Kind
    items: Sequence[JsonObject]
    first: frozenset[str]
    definitions: Mapping[str, Definition]
    bodies: Mapping[str, JsonObject]
    namespace: str


def _owners(scope: Scope) -> Index:
    return index_of(scope.kind, list(scope.items), scope.namespace)


def declared(
    scope: Scope, keys: Iterable[str] | None = None, *, strict: bool = False
) -> tuple[list[Selected], list[str]]:
    """The objects the definitions (or ``keys``) mean, matched as the plan matches them; a key with
    none is an error when asked for by name (``strict``) and skipped otherwise (apply creates it)."""
    kind, index = scope.kind, _owners(scope)
    chosen: list[Selected] = []
    skipped: list[str] = []
    for key in keys if keys is not None else sorted(scope.definitions):
        definition = scope.definitions.get(key)
        remote_id, owned = _match(scope, index, key, definition)
        if remote_id is not None:
            chosen.append(Selected(key, remote_id, owned, definition is not None))
        elif strict:
            raise UsageError(
                f"no {kind.noun} in the workspace carries the marker {scope.namespace}:{key}",
                hint="use --all or --search to pull what agentsync does not manage yet",
            )
        else:
            skipped.append(key)
    return chosen, skipped


def _match(scope: Scope, index: Index, key: str, definition: Definition | None) -> tuple[str | None, bool]:
    kind = scope.kind
    if definition is None:
        found = index.keys.get(key, ()) if kind.identity.marks else ()
        return _sole(kind, key, found, scope.namespace), bool(found)
    try:
        match = kind.identity.match(definition, index, scope.bodies, scope.namespace)
    except IdentityError:
        if kind.identity.marks and not index.keys.get(key):
            return definition.id, False
        raise
    owned = bool(index.keys.get(key)) if kind.identity.marks else match.remote_id is not None
    return (match.remote_id or (definition.id if kind.identity.marks else None)), owned


def _sole(kind: Kind, key: str, ids: Sequence[str], namespace: str) -> str | None:
    if len(ids) > 1:
        raise IdentityError(
            f"{len(ids)} {kind.noun}s carry the marker {namespace}:{key} ({', '.join(ids)})",
            hint=f"remove the marker from all but one {kind.noun} in the workspace",
        )
    return ids[0] if ids else None


def listed(scope: Scope, chosen: Sequence[Selected], adopt_foreign: bool) -> tuple[list[Selected], list[str]]:
    """Every listed object not chosen yet: owned ones under their marker key, the rest under a new key
    made from the name; an object another project marks as its own is left to it, unless ``adopt_foreign``."""
    kind, index = scope.kind, _owners(scope)
    taken_ids = {s.remote_id for s in chosen}
    taken = {s.key for s in chosen} | set(scope.definitions) | set(index.keys if kind.identity.marks else ())
    found: list[Selected] = list(chosen)
    notes: list[str] = []
    for item in scope.items:
        remote_id = str(item[kind.api.id_field])
        if remote_id in taken_ids:
            continue
        key = kind.identity.key_of(item, scope.namespace) if kind.identity.marks else None
        if key is None and kind.identity.marks and remote_id not in scope.first:
            continue  # a later listing (archived agents) brings in only what the project owns
        if key is None and foreign(kind, item, scope.namespace) and not adopt_foreign:
            notes.append(
                f"skipped {kind.noun} {remote_id} ({kind.display_name(item)!r}): it carries another "
                "project's ownership marker; --adopt-foreign takes it anyway"
            )
            continue
        if key is not None:
            found.append(
                Selected(key, _sole(kind, key, index.keys.get(key, ()), scope.namespace) or remote_id, True)
            )
        else:
            found.append(Selected(_new_key(kind, item, taken), remote_id, not kind.identity.marks))
        taken_ids.add(remote_id)
    return _dedupe(found), notes


def _new_key(kind: Kind, item: JsonObject, taken: set[str]) -> str:
    if not kind.layout.is_folder:
        natural = kind.identity.key_of(item, "")
        if natural is not None:
            return natural
    return unique_key(kind.display_name(item) or "", taken, kind.name)


def foreign(kind: Kind, item: JsonObject, namespace: str) -> bool:
    """Whether ``item`` carries another project's ownership marker (and not this one's)."""
    marker = kind.identity.marker_field
    tags = item.get(marker) if marker else None
    return bool(foreign_markers([t for t in tags or [] if isinstance(t, str)], namespace))


def _dedupe(chosen: list[Selected]) -> list[Selected]:
    unique: dict[str, Selected] = {}
    for item in chosen:
        unique.setdefault(item.remote_id, item)
    return list(unique.values())


def check_keys(kind: Kind, chosen: Sequence[Selected]) -> None:
    """A key becomes a path: one taken from a remote marker must not climb out of the kind's folder."""
    if not kind.layout.is_folder:
        return
    seen: dict[str, str] = {}
    for item in chosen:
        if not KEY_PATTERN.fullmatch(item.key) or ".." in item.key.split("/"):
            raise PullError(
                f"{kind.noun} {item.remote_id} has the key {item.key!r}, which is not a safe file name",
                hint=f"fix the {kind.noun}'s marker in the workspace",
            )
        if item.key in seen:
            raise PullError(
                f"{kind.noun}s {seen[item.key]} and {item.remote_id} would both be written to "
                f"{kind.layout.where}{item.key}.yaml",
                hint="remove the id: that points at one of them",
            )
        seen[item.key] = item.remote_id
