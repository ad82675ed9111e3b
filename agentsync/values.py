"""JSON values in one canonical form, for comparing and hashing what the API returns."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def canonical(value: Any) -> Any:
    """A copy of a JSON value with numbers in one form: an integral float becomes an int (7.0 -> 7),
    so that 7 and 7.0 compare (and hash) equal, while booleans stay booleans."""
    kind = type(value)
    if kind is dict:  # the exact JSON types first, without the cost of abstract-class checks
        return {k: canonical(v) for k, v in value.items()}
    if kind is list:
        return [canonical(v) for v in value]
    if kind in _PLAIN:
        return value
    if isinstance(value, Mapping):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def same(a: Any, b: Any) -> bool:
    """Deep equality of JSON values as the API means them: numbers by value (``7`` is ``7.0``, exactly,
    with no float rounding of large integers), booleans never equal to numbers (``True`` is not ``1``),
    and any mapping or list type compared by content (so a YAML document's own types compare too)."""
    kind = type(a)
    if kind is type(b):  # the common case, without the cost of abstract-class checks
        if kind in _SCALARS:
            return bool(a == b)
        if kind is dict:
            if a.keys() != b.keys():
                return False
            for key, value in a.items():  # noqa: SIM110 - a loop, no generator for every object compared
                if not same(value, b[key]):
                    return False
            return True
        if kind is list:
            if len(a) != len(b):
                return False
            for x, y in zip(a, b):  # noqa: B905, SIM110 - equal lengths; a loop, no generator per list
                if not same(x, y):
                    return False
            return True
    if kind in _NUMBERS and type(b) in _NUMBERS:
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if _is_list(a) and _is_list(b):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return kind is type(b) and bool(a == b)


_SCALARS = frozenset({str, int, float, bool, type(None)})
_NUMBERS = frozenset({int, float})
_PLAIN = frozenset({str, int, bool, type(None)})


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def any_leaf(value: Any, test: Callable[[Any], bool]) -> bool:
    """Whether ``test`` holds for a leaf of a JSON value (anything but a dict or a list), found by a
    plain walk that builds no path: for what is looked for everywhere and almost never there."""
    waiting = [value]
    while waiting:
        item = waiting.pop()
        if isinstance(item, dict):
            waiting.extend(item.values())
        elif isinstance(item, list):
            waiting.extend(item)
        elif test(item):
            return True
    return False
