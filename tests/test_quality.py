"""The conventions that a machine can check: lint, formatting and types, over the whole code base.

They run with the tests so that CI, which runs exactly the README's test command, holds them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "args",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",), ("mypy", "tests")],
    ids=["ruff-check", "ruff-format", "mypy", "mypy-tests"],
)
def test_the_code_base_is_clean(args: tuple[str, ...]) -> None:
    result = run_tool(*args)
    assert result.returncode == 0, result.stdout + result.stderr
