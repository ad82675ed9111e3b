"""Apply at scale: wall time and requests of applying N agent updates against the emulator with
injected latency, next to a sequential baseline that PATCHes whole configs.

Run: ``python benchmarks/bench_apply_scale.py [--agents 100] [--latency 0.05] [--concurrency 16]``

The workspace holds N agents owned by the project; every file changes the greeting. Rows:

- ``freshness check``: the re-read before any write; with no creates in the plan it needs no list
  pages, only one GET per agent, so its ideal is ``ceil(N / concurrency) x latency``.
- ``apply writes``: one minimal PATCH and one read-back GET per agent, against the ideal
  ``2 x ceil(N / concurrency) x latency`` (the target is at most 1.25 x this).
- ``baseline``: concurrency 1, a PATCH of the agent's whole writable config and the same read-back.

bench_apply.py measures creates and updates at several concurrencies in one process; this one is the
issue's target at 50 ms, with the emulator in its own process.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from common import (
    EmulatorProcess,
    Machine,
    Stopwatch,
    owned_seeds,
    project_configs,
    ratio,
    served_since,
    table,
    write_project,
)

from agentsync.apply import ApplyOptions, Outcome, apply_plan, check_fresh
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY
from agentsync.kinds.agent import AGENT, READ_ONLY_PATHS
from agentsync.load import load_project
from agentsync.plan import Plan
from agentsync.planner import build_plan
from agentsync.remote import fetch

AGENTS_PATH = AGENT.api.collection
WRITABLE_FIELDS = AGENT.fields.writable

TARGET_RATIO = 1.25


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (default 0.05)")
    parser.add_argument("--concurrency", type=int, default=16)
    return parser.parse_args(argv)


def _plan(client: Client, root: Path, agents: int) -> Plan:
    project = load_project(root)
    plan = build_plan(project, fetch(client, project))
    if len(plan.changes) != agents:
        raise SystemExit(f"expected {agents} updates, planned {len(plan.changes)}: the world is wrong")
    return plan


def _mean_bytes(bodies: Sequence[Mapping[str, Any]]) -> float:
    return sum(len(json.dumps(b, separators=(",", ":"))) for b in bodies) / max(1, len(bodies))


def product_rows(emu: EmulatorProcess, args: argparse.Namespace) -> list[list[Any]]:
    rounds = math.ceil(args.agents / args.concurrency)
    with Client(emu.url, ADMIN_KEY, concurrency=args.concurrency) as client:
        plan = _plan(client, Path(args.root), args.agents)
        before = emu.requests()
        with Stopwatch() as fresh:
            snapshot = check_fresh(client, plan)
        middle = emu.requests()
        with Stopwatch() as wrote:
            report = apply_plan(client, plan, ApplyOptions(), snapshot=snapshot)
        after = emu.requests()
    if report.count(Outcome.APPLIED) != args.agents:
        raise SystemExit(f"apply did not apply every update: {report.count(Outcome.APPLIED)}/{args.agents}")
    # An update-only plan is re-read by id: no list pages, one GET per agent.
    fresh_ideal = rounds * args.latency
    write_ideal = 2 * rounds * args.latency
    body_bytes = _mean_bytes([c.body or {} for c in plan.changes])
    return [
        [
            "freshness check (GET by id)",
            _total(before, middle),
            args.agents,
            fresh.timing.wall,
            fresh_ideal,
            ratio(fresh.timing.wall, fresh_ideal),
            "-",
        ],
        [
            f"apply writes (concurrency {args.concurrency})",
            _total(middle, after),
            2 * args.agents,
            wrote.timing.wall,
            write_ideal,
            ratio(wrote.timing.wall, write_ideal),
            body_bytes,
        ],
    ]


def _total(before: Mapping[str, int], after: Mapping[str, int]) -> int:
    return sum(served_since(before, after).values())


def _merged(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, Mapping):
        return {**base, **{k: _merged(base.get(k), v) for k, v in over.items()}}
    return copy.deepcopy(over)


def baseline_row(emu: EmulatorProcess, args: argparse.Namespace) -> list[Any]:
    """Sequential, whole configs: for each agent, PATCH every writable field, then read it back."""
    write_project(Path(args.root), project_configs(args.agents, range(args.agents), greeting="Bonjour"))
    with Client(emu.url, ADMIN_KEY, concurrency=1) as client:
        plan = _plan(client, Path(args.root), args.agents)
        project = load_project(Path(args.root))
        current = {c.remote_id: client.get(f"{AGENTS_PATH}/{c.remote_id}") for c in plan.changes}
        bodies = [_whole(current[c.remote_id], project.of(AGENT)[c.key].config) for c in plan.changes]
        before = emu.requests()
        with Stopwatch() as watch:
            for change, body in zip(plan.changes, bodies, strict=True):
                client.patch(f"{AGENTS_PATH}/{change.remote_id}", body)
                client.get(f"{AGENTS_PATH}/{change.remote_id}")
        after = emu.requests()
    ideal = 2 * math.ceil(args.agents / args.concurrency) * args.latency
    return [
        "baseline (sequential, whole configs)",
        _total(before, after),
        2 * args.agents,
        watch.timing.wall,
        ideal,
        ratio(watch.timing.wall, ideal),
        _mean_bytes(bodies),
    ]


def _whole(remote: Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, Any]:
    # The official CLI keeps whole configs in its files and sends them whole; the marker stays in tags.
    body = _merged({k: remote[k] for k in WRITABLE_FIELDS if k in remote}, dict(declared))
    body["tags"] = sorted(set(body.get("tags") or []) | set(remote.get("tags") or []))
    for *parents, leaf in READ_ONLY_PATHS:  # the server refuses these in a write
        node = body
        for part in parents:
            node = node.get(part) or {}
        node.pop(leaf, None) if isinstance(node, dict) else None
    return dict(body)


def main() -> None:
    args = parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatorProcess(owned_seeds(args.agents)) as emu,
        Machine() as machine,
    ):
        args.root = tmp
        write_project(Path(tmp), project_configs(args.agents, range(args.agents)))
        emu.set_faults(latency=args.latency)
        rows = product_rows(emu, args)
        rows.append(baseline_row(emu, args))
    print(
        f"{args.agents} agent updates, {args.latency * 1000:.0f} ms latency per request; "
        f"ratio target for apply writes <= {TARGET_RATIO}"
    )
    print(table(("phase", "requests", "minimum", "wall s", "ideal s", "ratio", "PATCH bytes"), rows))
    print(machine.summary())


if __name__ == "__main__":
    main()
