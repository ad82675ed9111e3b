"""Plan and apply as a user runs them: the whole ``agentsync`` process, start-up, loading the files,
fetching, planning, printing and exit, against an emulator in another process with injected latency.

Run: ``python benchmarks/bench_plan_process.py [--sizes 100,1000,3000] [--runs 3] [--updates 100]``

For each size the workspace holds exactly the project's agents (every 50th archived, so both listings
have work) and every file matches it (unchanged agents, the common case on a pull request). Each row
is the best of ``--runs`` fresh processes; the spread (worst / best wall) says how noisy the machine
was. Wall, CPU (user + system) and peak RSS are the operating system's accounting of the finished
child (``os.wait4``), so they include the interpreter's start-up and its exit.

The apply row updates ``--updates`` agents of a workspace of that many: each run writes a new greeting
into every file, so every run sends one minimal PATCH and one read-back GET per agent.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import (
    PAGE_SIZE,
    EmulatorProcess,
    Machine,
    list_pages,
    owned_seeds,
    project_configs,
    ratio,
    run_cli,
    table,
    write_project,
)
from common import (
    ProcessRun as Run,
)

ARCHIVED_EVERY = 50
TARGET_RATIO = {100: 1.5}  # every other size: 1.15
TARGET_CPU_MS = 1.0  # per unchanged agent, at 1,000
TARGET_RSS_MB = 150.0  # at 3,000
TARGET_APPLY = 1.15


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,3000", help="agent counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per size; the best is shown")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--updates", type=int, default=100, help="agents the apply row updates (0: skip)")
    return parser.parse_args(argv)


def workspace_args(command: str, root: Path, url: str, concurrency: int) -> list[str]:
    return [command, "-C", str(root), "--base-url", url, "--concurrency", str(concurrency)]


def plan_ideal(agents: int, latency: float, concurrency: int) -> tuple[int, float]:
    """List pages, and (list pages + ceil(GETs / concurrency)) x latency."""
    archived = agents // ARCHIVED_EVERY
    pages = list_pages(agents - archived, archived)
    return pages, (pages + math.ceil(agents / concurrency)) * latency


def plan_rows(args: argparse.Namespace, size: int) -> tuple[list[Any], Run]:
    pages, ideal = plan_ideal(size, args.latency, args.concurrency)
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatorProcess(owned_seeds(size, archived_every=ARCHIVED_EVERY)) as emu,
    ):
        root = Path(tmp)
        write_project(root, project_configs(size))
        emu.set_faults(latency=args.latency)
        command = [*workspace_args("plan", root, emu.url, args.concurrency), "--detailed-exitcode"]
        runs = [run_cli(command, (0,)) for _ in range(args.runs)]
    best = Run(min(r.wall for r in runs), min(r.cpu for r in runs), min(r.rss_mb for r in runs), 0)
    worst = max(r.wall for r in runs)
    target = TARGET_RATIO.get(size, 1.15)
    row = [
        size,
        pages,
        ideal,
        best.wall,
        ratio(best.wall, ideal),
        f"<= {target}",
        best.cpu * 1000 / size,
        best.rss_mb,
        worst / best.wall,
    ]
    return row, best


def marginal_rows(sizes: Sequence[int], runs: Sequence[Run]) -> list[list[Any]]:
    rows = []
    for i in range(1, len(sizes)):
        a, b, run_a, run_b = sizes[i - 1], sizes[i], runs[i - 1], runs[i]
        step = b - a
        rows.append(
            [
                f"{a} -> {b}",
                (run_b.wall - run_a.wall) * 1000 / step,
                (run_b.cpu - run_a.cpu) * 1000 / step,
                (run_b.rss_mb - run_a.rss_mb) * 1024 / step,
            ]
        )
    return rows


def apply_row(args: argparse.Namespace) -> list[Any]:
    count = args.updates
    archived = count // ARCHIVED_EVERY
    pages = list_pages(count - archived, archived)
    rounds = math.ceil(count / args.concurrency)
    # The plan's list pages and GETs, then one PATCH and one read-back GET per agent.
    ideal = (pages + 3 * rounds) * args.latency
    runs = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatorProcess(owned_seeds(count, archived_every=ARCHIVED_EVERY)) as emu,
    ):
        root = Path(tmp)
        emu.set_faults(latency=args.latency)
        command = [*workspace_args("apply", root, emu.url, args.concurrency), "--auto-approve"]
        for number in range(args.runs):
            write_project(root, project_configs(count, changed=range(count), greeting=f"Round {number}"))
            runs.append(run_cli(command, (0,)))
    best = min(r.wall for r in runs)
    return [
        f"apply, {count} updates",
        pages,
        ideal,
        best,
        ratio(best, ideal),
        f"<= {TARGET_APPLY}",
        min(r.cpu for r in runs) * 1000 / count,
        min(r.rss_mb for r in runs),
        max(r.wall for r in runs) / best,
    ]


HEADERS = (
    "agents",
    "list pages",
    "ideal s",
    "wall s",
    "wall/ideal",
    "target",
    "CPU ms/agent",
    "peak RSS MB",
    "spread",
)


def run(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows, bests = [], []
    with Machine() as machine:
        for size in sizes:
            row, best = plan_rows(args, size)
            rows.append(row)
            bests.append(best)
        applied = [apply_row(args)] if args.updates else []
    print(
        f"agentsync plan as a whole process, unchanged agents, {args.latency * 1000:.0f} ms latency, "
        f"concurrency {args.concurrency}, best of {args.runs}"
    )
    print(
        f"ideal = (list pages + ceil(agents / {args.concurrency})) x latency; list pages: archived=false and "
        f"archived=true listings, {PAGE_SIZE} a page; CPU = user + system of the process"
    )
    print(table(HEADERS, rows))
    print(f"targets: CPU <= {TARGET_CPU_MS:g} ms/agent at 1,000; peak RSS <= {TARGET_RSS_MB:g} MB at 3,000")
    if len(sizes) > 1:
        print("marginal cost per added agent")
        print(table(("between", "wall ms", "CPU ms", "RSS KB"), marginal_rows(sizes, bests)))
    if args.updates:
        print(
            f"apply ideal = (list pages + 3 x ceil(updates / {args.concurrency})) x latency "
            "(the plan's GETs, then a PATCH and a read-back GET per agent)"
        )
        print(table(("case", *HEADERS[1:]), applied))
    print(machine.summary())


if __name__ == "__main__":
    run(parse_args())
