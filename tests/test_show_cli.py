"""`agentsync show PLAN_FILE` renders a saved plan exactly as plan rendered it, with no key and no
network; `apply PLAN_FILE` shows the plan before it asks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from agentsync.cli import run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-desk"
TOKEN = "crm-token-not-for-output"
PORT = r"(?<=127\.0\.0\.1:)\d+"


@pytest.fixture
def saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """The example planned for prod (which holds a secret) against the emulator, saved to plan.json."""
    root = tmp_path / "desk"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".agentsync"))
    monkeypatch.chdir(root)
    monkeypatch.setenv("NORTHWIND_CRM_TOKEN", TOKEN)
    assert run(["plan", "--emulator", "-e", "prod", "--out", "plan.json"]) == 0
    capsys.readouterr()
    return root / "plan.json"


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_show_renders_the_saved_plan_as_plan_did(
    saved: Path, fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["plan", "--emulator", "-e", "prod", "--format", fmt]) == 0
    planned = capsys.readouterr().out
    # No key, no secret and no workspace are needed to read a plan file.
    monkeypatch.delenv("NORTHWIND_CRM_TOKEN")
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    assert run(["show", str(saved), "--format", fmt]) == 0
    shown = capsys.readouterr().out
    # The in-process emulator listens on a new port for every command; the plan is otherwise the same.
    assert re.sub(PORT, "", shown) == re.sub(PORT, "", planned)
    assert "create agent receptionist" in shown
    assert TOKEN not in shown


def test_show_json_is_the_masked_plan(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["show", str(saved), "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["masked"] is True
    assert body["summary"]["create"] == 16
    assert TOKEN not in json.dumps(body)


def test_show_body_adds_the_requests(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["show", str(saved), "--show-body"]) == 0
    out = capsys.readouterr().out
    assert "POST /v1/convai/agents/create" in out and TOKEN not in out


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), ("{not json", "is not valid JSON")],
)
def test_show_refuses_a_missing_or_broken_file_in_one_sentence(
    tmp_path: Path, content: str | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert run(["show", str(path)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_apply_of_a_saved_plan_shows_it_before_asking(
    saved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No terminal to ask on: apply refuses, but only after showing what it would have applied.
    assert run(["apply", "--emulator", "-e", "prod", str(saved)]) == 1
    captured = capsys.readouterr()
    assert "+ create agent receptionist" in captured.out
    assert "Plan: 16 to create" in captured.out
    assert "needs confirmation" in captured.err
    assert run(["apply", "--emulator", "-e", "prod", str(saved), "--auto-approve"]) == 0
    out = capsys.readouterr().out
    assert (
        out.index("+ create agent receptionist")
        < out.index("Plan: 16 to create")
        < out.index("Apply complete")
    )
    assert TOKEN not in out
