"""Pull at scale: the whole ``agentsync pull --all`` process writing N agents into an empty project,
against the emulator with injected latency: requests next to the minimum, wall time next to the ideal.

Run: ``python benchmarks/bench_pull.py [--agents 1000] [--latency 0.05] [--concurrency 16]``

The workspace holds N agents owned by the project (every 50th archived). The project is only its
``agentsync.yaml``; pull lists every kind, GETs every agent (the list holds summaries), renders every file
and writes it. The ideal is the plan's: ``(list pages + ceil(GETs / concurrency)) x latency``, the list
pages of one listing being one after the other (each needs the cursor of the one before). The wall time
is the whole process: start-up, listing, GETs, rendering and writing the files.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path
from typing import Any

from common import (
    NAMESPACE,
    PAGE_SIZE,
    EmulatorProcess,
    Machine,
    ProcessRun,
    list_pages,
    owned_seeds,
    ratio,
    run_cli,
    served_since,
    table,
)

from agentsync.kinds import KINDS

ARCHIVED_EVERY = 50
TARGET_RATIO = 1.3  # the target for pull --all of 1,000 agents


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--concurrency", type=int, default=16)
    return parser.parse_args(argv)


class World:
    """The workspace's shape, and the requests and wall time a perfect pull would need."""

    def __init__(self, agents: int, latency: float, concurrency: int) -> None:
        self.agents, self.latency, self.concurrency = agents, latency, concurrency
        self.archived = agents // ARCHIVED_EVERY
        self.pages = list_pages(agents - self.archived, self.archived)
        # Every other kind's listing is one request, side by side with the agents' listings.
        self.other_lists = sum(len(k.api.listings) for k in KINDS if not k.identity.marks)

    @property
    def minimum(self) -> int:
        return self.pages + self.other_lists + self.agents

    def ideal(self) -> float:
        return (self.pages + math.ceil(self.agents / self.concurrency)) * self.latency


def pull_process(emu: EmulatorProcess, root: Path, concurrency: int) -> ProcessRun:
    """``agentsync pull --all`` as its own process: wall and CPU seconds, peak RSS."""
    return run_cli(
        ["pull", "--all", "-C", str(root), "--base-url", emu.url, "--concurrency", str(concurrency)]
    )


def run(args: argparse.Namespace) -> None:
    world = World(args.agents, args.latency, args.concurrency)
    rows: list[list[Any]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatorProcess(owned_seeds(args.agents, archived_every=ARCHIVED_EVERY)) as emu,
        Machine() as machine,
    ):
        root = Path(tmp)
        (root / "agentsync.yaml").write_text(f"namespace: {NAMESPACE}\n")
        emu.set_faults(latency=args.latency)
        before = emu.requests()
        done = pull_process(emu, root, args.concurrency)
        served = served_since(before, emu.requests())
        written = len(list((root / "agents").glob("*.yaml")))
        if written != args.agents:
            raise SystemExit(f"expected {args.agents} agent files, found {written}: the world is wrong")
        ideal = world.ideal()
        rows.append(
            [
                f"pull --all, empty project (concurrency {args.concurrency})",
                sum(served.values()),
                world.minimum,
                done.wall,
                ideal,
                ratio(done.wall, ideal),
                done.cpu * 1000 / args.agents,
                done.rss_mb,
                written,
            ]
        )
    print(
        f"{args.agents} agents ({world.archived} archived), {args.latency * 1000:.0f} ms latency per request"
    )
    print(
        f"agent list pages: {world.pages} ({PAGE_SIZE} per page, archived=false and archived=true); "
        f"{world.other_lists} listings of the other kinds; ideal = (list pages + ceil(GETs / "
        f"{args.concurrency})) x latency; ratio target <= {TARGET_RATIO}"
    )
    print(
        table(
            (
                "case",
                "requests",
                "minimum",
                "wall s",
                "ideal s",
                "ratio",
                "CPU ms/agent",
                "peak RSS MB",
                "files",
            ),
            rows,
        )
    )
    print("wall = the whole process (start-up, fetch, render, write); requests by route:")
    print(table(("route", "requests"), sorted(served.items())))
    print(machine.summary())


if __name__ == "__main__":
    run(parse_args())
