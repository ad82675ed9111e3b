"""Query-string parameters: parsed and checked against the operation's parameter schemas.

FastAPI parses each parameter from its string form before validating it, so a non-number ``page_size``
is ``int_parsing`` and an out-of-range one ``less_than_equal``; both come back with ``loc ["query", name]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentsync import spec
from agentsync.emulator.problems import validation_problem
from agentsync.emulator.validation import errors_from, validator_for

_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}


class _ParseError(Exception):
    def __init__(self, type_: str, msg: str) -> None:
        super().__init__(msg)
        self.type_ = type_
        self.msg = msg


def parse_query(method: str, path: str, raw: Mapping[str, list[str]]) -> dict[str, Any]:
    """Every declared query parameter of the operation: parsed, defaulted, validated (422 otherwise)."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for param in spec.operation(method, path).get("parameters", []):
        if param.get("in") != "query":
            continue
        name, schema = param["name"], param.get("schema", {})
        errors.extend(_one(name, schema, raw.get(name), values, bool(param.get("required"))))
    if errors:
        raise validation_problem(errors)
    return values


def _one(
    name: str, schema: Mapping[str, Any], given: list[str] | None, out: dict[str, Any], required: bool
) -> list[dict[str, Any]]:
    target = spec.unwrap(schema).node
    if not given and required:
        return [{"loc": ["query", name], "msg": "Field required", "type": "missing", "input": None}]
    if not given:
        out[name] = schema.get("default", target.get("default"))
        return []
    try:
        value = _convert(target, given)
    except _ParseError as exc:
        text = given[0]
        return [{"loc": ["query", name], "msg": exc.msg, "type": exc.type_, "input": text}]
    out[name] = value
    return errors_from(validator_for(schema).iter_errors(value), ["query", name])


def _convert(target: Mapping[str, Any], given: list[str]) -> Any:
    kind = target.get("type")
    if kind == "array":
        return list(given)
    text = given[-1]
    if kind == "integer":
        return _to_int(text)
    if kind == "boolean":
        return _to_bool(text)
    return text


def _to_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _ParseError(
            "int_parsing", "Input should be a valid integer, unable to parse string as an integer"
        ) from None


def _to_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _ParseError("bool_parsing", "Input should be a valid boolean, unable to interpret input")
