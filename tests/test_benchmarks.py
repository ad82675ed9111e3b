"""Every benchmark runs end to end at a tiny size, so none of them can rot. No timing is asserted:
the numbers belong in the printed tables and benchmarks/README.md, not in pass/fail."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"

# script -> (tiny arguments, lines the table must contain)
CASES: dict[str, tuple[list[str], list[str]]] = {
    "bench_plan.py": (
        ["--agents", "6", "--foreign", "3", "--latency", "0.001", "--concurrency", "4"],
        [
            r"^plan, unchanged \(concurrency 4\)\s+8\s+8\s",
            r"^plan, 6 changed\s+8\s+8\s",
            r"^baseline \(sequential, full config\)\s+11\s+8\s",
            r"^agentsync plan \(unchanged\)\s+\d",
        ],
    ),
    "bench_pull.py": (
        ["--agents", "6", "--latency", "0.001", "--concurrency", "4"],
        [r"^pull --all, empty project \(concurrency 4\)\s+15\s+15\s.*\s6$"],
    ),
    "bench_apply_scale.py": (
        ["--agents", "3", "--latency", "0.001", "--concurrency", "2"],
        [
            r"^freshness check \(GET by id\)\s+3\s+3\s",
            r"^apply writes \(concurrency 2\)\s+6\s+6\s",
            r"^baseline \(sequential, whole configs\)\s+6\s+6\s",
        ],
    ),
    "bench_plan_process.py": (
        ["--sizes", "4,8", "--runs", "1", "--latency", "0.001", "--concurrency", "2", "--updates", "3"],
        [r"^4\s+2\s", r"^8\s+2\s", r"^4 -> 8\s", r"^apply, 3 updates\s+2\s"],
    ),
    "bench_startup.py": (["--runs", "1"], [r"^agentsync --version\s+\d", r"^agentsync --help\s+\d.*none$"]),
    "bench_apply.py": (["--agents", "2", "--latency", "0"], [r"^create\s+16\s+2\s", r"^update\s+16\s+2\s"]),
    "bench_diff.py": (
        ["--agents", "2"],
        [r"^build_plan, unchanged agent\s+\d", r"^build_plan, changed agent\s+\d"],
    ),
    "bench_emulator.py": (["--requests", "8"], [r"^\s+4\s+8\s"]),
    "bench_list_pages.py": (
        ["--agents", "120", "--runs", "1", "--latency", "0.001"],
        [r"^archived=false\s+0\s+2\s", r"^archived=true\s+1\s+1\s"],
    ),
    "bench_validate.py": (["3"], [r"^\s+libyaml\s+3\s.*\s0$", r"^\s+ruamel\s+3\s.*\s0$"]),
}


def test_every_benchmark_has_a_smoke_case() -> None:
    assert sorted(p.name for p in BENCHMARKS.glob("bench_*.py")) == sorted(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs_and_prints_its_table(script: str) -> None:
    args, expected = CASES[script]
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=BENCHMARKS,
    )
    assert done.returncode == 0, done.stderr
    for pattern in expected:
        assert re.search(pattern, done.stdout, re.MULTILINE), f"{pattern!r} not in:\n{done.stdout}"
