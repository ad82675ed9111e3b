"""Start-up time of the command line: ``agentsync --version`` and ``agentsync --help`` as a user runs them.

Run: ``python benchmarks/bench_startup.py [--runs 20]``. Each command is run as a fresh process
(``python -m agentsync``, so the console-script wrapper does not matter); the table shows the best and
median wall time of N runs against the 150 ms target, and the modules each one imported, so a heavy
import that sneaks into the start-up path shows up by name.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from common import compile_bytecode, installed_python, table

TARGET_MS = 150.0
COMMANDS = (("--version",), ("--help",))
# Imported only by the commands that need them; none belongs on the start-up path.
HEAVY = ("requests", "deepdiff", "jsonpatch", "ruamel.yaml", "jsonschema", "agentsync.spec", "agentsync.diff")


def wall_ms(args: tuple[str, ...]) -> float:
    started = time.perf_counter()
    subprocess.run([installed_python(), "-m", "agentsync", *args], check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


def heavy_imports(args: tuple[str, ...]) -> list[str]:
    """The heavy modules a command imports, read from ``sys.modules`` at exit in a fresh interpreter."""
    probe = (
        "import sys, atexit\n"
        f"atexit.register(lambda: print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr))\n"
        "from agentsync.cli import main\n"
        f"main({list(args)!r})\n"
    )
    done = subprocess.run([installed_python(), "-c", probe], capture_output=True, text=True, check=False)
    last = done.stderr.strip().splitlines()[-1:] or [""]
    return [m for m in last[0].split(",") if m]


def measure(args: tuple[str, ...], runs: int) -> list[object]:
    compile_bytecode()
    wall_ms(args)  # warm the file cache
    times = [wall_ms(args) for _ in range(runs)]
    heavy = heavy_imports(args)
    return [
        f"agentsync {' '.join(args)}",
        min(times),
        statistics.median(times),
        f"< {TARGET_MS:g}",
        ", ".join(heavy) or "none",
    ]


def baseline_ms(runs: int) -> float:
    """A bare interpreter start, for scale: what no command can go below."""
    started = time.perf_counter()
    for _ in range(runs):
        subprocess.run([installed_python(), "-c", "pass"], check=True)
    return (time.perf_counter() - started) * 1000 / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    rows = [measure(args, runs) for args in COMMANDS]
    rows.append(["python -c pass (floor)", baseline_ms(runs), "-", "-", "-"])
    print(f"wall time of a fresh process, {runs} runs each")
    print(table(("command", "best ms", "median ms", "target", "heavy modules imported"), rows))


if __name__ == "__main__":
    main()
