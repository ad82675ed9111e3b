"""Fault injection: latency, a concurrency limit, random 429/5xx answers, dropped connections and
"commit then fail". One seeded ``random.Random`` drives every draw, so a seed replays a run's faults
when the requests arrive in the same order."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from agentsync.emulator import hostile
from agentsync.emulator.config import Faults
from agentsync.emulator.problems import HttpProblem, server_error, too_many
from agentsync.emulator.routing import Response


@dataclass(frozen=True)
class Verdict:
    """What to do instead of answering normally: raise ``problem``, or drop the connection."""

    problem: HttpProblem | None = None
    drop: bool = False


class FaultInjector:
    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self.configure(faults)

    def configure(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    def _roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    @contextmanager
    def in_flight(self) -> Iterator[bool]:
        """Count a request as in flight; yields False when it is over the concurrency limit."""
        with self._lock:
            self._in_flight += 1
            limit = self.faults.max_concurrent
            allowed = limit <= 0 or self._in_flight <= limit
        try:
            yield allowed
        finally:
            with self._lock:
                self._in_flight -= 1

    def before(self, allowed: bool) -> Verdict | None:
        """Decide the faults that hit a request before it runs (the latency is slept here)."""
        faults = self.faults
        if not allowed:
            return Verdict(
                too_many("concurrent_limit_exceeded", "Too many concurrent requests.", faults.retry_after)
            )
        self._sleep(faults)
        if self._roll(faults.drop_rate):
            return Verdict(drop=True)
        if self._roll(faults.rate_limit_rate):
            return Verdict(
                too_many("rate_limit_exceeded", "Rate limit exceeded; retry later.", faults.retry_after)
            )
        if self._roll(faults.error_rate):
            return Verdict(server_error(self._error_status()))
        return None

    def after_write(self) -> Verdict | None:
        """Commit then fail: the write is stored, and the client gets a 5xx or a dropped connection."""
        if not self._roll(self.faults.commit_then_fail_rate):
            return None
        return Verdict(drop=True) if self._roll(0.5) else Verdict(server_error(self._error_status()))

    def hostile(self, method: str, route: str, response: Response) -> Response:
        """``response``, or a broken version of it when a hostile answer is due (200 GETs only)."""
        faults = self.faults
        if method != "GET" or response.status != 200 or faults.hostile_route not in ("", route):
            return response
        if not self._roll(faults.hostile_rate):
            return response
        with self._lock:
            kind = self._rng.choice(faults.hostile_kinds or hostile.KINDS)
        return hostile.corrupt(kind, response, faults.huge_bytes)

    def _error_status(self) -> int:
        with self._lock:
            return self._rng.choice((500, 502, 503))

    def _sleep(self, faults: Faults) -> None:
        delay = faults.latency
        if faults.jitter > 0:
            with self._lock:
                delay += self._rng.uniform(0, faults.jitter)
        if delay > 0:
            time.sleep(delay)
