"""What the fuzzers share: random JSON-like values, and a dump that keeps them YAML."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st


def values(extra: Sequence[str] = (), *, max_leaves: int = 12, bound: int = 2**70) -> st.SearchStrategy[Any]:
    """Nested lists and maps of None, booleans, huge integers, non-finite floats, text and ``extra``."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-bound, max_value=bound),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=40),
        *([st.sampled_from(list(extra))] if extra else []),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def dump(value: Any) -> str:
    # JSON is YAML; non-finite floats are spelled the YAML way so the file still parses as YAML.
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("NaN", ".nan").replace("-Infinity", "-.inf").replace("Infinity", ".inf")
