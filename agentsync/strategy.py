"""How the server combines a written value with the stored one, path by path: the patch-strategy table.

The table is data derived once per kind from the OpenAPI Input models (typed objects are deep-merged,
lists, free-form maps and scalars are replaced), plus the few paths a kind declares itself because the
schema cannot say them (the agent's ``workflow`` is replaced whole, its ``tags`` are a set). Kubernetes
keeps its patch strategies the same way: one table, not a scatter of special cases.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from agentsync import spec

Path = tuple[str | int, ...]


class Strategy(str, enum.Enum):
    """How the server combines a written value with the stored one at a path."""

    MERGE = "merge"  # typed object: deep-merged key by key, so only changed keys are sent
    REPLACE = "replace"  # scalar, list, free-form map, workflow: the value sent is the whole value
    SET = "set"  # a list the API treats as a set (agent tags): replaced, but compared without order


def _object_branches(node: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The typed-object alternatives of a union, or None when the node is not a union of objects."""
    branches = node.get("anyOf") or node.get("oneOf")
    if not branches:
        return None
    real = [spec.unwrap(b).node for b in branches if b.get("type") != "null"]
    if real and all(spec.is_typed_object(b) for b in real):
        return real
    return None


def _classify(node: Mapping[str, Any]) -> tuple[Strategy, list[dict[str, Any]]]:
    """The strategy of one schema node and the typed objects whose properties lie under it."""
    unwrapped = spec.unwrap(node).node
    if spec.is_free_form_map(unwrapped):
        return Strategy.REPLACE, []
    if spec.is_typed_object(unwrapped):
        return Strategy.MERGE, [unwrapped]
    union = _object_branches(unwrapped)
    if union is not None:
        # A union of objects (backup_llm_config, avatar, tool params) is merged like any object: the
        # server deep-merges dicts and then validates, and comparing declared keys only keeps
        # server-filled keys of the chosen variant from showing up as perpetual diffs.
        return Strategy.MERGE, union
    if unwrapped.get("type") == "object":
        return Strategy.MERGE, []
    return Strategy.REPLACE, []


def _walk(node: Mapping[str, Any], path: Path, seen: frozenset[str], table: dict[Path, Strategy]) -> None:
    strategy, objects = _classify(node)
    table[path] = strategy
    for obj in objects:
        title = str(obj.get("title", id(obj)))
        if title in seen:
            continue
        for key, child in obj.get("properties", {}).items():
            _walk(child, (*path, key), seen | {title}, table)


def derive(roots: Mapping[Path, str], overrides: Mapping[Path, Strategy]) -> dict[Path, Strategy]:
    """The table for the typed ``roots`` (path -> component name), with ``overrides`` applied last."""
    table: dict[Path, Strategy] = {}
    for path, name in roots.items():
        _walk({"$ref": spec.REF_PREFIX + name}, path, frozenset(), table)
    table.update(overrides)
    return table
