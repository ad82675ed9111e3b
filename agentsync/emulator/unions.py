"""Tagged unions as the API reads them: a member of a union with a ``discriminator`` must carry its tag.

The spec gives most tag properties a default and leaves them optional, and JSON Schema ignores the
discriminator, so a member without its tag can match exactly one branch. The API's models are pydantic
tagged unions, which read the tag before anything else: a member without it is a 422
``union_tag_not_found`` at the member's own location. Guessing the branch instead (by shared keys) would
store a tag the client never chose and answer a misleading error about the branch guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentsync import spec
from agentsync.emulator.defaults import pick_variant

Loc = list[str | int]
_MAX_DEPTH = 60


def untagged_members(
    value: Any, node: Mapping[str, Any] | None, loc: Loc, *, touched: Any = None
) -> list[dict[str, Any]]:
    """A 422 item for every member of a discriminated union inside ``value`` that lacks its tag.

    With ``touched`` (the PATCH body that has just changed a stored ``value``) only the parts it reached
    are looked at, down to the first union: the rest was checked when it was stored."""
    found: list[dict[str, Any]] = []
    _walk(value, node, loc, 0, found, touched)
    return found


def tag_missing(loc: Loc, prop: str, value: Any) -> dict[str, Any]:
    return {
        "loc": list(loc),
        "msg": f"Unable to extract tag using discriminator '{prop}'",
        "type": "union_tag_not_found",
        "input": value,
        "ctx": {"discriminator": f"'{prop}'"},
    }


def without_members(errors: list[dict[str, Any]], untagged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``errors`` minus those inside an untagged member: its branch is unknown, so they say nothing."""
    inside = [item["loc"] for item in untagged]
    return [e for e in errors if not any(e["loc"][: len(loc)] == loc for loc in inside)]


def _walk(
    value: Any, node: Mapping[str, Any] | None, loc: Loc, depth: int, found: list[Any], touched: Any = None
) -> None:
    if node is None or depth > _MAX_DEPTH or not isinstance(value, dict | list):
        return
    target: Mapping[str, Any] = spec.unwrap(node).node
    discriminator = target.get("discriminator")
    if isinstance(discriminator, Mapping) and isinstance(value, dict):
        _walk_member(value, discriminator, loc, depth, found)
        return
    narrowed = isinstance(value, dict) and isinstance(touched, dict) and bool(touched)
    if narrowed and not (target.get("oneOf") or target.get("anyOf")):
        props_: Mapping[str, Any] = target.get("properties") or {}
        extra_ = target.get("additionalProperties")
        for key in touched:
            if key in value:
                child_ = props_.get(key) if props_ else (extra_ if isinstance(extra_, dict) else None)
                _walk(value[key], child_, [*loc, key], depth + 1, found, touched[key])
        return
    target = pick_variant(target, value)
    if isinstance(value, list):
        items = target.get("items")
        for index, item in enumerate(value):
            _walk(item, items if isinstance(items, dict) else None, [*loc, index], depth + 1, found)
        return
    props: Mapping[str, Any] = target.get("properties") or {}
    extra = target.get("additionalProperties")
    for key, item in value.items():
        child = props.get(key) if props else (extra if isinstance(extra, dict) else None)
        _walk(item, child, [*loc, key], depth + 1, found)


def _walk_member(
    value: dict[str, Any], discriminator: Mapping[str, Any], loc: Loc, depth: int, found: list[Any]
) -> None:
    prop = str(discriminator.get("propertyName"))
    mapping: Mapping[str, str] = discriminator.get("mapping") or {}
    if prop not in value:
        found.append(tag_missing(loc, prop, value))
        return
    tag = value[prop]
    if isinstance(tag, str) and tag in mapping:  # an unknown tag is the schema check's to word
        _walk(value, {"$ref": mapping[tag]}, loc, depth + 1, found)
