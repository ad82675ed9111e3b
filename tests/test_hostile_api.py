"""Hostile API answers: truncated JSON, wrong shapes, an HTML 502, huge bodies. Every one must end in one
clear sentence naming the URL and exit 1: never a traceback, never a plan built from a broken read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from agentsync import answers as client_module
from agentsync.cli import options, run
from agentsync.client import Client, RetryPolicy
from agentsync.emulator import ADMIN_KEY, Emulator, Faults
from agentsync.emulator.hostile import KINDS
from agentsync.errors import NetworkError

AGENT_LIST = "/v1/convai/agents"
AGENT = "/v1/convai/agents/{agent_id}"
TAG_LIST = "/v1/convai/tags"
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01, max_total=5.0)
# What each kind must be called, in the user's words (the URL is checked separately).
SAYS = {
    "truncated": "is not JSON",
    "not_object": "not what the API sends",
    "wrong_type": "not what the API sends",
    "bad_items": "not what the API sends",
    "no_has_more": "has_more",
    "html": "HTTP 502 and a body that is not the API's (text/html)",
    "huge": "larger than",
    "huge_chunked": "larger than",
}


@pytest.fixture
def project(tmp_path: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(options, "RETRY", FAST)
    (tmp_path / "agents").mkdir()
    (tmp_path / "agentsync.yaml").write_text("namespace: h\n")
    for key in ("alpha", "beta"):
        config = {"name": key.title(), "conversation_config": {"agent": {"first_message": f"Hi from {key}"}}}
        (tmp_path / "agents" / f"{key}.yaml").write_text(json.dumps(config))
    (tmp_path / "tags.yaml").write_text(json.dumps([{"title": "vip", "description": "d"}]))
    assert run(["apply", "-C", str(tmp_path), "--auto-approve"]) == 0
    # One more file, not yet created: a broken read must never plan it or hide the others.
    (tmp_path / "agents" / "gamma.yaml").write_text(json.dumps({"name": "Gamma"}))
    return tmp_path


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    # The emulator's huge answers stay at a a few hundred kB in most tests; the limit shrinks to match.
    monkeypatch.setattr(client_module, "MAX_BODY_BYTES", 100_000)
    yield 100_000


def plan(project: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(["plan", "-C", str(project), "--prune", "--detailed-exitcode", "--format", "json", *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def expected(kind: str, route: str) -> str:
    if kind in ("not_object", "wrong_type") and route != AGENT:
        items = "agents" if route == AGENT_LIST else "conversation_tags"
        return f"has no {items!r} array"
    return SAYS[kind]


def assert_one_clear_error(err: str, route: str, says: str) -> None:
    assert "Traceback" not in err and "unexpected" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert route.split("{")[0] in lines[0], err
    assert says in lines[0], err


# Every hostile kind on every route it can spoil (a single agent is not a list, so it has no items
# and no has_more to break).
ROUTE_KINDS = [
    (route, kind)
    for route in (AGENT_LIST, AGENT, TAG_LIST)
    for kind in KINDS
    if not (route == AGENT and kind in ("bad_items", "no_has_more"))
]


@pytest.mark.parametrize(("route", "kind"), ROUTE_KINDS)
def test_plan_refuses_every_hostile_answer_with_one_sentence(
    kind: str,
    route: str,
    project: Path,
    api_env: Emulator,
    small_limit: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api_env.set_faults(
        Faults(hostile_rate=1.0, hostile_kinds=(kind,), hostile_route=route, huge_bytes=small_limit * 3)
    )
    code, out, err = plan(project, capsys)
    assert code == 1, (out, err)
    assert out == ""  # no plan at all, not a partial one
    assert_one_clear_error(err, route, expected(kind, route))


def test_the_true_plan_once_the_answers_are_whole_again(
    project: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.set_faults(Faults(hostile_rate=1.0, hostile_kinds=("wrong_type",), hostile_route=AGENT))
    assert plan(project, capsys)[0] == 1
    api_env.set_faults(Faults())
    code, out, _ = plan(project, capsys)
    assert code == 2
    changes = [(c["action"], c["key"]) for c in json.loads(out)["changes"]]
    assert changes == [("create", "gamma")]


@pytest.mark.parametrize("kind", ["truncated", "wrong_type", "html", "huge"])
def test_apply_refuses_hostile_answers_before_any_write(
    kind: str, project: Path, api_env: Emulator, small_limit: int, capsys: pytest.CaptureFixture[str]
) -> None:
    api_env.set_faults(
        Faults(hostile_rate=1.0, hostile_kinds=(kind,), hostile_route=AGENT, huge_bytes=small_limit * 3)
    )
    before = _writes(api_env)
    capsys.readouterr()
    code = run(["apply", "-C", str(project), "--auto-approve", "--prune"])
    err = capsys.readouterr().err
    assert code == 1
    assert_one_clear_error(err, AGENT, SAYS[kind])
    assert _writes(api_env) == before


def _writes(emulator: Emulator) -> int:
    return sum(r["count"] for r in emulator.stats()["requests"] if r["method"] in ("POST", "PATCH", "DELETE"))


# -- the body limit ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["huge", "huge_chunked"])
def test_a_body_over_the_limit_is_refused_without_reading_it_all(kind: str, emulator: Emulator) -> None:
    # The real limit against a body just over it: 60 MB would be slow to build on a shared machine.
    size = client_module.MAX_BODY_BYTES + 1024
    emulator.set_faults(Faults(hostile_rate=1.0, hostile_kinds=(kind,), huge_bytes=size))
    with Client(emulator.url, ADMIN_KEY, retry=FAST) as c, pytest.raises(NetworkError) as caught:
        c.get(AGENT_LIST)
    message = caught.value.message
    assert f"{emulator.url}{AGENT_LIST}" in message
    assert f"larger than {client_module.MAX_BODY_BYTES // 2**20} MiB" in message
    assert not caught.value.ambiguous


def test_a_body_just_under_the_limit_is_read(emulator: Emulator, small_limit: int) -> None:
    emulator.set_faults(Faults(hostile_rate=1.0, hostile_kinds=("huge_chunked",), huge_bytes=small_limit))
    with Client(emulator.url, ADMIN_KEY, retry=FAST) as c:
        body = c.get(AGENT_LIST)
    assert len(body["padding"]) == small_limit - len('{"padding":""}')


def test_the_connection_is_usable_after_a_refused_body(emulator: Emulator, small_limit: int) -> None:
    emulator.set_faults(Faults(hostile_rate=1.0, hostile_kinds=("huge",), huge_bytes=small_limit * 10))
    with Client(emulator.url, ADMIN_KEY, retry=FAST, concurrency=1) as c:
        with pytest.raises(NetworkError):
            c.get(AGENT_LIST)
        emulator.set_faults(Faults())
        assert c.get(AGENT_LIST)["agents"] == []


@pytest.mark.parametrize("kind", ["not_object", "wrong_type"])
def test_a_broken_read_back_fails_the_write_with_its_reason(
    kind: str, project: Path, api_env: Emulator
) -> None:
    # The PATCH goes through; the GET that should prove it took answers garbage. That is a failed write
    # with the URL and what was wrong, not a "not converged" that blames the server for ignoring fields.
    from agentsync.apply import ApplyOptions, Outcome, apply_plan, snapshot_of
    from agentsync.load import load_project
    from agentsync.planner import build_plan
    from agentsync.remote import fetch

    (project / "agents" / "alpha.yaml").write_text(json.dumps({"name": "Alpha renamed"}))
    with Client(api_env.url, ADMIN_KEY, retry=FAST) as c:
        loaded = load_project(project)
        remote = fetch(c, loaded)
        plan = build_plan(loaded, remote, targets=("alpha",))
        api_env.set_faults(Faults(hostile_rate=1.0, hostile_kinds=(kind,), hostile_route=AGENT))
        report = apply_plan(c, plan, ApplyOptions(), snapshot=snapshot_of(plan, remote))
    [result] = report.results
    assert result.outcome is Outcome.FAILED
    assert "not what the API sends" in (result.reason or "") and "/v1/convai/agents/" in (result.reason or "")


# -- the knob itself -----------------------------------------------------------------------------------------


def test_the_knob_touches_only_successful_reads_of_its_route(emulator: Emulator) -> None:
    emulator.set_faults(Faults(hostile_rate=1.0, hostile_kinds=("not_object",), hostile_route=AGENT))
    headers = {"xi-api-key": ADMIN_KEY}
    created = requests.post(
        f"{emulator.url}/v1/convai/agents/create",
        json={"conversation_config": {}},
        headers=headers,
        timeout=5,
    )
    assert created.status_code == 200 and isinstance(created.json(), dict)
    agent_id = created.json()["agent_id"]
    assert isinstance(requests.get(f"{emulator.url}{AGENT_LIST}", headers=headers, timeout=5).json(), dict)
    got = requests.get(f"{emulator.url}/v1/convai/agents/{agent_id}", headers=headers, timeout=5)
    assert isinstance(got.json(), list)
    missing = requests.get(f"{emulator.url}/v1/convai/agents/nope", headers=headers, timeout=5)
    assert missing.status_code == 404 and isinstance(missing.json(), dict)


def test_the_knob_rejects_an_unknown_kind(emulator: Emulator) -> None:
    answer = requests.post(
        f"{emulator.url}/_emulator/faults", json={"hostile_kinds": ["gibberish"]}, timeout=5
    )
    assert answer.status_code == 422 and "gibberish" in answer.text
    with pytest.raises(ValueError, match="gibberish"):
        Faults(hostile_kinds=("gibberish",))


@pytest.mark.parametrize("kind", ["not_object", "wrong_type", "truncated"])
def test_a_saved_plan_is_not_applied_over_a_broken_stale_check(
    kind: str, project: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "agents" / "gamma.yaml").unlink()
    (project / "agents" / "alpha.yaml").write_text(json.dumps({"name": "Alpha the second"}))
    saved = project / "plan.json"
    assert run(["plan", "-C", str(project), "--out", str(saved), "--detailed-exitcode"]) == 2
    api_env.set_faults(Faults(hostile_rate=1.0, hostile_kinds=(kind,), hostile_route=AGENT))
    before = _writes(api_env)
    capsys.readouterr()
    assert run(["apply", "-C", str(project), str(saved), "--auto-approve"]) == 1
    assert_one_clear_error(capsys.readouterr().err, AGENT, expected(kind, AGENT))
    assert _writes(api_env) == before


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("route", "kind"), ROUTE_KINDS)
def test_pull_refuses_every_hostile_answer_and_writes_nothing(
    kind: str,
    route: str,
    project: Path,
    api_env: Emulator,
    small_limit: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A pulled file is the team's source of truth: a broken answer must never be written into one.
    before = files_of(project)
    capsys.readouterr()
    api_env.set_faults(
        Faults(hostile_rate=1.0, hostile_kinds=(kind,), hostile_route=route, huge_bytes=small_limit * 3)
    )
    assert run(["pull", "--all", "-C", str(project)]) == 1
    assert_one_clear_error(capsys.readouterr().err, route, expected(kind, route))
    assert files_of(project) == before
