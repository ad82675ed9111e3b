"""The two identity strategies every kind uses: an ownership marker, or a natural key.

- :class:`Marker`: the project namespace and the definition key, ``<namespace>:<key>``, kept in the
  resource's own tag list. The project owns what carries its namespace's marker.
- :class:`NaturalKey`: matched by ``id:`` when given, else by a natural key (a tag's title, a tool's
  name); the project owns, for prune, only what its settings declare authoritative.

Any ambiguity is an IdentityError that names the ids; identity never guesses.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentsync.errors import IdentityError
from agentsync.kinds.base import Definition, Index, JsonObject, Match, Path

MARKER_SEPARATOR = ":"


def marker(namespace: str, key: str) -> str:
    """The ownership marker, e.g. ``agentsync:support-bot``."""
    return f"{namespace}{MARKER_SEPARATOR}{key}"


def marker_key(tag: Any, namespace: str) -> str | None:
    """The key a tag marks in ``namespace``, or None if the tag is not this namespace's marker."""
    prefix = f"{namespace}{MARKER_SEPARATOR}"
    if isinstance(tag, str) and tag.startswith(prefix) and len(tag) > len(prefix):
        return tag[len(prefix) :]
    return None


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _text_list(value: Any) -> list[str]:
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


@dataclass(frozen=True)
class Marker:
    """Identity by an ownership marker in the resource's own ``field`` (a list of strings)."""

    field: str = "tags"
    noun: str = "agent"
    marks: bool = True  # the resources say who owns them

    @property
    def marker_field(self) -> str | None:
        return self.field

    def lookup_key(self, definition: Definition) -> str:
        return definition.key

    def keys_of(self, item: JsonObject, namespace: str) -> list[str]:
        found = (marker_key(t, namespace) for t in _text_list(item.get(self.field)))
        return list(dict.fromkeys(k for k in found if k is not None))

    def key_of(self, item: JsonObject, namespace: str) -> str | None:
        keys = self.keys_of(item, namespace)
        return keys[0] if len(keys) == 1 else None

    def index(self, items: Sequence[JsonObject], id_field: str, namespace: str) -> Index:
        by_id = {str(i[id_field]): i for i in items}
        keys: dict[str, list[str]] = {}
        conflicts = []
        for remote_id, item in by_id.items():
            found = self.keys_of(item, namespace)
            if len(found) > 1:
                conflicts.append(remote_id)
            for key in found:
                keys.setdefault(key, []).append(remote_id)
        return Index(by_id, {k: tuple(v) for k, v in keys.items()}, tuple(conflicts))

    def check(self, index: Index, namespace: str) -> None:
        """Two markers of this namespace on one resource: which definition it belongs to is unknown, and
        prune would delete a still-declared one."""
        for remote_id in index.conflicts:
            marks = [marker(namespace, k) for k in self.keys_of(index.items[remote_id], namespace)]
            raise IdentityError(
                f"{self.noun} {remote_id} carries {len(marks)} ownership markers of this project: "
                f"{', '.join(marks)}",
                hint="remove all but one of them from the resource's tags in the workspace",
            )

    def only(self, key: str, index: Index, namespace: str) -> str | None:
        ids = index.keys.get(key, ())
        if len(ids) > 1:
            raise IdentityError(
                f"{self.noun}s {', '.join(ids)} all carry the ownership marker {marker(namespace, key)} "
                f"of {self.noun} '{key}'",
                hint=f"delete the duplicate {self.noun}s, or remove the marker tag from all but one of them",
            )
        return ids[0] if ids else None

    def match(
        self, definition: Definition, index: Index, bodies: Mapping[str, JsonObject], namespace: str
    ) -> Match:
        self.check(index, namespace)
        owner = self.only(definition.key, index, namespace)
        if definition.id:
            return self._by_id(definition, bodies, owner, namespace)
        if definition.renamed_from:
            return self._renamed(definition, index, owner, namespace)
        return Match(owner)

    def _by_id(
        self, definition: Definition, bodies: Mapping[str, JsonObject], owner: str | None, namespace: str
    ) -> Match:
        noun, key = self.noun, definition.key
        body = bodies.get(definition.id or "")
        if body is None:
            raise IdentityError(
                f"{definition.where}{noun} '{key}' declares id: {definition.id}, "
                f"but the workspace has no {noun} with that id",
                hint=f"correct the id, or remove `id:` to create a new {noun}",
            )
        keys = self.keys_of(body, namespace)
        others = [k for k in keys if k not in (key, definition.renamed_from)]
        if others:
            raise IdentityError(
                f"{definition.where}{noun} '{key}' declares id: {definition.id}, but that {noun} "
                f"belongs to '{others[0]}' (it carries {marker(namespace, others[0])})",
                hint=f"declare `renamed_from: {others[0]}` to re-key it, or correct the id",
            )
        if owner is not None and owner != definition.id:
            raise IdentityError(
                f"{definition.where}{noun} '{key}' declares id: {definition.id}, but "
                f"{noun} {owner} already carries its marker {marker(namespace, key)}",
                hint=f"remove `id:` or delete the other {noun}",
            )
        previous = definition.renamed_from if definition.renamed_from in keys else None
        return Match(definition.id, adopt=not keys, previous_key=previous)

    def _renamed(self, definition: Definition, index: Index, owner: str | None, namespace: str) -> Match:
        old = definition.renamed_from or ""
        source = self.only(old, index, namespace)
        if owner is not None and source is not None:
            raise IdentityError(
                f"{definition.where}{self.noun} '{definition.key}' is renamed from '{old}', but both "
                f"keys have {_a(self.noun)}: {owner} and {source}",
                hint=f"delete one of them, or remove `renamed_from: {old}`",
            )
        if source is not None:
            return Match(source, previous_key=old)
        return Match(owner)

    def owned(self, index: Index, authoritative: bool) -> Mapping[str, tuple[str, ...]]:
        return index.keys

    def claim(
        self, body: Mapping[str, Any], key: str, namespace: str, current: JsonObject | None
    ) -> dict[str, Any]:
        """``body`` whose list carries this key's marker first, then the declared (or current) tags
        without any marker of this namespace and without duplicates."""
        source = body[self.field] if self.field in body else (current or {}).get(self.field)
        rest = [t for t in _text_list(source) if marker_key(t, namespace) is None]
        return {**body, self.field: [marker(namespace, key), *dict.fromkeys(rest)]}

    def claims(self, body: Mapping[str, Any]) -> bool:
        """A body that writes the marker's list must carry the marker too."""
        return self.field in body

    def hide(self, view: Mapping[str, Any], namespace: str) -> dict[str, Any]:
        out = dict(view)
        if isinstance(out.get(self.field), list):
            out[self.field] = [t for t in out[self.field] if marker_key(t, namespace) is None]
        return out

    def holds(self, body: JsonObject, key: str, namespace: str) -> bool:
        return self.keys_of(body, namespace) == [key]

    def notes(self, action: str, key: str, previous_key: str | None, namespace: str) -> tuple[str, ...]:
        found = []
        if action == "adopt":
            found.append(
                f"adds the ownership marker {marker(namespace, key)}: agentsync manages it from now on"
            )
        if previous_key is not None:
            found.append(
                f"re-keyed from {previous_key}: the marker {marker(namespace, previous_key)} "
                f"becomes {marker(namespace, key)}"
            )
        return tuple(found)

    def warnings(self, creates: Collection[Definition], index: Index, namespace: str) -> tuple[str, ...]:
        """A create whose name matches a remote object that carries no marker of this project: most
        likely the marker was removed in the dashboard, and apply would make a twin."""
        unowned: dict[str, list[str]] = {}
        for remote_id, item in index.items.items():
            if not self.keys_of(item, namespace) and isinstance(item.get("name"), str):
                unowned.setdefault(item["name"], []).append(remote_id)
        found = []
        for definition in creates:
            twins = unowned.get(str(definition.config.get("name")), [])
            if twins:
                found.append(
                    f"{self.noun} '{definition.key}' would be created, but the workspace already has "
                    f"{self.noun} {', '.join(twins)} named {definition.config.get('name')!r} without this "
                    f"project's marker (was it removed?): to adopt it instead, add `id: {twins[0]}` to "
                    f"{definition.file}"
                )
        return tuple(found)


@dataclass(frozen=True)
class NaturalKey:
    """Identity by ``id:`` when given, else by a natural key at ``path`` in the resource."""

    path: Path = ("title",)
    noun: str = "conversation tag"
    marks: bool = False  # ownership comes from the settings (authoritative), never from the resource
    marker_field: str | None = None

    def value(self, item: Mapping[str, Any]) -> str | None:
        node: Any = item
        for part in self.path:
            if not isinstance(node, Mapping):
                return None
            node = node.get(part)
        return node if isinstance(node, str) else None

    def key_of(self, item: JsonObject, namespace: str) -> str | None:
        return self.value(item)

    def lookup_key(self, definition: Definition) -> str:
        return self.value(definition.config) or definition.key

    def index(self, items: Sequence[JsonObject], id_field: str, namespace: str) -> Index:
        by_id = {str(i[id_field]): i for i in items}
        keys: dict[str, list[str]] = {}
        for remote_id, item in by_id.items():
            found = self.value(item)
            if found is not None:
                keys.setdefault(found, []).append(remote_id)
        return Index(by_id, {k: tuple(v) for k, v in keys.items()})

    def _label(self) -> str:
        return ".".join(str(p) for p in self.path)

    def match(
        self, definition: Definition, index: Index, bodies: Mapping[str, JsonObject], namespace: str
    ) -> Match:
        natural = self.lookup_key(definition)
        ids = index.keys.get(natural, ())
        if len(ids) > 1:
            raise IdentityError(
                f"{definition.where}the workspace has {len(ids)} {self.noun}s with {self._label()} "
                f"'{natural}' ({', '.join(ids)})",
                hint=f"delete or rename all but one in the workspace, or add `id:` to {definition.file}",
            )
        if definition.id is None:
            return Match(ids[0] if ids else None)
        if definition.id in index.items:
            old = self.value(index.items[definition.id])
            return Match(definition.id, previous_key=old if old != natural else None)
        raise IdentityError(
            f"{definition.where}{self.noun} '{natural}' declares id: {definition.id}, but the workspace "
            f"has no {self.noun} with that id",
            hint=f"remove `id:` to match it by {self._label()} (or create it), or correct the id",
        )

    def owned(self, index: Index, authoritative: bool) -> Mapping[str, tuple[str, ...]]:
        return index.keys if authoritative else {}

    def claim(
        self, body: Mapping[str, Any], key: str, namespace: str, current: JsonObject | None
    ) -> dict[str, Any]:
        return dict(body)

    def claims(self, body: Mapping[str, Any]) -> bool:
        return False

    def hide(self, view: Mapping[str, Any], namespace: str) -> dict[str, Any]:
        return dict(view)

    def holds(self, body: JsonObject, key: str, namespace: str) -> bool:
        return True

    def notes(self, action: str, key: str, previous_key: str | None, namespace: str) -> tuple[str, ...]:
        return (f"renamed from {previous_key!r}",) if previous_key is not None else ()

    def warnings(self, creates: Collection[Definition], index: Index, namespace: str) -> tuple[str, ...]:
        return ()
