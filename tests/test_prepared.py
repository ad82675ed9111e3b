"""Planning while the workspace is read: :meth:`agentsync.prefetch.Prefetch.arrived` hands over each
owned body as its GET returns, :class:`agentsync.planner.Prepared` plans it then, and the plan built
afterwards is the same as without it, whatever the project holds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentsync import changes
from agentsync.client import Client, RetryPolicy
from agentsync.emulator import ADMIN_KEY, Emulator, Faults
from agentsync.errors import ApiError, IdentityError
from agentsync.kinds import by_name
from agentsync.kinds.agent import AGENT
from agentsync.kinds.identity import marker
from agentsync.load import load_project
from agentsync.plan import Plan, to_dict
from agentsync.planner import Prepared, build_plan
from agentsync.prefetch import Prefetch
from agentsync.project import Project
from agentsync.remote import RemoteState, fetch

NS = "prep"
AGENTS = "/v1/convai/agents"


@pytest.fixture
def client(emulator: Emulator) -> Iterator[Client]:
    with Client(emulator.url, ADMIN_KEY, concurrency=4) as client:
        yield client


def seed(client: Client, key: str | None, name: str, *, first: str = "hi", archived: bool = False) -> str:
    body: dict[str, object] = {
        "name": name,
        "tags": [marker(NS, key)] if key else ["someone-else"],
        "conversation_config": {"agent": {"first_message": first}},
    }
    if archived:
        body["platform_settings"] = {"archived": True}
    agent_id: str = client.post(f"{AGENTS}/create", body)["agent_id"]
    return agent_id


def write(root: Path, files: dict[str, str]) -> Path:
    (root / "agents").mkdir(parents=True, exist_ok=True)
    (root / "agentsync.yaml").write_text(f"namespace: {NS}\nsafety: {{max_change_share: 1.0}}\n")
    for key, text in files.items():
        (root / "agents" / f"{key}.yaml").write_text(text)
    return root


def agent_file(name: str, first: str = "hi", *, extra: str = "") -> str:
    return f"name: {name}\n{extra}conversation_config:\n  agent:\n    first_message: {first}\n"


def transfer_to(key: str) -> str:
    return (
        "conversation_config:\n  agent:\n    first_message: hi\n    prompt:\n      built_in_tools:\n"
        "        transfer_to_agent:\n          name: transfer_to_agent\n          params:\n"
        "            system_tool_type: transfer_to_agent\n            transfers:\n"
        f"              - {{agent_id: '${{agent.{key}.id}}', condition: go}}\n"
    )


def prepared_from_every_body(project: Project, remote: RemoteState) -> Prepared:
    prepared = Prepared(project)
    for remote_id, body in remote.bodies_of(AGENT).items():
        prepared.add(AGENT, remote_id, body)
    return prepared


def plans(project: Project, remote: RemoteState, **options: object) -> tuple[Plan, Plan, Prepared]:
    prepared = prepared_from_every_body(project, remote)
    plain = build_plan(project, remote, **options)  # type: ignore[arg-type]
    quick = build_plan(project, remote, prepared=prepared, **options)  # type: ignore[arg-type]
    return plain, quick, prepared


def test_a_plan_from_prepared_updates_is_the_plan_without_them(
    tmp_path: Path, emulator: Emulator, client: Client
) -> None:
    seed(client, "same", "Same")
    seed(client, "changed", "Changed")
    seed(client, "archived", "Archived", archived=True)
    seed(client, "router", "Router")
    seed(client, "target", "Target")
    legacy = seed(client, None, "Legacy")  # adopted by id: its match is not the marker's
    seed(client, "old-name", "Renamed")  # renamed: its match carries the previous key
    seed(client, "gone", "Gone")  # owned, no file: a delete under --prune
    files = {
        "same": agent_file("Same"),
        "changed": agent_file("Changed", "hello there"),
        "archived": agent_file("Archived", "now different"),
        "router": "name: Router\n" + transfer_to("target"),  # a reference: resolved into a new definition
        "target": agent_file("Target"),
        "legacy": agent_file("Legacy", "adopted", extra=f"id: {legacy}\n"),
        "new-name": agent_file("Renamed", extra="renamed_from: old-name\n"),
        "fresh": agent_file("Fresh"),  # a create: nothing to prepare
    }
    project = load_project(write(tmp_path, files), environ={})
    remote = fetch(client, project)
    for options in ({}, {"prune": True}, {"targets": ("changed", "router")}):
        plain, quick, prepared = plans(project, remote, **options)
        assert to_dict(quick) == to_dict(plain), options
    # Only those planned from the very inputs the plan uses were worth preparing at all.
    assert len(prepared) == 4  # same, changed, archived, target


def test_a_prepared_update_is_used_only_for_exactly_its_inputs(
    tmp_path: Path, emulator: Emulator, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(client, "bot", "Bot")
    project = load_project(write(tmp_path, {"bot": agent_file("Bot", "changed")}), environ={})
    remote = fetch(client, project)
    prepared = prepared_from_every_body(project, remote)
    expected = to_dict(build_plan(project, remote))
    calls: list[str] = []
    real = changes.update

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args[1].key)  # type: ignore[attr-defined]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(changes, "update", counted)
    assert to_dict(build_plan(project, remote, prepared=prepared)) == expected
    assert calls == []  # planned from what was prepared, not again
    # Another body object for the same agent (a second read) is planned again, not taken on trust.
    body = dict(remote.bodies_of(AGENT)[next(iter(remote.bodies_of(AGENT)))])
    reread = RemoteState(remote.items, {"agent": {body["agent_id"]: body}}, remote.base_url)
    assert to_dict(build_plan(project, reread, prepared=prepared))["changes"] == expected["changes"]
    assert calls == ["bot"]


def test_a_failure_met_while_preparing_is_raised_by_the_plan_itself(
    tmp_path: Path, emulator: Emulator, client: Client
) -> None:
    seed(client, "bot", "Bot")
    seed(client, "bot", "Bot again")  # two agents carry one marker: an identity error
    project = load_project(write(tmp_path, {"bot": agent_file("Bot")}), environ={})
    remote = fetch(client, project)
    prepared = prepared_from_every_body(project, remote)
    with pytest.raises(IdentityError, match="carry"):
        build_plan(project, remote, prepared=prepared)


# --- Prefetch.arrived ---------------------------------------------------------------------------------


def test_arrived_hands_over_every_owned_body_once_and_ends_with_the_reads(
    emulator: Emulator, client: Client
) -> None:
    owned = {seed(client, f"bot-{i}", f"Bot {i}") for i in range(7)}
    owned.add(seed(client, "shelved", "Shelved", archived=True))
    for i in range(3):
        seed(client, None, f"Not ours {i}")
    prefetch = Prefetch(client, [AGENT], NS)
    try:
        seen = [(kind, remote_id) for kind, remote_id, _ in prefetch.arrived()]
        listed, answers = prefetch.result()
    finally:
        prefetch.close()
    assert sorted(seen) == sorted(("agent", i) for i in owned)
    assert len(seen) == len(set(seen))
    # What arrived is the very body the fetcher takes (so a prepared update can be matched to it).
    assert {job: answers[job]["agent_id"] for job in seen} == {job: job[1] for job in seen}
    assert len(listed["agent"]) == 11


def test_arrived_leaves_out_a_failed_get_and_ends(emulator: Emulator, client: Client) -> None:
    seed(client, "kept", "Kept")
    seed(client, "lost", "Lost")
    # Every GET of an agent answers a page that is not JSON; the listings are left alone.
    emulator.set_faults(
        Faults(hostile_rate=1.0, hostile_route=f"{AGENTS}/{{agent_id}}", hostile_kinds=("html",), seed=1)
    )
    with Client(emulator.url, ADMIN_KEY, concurrency=2, retry=RetryPolicy(max_attempts=1)) as once:
        prefetch = Prefetch(once, [AGENT], NS)
        try:
            seen = list(prefetch.arrived())
            _, answers = prefetch.result()
        finally:
            prefetch.close()
    assert seen == []  # both GETs failed, and the loop still ended
    assert len(answers) == 2 and all(isinstance(a, Exception) for a in answers.values())


def test_arrived_ends_when_a_listing_fails(emulator: Emulator, client: Client) -> None:
    seed(client, "bot", "Bot")
    emulator.set_faults(Faults(error_rate=1.0, seed=3))
    with Client(emulator.url, ADMIN_KEY, concurrency=2, retry=RetryPolicy(max_attempts=1)) as failing:
        prefetch = Prefetch(failing, [AGENT], NS)
        try:
            assert list(prefetch.arrived()) == []
            with pytest.raises(ApiError):
                prefetch.result()
        finally:
            prefetch.close()


def test_the_kind_name_arrived_names_is_a_kind(emulator: Emulator, client: Client) -> None:
    seed(client, "bot", "Bot")
    prefetch = Prefetch(client, [AGENT], NS)
    try:
        assert [by_name(kind) for kind, _, _ in prefetch.arrived()] == [AGENT]
    finally:
        prefetch.close()


# --- the threat model on the prepared path --------------------------------------------------------------

SECRET = "s3cr3t-PREPARED-7"
FAKE_KEY = "sk_live_PREPAREDKEY_0123456789"


def test_a_prepared_change_prints_no_env_value_nor_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan's text, Markdown and JSON of a change worked out while the GETs were in flight, for an
    agent whose file holds an ``${env.*}`` value, name neither that value nor the key; and the
    prepared update really is the one shown (so a clean output cannot come from the normal path)."""
    from agentsync.cli import run
    from agentsync.emulator import EmulatorConfig
    from agentsync.emulator.config import ApiKey

    used: list[bool] = []
    real = Prepared.lookup

    def spied(self: Prepared, *args: object) -> tuple[bool, object]:
        found = real(self, *args)  # type: ignore[arg-type]
        used.append(found[0])
        return found

    monkeypatch.setattr(Prepared, "lookup", spied)
    with Emulator(EmulatorConfig(keys=[ApiKey(FAKE_KEY, user_id="user_prep")])) as server:
        with Client(server.url, FAKE_KEY) as client:
            seed(client, "bot", "Bot")
        monkeypatch.setenv("ELEVENLABS_API_KEY", FAKE_KEY)
        monkeypatch.setenv("ELEVENLABS_BASE_URL", server.url)
        monkeypatch.setenv("GREETING_SECRET", SECRET)
        root = write(tmp_path, {"bot": agent_file("Bot", "'Hi ${env.GREETING_SECRET}'")})
        for fmt in ("text", "markdown", "json"):
            out_file = tmp_path / f"plan-{fmt}.json"
            code = run(["plan", "-C", str(root), "--show-body", "--format", fmt, "--out", str(out_file)])
            printed = capsys.readouterr()
            assert code == 0, printed.err
            for text in (printed.out, printed.err, out_file.read_text()):
                assert SECRET not in text and "PREPAREDKEY" not in text
            assert "bot" in printed.out  # the change itself is shown
    assert used and all(used)  # every plan took the agent's update from what was prepared


def test_arrived_ends_when_a_get_is_never_answered() -> None:
    """A server that lists an owned agent at once and then never answers its GET: the GET is cut at
    the client's deadline, so the loop that plans while reading cannot wait for it forever."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    stop = threading.Event()
    summary = {"agent_id": "agent_1", "name": "Bot", "tags": [marker(NS, "bot")]}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith(f"{AGENTS}?") or self.path == AGENTS:
                body = json.dumps({"agents": [summary], "has_more": False, "next_cursor": None}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            stop.wait(10)  # the agent's GET: never answered while the test runs

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    began = time.monotonic()
    try:
        with Client(url, ADMIN_KEY, concurrency=2, deadline=0.3, retry=RetryPolicy(max_attempts=1)) as client:
            prefetch = Prefetch(client, [AGENT], NS)
            try:
                assert list(prefetch.arrived()) == []
                listed, answers = prefetch.result()
            finally:
                prefetch.close()
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
    assert time.monotonic() - began < 5
    assert [item["agent_id"] for item in listed["agent"]] == ["agent_1"]
    assert isinstance(answers[("agent", "agent_1")], Exception)
