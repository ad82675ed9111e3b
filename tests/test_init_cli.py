from __future__ import annotations

from pathlib import Path

import pytest

from agentsync.cli import run
from agentsync.load import load_project, validate_project


def test_init_creates_a_project_that_validates_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "new"
    assert run(["init", str(root)]) == 0
    assert validate_project(root) == []
    project = load_project(root)
    assert list(project.definitions["agent"]) == ["support-bot"]
    prompt = project.definitions["agent"]["support-bot"].config["conversation_config"]["agent"]["prompt"][
        "prompt"
    ]
    assert prompt == (root / "agents" / "prompts" / "support-bot.md").read_text()
    assert len(project.definitions["tag"]) == 2
    assert (root / "schemas" / "agent.schema.json").is_file()
    first = (root / "agents" / "support-bot.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/agent.schema.json"
    assert "created" in capsys.readouterr().out


def test_init_refuses_to_overwrite_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tags.yaml").write_text("- title: mine\n")
    assert run(["init", str(tmp_path)]) == 1
    assert (tmp_path / "tags.yaml").read_text() == "- title: mine\n"
    assert not (tmp_path / "agentsync.yaml").exists()
    assert "already has tags.yaml; init never overwrites files" in capsys.readouterr().err


def test_init_on_a_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert run(["init", str(target)]) == 1
    assert "exists and is not a directory" in capsys.readouterr().err


def test_init_names_the_next_command_without_a_cd_when_the_project_is_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["init"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "next: agentsync validate"
    assert run(["init", "sub"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "next: cd sub && agentsync validate"
