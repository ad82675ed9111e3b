"""Writes under attack and under races: keyed secret digests in plan files, SIGTERM, creates answered
without an id or too late, and two applies of one project at once."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from projects import write_project

from agentsync import apply as applier
from agentsync.apply import ApplyOptions, Outcome, apply_plan
from agentsync.cli import run
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY, MEMBER_KEY, Emulator, Faults
from agentsync.errors import NetworkError
from agentsync.load import load_project
from agentsync.plan import Plan
from agentsync.planner import build_plan
from agentsync.remote import fetch

SECRET = "hook-secret-8c2f61d94a7e"
SETTINGS = "namespace: t\nsafety: {max_change_share: 1.0}\n"


def hooked(name: str) -> dict[str, Any]:
    prompt = {"prompt": f"{name}: call with token ${{env.HOOK_SECRET}}"}
    return {"name": name, "conversation_config": {"agent": {"first_message": "Hi", "prompt": prompt}}}


# --- keyed digests --------------------------------------------------------------------------------


def test_a_saved_plan_holds_a_keyed_digest_that_only_the_key_holder_can_check(
    tmp_path: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    root = write_project(tmp_path / "p", {"bot": hooked("Bot")}, settings=SETTINGS)
    assert run(["plan", "-C", str(root), "--out", str(tmp_path / "plan.json")]) == 0
    saved = (tmp_path / "plan.json").read_text()
    assert SECRET not in saved
    [secret] = json.loads(saved)["changes"][0]["secrets"]
    value = f"Bot: call with token {SECRET}".encode()
    # Neither the plain hash nor an unkeyed HMAC of a guess confirms it: only the API key's holder can.
    assert secret["hmac"] != hashlib.sha256(value).hexdigest()
    assert secret["hmac"] != hmac.new(b"", value, hashlib.sha256).hexdigest()
    key = hashlib.sha256(b"agentsync secret digest\0" + ADMIN_KEY.encode()).digest()
    assert secret["hmac"] == hmac.new(key, value, hashlib.sha256).hexdigest()
    # Under another key the digest does not match, and the plan is refused before any write.
    monkeypatch.setenv("ELEVENLABS_API_KEY", MEMBER_KEY)
    capsys.readouterr()
    assert run(["apply", "-C", str(root), str(tmp_path / "plan.json"), "--auto-approve"]) == 1
    assert "differs from the one the plan was made with; nothing was written" in capsys.readouterr().err
    assert api_env.stats()["requests"] == [] or all(r["method"] == "GET" for r in api_env.stats()["requests"])


# --- SIGTERM --------------------------------------------------------------------------------------


def test_sigterm_during_apply_stops_new_writes_reports_and_exits_143(
    tmp_path: Path, emulator: Emulator
) -> None:
    root = write_project(tmp_path / "p", {f"a{i}": hooked(f"A{i}") for i in range(12)}, settings=SETTINGS)
    emulator.set_faults(Faults(latency=0.25))
    env = {
        **os.environ,
        "ELEVENLABS_BASE_URL": emulator.url,
        "ELEVENLABS_API_KEY": ADMIN_KEY,
        "HOOK_SECRET": SECRET,
    }
    argv = [
        sys.executable,
        "-m",
        "agentsync",
        "apply",
        "-C",
        str(root),
        "--auto-approve",
        "--concurrency",
        "1",
    ]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _posts(emulator) < 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, out + err
    assert "Traceback" not in err and "Apply interrupted" in out + err
    written = _posts(emulator)
    assert 2 <= written < 12
    time.sleep(0.6)
    assert _posts(emulator) == written, "no write starts after the signal"


def _posts(emulator: Emulator) -> int:
    rows = requests.get(f"{emulator.url}/_emulator/stats", timeout=5).json()["requests"]
    return sum(r["count"] for r in rows if r["method"] == "POST")


# --- creates whose answer is missing or late ----------------------------------------------------


class Scripted:
    """A client whose POST answers are scripted and whose look-ups find the resource after a while."""

    base_url = "http://fake.invalid"

    def __init__(self, answers: list[Any], visible_after: int) -> None:
        self.answers, self.visible_after, self.posts, self.lookups = answers, visible_after, 0, 0

    def post(self, path: str, body: Mapping[str, Any] | None = None, *, retry: bool = False) -> Any:
        self.posts += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def lookup(self) -> str | None:
        self.lookups += 1
        return "agent_late" if self.lookups > self.visible_after else None


def _run(client: Scripted, settle: float) -> Any:
    options = ApplyOptions(create_attempts=3, backoff=lambda attempt, exc: 0.0, settle_seconds=settle)
    plan = Plan((), 0, 0, "t", client.base_url)
    return applier._Run(client, plan, options, applier.Snapshot(), threading.Event())  # type: ignore[arg-type]


def _late() -> NetworkError:
    return NetworkError("POST timed out", url="http://fake.invalid", ambiguous=True, late=True)


def test_a_create_answered_without_an_id_is_looked_up_never_sent_twice() -> None:
    client = Scripted([{}], visible_after=0)
    found = applier._create(_run(client, 0), "/v1/convai/agents/create", {}, "agent_id", client.lookup)
    assert found == ("agent_late", True) and client.posts == 1


@pytest.mark.parametrize("answer", [None, [], "created", {"agent_id": 7}])
def test_any_create_answer_without_a_string_id_is_one_clear_ambiguous_error(answer: Any) -> None:
    client = Scripted([answer, answer, answer], visible_after=99)
    with pytest.raises(NetworkError, match=r"has no 'agent_id', so agentsync cannot tell whether it created"):
        applier._create(_run(client, 0), "/v1/convai/agents/create", {}, "agent_id", client.lookup)


def test_a_late_create_is_awaited_before_anything_is_sent_again() -> None:
    client = Scripted([_late()], visible_after=3)  # committed, but visible only on the 4th look-up
    started = time.monotonic()
    found = applier._create(_run(client, 10), "/v1/convai/agents/create", {}, "agent_id", client.lookup)
    assert found == ("agent_late", True) and client.posts == 1 and client.lookups == 4
    assert time.monotonic() - started < 5


def test_a_create_that_never_appears_is_sent_again_only_after_the_settle_time() -> None:
    client = Scripted([_late(), {"agent_id": "agent_second"}], visible_after=99)
    started = time.monotonic()
    found = applier._create(_run(client, 0.6), "/v1/convai/agents/create", {}, "agent_id", client.lookup)
    assert found == ("agent_second", False) and client.posts == 2
    assert time.monotonic() - started >= 0.6


# --- two applies at once --------------------------------------------------------------------------


def _stored_names(emulator: Emulator) -> list[str]:
    answer = requests.get(
        f"{emulator.url}/v1/convai/agents",
        params={"page_size": 100},
        headers={"xi-api-key": ADMIN_KEY},
        timeout=10,
    ).json()
    return sorted(a["name"] for a in answer["agents"])


def test_two_applies_at_once_leave_no_twin_and_the_loser_says_so(tmp_path: Path, emulator: Emulator) -> None:
    agents = {f"k{i}": {"name": f"K{i}", "conversation_config": {}} for i in range(4)}
    root = write_project(tmp_path / "p", agents, settings=SETTINGS)
    project = load_project(root)
    emulator.set_faults(Faults(latency=0.05, jitter=0.1, seed=3))
    clients = [Client(emulator.url, ADMIN_KEY, concurrency=4) for _ in range(2)]
    try:
        # Both plans are made before either writes: both see nothing and plan the same four creates.
        plans = [build_plan(project, fetch(c, project)) for c in clients]
        reports: list[Any] = [None, None]

        def go(n: int) -> None:
            reports[n] = apply_plan(clients[n], plans[n], ApplyOptions(backoff=lambda a, e: 0.0))

        threads = [threading.Thread(target=go, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert _stored_names(emulator) == ["K0", "K1", "K2", "K3"], "no duplicate survives"
        failed = [r for report in reports for r in report.results if r.outcome is Outcome.FAILED]
        assert all("another apply created it at the same time" in (r.reason or "") for r in failed)
        assert failed, "the apply that lost says so"
        emulator.set_faults(Faults())
        replan = build_plan(project, fetch(clients[0], project))
        assert replan.changes == () and replan.unchanged == 4
    finally:
        for client in clients:
            client.close()


def test_a_header_that_stops_using_env_never_shows_its_old_secret(
    tmp_path: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    webhook = {
        "url": "https://crm.example/caller",
        "request_headers": {"Authorization": "Bearer ${env.HOOK_SECRET}"},
    }
    agent = {
        "name": "Bot",
        "conversation_config": {},
        "platform_settings": {
            "workspace_overrides": {"conversation_initiation_client_data_webhook": webhook}
        },
    }
    root = write_project(tmp_path / "p", {"bot": agent}, settings=SETTINGS)
    assert run(["apply", "-C", str(root), "--auto-approve"]) == 0
    path = root / "agents" / "bot.yaml"
    path.write_text(path.read_text().replace("Bearer ${env.HOOK_SECRET}", "Bearer public-token"))
    capsys.readouterr()
    for fmt in ("text", "markdown", "json"):
        assert run(["plan", "-C", str(root), "--format", fmt, "--show-body"]) == 0
        out, err = capsys.readouterr()
        assert "request_headers" in out, (fmt, out, err)
        assert SECRET not in out + err, (fmt, out)
