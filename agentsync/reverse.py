"""The plan run in reverse: for each field plan reports as changed, what pull writes into the file.

Where the declared value came from decides: a value from an environment override stays in
agentsync.yaml and is not copied into the base file; a template (``${var.*}``, ``${env.*}``,
``${agent.KEY.id}``) stays as written, and is reported when the workspace holds something else; any
other value is replaced by the workspace's, written as the loader will read it back (``${`` escaped,
ids of managed agents as ``${agent.KEY.id}``, server defaults left out of atomic values). A value
that contains a resolved secret is never written.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentsync import diff, spec
from agentsync import variables as templates
from agentsync.defaults import default_value, pick_variant
from agentsync.kinds import Definition, Kind, Ref
from agentsync.plan import ABSENT, FieldChange, dotted
from agentsync.project import PROJECT_FILE
from agentsync.values import canonical, same

Path = tuple[str | int, ...]
# A secret shorter than this is too likely to occur by chance to refuse every text that contains it.
MIN_SECRET = 4


class _Skip:
    def __repr__(self) -> str:
        return "SKIP"


SKIP: Any = _Skip()


@dataclass(frozen=True)
class Exporter:
    """How remote values become file text: the ids of resources pulled or managed in this run (id ->
    ``Ref``), written as ``${KIND.KEY.id}``, and the resolved secrets no file may hold."""

    ids: Mapping[str, Ref]
    secrets: tuple[str, ...] = ()

    def export(self, value: Any, own: Ref | None = None) -> Any:
        """``value`` as a file must hold it to load back as exactly ``value``."""
        if isinstance(value, str):
            ref = self.ids.get(value)
            if ref is not None and ref != own:
                return ref.text
            return templates.escape(value)
        if isinstance(value, Mapping):
            return {k: self.export(v, own) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.export(v, own) for v in value]
        return value

    def leaks(self, value: Any) -> bool:
        """Whether ``value`` holds a string containing a resolved secret."""
        return any(s in text for text in _strings(value) for s in self.secrets)

    def clean(self, value: Any) -> Any:
        """``value`` without the strings that hold a resolved secret of this project."""
        if isinstance(value, Mapping):
            return {k: self.clean(v) for k, v in value.items() if not self._leaf_leaks(v)}
        if isinstance(value, list):
            return [self.clean(v) for v in value if not self._leaf_leaks(v)]
        return value

    def _leaf_leaks(self, value: Any) -> bool:
        return isinstance(value, str) and self.leaks(value)


def unknown_ids(kind: Kind, value: Any, where: str) -> list[str]:
    """One note per raw id left at one of ``kind``'s id positions in an exported ``value``: it belongs
    to no resource this run pulls or manages, so it stays as the workspace wrote it."""
    notes: list[str] = []
    for pattern, target in kind.layout.id_paths:
        for path, found in _matching(value, pattern, ()):
            if isinstance(found, str) and found and not templates.has_placeholder(found):
                notes.append(
                    f"{where}: {dotted(path)} is {found!r}, which belongs to no {target} this project "
                    f"manages or pulls; written as is (pull it with --all, or write ${{{target}.KEY.id}})"
                )
    return notes


def _matching(value: Any, pattern: Path, at: Path) -> Iterator[tuple[Path, Any]]:
    if not pattern:
        yield at, value
        return
    head, rest = pattern[0], pattern[1:]
    if isinstance(value, Mapping):
        keys = list(value) if head == "*" else [head] if head in value else []
        for key in keys:
            yield from _matching(value[key], rest, (*at, key))
    elif isinstance(value, list) and head == "*":
        for index, item in enumerate(value):
            yield from _matching(item, rest, (*at, index))


def secret_values(definitions: Iterable[Definition], environ: Mapping[str, str]) -> tuple[str, ...]:
    """The values every ``${env.*}`` of the project resolved to (long enough to look for)."""
    found: set[str] = set()
    for definition in definitions:
        for template in definition.secrets.values():
            found.update(_env_values(template, environ))
    return tuple(sorted(s for s in found if len(s) >= MIN_SECRET))


def _env_values(template: str, environ: Mapping[str, str]) -> Iterator[str]:
    try:
        parts = templates.parse(template)
    except templates.TemplateError:
        return
    for part in parts:
        if isinstance(part, templates.Placeholder) and part.scope == "env":
            value = environ.get(part.name, part.default)
            if value is not None:
                yield value


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


# --- one changed field ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Write ``value`` (plain JSON, ready for the file; ABSENT removes the key) at ``path``."""

    path: Path
    value: Any


@dataclass(frozen=True)
class Reversal:
    edits: tuple[Edit, ...]
    notes: tuple[str, ...]


def reverse(
    kind: Kind,
    definition: Definition,
    fields: Sequence[FieldChange],
    raw: Mapping[str, Any],
    exporter: Exporter,
) -> Reversal:
    """The edits that make ``definition``'s file declare what the workspace holds, and what pull did
    not write and why. ``raw`` is the base file as written (templates unresolved)."""
    edits: list[Edit] = []
    notes: list[str] = []
    for change in fields:
        value = _field(kind, definition, change, raw, exporter, notes)
        if value is not SKIP:
            edits.append(Edit(change.path, value))
    return Reversal(tuple(edits), tuple(notes))


def _field(
    kind: Kind,
    definition: Definition,
    change: FieldChange,
    raw: Mapping[str, Any],
    exporter: Exporter,
    notes: list[str],
) -> Any:
    where = f"{kind.noun} {definition.key}: {dotted(change.path)}"
    override = _override_site(definition, change.path)
    if override is not None:
        notes.append(f"{where} differs in the workspace; not written, its value comes from {override}")
        return SKIP
    if change.old is ABSENT:
        return ABSENT
    value = exporter.export(shorten(kind, change.path, change.old), Ref(kind.name, definition.key))
    value = _keep_templates(definition, change, raw, value, where, notes)
    value = _keep_overrides(definition, change.path, raw, value, notes, where)
    if value is not SKIP and exporter.leaks(value):
        notes.append(f"{where} differs in the workspace; not written, it holds a secret's value")
        return SKIP
    return value


def _override_site(definition: Definition, path: Path) -> str | None:
    location = definition.location_of(path)
    if location is None or location.file != PROJECT_FILE:
        return None
    return f"an environment override ({location.file}:{location.line})"


def _keep_templates(
    definition: Definition,
    change: FieldChange,
    raw: Mapping[str, Any],
    value: Any,
    where: str,
    notes: list[str],
) -> Any:
    """Every template at or under the changed path stays as the file wrote it."""
    for sub, template in _templates_under(raw, change.path):
        relative = sub[len(change.path) :]
        found, remote = templates.value_at(change.old, relative)
        _, declared = templates.value_at(change.new, relative)
        if not found or not same(remote, declared):
            kind = "a secret from the environment" if "${env." in template else "a template"
            notes.append(f"{where}: kept {template!r} ({kind}), the workspace holds another value")
        if not relative:
            return template
        value = _set(value, relative, template)
    return value


def _keep_overrides(
    definition: Definition, path: Path, raw: Mapping[str, Any], value: Any, notes: list[str], where: str
) -> Any:
    """Inside a value written whole, what an override put there is not copied into the base file."""
    inside = [p for p, loc in definition.locations.items() if p[: len(path)] == path and len(p) > len(path)]
    moved = [p for p in inside if loc_file(definition, p) == PROJECT_FILE]
    for sub in _outermost(moved):
        present, base = templates.value_at(raw, sub)
        value = _set(value, sub[len(path) :], copy.deepcopy(base) if present else ABSENT)
    if moved:
        notes.append(f"{where}: the parts an environment override sets were not copied into the file")
    return value


def loc_file(definition: Definition, path: Path) -> str | None:
    location = definition.locations.get(path)
    return location.file if location is not None else None


def _outermost(paths: Sequence[Path]) -> list[Path]:
    kept: list[Path] = []
    for path in sorted(paths, key=len):
        if not any(path[: len(k)] == k for k in kept):
            kept.append(path)
    return kept


def _templates_under(raw: Any, path: Path) -> Iterator[tuple[Path, str]]:
    present, node = templates.value_at(raw, path)
    if present:
        yield from _template_leaves(node, path)


def _template_leaves(node: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(node, str) and templates.has_placeholder(node):
        yield path, node
    elif isinstance(node, Mapping):
        for key, item in node.items():
            yield from _template_leaves(item, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _template_leaves(item, (*path, index))


def _set(root: Any, path: Path, new: Any) -> Any:
    """A copy of ``root`` with ``new`` at ``path`` (ABSENT removes a key); unchanged when absent."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(root, Mapping) and isinstance(head, str) and head in root:
        if not rest and new is ABSENT:
            return {k: v for k, v in root.items() if k != head}
        return {k: _set(v, rest, new) if k == head else v for k, v in root.items()}
    if isinstance(root, list) and isinstance(head, int) and 0 <= head < len(root):
        return [_set(v, rest, new) if i == head else v for i, v in enumerate(root)]
    return root


# --- server defaults inside an atomic value -------------------------------------------------------------


def shorten(kind: Kind, path: Path, value: Any) -> Any:
    """``value`` without the keys the server fills by itself, where the schema says what they are;
    required keys stay. The result must complete back to exactly ``value``, or ``value`` is kept."""
    if not isinstance(value, dict | list) or path in kind.fields.verbatim:
        return value
    # The create body's schema: what a file validates against, with its own required keys (the
    # response model marks every key required).
    node = spec.schema_at(kind.fields.create_body, path)
    if node is None:
        return value
    short = strip_node(value, node)
    return short if same(diff.server_filled(kind.fields, path, short), canonical(value)) else value


def strip_node(value: Any, node: Mapping[str, Any] | None, depth: int = 0) -> Any:
    """``value`` with every object's non-required keys that equal their schema default left out."""
    if node is None or depth > 40:
        return value
    union = spec.unwrap(node).node
    target = pick_variant(union, value)
    if isinstance(value, list):
        items = target.get("items")
        return [strip_node(v, items if isinstance(items, dict) else None, depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    props: Mapping[str, Any] = target.get("properties") or {}
    if not props:
        extra = target.get("additionalProperties")
        child = extra if isinstance(extra, dict) else None
        return {k: strip_node(v, child, depth + 1) for k, v in value.items()}
    required = set(target.get("required") or ()) | tags_of_variant(union, target)
    out: dict[str, Any] = {}
    for key, item in value.items():
        prop = props.get(key)
        if prop is not None and key not in required and same(item, default_value(prop, depth + 1)):
            continue
        out[key] = strip_node(item, prop, depth + 1)
    return out


def tags_of_variant(union: Mapping[str, Any], target: Mapping[str, Any]) -> set[str]:
    """The keys that say which branch of a union a value is (``type: phone``): never left out, or the
    value would match several branches."""
    if not (union.get("oneOf") or union.get("anyOf")):
        return set()
    props: Mapping[str, Any] = target.get("properties") or {}
    discriminator = (union.get("discriminator") or {}).get("propertyName")
    found = {k for k, p in props.items() if "const" in p or len(p.get("enum") or ()) == 1}
    return found | ({discriminator} if discriminator else set())
