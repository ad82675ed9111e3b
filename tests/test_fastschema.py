"""The compiled check may only ever say "valid" where jsonschema finds no error: it makes loading
faster, never different. Checked against every kind's schema on the example project, on every invalid
fixture, and on random values and random mutations of valid agent files."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsync import fastschema, schema
from agentsync.kinds import KINDS
from agentsync.load import load_project
from agentsync.loader import Reader, Sources, read_document

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "support-desk"
FIXTURES = Path(__file__).parent / "fixtures" / "invalid"
AGENT = next(k for k in KINDS if k.name == "agent")


def agrees(validator: schema.Validator, value: Any) -> bool:
    """False only when the fast check calls ``value`` valid and jsonschema does not."""
    fast = fastschema.is_valid(validator.fast, value)
    return not fast or next(iter(validator.iter_errors(value)), None) is None


def test_the_example_project_is_proven_valid_by_the_fast_check_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[bool] = []
    real = fastschema.is_valid

    def counted(check: fastschema.Check, value: Any) -> bool:
        answers.append(real(check, value))
        return answers[-1]

    monkeypatch.setattr(fastschema, "is_valid", counted)
    assert load_project(EXAMPLE, environment="dev", environ={"NORTHWIND_CRM_TOKEN": "t"}).definitions
    assert len(answers) >= 10 and all(answers), answers


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.iterdir()))
def test_no_invalid_fixture_is_called_valid(fixture: str, tmp_path: Path) -> None:
    path = FIXTURES / fixture
    if not path.is_file():
        return
    reader = Reader(FIXTURES, [], Sources())
    document = read_document(reader, path)
    if document is None:
        return
    for kind in KINDS:
        assert agrees(schema.validator(kind), document.value), (fixture, kind.name)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(value=json_values)
def test_random_values_are_never_called_valid_wrongly(value: Any) -> None:
    for kind in KINDS:
        assert agrees(schema.validator(kind), value), kind.name


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] + [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] + [path]
    return [path]


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    out = copy.deepcopy(value)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return out


AGENT_FILE = {
    "name": "Support",
    "tags": ["a", "b"],
    "conversation_config": {
        "agent": {
            "first_message": "Hi",
            "language": "en",
            "prompt": {"prompt": "Be brief.", "llm": "gemini-2.5-flash", "temperature": 0.3},
        },
        "tts": {"voice_id": "cjVigY5qzO86Huf0OWal", "stability": 0.5, "speed": 1.0},
        "turn": {"turn_timeout": 7},
    },
    "platform_settings": {"call_limits": {"daily_limit": 500}},
}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data(), new=json_values | st.sampled_from([-1, 0, 1.5, "", "x" * 300, math.pi, True]))
def test_mutated_agent_files_are_never_called_valid_wrongly(data: st.DataObject, new: Any) -> None:
    path = data.draw(st.sampled_from(_leaves(AGENT_FILE)))
    value = _set(AGENT_FILE, path, new)
    assert agrees(schema.validator(AGENT), value), path


def test_the_unmutated_agent_file_is_proven_valid() -> None:
    check = fastschema.compile_schema(schema.validator(AGENT).schema)
    assert fastschema.is_valid(check, AGENT_FILE)


@pytest.mark.parametrize(
    ("schema_", "value", "expected"),
    [
        ({"type": "integer"}, 1.0, True),
        ({"type": "integer"}, True, False),
        ({"enum": [1]}, True, False),
        ({"const": 1}, 1.0, True),
        ({"not": {"type": "string"}}, "x", False),
        ({"oneOf": [{"type": "number"}, {"type": "integer"}]}, 3, False),
        ({"minimum": 0}, float("nan"), True),
        ({"format": "email"}, "x", False),  # not mirrored: unsure, so jsonschema decides
        ({"$ref": "#/$defs/missing"}, 1, False),
    ],
)
def test_keywords_answer_as_jsonschema_does_or_are_unsure(schema_: Any, value: Any, expected: bool) -> None:
    assert fastschema.is_valid(fastschema.compile_schema(schema_), value) is expected
