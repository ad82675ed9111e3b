"""Plan at scale: requests, wall time, CPU and peak memory of planning N agents against the emulator
with injected latency, next to a sequential, full-config baseline (what the official CLI does).

Run: ``python benchmarks/bench_plan.py [--agents 1000] [--foreign 200] [--latency 0.05] [--concurrency 16]``

The workspace holds the project's N agents (every 50th archived, so the archived listing has work to
do) and ``--foreign`` agents the project does not own (another namespace's, or hand-made), which must
cost no GET. Rows:

- ``plan, unchanged``: every file matches the workspace (the fast path).
- ``plan, N changed``: every file has a new greeting (views, deepdiff, PATCH body, JSON Patch each).
- ``baseline``: concurrency 1, GET every agent in the workspace, a full deepdiff of each owned agent's
  whole writable config against a full local copy (the official CLI keeps whole configs in files).

CPU is this process's CPU time (the emulator runs in another process), so network waits are excluded.
Peak memory is the maximum RSS of a separate ``agentsync plan`` process (``os.wait4`` of that child).
"""

from __future__ import annotations

import argparse
import copy
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from common import (
    NAMESPACE,
    PAGE_SIZE,
    EmulatorProcess,
    Stopwatch,
    foreign_seeds,
    list_pages,
    owned_seeds,
    project_configs,
    ratio,
    run_cli,
    served_since,
    table,
    write_project,
)
from deepdiff import DeepDiff

from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY
from agentsync.kinds.agent import AGENT
from agentsync.kinds.identity import marker
from agentsync.load import load_project
from agentsync.planner import build_plan
from agentsync.remote import fetch

AGENTS_PATH = AGENT.api.collection
WRITABLE_FIELDS = AGENT.fields.writable

ARCHIVED_EVERY = 50
TARGET_RATIO = 1.25
TARGET_CPU_MS = {"unchanged": 1.0, "changed": 10.0}
TARGET_RSS_MB = 200.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument(
        "--foreign", type=int, default=200, help="agents in the workspace the project does not own"
    )
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-baseline", action="store_true", help="skip the slow sequential baseline")
    return parser.parse_args(argv)


class World:
    """The workspace's shape, and the requests and wall time a perfect plan would need."""

    def __init__(self, agents: int, foreign: int, latency: float, concurrency: int) -> None:
        self.agents, self.foreign, self.latency, self.concurrency = agents, foreign, latency, concurrency
        self.archived = agents // ARCHIVED_EVERY
        self.pages = list_pages(agents - self.archived + foreign, self.archived)

    @property
    def minimum(self) -> int:
        return self.pages + self.agents

    def ideal(self, concurrency: int) -> float:
        return (self.pages + math.ceil(self.agents / concurrency)) * self.latency


# --- the product ---------------------------------------------------------------------------------------


def product_row(emu: EmulatorProcess, world: World, root: Path, label: str, changed: int) -> list[Any]:
    before = emu.requests()
    with Client(emu.url, ADMIN_KEY, concurrency=world.concurrency) as client:
        with Stopwatch() as load:
            project = load_project(root)
        with Stopwatch() as fetched:
            remote = fetch(client, project)
        with Stopwatch() as planned:
            plan = build_plan(project, remote)
    if len(plan.changes) != changed or plan.unchanged != world.agents - changed:
        raise SystemExit(f"{label}: expected {changed} changes, got {len(plan.changes)}: the world is wrong")
    served = sum(served_since(before, emu.requests()).values())
    wall = fetched.timing.wall + planned.timing.wall
    cpu_ms = (fetched.timing.cpu + planned.timing.cpu) * 1000 / world.agents
    kind = "changed" if changed else "unchanged"
    ideal = world.ideal(world.concurrency)
    return [
        label,
        served,
        world.minimum,
        wall,
        ideal,
        ratio(wall, ideal),
        cpu_ms,
        TARGET_CPU_MS[kind],
        planned.timing.cpu * 1000 / world.agents,
        load.timing.cpu * 1000 / world.agents,
    ]


# --- the baseline --------------------------------------------------------------------------------------


def _merged(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, Mapping):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merged(base.get(key), value)
        return out
    return copy.deepcopy(over)


def _full(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in WRITABLE_FIELDS if k in body}


def baseline_row(emu: EmulatorProcess, world: World, root: Path, changed: int) -> list[Any]:
    """Sequential, full-config: list, GET every agent, full deepdiff against a whole local config."""
    before = emu.requests()
    with Client(emu.url, ADMIN_KEY, concurrency=1) as client, Stopwatch() as watch:
        project = load_project(root)
        summaries = [
            s
            for archived in (False, True)
            for s in client.paginate(AGENTS_PATH, "agents", {"page_size": PAGE_SIZE, "archived": archived})
        ]
        bodies = [client.get(f"{AGENTS_PATH}/{s['agent_id']}") for s in summaries]
        differ = 0
        for body in bodies:
            keys = AGENT.identity.keys_of(body, NAMESPACE)
            if keys and keys[0] in project.of(AGENT):
                local = _merged(_full(body), project.of(AGENT)[keys[0]].config)
                local["tags"] = [*local.get("tags", []), marker(NAMESPACE, keys[0])]
                differ += bool(DeepDiff(_full(body), local))
    if differ != changed:
        raise SystemExit(f"baseline: expected {changed} differing agents, found {differ}")
    served = sum(served_since(before, emu.requests()).values())
    wall = watch.timing.wall
    ideal = world.ideal(world.concurrency)
    return [
        "baseline (sequential, full config)",
        served,
        world.minimum,
        wall,
        ideal,
        ratio(wall, ideal),
        watch.timing.cpu * 1000 / world.agents,
        "-",
        "-",
        "-",
    ]


# --- peak memory of the command ------------------------------------------------------------------------


def peak_rss(emu: EmulatorProcess, root: Path, concurrency: int) -> tuple[float, float, int]:
    """Peak RSS in MB, wall seconds and exit code of ``agentsync plan`` run as its own process."""
    args = ["plan", "-C", str(root), "--base-url", emu.url, "--concurrency", str(concurrency)]
    done = run_cli([*args, "--detailed-exitcode"], expect=(0, 2))
    return done.rss_mb, done.wall, done.code


# --- the run -------------------------------------------------------------------------------------------


HEADERS = (
    "case",
    "requests",
    "minimum",
    "wall s",
    "ideal s",
    "ratio",
    "CPU ms/agent",
    "target",
    "diff ms/agent",
    "load ms/agent",
)


def run(args: argparse.Namespace) -> None:
    world = World(args.agents, args.foreign, args.latency, args.concurrency)
    seeds = owned_seeds(args.agents, archived_every=ARCHIVED_EVERY) + foreign_seeds(args.foreign)
    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(seeds) as emu:
        root = Path(tmp)
        emu.set_faults(latency=args.latency)
        write_project(root, project_configs(args.agents))
        rows.append(product_row(emu, world, root, f"plan, unchanged (concurrency {args.concurrency})", 0))
        rss, cli_wall, _ = peak_rss(emu, root, args.concurrency)
        if not args.no_baseline:
            rows.append(baseline_row(emu, world, root, 0))
        write_project(root, project_configs(args.agents, changed=range(args.agents)))
        rows.append(product_row(emu, world, root, f"plan, {args.agents} changed", args.agents))
        if not args.no_baseline:
            rows.append(baseline_row(emu, world, root, args.agents))
    print(
        f"{args.agents} agents in scope ({world.archived} archived) + {args.foreign} out of scope; "
        f"{args.latency * 1000:.0f} ms latency per request"
    )
    print(
        f"list pages: {world.pages} (archived=false and archived=true listings, {PAGE_SIZE} per page); "
        f"ideal = (list pages + ceil(agents / {args.concurrency})) x latency; ratio target <= {TARGET_RATIO}"
    )
    print(table(HEADERS, rows))
    print("CPU = fetch + plan, this process only (the emulator runs in another); load = reading the files")
    print(
        table(
            ("process", "peak RSS MB", "target", "wall s", "measured by"),
            [["agentsync plan (unchanged)", rss, f"< {TARGET_RSS_MB:g}", cli_wall, "os.wait4 ru_maxrss"]],
        )
    )


if __name__ == "__main__":
    run(parse_args())
