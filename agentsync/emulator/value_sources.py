"""The rule the API's schema cannot state: a tool parameter takes its value from exactly one source.

A literal parameter (``LiteralJsonSchemaProperty``) sets exactly one of ``description`` (the LLM
provides it), ``dynamic_variable``, ``is_system_provided``, ``constant_value`` or ``is_omitted``; an
object or array parameter at most one. Each broken parameter is one 422 item, ``value_error`` as
pydantic reports a model validator's failure, at the parameter's ``loc``. Array items are exempt from
the "at least one" half, since the spec's own default for them is a described literal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SOURCES = ("description", "dynamic_variable", "is_system_provided", "constant_value", "is_omitted")
Loc = list[str | int]


def value_source_errors(config: dict[str, Any], prefix: Loc) -> list[dict[str, Any]]:
    """422 items for every parameter of a webhook or client tool config that breaks the rule."""
    errors = []
    for loc, prop, is_items in _parameters(config, prefix):
        count = sum(1 for name in SOURCES if _set(prop, name))
        literal = prop.get("type") not in ("object", "array")
        if count > 1 or (count == 0 and literal and not is_items):
            what = "Only one" if count > 1 else "Exactly one"
            message = f"Value error, {what} of {', '.join(SOURCES)} can be set (found {count})"
            errors.append(
                {
                    "type": "value_error",
                    "loc": loc,
                    "msg": message,
                    "input": prop,
                    "ctx": {"error": message[13:]},
                }
            )
    return errors


def _set(prop: dict[str, Any], name: str) -> bool:
    value = prop.get(name)
    return value is True if name in ("is_system_provided", "is_omitted") else value not in (None, "")


def _parameters(config: dict[str, Any], prefix: Loc) -> Iterator[tuple[Loc, dict[str, Any], bool]]:
    api = config.get("api_schema") or {}
    for name, prop in (api.get("path_params_schema") or {}).items():
        yield from _walk([*prefix, "api_schema", "path_params_schema", name], prop, False)
    for name, prop in ((api.get("query_params_schema") or {}).get("properties") or {}).items():
        yield from _walk([*prefix, "api_schema", "query_params_schema", "properties", name], prop, False)
    if api.get("request_body_schema"):
        yield from _walk([*prefix, "api_schema", "request_body_schema"], api["request_body_schema"], False)
    if config.get("parameters"):
        yield from _walk([*prefix, "parameters"], config["parameters"], False)


def _walk(loc: Loc, prop: Any, is_items: bool) -> Iterator[tuple[Loc, dict[str, Any], bool]]:
    if not isinstance(prop, dict):
        return
    yield loc, prop, is_items
    for name, sub in (prop.get("properties") or {}).items() if prop.get("type") == "object" else ():
        yield from _walk([*loc, "properties", name], sub, False)
    if prop.get("type") == "array":
        yield from _walk([*loc, "items"], prop.get("items"), True)
