"""JSON values in one canonical form, for comparing and hashing what the API returns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def canonical(value: Any) -> Any:
    """A copy of a JSON value with numbers in one form: an integral float becomes an int (7.0 -> 7),
    so that 7 and 7.0 compare (and hash) equal, while booleans stay booleans."""
    if isinstance(value, Mapping):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value
