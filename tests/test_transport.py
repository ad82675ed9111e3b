"""The HTTP transport against a raw socket server that answers with exact bytes: every framing the
protocol allows (a length, chunks, the connection closing, gzip), kept-alive connections, and the
answers that are not HTTP at all."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Callable

import pytest

from agentsync.client import Client, RetryPolicy
from agentsync.errors import NetworkError
from agentsync.transport import BodyTooLarge, Transport, TransportError
from tests.rawhttp import BODY, TLS_CERT, Server, TlsServer, answer, chunked, with_length

ONCE = RetryPolicy(max_attempts=1)
TWICE = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.001)


def test_one_kept_alive_connection_carries_every_request(serve: Callable[..., Server]) -> None:
    server = serve(lambda _: with_length())
    with Client(server.url, "k", retry=ONCE, concurrency=1) as client:
        for _ in range(5):
            assert client.get("/v1/convai/agents", {"page_size": 100, "archived": False}) == {
                "agents": [],
                "has_more": False,
            }
    assert server.connections == 1
    first = server.seen[0].decode()
    assert first.startswith("GET /v1/convai/agents?page_size=100&archived=false HTTP/1.1\r\n")
    assert f"Host: {server.url.removeprefix('http://')}\r\n" in first


def test_a_json_body_goes_with_its_type_and_length(serve: Callable[..., Server]) -> None:
    server = serve(lambda _: with_length(b'{"agent_id": "a"}'))
    with Client(server.url, "k", retry=ONCE) as client:
        assert client.patch("/v1/convai/agents/a", {"name": "Ünïcode"}) == {"agent_id": "a"}
    head, _, body = server.seen[0].partition(b"\r\n\r\n")
    assert b"Content-Type: application/json\r\n" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body) == {"name": "Ünïcode"}


def test_a_chunked_answer_is_read_whole(serve: Callable[..., Server]) -> None:
    body = json.dumps({"agents": [{"agent_id": f"a{i}"} for i in range(50)], "has_more": False}).encode()
    server = serve(lambda _: chunked(body))
    with Client(server.url, "k", retry=ONCE, concurrency=1) as client:
        assert len(client.get("/v1/convai/agents")["agents"]) == 50
        assert len(client.get("/v1/convai/agents")["agents"]) == 50
    assert server.connections == 1  # a chunked answer ends where it says: the connection is reused


def test_an_answer_ended_by_closing_is_read_and_the_next_request_reconnects(
    serve: Callable[..., Server],
) -> None:
    server = serve(lambda _: answer(BODY, "Content-Type: application/json"), close_after=True)
    with Client(server.url, "k", retry=ONCE, concurrency=1) as client:
        assert client.get("/x") == {"agents": [], "has_more": False}
        assert client.get("/x") == {"agents": [], "has_more": False}
    assert server.connections == 2


def test_connection_close_and_http_1_0_answers_are_not_reused(serve: Callable[..., Server]) -> None:
    replies = iter([with_length(BODY, "Connection: close"), answer(BODY, version="HTTP/1.0")] * 2)
    server = serve(lambda _: next(replies), close_after=True)
    with Client(server.url, "k", retry=ONCE, concurrency=1) as client:
        for _ in range(4):
            assert client.get("/x")["has_more"] is False
    assert server.connections == 4


def test_a_gzip_answer_is_inflated(serve: Callable[..., Server]) -> None:
    packed = gzip.compress(BODY)
    server = serve(lambda _: with_length(packed, "Content-Encoding: gzip"))
    with Client(server.url, "k", retry=ONCE) as client:
        assert client.get("/x") == {"agents": [], "has_more": False}
    assert b"Accept-Encoding: gzip\r\n" in server.seen[0]


def test_a_small_gzip_answer_that_inflates_past_the_limit_is_refused(serve: Callable[..., Server]) -> None:
    bomb = gzip.compress(b" " * 5_000_000)  # about 5 kB on the wire
    server = serve(lambda _: with_length(bomb, "Content-Encoding: gzip"))
    transport = Transport(server.url, {}, timeout=5, pool_size=1)
    with pytest.raises(BodyTooLarge):
        transport.request("GET", "/x", None, limit=1_000_000, on_socket=lambda _: None)
    transport.close()


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_a_body_over_the_limit_is_refused_in_every_framing(
    serve: Callable[..., Server], framing: str
) -> None:
    body = b"[" + b"1," * 40_000 + b"1]"
    reply = {
        "length": with_length(body),
        "chunked": chunked(body, size=4096),
        "close": answer(body, "Content-Type: application/json"),
    }[framing]
    server = serve(lambda _: reply, close_after=framing == "close")
    transport = Transport(server.url, {}, timeout=5, pool_size=1)
    with pytest.raises(BodyTooLarge):
        transport.request("GET", "/x", None, limit=50_000, on_socket=lambda _: None)
    assert transport.request("GET", "/x", None, limit=100_000, on_socket=lambda _: None).status == 200
    transport.close()


def test_an_interim_100_continue_is_skipped(serve: Callable[..., Server]) -> None:
    server = serve(lambda _: b"HTTP/1.1 100 Continue\r\n\r\n" + with_length())
    with Client(server.url, "k", retry=ONCE) as client:
        assert client.get("/x")["has_more"] is False


@pytest.mark.parametrize(
    "reply",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n",  # not HTTP at all
        b"HTTP/1.1 OK\r\n\r\n",  # no status code
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut":',  # ends early
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 300 + b"\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n"
        + gzip.compress(b"{}" * 50)[:10],
    ],
    ids=[
        "not-http",
        "no-status",
        "bad-header",
        "bad-length",
        "bad-chunk",
        "short",
        "long-line",
        "many-headers",
        "bad-gzip",
        "cut-gzip",
    ],
)
def test_an_answer_that_is_not_http_is_a_dropped_connection_in_one_sentence(
    serve: Callable[..., Server], reply: bytes
) -> None:
    server = serve(lambda _: reply, close_after=True)
    with Client(server.url, "k", retry=ONCE) as client:
        with pytest.raises(NetworkError) as read:
            client.get("/x")
        with pytest.raises(NetworkError) as write:
            client.post("/x", {"a": 1})
    assert read.value.message == f"the connection to {server.url}/x was dropped before GET got an answer"
    assert not read.value.ambiguous and write.value.ambiguous  # a write that may have landed says so


def test_a_kept_alive_connection_the_server_closed_is_not_used(serve: Callable[..., Server]) -> None:
    # The server closes every connection after its answer without saying so: the client finds the
    # closed connection idle in its pool and opens a new one, instead of failing the next request.
    server = serve(lambda _: with_length(), close_after=True)
    with Client(server.url, "k", retry=ONCE, concurrency=1) as client:
        for _ in range(3):
            assert client.get("/x")["has_more"] is False
            # give the close time to arrive
            threading.Event().wait(0.05)
    assert server.connections == 3


def test_a_connection_closed_without_an_answer_is_retried_for_reads(serve: Callable[..., Server]) -> None:
    replies = iter([None, with_length()])
    server = serve(lambda _: next(replies))
    with Client(server.url, "k", retry=TWICE) as client:
        assert client.get("/x")["has_more"] is False
        assert client.stats == {"GET": 2, "retries": 1}
    assert len(server.seen) == 2


def test_connect_failures_say_the_request_never_left() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = Transport(f"http://127.0.0.1:{port}", {}, timeout=5, pool_size=1)
    with pytest.raises(TransportError) as refused:
        transport.request("POST", "/x", b"{}", limit=100, on_socket=lambda _: None)
    assert refused.value.reason == "connection refused" and not refused.value.sent
    unknown = Transport("http://no-such-host.invalid", {}, timeout=5, pool_size=1)
    with pytest.raises(TransportError) as unresolved:
        unknown.request("GET", "/x", None, limit=100, on_socket=lambda _: None)
    assert unresolved.value.reason == "the host name does not resolve" and not unresolved.value.sent


def test_the_text_of_an_answer_uses_its_charset(serve: Callable[..., Server]) -> None:
    body = "Ärger".encode("latin-1")
    server = serve(lambda _: answer(body, "Content-Type: text/plain; charset=latin-1", "Content-Length: 5"))
    transport = Transport(server.url, {}, timeout=5, pool_size=1)
    got = transport.request("GET", "/x", None, limit=100, on_socket=lambda _: None)
    assert got.text == "Ärger" and got.header("Content-Type").startswith("text/plain")
    transport.close()


@pytest.mark.parametrize("target", ["/x\r\nHost: evil", "/x y", "/é", "x"])
def test_a_target_that_could_end_the_request_line_is_never_sent(
    serve: Callable[..., Server], target: str
) -> None:
    server = serve(lambda _: with_length())
    transport = Transport(server.url, {}, timeout=5, pool_size=1)
    with pytest.raises(TransportError) as refused:
        transport.request("GET", target, None, limit=100, on_socket=lambda _: None)
    assert not refused.value.sent and server.seen == []
    transport.close()


# --- HTTPS -------------------------------------------------------------------------------------------


def test_an_https_certificate_nobody_trusts_is_refused_before_anything_is_sent(
    tls_server: TlsServer,
) -> None:
    transport = Transport(tls_server.url, {"xi-api-key": "secret"}, timeout=5, pool_size=1)
    with pytest.raises(TransportError) as refused:
        transport.request("GET", "/v1/convai/agents", None, limit=1000, on_socket=lambda _: None)
    assert refused.value.reason.startswith("the TLS certificate was refused (")
    assert "self-signed" in refused.value.reason
    assert not refused.value.sent and tls_server.seen == []  # the key never left in a request


def test_https_to_a_trusted_certificate_carries_requests(
    tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The system's trust store, as OpenSSL reads it, holds only the test certificate here.
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS_CERT))
    transport = Transport(tls_server.url, {}, timeout=5, pool_size=1)
    for _ in range(2):
        got = transport.request("GET", "/v1/convai/agents", None, limit=1000, on_socket=lambda _: None)
        assert (got.status, json.loads(got.content)) == (200, {"agents": [], "has_more": False})
    assert tls_server.connections == 1 and len(tls_server.seen) == 2  # kept alive, under TLS too
    transport.close()
