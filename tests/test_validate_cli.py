from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentsync.cli import run


def _project(root: Path, agent: str) -> Path:
    (root / "agents").mkdir(parents=True)
    (root / "agentsync.yaml").write_text("namespace: agentsync\n")
    (root / "agents" / "bot.yaml").write_text(agent)
    return root


def test_text_output_shows_location_line_and_caret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path / "p", "name: Bot\nconversation_config:\n  tts: {stability: 2}\n")
    assert run(["validate", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0] == f"{root.as_posix()}/agents/bot.yaml:3:20: error: conversation_config.tts.stability: "
        "must be at most 1, found 2"
    )
    assert out[1] == "      tts: {stability: 2}"
    assert out[2] == "    " + " " * 19 + "^"
    assert out[-1] == "1 error, 0 warnings"


def test_only_warnings_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", "conversation_config: {agent: {prompt: {llm: next-model}}}\n")
    assert run(["validate", str(root)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 errors, 1 warning"


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", "agent_id: x\n")
    assert run(["validate", str(root), "--format", "json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["valid"] is False and body["errors"] == 1 and body["warnings"] == 0
    problem = body["problems"][0]
    assert (problem["line"], problem["col"], problem["severity"]) == (1, 1, "error")
    assert problem["file"].endswith("p/agents/bot.yaml")


def test_github_format_escapes_annotation_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, "name: [1]\nconversation_config: {agent: {prompt: {llm: x}}}\n")
    monkeypatch.chdir(tmp_path)
    assert run(["validate", "--format", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0] == "::error file=agents/bot.yaml,line=1,col=7::name: expected a string or null, found a list"
    )
    assert lines[1].startswith("::warning file=agents/bot.yaml,line=2,col=45::conversation_config.agent")


def test_valid_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", "name: Bot\n")
    assert run(["validate", str(root)]) == 0
    assert capsys.readouterr().out.strip() == "the project is valid"


def test_not_a_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(tmp_path)]) == 1
    assert "has no agentsync.yaml; run `agentsync init`" in capsys.readouterr().out


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    assert run(["validate", str(tmp_path), "--format", "xml"]) == 1
