"""A compiled yes-or-unsure check of a JSON Schema, run before jsonschema on every project file.

jsonschema walks the schema for every value of every file (about 0.4 ms for an agent file, most of the
loading time of a large project). Nearly every file is valid, and proving that takes one pass of
closures compiled once per schema. This module answers only "valid": when it finds a problem, or
meets anything it does not mirror exactly, the caller runs jsonschema, which alone words every error.
So it can make loading faster, never different: a document it calls valid is one jsonschema (Draft
2020-12, no format checks) finds no error in.

Compiled keywords: type, enum, const, properties, additionalProperties, required, items, minItems,
maxItems, minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum,
minProperties, propertyNames, anyOf, oneOf, not, and ``$ref`` to ``#/$defs/NAME``. Annotations are
ignored. Any other keyword (or an argument of an unexpected shape) makes the check unsure wherever
a value reaches it, so one exotic corner never costs the fast path of the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
Builder = Callable[["_Compiler", Any, Any], Check]

ANNOTATIONS = frozenset(
    {"title", "description", "default", "deprecated", "examples", "$schema", "$defs", "$comment", "readOnly"}
)
REF_PREFIX = "#/$defs/"


class Unsure(Exception):
    """The check cannot tell: the caller must ask jsonschema."""


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """The check of ``schema``: True valid, False invalid, :class:`Unsure` raised when it cannot tell.
    Every keyword it mirrors answers exactly as jsonschema would, so ``not`` and ``oneOf`` stay exact."""
    return _Compiler(schema.get("$defs", {})).build(schema)


def is_valid(check: Check, value: Any) -> bool:
    """True only when ``check`` proves ``value`` valid."""
    try:
        return check(value)
    except (Unsure, RecursionError):
        return False


class _Compiler:
    def __init__(self, defs: Mapping[str, Any]) -> None:
        self.defs = defs
        self.compiled: dict[str, Check] = {}

    def resolve(self, name: str) -> Check:
        found = self.compiled.get(name)
        if found is None:
            if name not in self.defs:
                return _unsure
            self.compiled[name] = _pending(self.compiled, name)  # recursion: bound once built
            found = self.build(self.defs[name])
            self.compiled[name] = found
        return found

    def build(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, Mapping):
            return _unsure
        checks: list[Check] = []
        for keyword, argument in schema.items():
            if keyword in ANNOTATIONS or keyword == "additionalProperties":
                continue
            builder = _BUILDERS.get(keyword)
            checks.append(_unsure if builder is None else self.keyword(builder, argument, schema))
        if "additionalProperties" in schema and "properties" not in schema:
            checks.append(self.keyword(_properties, {}, schema))
        return _all(checks)

    def keyword(self, builder: Builder, argument: Any, schema: Mapping[str, Any]) -> Check:
        try:
            return builder(self, argument, schema)
        except (Unsure, TypeError, ValueError):  # an argument of a shape this does not mirror
            return _unsure


def _pending(compiled: dict[str, Check], name: str) -> Check:
    def later(value: Any) -> bool:
        return compiled[name](value)

    return later


def _unsure(value: Any) -> bool:
    raise Unsure("not mirrored")


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:  # the usual pair (a type and its properties): no generator per value
        first, second = checks
        return lambda v: first(v) and second(v)

    def every(value: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a loop, not a generator for every value checked
            if not check(value):
                return False
        return True

    return every


# --- keywords --------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    ),
}


def _type(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    names = [argument] if isinstance(argument, str) else list(argument)
    if any(n not in _TYPES for n in names):
        raise Unsure("type")
    tests = [_TYPES[n] for n in names]
    if len(tests) == 1:
        return tests[0]

    def check(value: Any) -> bool:
        for test in tests:  # noqa: SIM110 - a loop, not a generator for every value checked
            if test(value):
                return True
        return False

    return check


def _equal(a: Any, b: Any) -> bool:
    """jsonschema's equality of scalars: 1 equals 1.0, a boolean only a boolean; containers unsure."""
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        raise Unsure("container equality")
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, (str, int, float)) and isinstance(b, (str, int, float)):
        return False
    raise Unsure("equality")


def _enum(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    options = list(argument)
    strings = frozenset(o for o in options if isinstance(o, str))

    def check(value: Any) -> bool:
        if isinstance(value, str) and value in strings:
            return True
        return any(_equal(value, option) for option in options)

    return check


def _const(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    return lambda v: _equal(v, argument)


def _properties(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    named = {key: compiler.build(sub) for key, sub in dict(argument).items()}
    extra = schema.get("additionalProperties", True)
    rest = compiler.build(extra)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key, item in value.items():
            test = named.get(key, rest)
            if not test(item):
                return False
        return True

    return check


def _required(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    names = list(argument)
    return lambda v: not isinstance(v, dict) or all(n in v for n in names)


def _items(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    test = compiler.build(argument)
    return lambda v: not isinstance(v, list) or all(test(i) for i in v)


def _size(kind: type[Any], bound: Callable[[int, Any], bool]) -> Builder:
    def build(compiler: _Compiler, argument: Any, schema: Any) -> Check:
        if not isinstance(argument, int) or isinstance(argument, bool):
            raise Unsure("size")
        return lambda v: not isinstance(v, kind) or bound(len(v), argument)

    return build


def _bound(test: Callable[[Any, Any], bool]) -> Builder:
    def build(compiler: _Compiler, argument: Any, schema: Any) -> Check:
        if not _is_number(argument):
            raise Unsure("bound")
        return lambda v: not _is_number(v) or test(v, argument)

    return build


def _pattern(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    try:
        found = re.compile(argument)
    except (re.error, TypeError):
        raise Unsure("pattern") from None
    return lambda v: not isinstance(v, str) or found.search(v) is not None


def _property_names(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    test = compiler.build(argument)
    return lambda v: not isinstance(v, dict) or all(test(k) for k in v)


def _any_of(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    tests = [compiler.build(s) for s in argument]

    def check(value: Any) -> bool:
        unsure = False
        for test in tests:
            try:
                if test(value):
                    return True
            except Unsure:
                unsure = True
        if unsure:
            raise Unsure("anyOf")
        return False

    return check


def _one_of(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    tests = [compiler.build(s) for s in argument]
    return lambda v: sum(1 for test in tests if test(v)) == 1


def _not(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    test = compiler.build(argument)
    return lambda v: not test(v)


def _ref(compiler: _Compiler, argument: Any, schema: Any) -> Check:
    if not isinstance(argument, str) or not argument.startswith(REF_PREFIX):
        raise Unsure("$ref")
    name = argument[len(REF_PREFIX) :]
    if "/" in name or "~" in name or "%" in name:
        raise Unsure("$ref")
    found = compiler.resolve(name)
    compiled = compiler.compiled
    return (lambda v: compiled[name](v)) if name in compiled else found


_BUILDERS: dict[str, Builder] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "properties": _properties,
    "required": _required,
    "items": _items,
    "minItems": _size(list, lambda n, a: n >= a),  # sizes are ints: no NaN
    "maxItems": _size(list, lambda n, a: n <= a),
    "minLength": _size(str, lambda n, a: n >= a),
    "maxLength": _size(str, lambda n, a: n <= a),
    "minProperties": _size(dict, lambda n, a: n >= a),
    # Each as jsonschema's failure, negated (so a NaN passes, as it does there).
    "minimum": _bound(lambda v, a: not v < a),
    "maximum": _bound(lambda v, a: not v > a),
    "exclusiveMinimum": _bound(lambda v, a: not v <= a),
    "exclusiveMaximum": _bound(lambda v, a: not v >= a),
    "pattern": _pattern,
    "propertyNames": _property_names,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "not": _not,
    "$ref": _ref,
}
