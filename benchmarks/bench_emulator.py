"""GET agent throughput of the emulator over keep-alive connections.

Run: ``python benchmarks/bench_emulator.py [--requests N]``. Starts an emulator on a free port, creates
one agent, then has 1 and 4 client threads (each with its own requests.Session) GET it and prints
requests, seconds, requests per second and p50/p95 latency for each.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import requests

from agentsync.emulator import ADMIN_KEY, Emulator, EmulatorConfig


def worker(url: str, count: int, latencies: list[float]) -> None:
    with requests.Session() as session:
        session.headers["xi-api-key"] = ADMIN_KEY
        for _ in range(count):
            started = time.perf_counter()
            response = session.get(url, timeout=10)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()


def run(url: str, threads: int, total: int) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    per_thread = total // threads
    pool = [threading.Thread(target=worker, args=(url, per_thread, latencies)) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return per_thread * threads, time.perf_counter() - started, latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="GETs per row (default 2000)")
    args = parser.parse_args()
    with Emulator(EmulatorConfig()) as emu:
        created = requests.post(
            f"{emu.url}/v1/convai/agents/create",
            json={"conversation_config": {}},
            headers={"xi-api-key": ADMIN_KEY},
            timeout=10,
        )
        url = f"{emu.url}/v1/convai/agents/{created.json()['agent_id']}"
        run(url, 1, 50)  # warm-up
        print(f"{'threads':>7} {'requests':>8} {'seconds':>8} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7}")
        for threads in (1, 4):
            count, seconds, latencies = run(url, threads, args.requests)
            print(
                f"{threads:>7} {count:>8} {seconds:>8.2f} {count / seconds:>8.0f} "
                f"{statistics.median(latencies) * 1000:>7.2f} {percentile(latencies, 0.95) * 1000:>7.2f}"
            )


if __name__ == "__main__":
    main()
