"""How a PATCH body combines with a stored agent.

Objects inside ``conversation_config`` and ``platform_settings`` are deep-merged; lists, scalars, nulls,
``workflow`` and every other top-level field replace the stored value. Free-form maps (objects whose
schema has ``additionalProperties`` and no ``properties``: ``language_presets``, ``data_collection``,
``dynamic_variable_placeholders``, ...) are replaced as whole values: that is the project's documented
choice. ``map_merge=True`` merges them key by key instead, the other plausible server behaviour.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from agentsync import spec

# The top-level fields that are merged, with the schema that describes their inside.
MERGED_FIELDS: dict[str, str] = {
    "conversation_config": spec.CONVERSATION_CONFIG_INPUT,
    "platform_settings": spec.PLATFORM_SETTINGS_INPUT,
}


def merge_patch(
    stored: dict[str, Any], patch: dict[str, Any], *, map_merge: bool = False, share: bool = False
) -> dict[str, Any]:
    """A new agent dict: ``stored`` with ``patch`` applied. Neither argument is modified. With ``share``
    the result holds the very subtrees of ``stored`` the patch does not touch (so neither may be changed
    in place afterwards): :func:`agentsync.defaults.fill_new` then knows them complete."""
    merged = dict(stored) if share else copy.deepcopy(stored)
    for key, value in patch.items():
        current = merged.get(key)
        if key in MERGED_FIELDS and isinstance(value, dict) and isinstance(current, dict):
            node: Mapping[str, Any] | None = spec.schema(MERGED_FIELDS[key])
            merged[key] = _merge_object(current, value, node, map_merge)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_object(
    current: dict[str, Any], patch: dict[str, Any], node: Mapping[str, Any] | None, map_merge: bool
) -> dict[str, Any]:
    out = dict(current)
    for key, value in patch.items():
        child = child_schema(node, key)
        existing = out.get(key)
        if isinstance(value, dict) and isinstance(existing, dict) and _merges(child, map_merge):
            out[key] = _merge_object(existing, value, child, map_merge)
        else:
            out[key] = copy.deepcopy(value)
    return out


def unchanged_part(
    stored: dict[str, Any], patch: dict[str, Any], *, map_merge: bool = False
) -> dict[str, Any]:
    """What of ``stored`` the merge keeps as it was: every subtree the patch replaces is left out, and
    every object it merges into is followed. ``stored`` is complete (the server filled it when it was
    written), so :func:`agentsync.defaults.fill_new` given this as ``before`` completes only what the
    patch brought, instead of walking every default of the whole agent again. An object under a union
    counts as replaced: a patch may have moved it to another branch, whose defaults are not there."""
    out = {key: value for key, value in stored.items() if key not in patch}
    for key, value in patch.items():
        current = stored.get(key)
        if key in MERGED_FIELDS and isinstance(value, dict) and isinstance(current, dict):
            out[key] = _unchanged_object(current, value, spec.schema(MERGED_FIELDS[key]), map_merge)
    return out


def _unchanged_object(
    current: dict[str, Any], patch: dict[str, Any], node: Mapping[str, Any] | None, map_merge: bool
) -> dict[str, Any]:
    out = {key: value for key, value in current.items() if key not in patch}
    for key, value in patch.items():
        child = child_schema(node, key)
        existing = current.get(key)
        if not (isinstance(value, dict) and isinstance(existing, dict) and _merges(child, map_merge)):
            continue  # replaced: completed from scratch
        if child is None or not _is_union(child):
            out[key] = _unchanged_object(existing, value, child, map_merge)
    return out


def _is_union(node: Mapping[str, Any]) -> bool:
    target = spec.unwrap(node).node
    return bool(target.get("oneOf") or target.get("anyOf"))


def _merges(node: Mapping[str, Any] | None, map_merge: bool) -> bool:
    """Whether an object at this schema node is merged (typed objects) or replaced (free-form maps)."""
    if node is None or map_merge:
        return True
    return not spec.is_free_form_map(spec.unwrap(node).node)


# The schema walk is the spec module's; the name stays for callers of the merge rule.
child_schema = spec.child
