"""A PATCH shapes and tag-checks only what its body reached (the rest of the stored agent was shaped and
checked when it was stored): for any body, that gives exactly what shaping and checking the whole
written fields again gives."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsync.emulator.agents import WRITABLE, check_tags, complete, response_shaped
from agentsync.emulator.merge import merge_patch, unchanged_part
from agentsync.emulator.problems import HttpProblem

EXAMPLE = json.loads((Path(__file__).parents[1] / "data" / "example-agent-response.json").read_text())
# What the store holds is always shaped: the example as the emulator would have stored it.
STORED = response_shaped(copy.deepcopy(EXAMPLE), WRITABLE)
# Tool and node shapes from the example, to move into other places (unions get other members).
SUBTREES: list[Any] = []


def _subtrees(value: Any) -> None:
    if isinstance(value, dict):
        SUBTREES.append(value)
        for item in value.values():
            _subtrees(item)
    elif isinstance(value, list):
        SUBTREES.append(value)
        for item in value:
            _subtrees(item)


_subtrees({k: STORED[k] for k in WRITABLE if k in STORED})


def _dict_paths(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(value, dict):
        return []
    found = [path]
    for key, item in value.items():
        found.extend(_dict_paths(item, (*path, key)))
    return found


PATHS = [p for key in WRITABLE if key in STORED for p in _dict_paths(STORED[key], (key,))]


def _nested(path: tuple[str, ...], leaf: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = leaf
    for key in reversed(path):
        body = {key: body}
    return body


def _at(path: tuple[str, ...]) -> dict[str, Any]:
    node: Any = STORED
    for key in path:
        node = node[key]
    return dict(node)


@st.composite
def patches(draw: st.DrawFn) -> dict[str, Any]:
    """One to three changes, each at a mapping of the stored agent: a key of it set to a scalar, to a
    subtree taken from elsewhere in the agent (a tool where a node was), or an unknown key added."""
    body: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        keys = [*sorted(_at(path)), "not_a_field"]
        key = draw(st.sampled_from(keys))
        value: Any = draw(
            st.one_of(
                st.sampled_from([None, True, 3, 0.5, "text", [], {}]),
                st.sampled_from(range(len(SUBTREES))).map(lambda i: copy.deepcopy(SUBTREES[i])),
            )
        )
        body = merge_patch(body, _nested(path, {key: value}))
    return body


def _outcome(patch: dict[str, Any], *, narrowed: bool) -> Any:
    touched = patch if narrowed else None
    try:
        merged = merge_patch(STORED, patch, share=True)
        check_tags(merged, tuple(patch), touched=touched)
        kept = unchanged_part(STORED, patch)
        return response_shaped(complete(merged, kept), tuple(patch), touched=touched)
    except HttpProblem as problem:
        return ("refused", problem.status, json.dumps(problem.body, sort_keys=True, default=str))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:  # a body no real client would send
        return ("failed", type(exc).__name__)


@settings(
    max_examples=300 if not os.environ.get("CI") else 150,
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(patches())
def test_a_narrowed_patch_shapes_and_checks_exactly_as_the_whole_agent_would(patch: dict[str, Any]) -> None:
    assert _outcome(patch, narrowed=True) == _outcome(patch, narrowed=False)


@pytest.mark.parametrize(
    "patch",
    [
        {"conversation_config": {"agent": {"first_message": "Hi"}}},
        {"conversation_config": {"agent": {"prompt": {"not_a_field": 1, "llm": "gpt-4o"}}}},
        {"platform_settings": {"widget": {"not_a_field": {"deep": True}}}},
    ],
)
def test_the_examples_are_shaped_alike(patch: dict[str, Any]) -> None:
    narrowed = _outcome(patch, narrowed=True)
    assert narrowed == _outcome(patch, narrowed=False)
    assert "not_a_field" not in json.dumps(narrowed)  # what the response model lacks is never answered
