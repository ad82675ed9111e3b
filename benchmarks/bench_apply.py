"""Wall time of applying N agent creates, then N updates, against the emulator with injected latency.

Run: ``python benchmarks/bench_apply.py [--agents N] [--latency SECONDS]``. For each concurrency it
starts a fresh emulator on a free port, plans and applies the creates, changes every agent's greeting
and applies again, and prints seconds and requests per phase. Bounded concurrency is what keeps apply
near (requests / concurrency) x latency rather than requests x latency.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from agentsync.apply import ApplyOptions, ApplyReport, Outcome, apply_plan, check_fresh
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY, Emulator, EmulatorConfig, Faults
from agentsync.load import load_project
from agentsync.planner import build_plan
from agentsync.remote import fetch


def write_project(root: Path, agents: int, greeting: str) -> None:
    (root / "agents").mkdir(parents=True, exist_ok=True)
    (root / "agentsync.yaml").write_text("namespace: bench\nsafety: {max_change_share: 1.0}\n")
    for i in range(agents):
        config = {
            "name": f"Agent {i}",
            "tags": ["bench"],
            "conversation_config": {"agent": {"first_message": f"{greeting} {i}"}},
        }
        (root / "agents" / f"agent-{i:03d}.yaml").write_text(json.dumps(config))


def phase(client: Client, root: Path) -> tuple[float, ApplyReport, dict[str, int]]:
    before = client.stats
    started = time.perf_counter()
    project = load_project(root)
    plan = build_plan(project, fetch(client, project))
    report = apply_plan(client, plan, ApplyOptions(), snapshot=check_fresh(client, plan))
    after = client.stats
    return time.perf_counter() - started, report, {k: after[k] - before.get(k, 0) for k in after}


def run(agents: int, latency: float, concurrency: int) -> list[str]:
    rows = []
    config = EmulatorConfig(faults=Faults(latency=latency))
    with (
        tempfile.TemporaryDirectory() as tmp,
        Emulator(config) as emulator,
        Client(emulator.url, ADMIN_KEY, concurrency=concurrency) as client,
    ):
        root = Path(tmp)
        for name, greeting in (("create", "Hello"), ("update", "Welcome back")):
            write_project(root, agents, greeting)
            seconds, report, counts = phase(client, root)
            applied = report.count(Outcome.APPLIED)
            requests = sum(v for k, v in counts.items() if k != "retries")
            rows.append(f"{name:<8}{concurrency:>12}{applied:>9}{requests:>10}{seconds:>10.2f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    print(f"{args.agents} agents, {args.latency * 1000:.0f} ms latency per request")
    print(f"{'phase':<8}{'concurrency':>12}{'applied':>9}{'requests':>10}{'seconds':>10}")
    for concurrency in (1, 8, 16):
        for row in run(args.agents, args.latency, concurrency):
            print(row)


if __name__ == "__main__":
    main()
