"""Shell completion: click's scripts for bash, zsh and fish, and values read from the project (environment
names for -e, keys for --target), which never turn a broken project into an error in the shell."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.shell_completion import ShellComplete

from agentsync.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-desk"
AGENTS = ["billing", "receptionist", "tech-support"]


def complete(args: list[str], incomplete: str = "") -> list[str]:
    completer = ShellComplete(cli, {}, "agentsync", "_AGENTSYNC_COMPLETE")
    return [item.value for item in completer.get_completions(args, incomplete)]


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "desk"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".agentsync"))
    monkeypatch.delenv("AGENTSYNC_PROJECT", raising=False)
    monkeypatch.delenv("AGENTSYNC_ENV", raising=False)
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize("command", ["validate", "plan", "apply", "test", "pull", "diff"])
def test_env_completes_the_environments_of_the_project(desk: Path, command: str) -> None:
    assert complete([command, "-e"]) == ["dev", "prod"]
    assert complete([command, "--env"], "p") == ["prod"]


def test_validate_completes_its_old_environment_spelling_too(desk: Path) -> None:
    assert complete(["validate", "--environment"]) == ["dev", "prod"]


def test_target_completes_every_declared_key_as_target_takes_it(desk: Path) -> None:
    found = complete(["plan", "--target"])
    assert set(AGENTS) | {"tag:outage", "tool:status-page", "test:refunds"} <= set(found)
    assert len(found) == len(set(found))
    assert complete(["apply", "--target"], "tool:s") == ["tool:status-page"]
    assert complete(["plan", "--target"], "tech") == ["tech-support"]


def test_test_completes_only_the_keys_it_takes(desk: Path) -> None:
    assert complete(["test", "--target"]) == AGENTS


def test_completion_follows_project_from_the_line_and_from_the_environment(
    desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert complete(["plan", "-e"]) == []
    assert complete(["plan", "-C", str(desk), "-e"]) == ["dev", "prod"]
    monkeypatch.setenv("AGENTSYNC_PROJECT", str(desk))
    assert "billing" in complete(["plan", "--target"])


def test_a_new_key_is_completed_as_soon_as_its_file_exists(desk: Path) -> None:
    (desk / "agents" / "sales.yaml").write_text("name: Sales\n", encoding="utf-8")
    assert "sales" in complete(["plan", "--target"])


def test_a_broken_project_completes_nothing_and_prints_nothing(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (desk / "agentsync.yaml").write_text("namespace: [unclosed\n", encoding="utf-8")
    assert complete(["plan", "-e"]) == []
    (desk / "agentsync.yaml").unlink()
    assert complete(["plan", "-e"]) == []
    assert complete(["plan", "--target"]) == []
    assert capsys.readouterr() == ("", "")


def test_a_secret_is_never_read_to_complete(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Completion loads the project as validate does: ${env.*} is checked by syntax, never resolved.
    monkeypatch.delenv("NORTHWIND_CRM_TOKEN", raising=False)
    assert "receptionist" in complete(["plan", "-e", "prod", "--target"])


def run_completion(shell: str, words: str, cword: int | str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSYNC_")}
    env |= {"_AGENTSYNC_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    done = subprocess.run(
        [sys.executable, "-m", "agentsync"], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_shells_get_completions_from_the_real_command(desk: Path) -> None:
    assert run_completion("bash", "agentsync plan -e ", 3, desk).splitlines() == ["plain,dev", "plain,prod"]
    zsh = run_completion("zsh", "agentsync test --target ", 3, desk).splitlines()
    assert zsh[:3] == ["plain", "billing", "agent"]
    # fish passes the word being completed itself, not its index.
    fish = run_completion("fish", "agentsync apply --target tool:st", "tool:st", desk)
    assert fish.strip() == "plain,tool:status-page\ttool"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_gets_a_script(shell: str) -> None:
    env = {**os.environ, "_AGENTSYNC_COMPLETE": f"{shell}_source"}
    done = subprocess.run(
        [sys.executable, "-m", "agentsync"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "_AGENTSYNC_COMPLETE" in done.stdout
    assert f"{shell}_complete" in done.stdout


def test_the_readme_documents_each_shells_line() -> None:
    readme = (EXAMPLE.parent.parent / "README.md").read_text(encoding="utf-8")
    for line in (
        'eval "$(_AGENTSYNC_COMPLETE=bash_source agentsync)"',
        'eval "$(_AGENTSYNC_COMPLETE=zsh_source agentsync)"',
        "_AGENTSYNC_COMPLETE=fish_source agentsync | source",
    ):
        assert line in readme
