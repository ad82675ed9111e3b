"""What one agent list page costs the emulator over HTTP, so that the plan benchmarks measure agentsync.

Run: ``python benchmarks/bench_list_pages.py [--agents N] [--latency S] [--runs R]``. Seeds N agents
(every 50th archived) in an emulator in its own process, then walks both listings the fetcher makes
(``archived=false`` and ``archived=true``, 100 a page, by cursor) one page at a time over one
keep-alive connection, R times, with and without the injected latency. Prints, per listing, the pages
and the mean and worst time of a page, and what a page costs beyond the latency (target: <= 5 ms).
Pages are read by agentsync's own client, as the fetcher reads them, so the time beyond the latency is
the emulator's work plus what agentsync itself spends on a page, not a third-party client's.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import PAGE_SIZE, EmulatorProcess, Machine, owned_seeds, table

from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY

TARGET_MS = 5.0


def walk(client: Client, archived: bool) -> list[float]:
    """Seconds per page of one whole listing."""
    times: list[float] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int | bool] = {"page_size": PAGE_SIZE, "archived": archived}
        if cursor:
            params["cursor"] = cursor
        started = time.perf_counter()
        page = client.get("/v1/convai/agents", params, keep=False)
        times.append(time.perf_counter() - started)
        cursor = page.get("next_cursor")
        if not page.get("has_more"):
            return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=3000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    rows = []
    seeds = owned_seeds(args.agents, archived_every=50)
    with (
        EmulatorProcess(seeds) as emulator,
        Machine() as machine,
        Client(emulator.url, ADMIN_KEY, concurrency=1) as client,
    ):
        for latency in (0.0, args.latency):
            emulator.set_faults(latency=latency)
            for archived in (False, True):
                times = [t for _ in range(args.runs) for t in walk(client, archived)]
                mean_ms, worst_ms = statistics.mean(times) * 1000, max(times) * 1000
                beyond = mean_ms - latency * 1000
                rows.append(
                    [
                        f"archived={str(archived).lower()}",
                        f"{latency * 1000:g}",
                        len(times) // args.runs,
                        mean_ms,
                        worst_ms,
                        f"{beyond:.1f} ({'ok' if beyond <= TARGET_MS else 'over'})",
                    ]
                )
    print(f"Agent list pages at {args.agents:,} agents, {args.runs} runs, one keep-alive connection")
    print(
        table(
            [
                "listing",
                "latency ms",
                "pages",
                "mean ms",
                "worst ms",
                f"beyond latency ms (<= {TARGET_MS:g})",
            ],
            rows,
        )
    )
    print(machine.summary())


if __name__ == "__main__":
    main()
