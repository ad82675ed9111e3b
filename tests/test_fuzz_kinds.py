"""Property: a broken file of any kind never makes agentsync crash. One node of a real file of the
support-desk example (every kind it has) or of a phone-number list is replaced by a random value,
deleted, or joined by an unknown key; ``validate`` and ``plan`` then exit 0, 1 or 2 with no traceback,
and an error in the file names it as file:line:col."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzzing import dump
from fuzzing import values as fuzz_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from agentsync.cli import options, run
from agentsync.client import RetryPolicy
from agentsync.emulator import ADMIN_KEY, Emulator

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-desk"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PHONE_NUMBERS = "phone-numbers.yaml"
PHONES = [{"phone_number": "+14155550100", "agent_id": "${agent.receptionist.id}", "environment": "staging"}]


def kind_files() -> list[str]:
    """Every file of the example that holds definitions, as a path inside the project."""
    names = ["agentsync.yaml", "tags.yaml", "secrets.yaml", "environment-variables.yaml", PHONE_NUMBERS]
    for folder in ("agents", "tools", "mcp-servers", "tests"):
        names += sorted(p.relative_to(EXAMPLE).as_posix() for p in (EXAMPLE / folder).glob("*.yaml"))
    return names


FILES = kind_files()


def parsed(name: str) -> Any:
    if name == PHONE_NUMBERS:
        return json.loads(json.dumps(PHONES))
    text = (EXAMPLE / name).read_text(encoding="utf-8")
    # The !file tag reads a prompt; for the fuzzer it is the prompt's path as text.
    return YAML(typ="safe").load(io.StringIO(text.replace("!file ", "")))


def paths_in(value: Any, base: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield base
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths_in(inner, (*base, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from paths_in(inner, (*base, index))


def mutated(document: Any, path: tuple[Any, ...], operation: str, value: Any) -> Any:
    if not path:
        return value if operation == "replace" else document
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if operation == "replace":
        parent[last] = value
    elif operation == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last]["unknown_field_x"] = value
    else:
        parent[last] = {"unknown_field_x": value}
    return document


values = fuzz_values(
    ["${env.NOPE}", "${var.NOPE}", "${tool.nope.id}", "${secret.x.id}", "$${x}", "!file ../x"], max_leaves=8
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "support-desk"
    fresh(root)
    return root


def fresh(root: Path) -> None:
    """The example as it ships, and a phone-number list: each example breaks one file of it."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".agentsync", "schemas"))
    (root / PHONE_NUMBERS).write_text(dump(PHONES), encoding="utf-8")


def break_one(project: Path, data: st.DataObject) -> str:
    fresh(project)  # the fixture is made once for all of a test's examples
    name = data.draw(st.sampled_from(FILES), label="file")
    document = parsed(name)
    path = data.draw(st.sampled_from(list(paths_in(document))), label="path")
    operation = data.draw(st.sampled_from(["replace", "delete", "unknown"]), label="operation")
    value = data.draw(values, label="value")
    (project / name).write_text(dump(mutated(document, path, operation, value)), encoding="utf-8")
    return name


def check(code: int, text: str, name: str) -> None:
    assert code in (0, 1, 2), (code, text)
    assert "Traceback" not in text and "error: unexpected " not in text, text
    for line in text.splitlines():
        if line.startswith(f"{name}:") and ": error: " in line:
            assert re.match(rf"{re.escape(name)}:\d+:\d+: error: \S", line), line


@FUZZ
@given(data=st.data())
def test_validate_never_crashes_on_a_broken_file_of_any_kind(
    project: Path, capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    name = break_one(project, data)
    capsys.readouterr()
    code = run(["validate", "-C", str(project)])
    out = capsys.readouterr()
    check(code, out.out + out.err, name)


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_plan_never_crashes_on_a_broken_file_of_any_kind(
    project: Path,
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data: st.DataObject,
) -> None:
    name = break_one(project, data)
    code, text = plan(project, emulator, capsys, monkeypatch)
    check(code, text, name)
    assert "crm-token-for-the-fuzzer" not in text


def plan(
    project: Path, emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    emulator.reset()
    emulator.add_phone_number("+14155550100", "front desk")
    monkeypatch.setenv("ELEVENLABS_API_KEY_DEV", ADMIN_KEY)
    monkeypatch.setenv("NORTHWIND_CRM_TOKEN", "crm-token-for-the-fuzzer")
    monkeypatch.setattr(options, "RETRY", RetryPolicy(max_attempts=1))
    capsys.readouterr()
    argv = ["plan", "-C", str(project), "--base-url", emulator.url, "--detailed-exitcode", "--show-body"]
    code = run(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_unbroken_project_plans_its_creates(
    project: Path, emulator: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the fuzzer starts from reaches the API and plans: a broken file is the only difference.
    code, text = plan(project, emulator, capsys, monkeypatch)
    assert code == 2, text
    assert "+ create tool status-page" in text and "~ update phone-number" in text
