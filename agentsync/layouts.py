"""Definitions from files, for every kind: its layout, its environment overrides, its schema, its rules.

Two layouts cover every kind: a folder with one file per key (``agents/billing.yaml``, key ``billing``;
``prompts/`` inside the folder holds included text), and one file holding a list of entries keyed by a
natural key (``tags.yaml``, keyed by title). Per file: read -> overlay
``environments.ENV.overrides.<plural>.<key>`` (``*`` first) -> interpolate -> validate against the
kind's schema -> the kind's own checks. Across files: one definition per key (ignoring case), per
``id:`` and per ``renamed_from``; references to keys no file declares are warnings.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from agentsync import reading, schema
from agentsync import variables as templates
from agentsync.errors import Location, Problem, Severity
from agentsync.kinds import KINDS, Definition, Kind
from agentsync.loader import Document, JsonPath, Reader, describe, interpolate, read_document
from agentsync.overrides import Override, omitted_keys, overlay_all, override_key_warnings, override_layers

PROMPTS_DIR = "prompts"
META_FIELDS: tuple[str, ...] = ("id", "renamed_from")


def load_definitions(
    reader: Reader,
    settings_doc: Document,
    scope: list[str],
    context: templates.Context,
    environment: str | None,
) -> dict[str, dict[str, Definition]]:
    """Every kind's definitions; a kind whose layout does not exist in the project is left out."""
    found: dict[str, dict[str, Definition]] = {}
    for kind in KINDS:
        layers = override_layers(settings_doc, kind, environment)
        omitted = omitted_keys(settings_doc, kind, environment)
        loaded = _folder(reader, kind, scope, context, layers, omitted) if kind.layout.is_folder else None
        if not kind.layout.is_folder:
            loaded = _listed(reader, kind, scope, context, layers, omitted)
        if loaded is not None:
            found[kind.name] = loaded
    reader.problems.extend(override_key_warnings(settings_doc, found, environment, reader.unusable))
    reader.problems.extend(reference_warnings(found, reader.unusable))
    return found


# --- a folder, one file per key -----------------------------------------------------------------------


def folder_files(root: Path, kind: Kind) -> list[tuple[str, Path]]:
    """(key, path) of every definition file of ``kind``: ``FOLDER/**/*.yaml`` except under ``prompts/``."""
    base = root / kind.layout.where
    if not base.is_dir():
        return []
    found = []
    for path in sorted(base.rglob("*.yaml")):
        relative = path.relative_to(base)
        if relative.parts[0] != PROMPTS_DIR:
            found.append((relative.with_suffix("").as_posix(), path))
    return found


def _folder(
    reader: Reader,
    kind: Kind,
    scope: list[str],
    context: templates.Context,
    layers: list[Override],
    omitted: frozenset[str] = frozenset(),
) -> dict[str, Definition] | None:
    base = reader.root / kind.layout.where
    if not base.is_dir() and not kind.identity.marks:
        return None
    definitions: dict[str, Definition] = {}
    documents: dict[str, Document] = {}
    if not _folders_inside(reader, base):
        return definitions
    _stray_files(reader, kind)
    for key, path in folder_files(reader.root, kind):
        if key in omitted:
            continue
        document = read_document(reader, path)
        if document is None or not _is_mapping(reader, kind, document):
            continue
        origins = overlay_all(document, [layer for layer in layers if layer.key in ("*", key)])
        document = _resolved(reader, kind, document, context, scope)
        definitions[key] = _definition(kind, key, document, document.value, (), origins)
        documents[key] = _claims_of(document)
    reader.problems.extend(_cross_file_rules(kind, definitions, documents))
    return definitions


def _folders_inside(reader: Reader, base: Path) -> bool:
    """False when the folder itself leads out of the project. A folder under it that does is an error
    too (it is not searched for files, but a folder with a file in it looks managed)."""
    if not base.exists() and not base.is_symlink():
        return True
    for folder in [base, *_linked_folders(base)]:
        try:
            reading.real_path(folder, reader.real_root, reader.rel(folder))
        except reading.Refused as exc:
            reader.error(None, exc.message)
            if folder == base:
                return False
    return True


def _linked_folders(base: Path) -> list[Path]:
    found: list[Path] = []
    for parent, folders, _files in os.walk(base):
        found.extend(Path(parent, f) for f in folders if Path(parent, f).is_symlink())
    return sorted(found)


def _resolved(
    reader: Reader, kind: Kind, document: Document, context: templates.Context, scope: list[str]
) -> Document:
    document, found = interpolate(document, context, typed_root=kind.fields.response)
    if not kind.layout.allow_env:
        found.extend(_no_secrets(kind, document))
    found.extend(_no_secret_identity(document, kind))
    found.extend(schema.check(document, schema.validator(kind)))
    found.extend(schema.catalogue_warnings(document))
    for path, message in kind.hooks.checks(document.value, scope, _shower(document)):
        found.append(Problem(document.location_of(path, value=True), message))
    reader.problems.extend(replace(p, subject=kind.noun) for p in found)
    return document


def _no_secret_identity(document: Document, kind: Kind) -> list[Problem]:
    """An ``id:``, a ``renamed_from:`` or a list entry's natural key names a resource and ends up in
    URLs, keys and messages: it is never a secret, and one that comes from ``${env.*}`` could only be
    there to make a message print a value."""
    key = kind.layout.key_path
    named = [
        Problem(
            document.location_of(path, value=True),
            f"{'.'.join(map(str, key))}: cannot come from ${{env.*}} (found {template!r}); it names the {kind.noun}",
        )
        for path, template in document.secrets.items()
        if key and len(path) == len(key) + 1 and isinstance(path[0], int) and tuple(path[1:]) == key
    ]
    return named + [
        Problem(
            document.location_of(path, value=True),
            f"{path[-1]}: cannot come from ${{env.*}} (found {template!r}); write the id itself",
        )
        for path, template in document.secrets.items()
        if path and path[-1] in META_FIELDS and (len(path) == 1 or isinstance(path[-2], int))
    ]


def _shower(document: Document) -> Callable[[JsonPath, Any], str]:
    """How a message shows a value of ``document``: quoted, or as its ``${env.*}`` placeholder."""
    return lambda path, value: schema.shown(document, path, value)


def _is_mapping(reader: Reader, kind: Kind, document: Document) -> bool:
    if isinstance(document.value, dict):
        return True
    reader.error(
        document.location_of(()),
        f"{_a(kind.noun)} file must be a mapping of {kind.noun} fields "
        f"({', '.join(kind.fields.writable[:2])}, ...), not {describe(document.value)}",
    )
    return False


def _stray_files(reader: Reader, kind: Kind) -> None:
    base = reader.root / kind.layout.where
    if not base.is_dir():
        return
    for path in sorted(base.rglob("*.yml")):
        if path.relative_to(base).parts[0] != PROMPTS_DIR:
            reader.problems.append(
                Problem(
                    Location(reader.rel(path), 1, 1),
                    f"ignored: {kind.noun} files must end in .yaml",
                    Severity.WARNING,
                )
            )


def _definition(
    kind: Kind,
    key: str,
    document: Document,
    value: Mapping[str, Any],
    base: JsonPath,
    origins: Mapping[JsonPath, str],
) -> Definition:
    def inside(table: Mapping[JsonPath, Any]) -> dict[JsonPath, Any]:
        n = len(base)
        return {
            p[n:]: v
            for p, v in table.items()
            if p[:n] == base and len(p) > n and p[n] in kind.fields.writable
        }

    locations = inside(document.locations)
    locations[()] = document.location_of(base, value=bool(base))
    return Definition(
        kind=kind.name,
        key=key,
        file=document.file,
        config={k: v for k, v in value.items() if k in kind.fields.writable},
        id=_text_or_none(value.get("id")),
        renamed_from=_text_or_none(value.get("renamed_from")),
        locations=locations,
        secrets=inside(document.secrets),
        references=inside(document.references),
        origins=dict(origins),
    )


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_CLAIMS: tuple[JsonPath, ...] = ((), ("id",), ("renamed_from",))


def _claims_of(document: Document) -> Document:
    """What the cross-file rules read of a document: where its key, ``id:`` and ``renamed_from:``
    are, and whether they came from ``${env.*}``. Only that is kept until every file of the kind is
    read, instead of every value and location of every file at once."""
    return Document(
        file=document.file,
        value=None,
        locations={p: document.locations[p] for p in _CLAIMS if p in document.locations},
        value_locations={p: document.value_locations[p] for p in _CLAIMS if p in document.value_locations},
        secrets={p: t for p, t in document.secrets.items() if p[:1] in _CLAIMS[1:]},
    )


def _cross_file_rules(
    kind: Kind, definitions: dict[str, Definition], documents: dict[str, Document]
) -> list[Problem]:
    """One definition per key (ignoring case), per ``id:`` and per previous key."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for key, definition in definitions.items():
        claims = [("key", key.lower(), ()), ("id", definition.id, ("id",))]
        claims.append(("renamed_from", definition.renamed_from, ("renamed_from",)))
        for what, claim, path in claims:
            if claim is None:
                continue
            other = seen.setdefault((what, claim), key)
            if other != key:
                where = documents[key].location_of(path, value=bool(path))
                shown = claim if what == "key" else _claimed(documents[key], path, claim, what)
                problems.append(Problem(where, _clash(kind, what, shown, other)))
        if definition.renamed_from in definitions:
            problems.append(_still_has_file(kind, documents[key], definition.renamed_from))
    return problems


def _claimed(document: Document, path: JsonPath, claim: str, what: str) -> str:
    if schema.secret_template(document, path) is not None:
        return schema.shown(document, path, claim)
    return claim if what == "id" else f"'{claim}'"


def _still_has_file(kind: Kind, document: Document, old_key: str) -> Problem:
    path: JsonPath = ("renamed_from",)
    secret = schema.secret_template(document, path) is not None
    where = "" if secret else f" ({kind.layout.where}{old_key}.yaml)"
    return Problem(
        document.location_of(path, value=True),
        f"renamed_from: {_claimed(document, path, old_key, 'renamed_from')} still has its own "
        f"file{where}; a rename moves the file",
    )


def _clash(kind: Kind, what: str, claim: str, other: str) -> str:
    if what == "key":
        return f"{kind.noun} key clashes with '{other}' (keys differ only in case, which some file systems merge)"
    if what == "id":
        return f"id: {kind.noun} {claim} is already adopted by {kind.layout.where}{other}.yaml"
    return f"renamed_from: {claim} is already claimed by {kind.layout.where}{other}.yaml"


# --- one file, a list of entries ----------------------------------------------------------------------


def _listed(
    reader: Reader,
    kind: Kind,
    scope: list[str],
    context: templates.Context,
    layers: list[Override],
    omitted: frozenset[str] = frozenset(),
) -> dict[str, Definition] | None:
    path = reader.root / kind.layout.where
    if not path.exists() and not path.is_symlink():
        return None
    document = read_document(reader, path, allow_empty=True)
    if document is None:
        return {}
    if document.value == {}:
        document = Document(document.file, [], document.locations, document.value_locations)
    if not isinstance(document.value, list):
        reader.error(
            document.location_of(()),
            f"{kind.layout.where} must be a list of {kind.noun}s "
            f"({{{', '.join(kind.fields.writable)}}}), not {describe(document.value)}",
        )
        return {}
    document = _without(document, kind, omitted)
    origins = _overlay_entries(document, kind, layers)
    before = len(reader.problems)
    document = _resolved(reader, kind, document, context, scope)
    reader.problems.extend(_duplicates(kind, document))
    if len(reader.problems) != before and any(p.is_error for p in reader.problems[before:]):
        keys = (_entry_key(kind, item, i) for i, item in enumerate(document.value) if isinstance(item, dict))
        reader.unusable[kind.name] = set(keys)
        return {}
    return {
        _entry_key(kind, item, index): _definition(
            kind, _entry_key(kind, item, index), document, item, (index,), origins.get(index, {})
        )
        for index, item in enumerate(document.value)
    }


def _entry_key(kind: Kind, item: Mapping[str, Any], index: int) -> str:
    node: Any = item
    for part in kind.layout.key_path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, str) else f"[{index}]"


def _without(document: Document, kind: Kind, omitted: frozenset[str]) -> Document:
    """The list without the entries this environment leaves out, every location moved with its entry."""
    entries = document.value
    dropped = {
        i for i, item in enumerate(entries) if isinstance(item, dict) and _entry_key(kind, item, i) in omitted
    }
    if not dropped:
        return document
    moved = {
        old: old - sum(1 for d in dropped if d < old) for old in range(len(entries)) if old not in dropped
    }

    def shift(table: Mapping[JsonPath, Any]) -> dict[JsonPath, Any]:
        return {
            ((moved[p[0]], *p[1:]) if p and isinstance(p[0], int) else p): v
            for p, v in table.items()
            if not (p and isinstance(p[0], int) and p[0] in dropped)
        }

    kept = [item for i, item in enumerate(entries) if i not in dropped]
    return Document(document.file, kept, shift(document.locations), shift(document.value_locations))


def _overlay_entries(
    document: Document, kind: Kind, layers: list[Override]
) -> dict[int, dict[JsonPath, str]]:
    origins: dict[int, dict[JsonPath, str]] = {}
    for index, item in enumerate(document.value):
        if isinstance(item, dict):
            key = _entry_key(kind, item, index)
            chosen = [layer for layer in layers if layer.key in ("*", key)]
            origins[index] = overlay_all(document, chosen, (index,))
    return origins


def _duplicates(kind: Kind, document: Document) -> list[Problem]:
    problems: list[Problem] = []
    natural = ".".join(str(p) for p in kind.layout.key_path)
    for label, path in ((natural, kind.layout.key_path), ("id", ("id",))):
        seen: dict[str, int] = {}
        for index, item in enumerate(document.value):
            value: Any = item
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if not isinstance(value, str):
                continue
            first = seen.setdefault(value, index)
            if first != index:
                line = document.location_of((first, *path), value=True).line
                problems.append(
                    Problem(
                        document.location_of((index, *path), value=True),
                        f"[{index}].{label}: duplicate {label} "
                        f"{schema.shown(document, (index, *path), value)} (first at line {line})",
                    )
                )
    return problems


def _no_secrets(kind: Kind, document: Document) -> list[Problem]:
    """Values everyone in the workspace can read are no place for a secret; agentsync masks secrets
    only where a definition may hold them."""
    return [
        Problem(
            document.location_of(path, value=True),
            f"{kind.layout.where} cannot use ${{env.*}}: {kind.noun}s are visible to the whole workspace "
            f"(found in {template!r}); use ${{var.*}} for per-environment text",
        )
        for path, template in document.secrets.items()
    ]


# --- environment overrides ----------------------------------------------------------------------------


def reference_warnings(
    found: Mapping[str, Mapping[str, Definition]], unusable: Mapping[str, Collection[str]] | None = None
) -> list[Problem]:
    """A reference to a key no file declares can only work if the workspace has it (plan checks).
    ``unusable`` keys are declared in a file that has errors of its own: those errors say enough."""
    problems: list[Problem] = []
    for definitions in found.values():
        for definition in definitions.values():
            for path, text in definition.references.items():
                for ref in dict.fromkeys(templates.references_in(text)):
                    declared = found.get(ref.kind, {})
                    if ref.key not in declared and ref.key not in (unusable or {}).get(ref.kind, ()):
                        problems.append(_reference_warning(definition, path, ref.text, ref.key, declared))
    return problems


def _reference_warning(
    definition: Definition, path: JsonPath, text: str, key: str, declared: Mapping[str, Definition]
) -> Problem:
    close = difflib.get_close_matches(key, list(declared), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    kind = next(k for k in KINDS if text.startswith(f"${{{k.name}."))
    where = definition.location_of(path) or Location(definition.file, 1, 1)
    dotted = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")
    message = f"{dotted}: {text} names {kind.noun} '{key}' that no file declares; plan fails unless the workspace has it{hint}"
    return Problem(where, message, Severity.WARNING)
