"""The command-line shell: version, help, exit codes of the error boundary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentsync import __version__
from agentsync.cli import COMMANDS, run

ROOT = Path(__file__).resolve().parent.parent


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"agentsync {__version__}"


def test_help_lists_every_command_without_importing_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_help_imports_no_command_module() -> None:
    # Start-up speed: --help must not pull in requests, deepdiff or the command modules.
    code = (
        "import sys; from agentsync.cli import run; run(['--help']);"
        "heavy = [m for m in ('requests', 'deepdiff', 'jsonschema', 'ruamel.yaml', 'agentsync.cli.plan')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_unknown_command_is_a_usage_error_with_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["no-such-command"]) == 1
    assert "No such command" in capsys.readouterr().err


def test_unknown_option_exits_1_never_2(capsys: pytest.CaptureFixture[str]) -> None:
    # 2 is reserved for "the plan has changes" under --detailed-exitcode.
    assert run(["--no-such-option"]) == 1


def test_every_command_module_exposes_a_command() -> None:
    for name, (module, _help) in COMMANDS.items():
        mod = __import__(module, fromlist=["command"])
        assert mod.command.name == name


def test_console_script_runs_as_a_module() -> None:
    proc = subprocess.run([sys.executable, "-m", "agentsync", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"agentsync {__version__}"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    marker = readme.index("<!-- test-command -->")
    # The marker is followed by the opening fence, then the command itself.
    assert readme[marker + 1].startswith("```")
    command = readme[marker + 2]
    assert "pytest" in command and "pip install" in command
    assert "<!-- test-command -->" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
