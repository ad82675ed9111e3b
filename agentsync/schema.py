"""Validate parsed project files against the generated JSON Schemas and explain every error.

The schemas are the ones ``agentsync.schemagen`` writes to ``schemas/`` (built in memory from the
packaged OpenAPI document, compiled once per process). Each jsonschema error is mapped back to the
``file:line:col`` of the offending key or value and rewritten as one plain sentence, with "did you
mean ...?" for typos. Catalogue values the spec does not list are warnings, never errors.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from agentsync import fastschema, ids, schemagen, spec
from agentsync.errors import Location, Problem, Severity
from agentsync.kinds import KINDS, Kind
from agentsync.plan import dotted
from agentsync.values import any_leaf

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

    from agentsync.loader import Document, JsonPath

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


class Validator:
    """One schema, its compiled fast check, and the jsonschema validator built only when a file needs
    it (jsonschema's import alone is about 50 ms of every run, and a valid file never needs it)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self.fast = fastschema.compile_schema(schema)
        self._engine: Draft202012Validator | None = None

    def iter_errors(self, value: Any) -> Iterator[ValidationError]:
        if self._engine is None:
            from jsonschema import Draft202012Validator

            self._engine = Draft202012Validator(self.schema)
        errors: Iterator[ValidationError] = self._engine.iter_errors(value)
        return errors


def validator(kind: Kind) -> Validator:
    """The validator of one kind's definitions (built once per process)."""
    return _validator(kind.name)


@cache
def _validator(name: str) -> Validator:
    return Validator(schemagen.shared_kind_schema(next(k for k in KINDS if k.name == name)))


def _definition(name: str) -> dict[str, Any]:
    for kind in KINDS:
        found: dict[str, Any] | None = validator(kind).schema.get("$defs", {}).get(name)
        if found is not None:
            return found
    return {}


@lru_cache(maxsize=1)
def project_validator() -> Validator:
    return Validator(schemagen.project_schema())


def check(document: Document, validator: Validator) -> list[Problem]:
    """Every schema error of ``document``, explained and located. A value from ``${env.*}`` is never
    quoted: the message names its placeholder instead."""
    located = list(_non_finite(document))
    if not located and fastschema.is_valid(validator.fast, document.value):
        return []  # proven valid: jsonschema would find nothing (see agentsync.fastschema)
    problems = [problem for _, problem in located]
    skip = {path for path, _ in located}
    for error in validator.iter_errors(document.value):
        if _path(error) not in skip:
            problems.extend(_explain(document, error))
    return problems


# ------------------------------------------------------------------------------------ secrets, numbers


def shown(document: Document, path: JsonPath, value: Any) -> str:
    """``value`` as a message may show it: quoted, or, when it (or part of it) came from ``${env.*}``,
    as the placeholder the file wrote. A cut or partial secret still defeats log masking, so none is
    ever shown."""
    template = secret_template(document, path)
    if template is None:
        return _short(value)
    if isinstance(value, (dict, list)):
        return _describe(value)
    return f"the value of {template}" if _whole(template) else f"the value of '{template}'"


def secret_template(document: Document, path: JsonPath) -> str | None:
    """The placeholder text of a secret at ``path`` or inside the value there, else None."""
    for secret_path, template in document.secrets.items():
        if secret_path[: len(path)] == path or path[: len(secret_path)] == secret_path:
            return template
    return None


def _whole(template: str) -> bool:
    return template.startswith("${") and template.endswith("}") and template.count("${") == 1


NON_FINITE = "must be a finite number: JSON has no NaN or infinity (.nan, .inf, -.inf)"


def _non_finite(document: Document) -> Iterator[tuple[JsonPath, Problem]]:
    if not any_leaf(document.value, _is_non_finite):
        return  # the common case, without building a path for every value
    for path, value in _leaves(document.value, ()):
        if isinstance(value, float) and not math.isfinite(value):
            prefix = f"{dotted(path)}: " if path else ""
            yield path, Problem(document.location_of(path, value=True), prefix + NON_FINITE)


def _is_non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _leaves(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


# ---------------------------------------------------------------------------------------------- errors


def _explain(document: Document, error: ValidationError) -> Iterator[Problem]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        branch = _best_branch(error)
        if branch is not None:
            for sub in branch:
                yield from _explain(document, sub)
            return
        yield _at_value(document, error, _union_mismatch(error, _found(document, error)))
        return
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        yield from _unknown_fields(document, error)
        return
    yield _at_value(document, error, _sentence(error, _found(document, error)))


class _Found(NamedTuple):
    """How a message names the offending value: ``described`` after "found", ``short`` on its own;
    ``secret`` when it came from ``${env.*}`` (then neither holds any of it)."""

    described: str
    short: str
    secret: bool


def _found(document: Document, error: ValidationError) -> _Found:
    if secret_template(document, _path(error)) is None:
        return _Found(_describe(error.instance), _short(error.instance), False)
    text = shown(document, _path(error), error.instance)
    return _Found(text, text, True)


def _path(error: ValidationError) -> JsonPath:
    return tuple(error.absolute_path)


def _at_value(document: Document, error: ValidationError, message: str) -> Problem:
    path = _path(error)
    prefix = f"{dotted(path)}: " if path else ""
    return Problem(document.location_of(path, value=True), prefix + message)


def _branches(error: ValidationError) -> dict[int, list[ValidationError]]:
    groups: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        index = sub.relative_schema_path[0]
        groups.setdefault(int(index), []).append(sub)
    return groups


def _mismatch(sub: ValidationError, depth: int) -> bool:
    """True when the error says "this alternative is the wrong kind of value altogether": a wrong type
    at the union's own level, or a discriminator (``type``) that names another alternative."""
    rel = list(sub.absolute_path)[depth:]
    if not rel:
        return sub.validator in ("type", "const", "enum")
    return rel == ["type"] and sub.validator in ("const", "not", "enum")


def _best_branch(error: ValidationError) -> list[ValidationError] | None:
    depth = len(error.absolute_path)
    fitting = [errs for errs in _branches(error).values() if not any(_mismatch(e, depth) for e in errs)]
    if not fitting:
        return None
    return min(fitting, key=len)


def _union_mismatch(error: ValidationError, found: _Found) -> str:
    kinds: list[str] = []
    for alternative in error.schema.get(str(error.validator), []):
        kind = _kind_of(alternative)
        if kind and kind not in kinds:
            kinds.append(kind)
    if not kinds:
        return "does not match any of the allowed shapes"
    return f"expected {' or '.join(kinds)}, found {found.described}"


def _kind_of(alternative: dict[str, Any]) -> str | None:
    node = alternative
    if "$ref" in node:
        node = _definition(node["$ref"].rsplit("/", 1)[-1])
    if "const" in node:
        return repr(node["const"])
    kind = node.get("type")
    if isinstance(kind, str):
        return _TYPE_NAMES.get(kind, kind)
    if node.get("properties"):
        return "a mapping"
    return None


def _describe(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    kind: dict[type, str] = {
        dict: "a mapping",
        list: "a list",
        str: "the string",
        int: "the integer",
        float: "the number",
    }
    name = kind.get(type(value), type(value).__name__)
    return name if isinstance(value, (dict, list)) else f"{name} {_short(value)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _sentence(error: ValidationError, found: _Found) -> str:
    check_name = str(error.validator)
    value = error.validator_value
    if check_name == "type":
        kinds = [value] if isinstance(value, str) else list(value)
        return f"expected {' or '.join(_TYPE_NAMES.get(k, k) for k in kinds)}, found {found.described}"
    if check_name == "enum":
        return _enum_sentence(error.instance, [str(v) for v in value], found)
    if check_name == "const":
        return f"must be {value!r}, found {found.described}"
    if check_name == "required":
        missing = str(error.message).replace(" is a required property", "")
        return f"missing required field {missing}"
    sentence = _range_sentence(check_name, value, error, found.short)
    if sentence is None and found.secret:
        # jsonschema's own message quotes the value.
        return f"{found.short} does not satisfy the schema's '{check_name}' rule"
    return sentence or error.message


def _enum_sentence(instance: Any, allowed: list[str], found: _Found) -> str:
    text = f"{found.short} is not one of: {', '.join(allowed[:12])}"
    if len(allowed) > 12:
        text += f", ... ({len(allowed)} values)"
    # A suggestion close to a secret says what the secret nearly is.
    return text if found.secret else text + _did_you_mean(str(instance), allowed)


def _range_sentence(check_name: str, value: Any, error: ValidationError, short: str) -> str | None:
    instance = error.instance
    size = len(instance) if isinstance(instance, (str, list, dict)) else None
    units: dict[type, str] = {str: "characters", list: "items", dict: "entries"}
    unit = units.get(type(instance), "")
    sentences = {
        "minimum": f"must be at least {value}, found {short}",
        "maximum": f"must be at most {value}, found {short}",
        "exclusiveMinimum": f"must be greater than {value}, found {short}",
        "exclusiveMaximum": f"must be less than {value}, found {short}",
        "minLength": f"must be at least {value} characters long, found {size}",
        "maxLength": f"must be at most {value} characters long, found {size}",
        "minItems": f"must have at least {value} {unit}, found {size}",
        "maxItems": f"must have at most {value} {unit}, found {size}",
        "minProperties": f"must have at least {value} {unit}, found {size}",
        "pattern": _pattern_sentence(instance, value),
    }
    return sentences.get(check_name)


def _pattern_sentence(instance: Any, pattern: str) -> str:
    if pattern == ids.SAFE_ID:
        return (
            f"{_short(instance)} is not an id: an id is letters, digits, '_' and '-' (such as agent_123), "
            "at most 128 characters"
        )
    return f"{_short(instance)} does not match the pattern {pattern}"


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _unknown_fields(document: Document, error: ValidationError) -> Iterator[Problem]:
    allowed = list(error.schema.get("properties", {}))
    base = _path(error)
    for key in error.instance:
        if key in allowed:
            continue
        path = (*base, key)
        message = read_only_message(path) or _unknown_message(key, base, allowed)
        yield Problem(document.location_of(path), message)


def _unknown_message(key: str, base: JsonPath, allowed: list[str]) -> str:
    where = f" in {dotted(base)}" if base else ""
    return f"unknown field '{key}'{where}" + _did_you_mean(key, allowed)


def read_only_message(path: JsonPath) -> str | None:
    """The specific message for a read-only or deprecated field of a definition, or None."""
    name = dotted(path)
    for kind in KINDS:
        if path == (kind.api.id_field,) and kind.api.id_field != "id":
            return (
                f"{name} is read-only (the server assigns it); to adopt an existing {kind.noun}, "
                "write its id as `id:`"
            )
    if path[-2:] == ("prompt", "tools") and "conversation_config" in path:
        return f"{name} is deprecated and read-only; list the tools' ids in tool_ids instead"
    if any(path in k.fields.read_only for k in KINDS):
        return f"{name} is read-only (the server sets it); agentsync never writes it, remove it from the file"
    return None


# ------------------------------------------------------------------------------------------ catalogues

_LLM_PATHS: tuple[JsonPath, ...] = (
    ("conversation_config", "agent", "prompt", "llm"),
    ("platform_settings", "analysis_llm"),
    ("platform_settings", "evaluation", "criteria", "*", "llm"),
    ("workflow", "nodes", "*", "conversation_config", "agent", "prompt", "llm"),
)
_TTS_PATHS: tuple[JsonPath, ...] = (
    ("conversation_config", "tts", "model_id"),
    ("workflow", "nodes", "*", "conversation_config", "tts", "model_id"),
)
_ASR_PATHS: tuple[JsonPath, ...] = (
    ("conversation_config", "asr", "provider"),
    ("workflow", "nodes", "*", "conversation_config", "asr", "provider"),
)


@lru_cache(maxsize=1)
def catalogues() -> tuple[tuple[str, tuple[JsonPath, ...], tuple[str, ...]], ...]:
    """(what, path patterns, known values) for every open catalogue; ``*`` matches any key or index."""

    def known(name: str) -> tuple[str, ...]:
        return tuple(spec.schema(name)["enum"])

    return (
        ("LLM", _LLM_PATHS, known("LLM")),
        ("TTS model", _TTS_PATHS, known("TTSConversationalModel")),
        ("ASR provider", _ASR_PATHS, known("ASRProvider")),
        ("workflow node type", (("workflow", "nodes", "*", "type"),), tuple(schemagen.node_types())),
    )


def _glob(value: Any, pattern: JsonPath, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    if not pattern:
        yield path, value
        return
    head, rest = pattern[0], pattern[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head] if head in value else []
        for key in keys:
            yield from _glob(value[key], rest, (*path, key))
    elif isinstance(value, list) and head == "*":
        for index, item in enumerate(value):
            yield from _glob(item, rest, (*path, index))


def catalogue_warnings(document: Document) -> list[Problem]:
    """A warning for every catalogue value the spec does not list (a new model must not block a deploy)."""
    warnings: list[Problem] = []
    for what, patterns, known in catalogues():
        for pattern in patterns:
            for path, value in _glob(document.value, pattern):
                if isinstance(value, str) and value not in known:
                    warnings.append(_catalogue_warning(document, path, value, what, list(known)))
    return warnings


def _catalogue_warning(
    document: Document, path: JsonPath, value: str, what: str, known: list[str]
) -> Problem:
    secret = secret_template(document, path) is not None
    named = shown(document, path, value) if secret else f"'{value}'"
    message = f"{dotted(path)}: {named} is not a known {what}; it is accepted as written"
    close = [] if secret else difflib.get_close_matches(value, known, n=1, cutoff=0.8)
    if close:
        message += f" (did you mean '{close[0]}'?)"
    location: Location = document.location_of(path, value=True)
    return Problem(location, message, Severity.WARNING)
