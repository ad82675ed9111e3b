"""The API client against the emulator over real HTTP; a tiny local server only for the answers the
emulator never gives (a plain-string detail, an HTML error page)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from agentsync.client import Client, RetryPolicy, connect, parse_retry_after, resolve_base_url
from agentsync.emulator import ADMIN_KEY, MEMBER_KEY, Emulator, Faults
from agentsync.errors import ApiError, NetworkError, UsageError

AGENTS = "/v1/convai/agents"
FAST = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01, max_total=5.0)
ONCE = RetryPolicy(max_attempts=1)


def client_for(emu: Emulator, key: str = ADMIN_KEY, **options: Any) -> Client:
    options.setdefault("retry", FAST)
    return Client(emu.url, key, **options)


def emulator_counts(emu: Emulator) -> dict[tuple[str, int], int]:
    """(method, status) -> requests the emulator saw, read through its own HTTP endpoint."""
    rows = requests.get(f"{emu.url}/_emulator/stats", timeout=5).json()["requests"]
    counts: dict[tuple[str, int], int] = {}
    for row in rows:
        counts[(row["method"], row["status"])] = counts.get((row["method"], row["status"]), 0) + row["count"]
    return counts


def create_agent(client: Client, name: str, **extra: Any) -> str:
    body = {"name": name, "conversation_config": {}, **extra}
    agent_id: str = client.post(f"{AGENTS}/create", body)["agent_id"]
    return agent_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- success paths ---------------------------------------------------------------------------------


def test_create_get_patch_delete(emulator: Emulator) -> None:
    with client_for(emulator) as client:
        agent_id = create_agent(client, "One", tags=["a"])
        assert client.get(f"{AGENTS}/{agent_id}")["name"] == "One"
        patched = client.patch(f"{AGENTS}/{agent_id}", {"name": "Two"})
        assert patched["name"] == "Two"
        client.delete(f"{AGENTS}/{agent_id}")
        assert client.stats == {"POST": 1, "GET": 1, "PATCH": 1, "DELETE": 1}


def test_kept_bodies_share_their_strings_and_read_backs_do_not(emulator: Emulator) -> None:
    with Client(emulator.url, ADMIN_KEY) as client:
        created = client.post("/v1/convai/agents/create", {"name": "Shared", "conversation_config": {}})
        path = f"/v1/convai/agents/{created['agent_id']}"
        kept = [client.get(path) for _ in range(2)]
        once = [client.get(path, keep=False) for _ in range(2)]
    assert kept[0] == kept[1] == once[0] == once[1]

    def key(body: dict[str, Any]) -> str:
        return next(k for k in body if k == "conversation_config")

    # The same key in two kept bodies is one string object; in two read-backs, two.
    assert key(kept[0]) is key(kept[1])
    assert key(once[0]) is not key(once[1])


def test_sends_the_key_header_and_a_user_agent(canned: str) -> None:
    _Canned.seen_headers.clear()
    with Client(canned, "sk_header_test", retry=ONCE, user_agent="agentsync-test/1") as client:
        assert client.get("/200/string") == {"detail": "Something broke"}
    (headers,) = _Canned.seen_headers
    assert headers["xi-api-key"] == "sk_header_test"
    assert headers["User-Agent"] == "agentsync-test/1"
    assert headers["Accept"] == "application/json"
    assert headers["Host"] == canned.removeprefix("http://")


def test_paginate_follows_has_more(emulator: Emulator) -> None:
    with client_for(emulator) as client:
        made = {create_agent(client, f"agent {i}") for i in range(5)}
        found = list(client.paginate(AGENTS, "agents", {"page_size": 2}))
        assert {a["agent_id"] for a in found} == made and len(found) == 5
        assert client.stats["GET"] == 3


def test_booleans_go_as_the_api_reads_them(emulator: Emulator) -> None:
    with client_for(emulator) as client:
        create_agent(client, "live")
        assert client.get(AGENTS, {"archived": True, "search": None})["agents"] == []
        assert len(client.get(AGENTS, {"archived": False})["agents"]) == 1


def test_map_keeps_order_bounds_concurrency_and_returns_exceptions(emulator: Emulator) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        if n == 3:
            raise ValueError("three")
        return n * 10

    with client_for(emulator, concurrency=2) as client:
        results = client.map(work, range(6))
    assert results[:3] == [0, 10, 20] and results[4:] == [40, 50]
    assert isinstance(results[3], ValueError)
    assert peak == 2


# -- error sentences -------------------------------------------------------------------------------


def test_401_says_the_key_was_rejected(emulator: Emulator) -> None:
    with client_for(emulator, key="sk_wrong") as client, pytest.raises(ApiError) as caught:
        client.get(AGENTS)
    assert caught.value.status == 401
    assert "the API key was rejected" in caught.value.message
    assert caught.value.detail.request_id
    assert "sk_wrong" not in caught.value.render()


def test_403_for_a_non_owner(emulator: Emulator) -> None:
    with client_for(emulator) as admin, client_for(emulator, key=MEMBER_KEY) as member:
        tag_id = admin.post("/v1/convai/tags", {"title": "vip"})["tag_id"]
        with pytest.raises(ApiError) as caught:
            member.patch(f"/v1/convai/tags/{tag_id}", {"title": "x"})
    assert caught.value.status == 403
    assert "is not allowed to do PATCH" in caught.value.message
    assert not caught.value.ambiguous


def test_404_names_the_url(emulator: Emulator) -> None:
    with client_for(emulator) as client, pytest.raises(ApiError) as caught:
        client.get(f"{AGENTS}/agent_missing")
    assert caught.value.status == 404
    assert caught.value.detail.code == "agent_not_found"
    assert f"GET {emulator.url}{AGENTS}/agent_missing found nothing (404)" in caught.value.message


def test_422_names_the_field_path(emulator: Emulator) -> None:
    body = {"conversation_config": {"tts": {"stability": 7}}}
    with client_for(emulator) as client, pytest.raises(ApiError) as caught:
        client.post(f"{AGENTS}/create", body)
    error = caught.value
    assert error.status == 422
    assert error.detail.field_errors[0].startswith("body.conversation_config.tts.stability: ")
    assert "body.conversation_config.tts.stability" in error.message
    assert client.stats == {"POST": 1}


def test_5xx_carries_the_request_id_and_is_ambiguous_for_writes(emulator: Emulator) -> None:
    emulator.set_faults(Faults(error_rate=1.0, seed=1))
    with client_for(emulator, retry=ONCE) as client:
        with pytest.raises(ApiError) as read:
            client.get(AGENTS)
        with pytest.raises(ApiError) as write:
            client.patch(f"{AGENTS}/agent_x", {"name": "x"})
    assert read.value.status in (500, 502, 503)
    assert (
        read.value.detail.request_id and f"(request id {read.value.detail.request_id})" in read.value.message
    )
    assert not read.value.ambiguous and write.value.ambiguous


def test_connection_refused_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, "k", retry=ONCE) as client, pytest.raises(NetworkError) as caught:
        client.post(f"{AGENTS}/create", {})
    assert caught.value.message == f"could not connect to {url}{AGENTS}/create: connection refused"
    assert not caught.value.ambiguous  # nothing reached a server


def test_timeout_names_the_url_and_is_ambiguous_for_writes(emulator: Emulator) -> None:
    emulator.set_faults(Faults(latency=0.5))
    # A PATCH of a missing agent: the late answer is a 404, so nothing leaks into the next test.
    with client_for(emulator, timeout=0.1, retry=ONCE) as client, pytest.raises(NetworkError) as caught:
        client.patch(f"{AGENTS}/agent_missing", {"name": "x"})
    assert f"PATCH {emulator.url}{AGENTS}/agent_missing timed out after 0.1 s" in caught.value.message
    assert caught.value.ambiguous


def test_dropped_connection(emulator: Emulator) -> None:
    emulator.set_faults(Faults(drop_rate=1.0, seed=3))
    with client_for(emulator, retry=ONCE) as client:
        with pytest.raises(NetworkError) as read:
            client.get(AGENTS)
        with pytest.raises(NetworkError) as write:
            client.delete(f"{AGENTS}/agent_x")
    assert (
        read.value.message == f"the connection to {emulator.url}{AGENTS} was dropped before GET got an answer"
    )
    assert not read.value.ambiguous and write.value.ambiguous


class _Canned(BaseHTTPRequestHandler):
    """Answers GET /<status>/<kind> with a body the emulator never sends."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    seen_keys: list[str | None] = []
    seen_headers: list[dict[str, str]] = []

    def do_GET(self) -> None:
        _Canned.seen_keys.append(self.headers.get("xi-api-key"))
        _Canned.seen_headers.append(dict(self.headers.items()))
        if self.path.startswith("/301/"):
            self.send_response(301)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, kind = self.path.strip("/").split("/")
        body, ctype = {
            "html": (b"<html><body>Bad Gateway</body></html>", "text/html"),
            "string": (json.dumps({"detail": "Something broke"}).encode(), "application/json"),
            "okhtml": (b"<html>login page</html>", "text/html; charset=utf-8"),
        }[kind]
        self.send_response(int(status))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def canned() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_non_json_error_body_gives_a_sentence_with_the_status(canned: str) -> None:
    with Client(canned, "k", retry=ONCE) as client, pytest.raises(ApiError) as caught:
        client.get("/502/html")
    assert caught.value.message == (
        f"GET {canned}/502/html failed with HTTP 502 and a body that is not the API's (text/html)"
    )


def test_plain_string_detail(canned: str) -> None:
    with Client(canned, "k", retry=ONCE) as client, pytest.raises(ApiError) as caught:
        client.get("/400/string")
    assert caught.value.message == f"the API refused GET {canned}/400/string (HTTP 400): Something broke"


def test_success_that_is_not_json_is_a_network_error(canned: str) -> None:
    with Client(canned, "k", retry=ONCE) as client, pytest.raises(NetworkError) as caught:
        client.get("/200/okhtml")
    assert "is not JSON (text/html, status 200)" in caught.value.message


def test_a_redirect_is_not_followed_so_the_key_stays_with_its_host(canned: str) -> None:
    _Canned.seen_keys.clear()
    with Client(canned, "sk_redirect_test", retry=ONCE) as client, pytest.raises(NetworkError) as caught:
        client.get("/301/moved")
    assert caught.value.message == (
        f"GET {canned}/301/moved was redirected (301) to "
        "http://127.0.0.1:1/elsewhere; agentsync does not follow redirects, so "
        "the API key stays with the host it was meant for"
    )
    assert _Canned.seen_keys == ["sk_redirect_test"]  # one request, to the canned host only


# -- retries ---------------------------------------------------------------------------------------


def test_retries_429_honouring_retry_after_capped_by_max_delay(emulator: Emulator) -> None:
    # Retry-After says 5 s; max_delay caps each wait at 0.2 s, far above the 0.001 s backoff.
    emulator.set_faults(Faults(rate_limit_rate=0.5, retry_after=5, seed=7))
    policy = RetryPolicy(max_attempts=10, base_delay=0.001, max_delay=0.2, max_total=30)
    started = time.monotonic()
    with client_for(emulator, retry=policy) as client:
        for _ in range(4):
            assert client.get(AGENTS)["agents"] == []
        retries = client.stats.get("retries", 0)
    elapsed = time.monotonic() - started
    counts = emulator_counts(emulator)
    assert retries > 0 and counts[("GET", 429)] == retries and counts[("GET", 200)] == 4
    assert 0.2 * retries <= elapsed < 5


def test_retries_5xx_and_drops_for_reads_until_success(emulator: Emulator) -> None:
    emulator.set_faults(Faults(error_rate=0.3, drop_rate=0.2, seed=11))
    with client_for(
        emulator, retry=RetryPolicy(max_attempts=20, base_delay=0.001, max_delay=0.005)
    ) as client:
        for _ in range(10):
            client.get(AGENTS)
        stats = client.stats
    counts = emulator_counts(emulator)
    assert stats["retries"] > 0
    assert stats["GET"] == sum(counts.values()) == 10 + stats["retries"]


def test_gives_up_after_max_attempts(emulator: Emulator) -> None:
    emulator.set_faults(Faults(error_rate=1.0, seed=2))
    with client_for(emulator, retry=RetryPolicy(max_attempts=3, base_delay=0.001)) as client:
        with pytest.raises(ApiError):
            client.get(AGENTS)
        assert client.stats == {"GET": 3, "retries": 2}


def test_gives_up_when_the_next_wait_passes_max_total(emulator: Emulator) -> None:
    emulator.set_faults(Faults(rate_limit_rate=1.0, retry_after=1, seed=2))
    policy = RetryPolicy(max_attempts=50, max_delay=1.0, max_total=0.5)
    with client_for(emulator, retry=policy) as client:
        with pytest.raises(ApiError) as caught:
            client.get(AGENTS)
        assert client.stats == {"GET": 1}
    assert caught.value.status == 429 and "rate limiting" in caught.value.message


def test_post_is_not_retried_unless_asked(emulator: Emulator) -> None:
    emulator.set_faults(Faults(error_rate=1.0, seed=2))
    with client_for(emulator) as client:
        with pytest.raises(ApiError) as caught:
            client.post(f"{AGENTS}/create", {"conversation_config": {}})
        assert client.stats == {"POST": 1}
        assert caught.value.ambiguous
        with pytest.raises(ApiError):
            client.post("/v1/convai/tags", {"title": "t"}, retry=True)
        assert client.stats["POST"] == 1 + FAST.max_attempts


def test_delete_retry_that_finds_it_gone_counts_as_done(emulator: Emulator) -> None:
    with client_for(emulator) as client:
        agent_id = create_agent(client, "doomed")
    # Commit then fail: the first DELETE is applied but its answer is lost; the retry gets 404.
    emulator.set_faults(Faults(commit_then_fail_rate=1.0, seed=5))
    with client_for(emulator) as client:
        client.delete(f"{AGENTS}/{agent_id}")
        assert client.stats == {"DELETE": 2, "retries": 1}
    emulator.set_faults(Faults())
    with client_for(emulator) as client, pytest.raises(ApiError) as caught:
        client.delete(f"{AGENTS}/{agent_id}")
    assert caught.value.status == 404  # on the first try a 404 is a real error


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        ("-2", 0.0),
        ("soon", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = 1445412480.0  # 10 s before the date above
    assert parse_retry_after(header, now=now) == expected


def test_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=3.0)
    waits = [policy.backoff(attempt, None) for attempt in range(1, 8) for _ in range(20)]
    assert all(0 <= w <= 3.0 for w in waits) and len(set(waits)) > 10
    assert policy.backoff(1, 60.0) == 3.0 and policy.backoff(1, 0.5) == 0.5


# -- transport safety and configuration ------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://api.elevenlabs.io", "http://10.0.0.5:8080", "http://evil.example"])
def test_plain_http_to_a_remote_host_is_refused_before_any_request(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        Client(url, "sk_secret_value")
    assert "refusing to send the API key over plain HTTP" in caught.value.message
    assert "sk_secret_value" not in caught.value.render()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1", "https://api.elevenlabs.io"]
)
def test_loopback_and_https_are_allowed(url: str) -> None:
    Client(url, "k").close()


def test_the_key_never_appears_in_repr_or_errors(emulator: Emulator) -> None:
    key = "sk_top_secret_123"
    with Client(emulator.url, key, retry=ONCE) as client:
        assert key not in repr(client) and key not in str(vars(client).get("base_url"))
        with pytest.raises(ApiError) as api:
            client.get(AGENTS)
    with (
        Client(f"http://127.0.0.1:{free_port()}", key, retry=ONCE) as dead,
        pytest.raises(NetworkError) as net,
    ):
        dead.get(AGENTS)
    for error in (api.value, net.value):
        assert key not in error.render() and key not in repr(error) and key not in str(error.__dict__)


def test_base_url_resolution() -> None:
    assert resolve_base_url("http://127.0.0.1:8000/", None) == "http://127.0.0.1:8000"
    assert resolve_base_url(None, "eu-residency") == "https://api.eu.residency.elevenlabs.io"
    assert resolve_base_url(None, None) == "https://api.elevenlabs.io"
    assert resolve_base_url("https://x.test", "us") == "https://x.test"
    with pytest.raises(UsageError, match="unknown residency 'mars'"):
        resolve_base_url(None, "mars")
    with pytest.raises(UsageError, match="is not an http"):
        resolve_base_url("ftp://x", None)


def test_connect_needs_a_key() -> None:
    with pytest.raises(UsageError, match="MY_KEY is not set"):
        connect("https://api.elevenlabs.io", api_key=None, key_source="MY_KEY")
    with connect(None, "us", api_key="k") as client:
        assert client.base_url == "https://api.us.elevenlabs.io"


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(UsageError):
        Client("https://api.elevenlabs.io", "k", concurrency=0)
