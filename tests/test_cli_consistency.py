"""One command line: every project command takes -C/--project and -e/--env (with AGENTSYNC_PROJECT and
AGENTSYNC_ENV as defaults), colour follows --color/--no-color, NO_COLOR and the terminal, and
`validate --strict` fails on warnings."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from agentsync.cli import COMMANDS, cli, run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-desk"
ESC = "\x1b["
# init makes a project, so it has no environment to select yet; the emulator serves no project, and show
# reads a plan file, which names its environment itself.
PROJECT_ONLY = {"init"}
NO_PROJECT = {"emulator", "show"}


def options_of(name: str) -> set[str]:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    return {opt for param in command.params for opt in param.opts}


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - NO_PROJECT))
def test_every_project_command_takes_project_and_env(name: str) -> None:
    options = options_of(name)
    assert {"-C", "--project"} <= options
    if name not in PROJECT_ONLY:
        assert {"-e", "--env"} <= options


def warning_project(root: Path) -> Path:
    (root / "agents").mkdir(parents=True)
    (root / "agentsync.yaml").write_text("namespace: agentsync\n", encoding="utf-8")
    agent = "name: Bot\nconversation_config: {agent: {prompt: {llm: next-model}}}\n"
    (root / "agents" / "bot.yaml").write_text(agent, encoding="utf-8")
    return root


def test_validate_strict_fails_on_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = warning_project(tmp_path / "p")
    assert run(["validate", "-C", str(root)]) == 0
    assert run(["validate", "-C", str(root), "--strict"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "0 errors, 1 warning"
    assert run(["validate", "-C", str(root), "--strict", "--format", "json"]) == 1


def test_validate_strict_passes_a_clean_project(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".agentsync"))
    assert run(["validate", "-C", str(root), "--strict"]) == 0


def test_validate_positional_directory_still_works_and_says_it_is_deprecated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = warning_project(tmp_path / "p")
    assert run(["validate", str(root), "--environment", "dev"]) == 1  # no such environment
    assert run(["validate", str(root)]) == 0
    captured = capsys.readouterr()
    assert f"use `agentsync validate -C {root}`" in captured.err
    assert "1 warning" in captured.out
    assert run(["validate", str(root), "-C", str(tmp_path)]) == 1
    assert "two project directories" in capsys.readouterr().err


def test_the_environment_variables_are_the_defaults_of_project_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "desk"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".agentsync"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENTSYNC_PROJECT", "desk")
    monkeypatch.setenv("AGENTSYNC_ENV", "nowhere")
    assert run(["validate"]) == 1
    captured = capsys.readouterr()
    assert "nowhere" in captured.out + captured.err
    monkeypatch.setenv("AGENTSYNC_ENV", "prod")
    monkeypatch.setenv("NORTHWIND_CRM_TOKEN", "token-for-tests")
    assert run(["validate", "--format", "json"]) == 0
    assert run(["plan", "--emulator"]) == 0
    assert "agentsync plan: environment prod · namespace support-desk ·" in capsys.readouterr().out
    # The command line still wins over the environment.
    assert run(["plan", "--emulator", "-e", "dev"]) == 0
    assert "environment dev · namespace support-desk-dev" in capsys.readouterr().out


def test_init_takes_project_as_its_directory(tmp_path: Path) -> None:
    assert run(["init", "-C", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "agentsync.yaml").is_file()
    assert run(["validate", "-C", str(tmp_path / "new"), "--strict"]) == 0


def in_a_terminal(args: list[str], cwd: Path, **env: str) -> str:
    """Run agentsync with stdout on a pseudo-terminal (as a person runs it) and return what it wrote."""
    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | env
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentsync", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=environ,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    root = tmp_path / "desk"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".agentsync"))
    return root


def test_apply_colours_a_terminal_unless_no_color_or_no_color_flag(desk: Path) -> None:
    dry_run = ["apply", "--emulator", "--dry-run"]
    assert ESC in in_a_terminal(dry_run, desk)
    assert ESC not in in_a_terminal(dry_run, desk, NO_COLOR="1")
    assert ESC not in in_a_terminal([*dry_run, "--no-color"], desk)
    # A pipe gets no colour, unless asked for.
    piped = subprocess.run(
        [sys.executable, "-m", "agentsync", *dry_run], cwd=desk, capture_output=True, text=True
    )
    assert piped.returncode == 0 and "create agent" in piped.stdout and ESC not in piped.stdout
    forced = subprocess.run(
        [sys.executable, "-m", "agentsync", *dry_run, "--color"], cwd=desk, capture_output=True, text=True
    )
    assert ESC in forced.stdout


def test_validate_colours_only_a_terminal(tmp_path: Path) -> None:
    root = warning_project(tmp_path / "p")
    shown = in_a_terminal(["validate"], root)
    assert f"{ESC}" in shown and "warning:" in shown
    assert ESC not in in_a_terminal(["validate"], root, NO_COLOR="1")
    piped = subprocess.run(
        [sys.executable, "-m", "agentsync", "validate"], cwd=root, capture_output=True, text=True
    )
    assert "warning: " in piped.stdout and ESC not in piped.stdout
    # JSON and GitHub annotations are for machines: never coloured, even on a terminal.
    assert ESC not in in_a_terminal(["validate", "--format", "json"], root)


def test_plan_and_apply_agree_on_the_colour_rule(desk: Path) -> None:
    assert ESC not in in_a_terminal(["plan", "--emulator", "--no-color"], desk)
    assert ESC in in_a_terminal(["plan", "--emulator"], desk)


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - NO_PROJECT))
def test_every_project_command_reads_project_and_env_from_the_environment(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    envvars = {param.name: param.envvar for param in command.params}
    assert envvars["project_dir"] == "AGENTSYNC_PROJECT"
    # diff compares two environments named on its line; one variable cannot stand for both.
    if name not in PROJECT_ONLY | {"diff"}:
        assert envvars["env"] == "AGENTSYNC_ENV"


@pytest.mark.parametrize(
    "args",
    [["apply", "--emulator", "--dry-run"], ["pull", "--emulator", "--dry-run"], ["test", "--emulator"]],
    ids=lambda a: a[0],
)
def test_workspace_commands_run_in_the_project_and_environment_the_variables_name(
    desk: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    monkeypatch.chdir(desk.parent)
    monkeypatch.setenv("AGENTSYNC_PROJECT", desk.name)
    monkeypatch.setenv("AGENTSYNC_ENV", "nowhere")
    assert run(args) == 1
    assert "nowhere" in capsys.readouterr().err
    monkeypatch.setenv("AGENTSYNC_ENV", "dev")
    assert run(args) in (0, 3)  # test: the agents are not created yet, so their tests cannot run (3)
    assert (desk / ".agentsync" / "emulator.json").is_file()
    assert not (desk.parent / ".agentsync").exists()
