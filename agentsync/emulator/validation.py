"""Request validation against the packaged OpenAPI document, with FastAPI-style 422 items.

Schemas are checked with jsonschema (Draft 2020-12); ``$ref`` links resolve against the document through
a ``referencing`` registry. Each jsonschema error becomes one pydantic-style item
(``{loc, msg, type, input, ctx?}``). Unknown object keys are not errors: :func:`strip_unknown` drops them
before validation so they are never stored, as a pydantic model with ``extra="ignore"`` would.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from agentsync import spec
from agentsync.emulator.defaults import pick_variant

DOC_URI = "urn:agentsync:openapi"
Loc = list[str | int]


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resource = Resource.from_contents(spec.document(), default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(DOC_URI, resource)
    return registry


@lru_cache(maxsize=128)
def _validator_for_name(name: str) -> jsonschema.Draft202012Validator:
    return validator_for({"$ref": f"{DOC_URI}#/components/schemas/{name}"})


def validator_for(schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
    """A validator for a schema taken out of the document; its local ``$ref`` links still resolve."""
    return jsonschema.Draft202012Validator(_anchored(schema), registry=_registry())


def _anchored(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {
            k: (DOC_URI + v if k == "$ref" and str(v).startswith("#") else _anchored(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_anchored(v) for v in node]
    return node


def errors_for(value: Any, schema_name: str, prefix: Loc) -> list[dict[str, Any]]:
    """422 items for ``value`` against the component schema ``schema_name``; empty when it is valid."""
    return errors_from(_validator_for_name(schema_name).iter_errors(value), prefix)


def errors_from(found: Iterable[ValidationError], prefix: Loc) -> list[dict[str, Any]]:
    items = [to_item(_most_relevant(err), prefix) for err in found]
    unique: dict[str, dict[str, Any]] = {repr((i["loc"], i["type"])): i for i in items}
    return sorted(unique.values(), key=lambda i: [str(p) for p in i["loc"]])


def _most_relevant(err: ValidationError) -> ValidationError:
    """For a failed union, the branch error that says most (e.g. ``le`` rather than "not null")."""
    while err.validator in ("anyOf", "oneOf") and err.context:
        real = [e for e in err.context if not _is_null_branch_error(e)]
        err = best_match(real or err.context)
    return err


def _is_null_branch_error(err: ValidationError) -> bool:
    return bool(err.validator == "type" and err.validator_value == "null")


_TYPE_NAMES: dict[str, tuple[str, str]] = {
    "string": ("string_type", "Input should be a valid string"),
    "integer": ("int_type", "Input should be a valid integer"),
    "number": ("float_type", "Input should be a valid number"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "array": ("list_type", "Input should be a valid list"),
    "object": ("model_type", "Input should be a valid dictionary or object to extract fields from"),
    "null": ("none_required", "Input should be None"),
}


def to_item(err: ValidationError, prefix: Loc) -> dict[str, Any]:
    """One pydantic-style 422 item for a jsonschema error."""
    loc: Loc = [*prefix, *err.absolute_path]
    kind, value = str(err.validator), err.validator_value
    if kind == "required":
        missing = _missing_field(err)
        return {"loc": [*loc, missing], "msg": "Field required", "type": "missing", "input": err.instance}
    type_, msg, ctx = _describe(kind, value)
    item: dict[str, Any] = {"loc": loc, "msg": msg, "type": type_, "input": err.instance}
    if ctx:
        item["ctx"] = ctx
    return item


def _missing_field(err: ValidationError) -> str:
    present = err.instance if isinstance(err.instance, dict) else {}
    for name in err.validator_value:
        if name not in present:
            return str(name)
    return str(err.validator_value[0])


def _describe(kind: str, value: Any) -> tuple[str, str, dict[str, Any]]:
    """pydantic's (type, msg, ctx) for a failed jsonschema keyword."""
    simple: dict[str, tuple[str, str, str]] = {
        "maxLength": ("string_too_long", "String should have at most {} characters", "max_length"),
        "minLength": ("string_too_short", "String should have at least {} characters", "min_length"),
        "maximum": ("less_than_equal", "Input should be less than or equal to {}", "le"),
        "minimum": ("greater_than_equal", "Input should be greater than or equal to {}", "ge"),
        "exclusiveMaximum": ("less_than", "Input should be less than {}", "lt"),
        "exclusiveMinimum": ("greater_than", "Input should be greater than {}", "gt"),
        "maxItems": ("too_long", "List should have at most {} items", "max_length"),
        "minItems": ("too_short", "List should have at least {} items", "min_length"),
        "maxProperties": ("too_long", "Dictionary should have at most {} items", "max_length"),
        "minProperties": ("too_short", "Dictionary should have at least {} items", "min_length"),
        "pattern": ("string_pattern_mismatch", "String should match pattern '{}'", "pattern"),
    }
    if kind in simple:
        type_, template, ctx_key = simple[kind]
        return type_, template.format(value), {ctx_key: value}
    if kind == "enum":
        expected = _expected_list(value)
        return "enum", f"Input should be {expected}", {"expected": expected}
    if kind == "const":
        return "literal_error", f"Input should be {value!r}", {"expected": repr(value)}
    if kind == "type":
        first = value[0] if isinstance(value, list) else value
        type_, msg = _TYPE_NAMES.get(str(first), ("value_error", "Input has the wrong type"))
        return type_, msg, {}
    return "value_error", f"Value error, the value does not satisfy '{kind}'", {}


def _expected_list(values: list[Any]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


# ---------------------------------------------------------------------------------------------------
# Unknown keys


def strip_unknown(value: Any, node: Mapping[str, Any] | None, depth: int = 0) -> Any:
    """A copy of ``value`` without the object keys the schema does not declare."""
    if node is None or depth > 60:
        return copy.deepcopy(value)
    target = pick_variant(spec.unwrap(node).node, value)
    if isinstance(value, dict):
        return _strip_object(value, target, depth)
    if isinstance(value, list) and isinstance(target.get("items"), dict):
        return [strip_unknown(v, target["items"], depth + 1) for v in value]
    return copy.deepcopy(value)


def strip_touched(value: Any, node: Mapping[str, Any] | None, touched: Any, depth: int = 0) -> Any:
    """:func:`strip_unknown` of a stored value that a PATCH body (``touched``) has just changed: only the
    parts the body reached are new, and the rest was stripped when it was stored, so it is kept as it is
    (shared, as stored values are never changed in place). Under a union the patch may have moved the
    value to another branch, so from there down everything is stripped again."""
    if not (isinstance(value, dict) and isinstance(touched, dict) and touched) or node is None or depth > 60:
        return strip_unknown(value, node, depth)
    target = spec.unwrap(node).node
    if target.get("oneOf") or target.get("anyOf") or target.get("discriminator"):
        return strip_unknown(value, node, depth)
    props: Mapping[str, Any] = target.get("properties") or {}
    extra = target.get("additionalProperties")
    if not props:
        child = extra if isinstance(extra, dict) else None
        return {
            k: strip_touched(v, child, touched[k], depth + 1) if k in touched else v for k, v in value.items()
        }
    keep_extra = extra not in (None, False)
    return {
        k: strip_touched(v, props.get(k), touched[k], depth + 1) if k in touched else v
        for k, v in value.items()
        if k in props or keep_extra
    }


def _strip_object(value: dict[str, Any], node: Mapping[str, Any], depth: int) -> dict[str, Any]:
    props: Mapping[str, Any] = node.get("properties") or {}
    extra = node.get("additionalProperties")
    if not props:
        child = extra if isinstance(extra, dict) else None
        return {k: strip_unknown(v, child, depth + 1) for k, v in value.items()}
    keep_extra = extra not in (None, False)
    return {
        k: strip_unknown(v, props.get(k), depth + 1) for k, v in value.items() if k in props or keep_extra
    }
