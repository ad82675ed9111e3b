"""GETs sent and read by one thread (agentsync.multiplex): the same bodies, errors and retries as the
client's own GETs, in every framing, under TLS, at the deadline, and when it is closed."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from agentsync.client import NO_RETRY as ONCE
from agentsync.client import Client, RetryPolicy
from agentsync.emulator import ADMIN_KEY, Emulator
from agentsync.errors import ApiError, NetworkError
from agentsync.kinds.agent import AGENT
from agentsync.multiplex import Multiplexer
from agentsync.remote import get_one, item_path
from tests.rawhttp import TLS_CERT, Server, TlsServer, answer, chunked, with_length

TWICE = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.001)
BODY = json.dumps({"agent_id": "a1", "name": "One"}).encode()


@pytest.fixture
def workers() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=4)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


def _get(
    client: Client, workers: ThreadPoolExecutor, *paths: str, then: Callable[[Any], Any] = lambda b: b
) -> list[Any]:
    mux = Multiplexer(client, workers)
    try:
        futures = [mux.submit(path, then) for path in paths]
        return [f.result(timeout=20) for f in futures]
    finally:
        mux.close()


def _free_slots(client: Client) -> int:
    taken = 0
    while client.slots.acquire(blocking=False):
        taken += 1
    for _ in range(taken):
        client.slots.release()
    return taken


# --- against the emulator ------------------------------------------------------------------------


def test_bodies_counts_and_slots_are_the_clients_own(emulator: Emulator, workers: ThreadPoolExecutor) -> None:
    with Client(emulator.url, ADMIN_KEY, concurrency=4, retry=ONCE) as setup:
        ids = [
            setup.post("/v1/convai/agents/create", {"name": f"Mux {i}", "conversation_config": {}})[
                "agent_id"
            ]
            for i in range(12)
        ]
    with Client(emulator.url, ADMIN_KEY, concurrency=4, retry=ONCE) as client:
        expected = [get_one(client, AGENT, i) for i in ids]
        before = client.stats.get("GET", 0)
        url = client.base_url
        got = _get(
            client, workers, *(item_path(AGENT, i) for i in ids), then=lambda b: AGENT.api.check(b, url)
        )
        assert got == expected
        assert client.stats["GET"] - before == len(ids)  # one request each, counted as the client counts
        assert _free_slots(client) == 4  # every slot it took is back


def test_an_unknown_id_is_the_clients_own_404_error(emulator: Emulator, workers: ThreadPoolExecutor) -> None:
    with Client(emulator.url, ADMIN_KEY, concurrency=2, retry=ONCE) as client:
        mux = Multiplexer(client, workers)
        future = mux.submit(item_path(AGENT, "agent_missing"), lambda b: b)
        with pytest.raises(ApiError) as raised:
            future.result(timeout=10)
        mux.close()
        with pytest.raises(ApiError) as threaded:
            client.get(item_path(AGENT, "agent_missing"))
    assert raised.value.status == threaded.value.status == 404
    assert str(raised.value) == str(threaded.value)


# --- framing, against exact bytes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        with_length(BODY),
        chunked(BODY, size=3),
        answer(gzip.compress(BODY), "Content-Encoding: gzip", f"Content-Length: {len(gzip.compress(BODY))}"),
        answer(b"", status="100 Continue") + with_length(BODY),
    ],
    ids=["length", "chunked", "gzip", "interim-100"],
)
def test_every_framing_the_transport_reads_is_read(
    serve: Callable[..., Server], workers: ThreadPoolExecutor, reply: bytes
) -> None:
    server = serve(lambda _: reply)
    with Client(server.url, "k", retry=ONCE, concurrency=2) as client:
        assert _get(client, workers, "/one", "/two", "/three") == [json.loads(BODY)] * 3


def _read_in_pieces(
    workers: ThreadPoolExecutor, whole: bytes, size: int, pause: float, *, closes: bool = False
) -> Any:
    """The body a multiplexed GET reads from a server that sends ``whole`` ``size`` bytes at a time,
    pausing ``pause`` seconds every 64 KiB (or after every piece, for small pieces)."""

    class Pieces(Server):
        def _answer(self, conn: socket.socket) -> None:
            with conn:
                conn.recv(65536)
                self.seen.append(b"GET")
                for i in range(0, len(whole), size):
                    conn.sendall(whole[i : i + size])
                    if size < 64 or i % 65536 == 0:
                        time.sleep(pause)
                if not closes:
                    conn.recv(65536)

    listener = socket.create_server(("127.0.0.1", 0))
    server = Pieces(lambda _: None, url=f"http://127.0.0.1:{listener.getsockname()[1]}")
    threading.Thread(target=server.serve, args=(listener,), daemon=True).start()
    try:
        with Client(server.url, "k", retry=ONCE, concurrency=1) as client:
            return _get(client, workers, "/pieces")[0]
    finally:
        listener.close()


def test_an_answer_that_trickles_in_is_read_whole(workers: ThreadPoolExecutor) -> None:
    # Every 5 bytes its own segment, cutting lines and all.
    assert _read_in_pieces(workers, with_length(BODY), 5, 0.002) == json.loads(BODY)


def test_an_answer_ended_by_closing_is_read_and_the_connection_not_kept(
    serve: Callable[..., Server], workers: ThreadPoolExecutor
) -> None:
    server = serve(lambda _: answer(BODY, "Content-Type: application/json"), close_after=True)
    with Client(server.url, "k", retry=ONCE, concurrency=1) as client:
        assert _get(client, workers, "/a", "/b") == [json.loads(BODY)] * 2
    assert server.connections == 2


def test_kept_alive_connections_carry_the_gets_and_go_back_to_the_transport(
    serve: Callable[..., Server], workers: ThreadPoolExecutor
) -> None:
    server = serve(lambda _: with_length(BODY))
    with Client(server.url, "k", retry=ONCE, concurrency=2) as client:
        assert len(_get(client, workers, *(f"/{i}" for i in range(10)))) == 10
        client.get("/after")  # a thread's request, on a connection the multiplexer opened
    assert server.connections <= 2 and len(server.seen) == 11


def test_the_requests_carry_the_clients_headers(
    serve: Callable[..., Server], workers: ThreadPoolExecutor
) -> None:
    server = serve(lambda _: with_length(BODY))
    with Client(server.url, "the-key", retry=ONCE, concurrency=1) as client:
        _get(client, workers, "/v1/convai/agents/a1")
    request = server.seen[0].decode()
    assert request.startswith("GET /v1/convai/agents/a1 HTTP/1.1\r\n")
    assert "xi-api-key: the-key\r\n" in request and "Accept: application/json\r\n" in request


# --- failures: judged, and retried, as the client's own ------------------------------------------


def test_a_rate_limited_get_is_retried_on_a_worker(
    serve: Callable[..., Server], workers: ThreadPoolExecutor
) -> None:
    answers = iter([answer(b"{}", "Retry-After: 0", "Content-Length: 2", status="429 Too Many Requests")])
    server = serve(lambda _: next(answers, with_length(BODY)))
    with Client(server.url, "k", retry=TWICE, concurrency=1) as client:
        assert _get(client, workers, "/limited") == [json.loads(BODY)]
        assert client.stats == {"GET": 2, "retries": 1}


def test_a_connection_dropped_before_the_answer_is_retried(
    serve: Callable[..., Server], workers: ThreadPoolExecutor
) -> None:
    dropped = iter([None])
    server = serve(lambda _: next(dropped, with_length(BODY)))
    with Client(server.url, "k", retry=TWICE, concurrency=1) as client:
        assert _get(client, workers, "/dropped") == [json.loads(BODY)]
        assert client.stats["retries"] == 1


def test_a_dropped_connection_with_no_retry_left_is_one_sentence(
    serve: Callable[..., Server], workers: ThreadPoolExecutor
) -> None:
    server = serve(lambda _: None)
    with Client(server.url, "k", retry=ONCE, concurrency=1) as client, pytest.raises(NetworkError) as raised:
        _get(client, workers, "/x")
    message = str(raised.value)
    assert f"{server.url}/x" in message and "\n" not in message.split("hint:")[0].strip()


def _errors(
    serve: Callable[..., Server], workers: ThreadPoolExecutor, reply: bytes, **options: Any
) -> tuple[str, str]:
    """The error of a multiplexed GET and of the client's own GET, each against a fresh server that
    sends ``reply`` and closes."""
    messages = []
    for multiplexed in (True, False):
        server = serve(lambda _: reply, close_after=True)
        with (
            Client(server.url, "k", retry=ONCE, concurrency=1) as client,
            pytest.raises((NetworkError, ApiError)) as raised,
        ):
            _get(client, workers, "/x") if multiplexed else client.get("/x")
        messages.append(str(raised.value).replace(server.url, "URL"))
    return messages[0], messages[1]


@pytest.mark.parametrize(
    "reply",
    [
        with_length(BODY)[:-5],  # cut in the body
        with_length(BODY)[:20],  # cut in the headers
        b"SSH-2.0-OpenSSH\r\n\r\n",  # not HTTP
        answer(b"<html>", "Content-Length: 6", "Content-Type: text/html", status="502 Bad Gateway"),
        answer(b'{"detail": "no"}', "Content-Length: 16", status="403 Forbidden"),
        answer(b"", "Location: https://elsewhere.example/x", "Content-Length: 0", status="302 Found"),
        answer(b"not json", "Content-Length: 8", "Content-Type: application/json"),
        answer(b"zz", "Content-Encoding: gzip", "Content-Length: 2"),
    ],
    ids=["cut-body", "cut-head", "not-http", "html-502", "403", "redirect", "not-json", "broken-gzip"],
)
def test_a_failed_get_is_the_same_sentence_as_the_clients_own(
    serve: Callable[..., Server], workers: ThreadPoolExecutor, reply: bytes
) -> None:
    multiplexed, threaded = _errors(serve, workers, reply)
    assert multiplexed == threaded
    assert "URL/x" in multiplexed


def test_an_answer_over_the_limit_is_refused(
    serve: Callable[..., Server], workers: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentsync.answers as answers_module

    monkeypatch.setattr(answers_module, "MAX_BODY_BYTES", 1000)
    big = json.dumps({"padding": "a" * 5000}).encode()
    for reply in (with_length(big), chunked(big, size=300), answer(big, "Content-Type: application/json")):
        multiplexed, threaded = _errors(serve, workers, reply)
        assert multiplexed == threaded and "larger than" in multiplexed


def test_a_server_that_never_answers_meets_the_deadline(
    serve: Callable[..., Server], workers: ThreadPoolExecutor
) -> None:
    stop = threading.Event()
    server = serve(lambda _: (stop.wait(10), None)[1])
    started = time.monotonic()
    try:
        with (
            Client(server.url, "k", retry=ONCE, concurrency=2, timeout=5.0, deadline=0.3) as client,
            pytest.raises(NetworkError) as raised,
        ):
            _get(client, workers, "/silent")
            assert _free_slots(client) == 2
    finally:
        stop.set()
    assert time.monotonic() - started < 3
    assert f"{server.url}/silent" in str(raised.value) and "0.3" in str(raised.value)


def test_a_server_silent_past_the_read_timeout_is_a_timeout(
    serve: Callable[..., Server], workers: ThreadPoolExecutor
) -> None:
    stop = threading.Event()
    server = serve(lambda _: (stop.wait(10), None)[1])
    try:
        with (
            Client(server.url, "k", retry=ONCE, concurrency=1, timeout=0.2, deadline=5.0) as client,
            pytest.raises(NetworkError, match="timed out"),
        ):
            _get(client, workers, "/slow")
    finally:
        stop.set()


def test_no_connection_at_all_is_the_clients_connect_error(workers: ThreadPoolExecutor) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    with (
        Client(f"http://127.0.0.1:{port}", "k", retry=ONCE, concurrency=2) as client,
        pytest.raises(NetworkError, match="refused"),
    ):
        _get(client, workers, "/nowhere")


# --- closing, and TLS ----------------------------------------------------------------------------


def test_closing_cancels_what_is_not_answered_and_frees_the_slots(
    serve: Callable[..., Server], workers: ThreadPoolExecutor
) -> None:
    stop = threading.Event()
    server = serve(lambda _: (stop.wait(10), with_length(BODY))[1])
    try:
        with Client(server.url, "k", retry=ONCE, concurrency=2) as client:
            mux = Multiplexer(client, workers)
            futures = [mux.submit(f"/{i}", lambda b: b) for i in range(5)]
            time.sleep(0.2)  # two in flight, three waiting
            mux.close()
            assert all(f.cancelled() for f in futures)
            assert _free_slots(client) == 2
            assert mux.submit("/late", lambda b: b).cancelled()
    finally:
        stop.set()


def test_gets_over_https_to_a_trusted_certificate(
    tls_server: TlsServer, workers: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS_CERT))
    tls_server.reply = lambda _: with_length(BODY)
    with Client(tls_server.url, "k", retry=ONCE, concurrency=2) as client:
        assert _get(client, workers, *(f"/{i}" for i in range(6))) == [json.loads(BODY)] * 6
    assert tls_server.connections <= 2


def test_an_untrusted_certificate_is_refused_before_the_key_is_sent(
    tls_server: TlsServer, workers: ThreadPoolExecutor
) -> None:
    with (
        Client(tls_server.url, "secret", retry=ONCE, concurrency=1) as client,
        pytest.raises(NetworkError, match="certificate"),
    ):
        _get(client, workers, "/x")
    assert tls_server.seen == []


def test_never_more_requests_in_flight_or_connections_than_the_concurrency(
    serve: Callable[..., Server], workers: ThreadPoolExecutor
) -> None:
    lock = threading.Lock()
    now, most = [0], [0]

    def slow(_: bytes) -> bytes:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.01)
        with lock:
            now[0] -= 1
        return with_length(BODY)

    server = serve(slow)
    with Client(server.url, "k", retry=ONCE, concurrency=3) as client:
        assert len(_get(client, workers, *(f"/{i}" for i in range(30)))) == 30
        assert _free_slots(client) == 3
    assert most[0] == 3 and server.connections == 3


@pytest.mark.parametrize("framing", ["length", "chunked", "closing"])
def test_a_large_answer_in_small_pieces_is_parsed_a_few_times_not_at_every_read(
    serve: Callable[..., Server], workers: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch, framing: str
) -> None:
    import agentsync.multiplex as multiplex

    body = json.dumps({"padding": "a" * 1_000_000}).encode()
    whole = {
        "length": with_length(body),
        "chunked": chunked(body, size=4096),
        "closing": answer(body, "Content-Type: application/json"),
    }[framing]
    parsed = []
    original = multiplex.read_body  # type: ignore[attr-defined]

    def counted(*args: Any) -> Any:
        parsed.append(1)
        return original(*args)

    monkeypatch.setattr(multiplex, "read_body", counted)

    # About 250 pieces of 4 KiB, most read on their own.
    got = _read_in_pieces(workers, whole, 4096, 0.001, closes=framing == "closing")
    assert got == json.loads(body)
    # The declared length is waited for; a body with no length is tried at each doubling of its size
    # (a chunked one also at each blank line it happens to end on): never once per read.
    assert len(parsed) <= {"length": 1, "chunked": 8, "closing": 8}[framing], len(parsed)


KEY = "sk_echoed_0123456789abcdef"


def _echoing(status: str, extra: str = "") -> Callable[[bytes], bytes]:
    """A server that writes the request's own key back: in its error message, a header, a Location."""

    def reply(request: bytes) -> bytes:
        key = next(
            line.split(b":", 1)[1].strip().decode()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"xi-api-key:")
        )
        body = json.dumps({"detail": {"status": "bad", "message": f"key {key} is not allowed"}}).encode()
        if status.startswith("200"):
            body = json.dumps({"agent_id": "a1", "name": f"named {key}"}).encode()
        headers = [f"Content-Length: {len(body)}", "Content-Type: application/json", f"request-id: {key}"]
        if extra:
            headers.append(extra.format(key=key))
        return answer(body, *headers, status=status)

    return reply


@pytest.mark.parametrize("multiplexed", [True, False], ids=["multiplexed", "threaded"])
@pytest.mark.parametrize(
    ("status", "extra"),
    [
        ("403 Forbidden", ""),
        ("500 Internal Server Error", ""),
        ("302 Found", "Location: https://x.example/{key}"),
    ],
    ids=["403", "500", "redirect"],
)
def test_a_server_that_writes_the_key_back_never_gets_it_printed(
    serve: Callable[..., Server], workers: ThreadPoolExecutor, multiplexed: bool, status: str, extra: str
) -> None:
    server = serve(_echoing(status, extra))
    with (
        Client(server.url, KEY, retry=ONCE, concurrency=1) as client,
        pytest.raises((ApiError, NetworkError)) as raised,
    ):
        _get(client, workers, "/x") if multiplexed else client.get("/x")
    shown = f"{raised.value}\n{raised.value!r}\n{getattr(raised.value, 'hint', '')}"
    assert KEY not in shown
    assert "[the API key]" in shown  # the server's words are still shown, without it


@pytest.mark.parametrize("multiplexed", [True, False], ids=["multiplexed", "threaded"])
def test_a_body_that_holds_the_key_is_read_without_it(
    serve: Callable[..., Server], workers: ThreadPoolExecutor, multiplexed: bool
) -> None:
    server = serve(_echoing("200 OK"))
    with Client(server.url, KEY, retry=ONCE, concurrency=1) as client:
        body = _get(client, workers, "/x")[0] if multiplexed else client.get("/x")
    assert body == {"agent_id": "a1", "name": "named [the API key]"}
