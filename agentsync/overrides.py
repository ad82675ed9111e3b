"""Environment overrides: ``environments.ENV.overrides.<plural>.KEY`` (``*`` first) laid over a
definition's document, keeping where each overriding value was written, and the keys an environment
leaves out with ``null``."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from agentsync.errors import Problem, Severity
from agentsync.kinds import KINDS, Definition, Kind
from agentsync.loader import Document, JsonPath


@dataclass(frozen=True)
class Override:
    """One ``environments.ENV.overrides.<plural>.KEY`` entry (``*``: every definition), with where it is."""

    key: str
    value: dict[str, Any]
    source: Document
    path: JsonPath

    @property
    def dotted(self) -> str:
        return ".".join(str(p) for p in self.path)


def override_layers(settings_doc: Document, kind: Kind, environment: str | None) -> list[Override]:
    """The selected environment's overrides of ``kind``, ``*`` first so that a named entry wins."""
    if environment is None:
        return []
    base: JsonPath = ("environments", environment, "overrides", kind.plural)
    entries = (settings_doc.value.get("environments") or {}).get(environment) or {}
    table = (entries.get("overrides") or {}).get(kind.plural) or {}
    ordered_keys = sorted(table, key=lambda k: k != "*")
    return [
        Override(k, table[k], settings_doc, (*base, k)) for k in ordered_keys if isinstance(table[k], dict)
    ]


def omitted_keys(settings_doc: Document, kind: Kind, environment: str | None) -> frozenset[str]:
    """The definitions the selected environment leaves out: ``overrides.<plural>.KEY: null``."""
    if environment is None:
        return frozenset()
    entries = (settings_doc.value.get("environments") or {}).get(environment) or {}
    table = (entries.get("overrides") or {}).get(kind.plural) or {}
    return frozenset(k for k, v in table.items() if v is None and k != "*")


def override_key_warnings(
    settings_doc: Document,
    found: Mapping[str, Mapping[str, Definition]],
    environment: str | None = None,
    unusable: Mapping[str, Collection[str]] | None = None,
) -> list[Problem]:
    """An override for a definition the project does not declare is a typo or a stale entry: a warning,
    so that deleting a file (or pulling into an empty folder) is not blocked by it."""
    problems: list[Problem] = []
    for name, env in (settings_doc.value.get("environments") or {}).items():
        for kind in KINDS:
            table = ((env or {}).get("overrides") or {}).get(kind.plural) or {}
            declared = found.get(kind.name, {})
            # The selected environment's null entries left their definitions out on purpose.
            left_out = omitted_keys(settings_doc, kind, name) if name == environment else frozenset()
            left_out |= frozenset((unusable or {}).get(kind.name, ()))
            for key in table:
                if key != "*" and key not in declared and key not in left_out:
                    close = difflib.get_close_matches(key, list(declared), n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    path = ("environments", name, "overrides", kind.plural, key)
                    message = f"environments.{name}.overrides.{kind.plural}: no {kind.noun} '{key}' in {kind.layout.where}{hint}"
                    problems.append(Problem(settings_doc.location_of(path), message, Severity.WARNING))
    return problems


def overlay_all(document: Document, layers: list[Override], base: JsonPath = ()) -> dict[JsonPath, str]:
    origins: dict[JsonPath, str] = {}
    for layer in layers:
        _overlay(document, layer, base, (), origins)
    return origins


def _overlay(
    document: Document, layer: Override, base: JsonPath, path: JsonPath, origins: dict[JsonPath, str]
) -> None:
    """Deep-merge ``layer`` into the value at ``base`` in place: mappings merge key by key, anything
    else (lists, scalars) replaces. The merged paths point at agentsync.yaml, where their value now is."""
    target = _value_at(document.value, (*base, *path))
    source = _value_at(layer.value, path)
    for key, value in source.items():
        here = (*path, key)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            full = (*base, *here)
            document.locations[full] = layer.source.location_of((*layer.path, *here))
            _overlay(document, layer, base, here, origins)
            continue
        target[key] = copy.deepcopy(value)
        origins[here] = ".".join(str(p) for p in (*layer.path, *here))
        _move_locations(document, layer, base, here)


def _value_at(value: Any, path: JsonPath) -> Any:
    for part in path:
        value = value[part]
    return value


def _move_locations(document: Document, layer: Override, base: JsonPath, here: JsonPath) -> None:
    full = (*base, *here)
    for table in (document.locations, document.value_locations):
        for stale in [p for p in table if p[: len(full)] == full]:
            del table[stale]
    prefix = (*layer.path, *here)
    for source, target in (
        (layer.source.locations, document.locations),
        (layer.source.value_locations, document.value_locations),
    ):
        for found, location in source.items():
            if found[: len(prefix)] == prefix:
                target[full + found[len(prefix) :]] = location


# --- references ---------------------------------------------------------------------------------------
