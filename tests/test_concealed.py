"""What the server writes back is printed, so what it may echo of a request is taken out first: the API
key from every answer, and the values of the project's ``${env.*}`` from every answer that is not a
success (a 422 that quotes the value it refused). Against an exact-bytes server over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from agentsync.cli.options import WorkspaceOptions, workspace_client
from agentsync.client import NO_RETRY, Client
from agentsync.errors import ApiError
from agentsync.load import load_project
from tests.rawhttp import Server, answer

SECRET = "hunter2-env-VALUE-9"
KEY = "sk_concealed_0123456789abcdef"


def _echo(status: str) -> Callable[[bytes], bytes]:
    """Answers with the request's body (and the secret) quoted in its message."""

    def reply(request: bytes) -> bytes:
        quoted = request.split(b"\r\n\r\n", 1)[1].decode() or SECRET
        body = json.dumps({"detail": {"status": "invalid", "message": f"refused: {quoted}"}}).encode()
        if status.startswith("200"):
            body = json.dumps({"agent_id": "a1", "name": SECRET}).encode()
        return answer(body, f"Content-Length: {len(body)}", "Content-Type: application/json", status=status)

    return reply


def test_a_concealed_value_is_taken_out_of_errors_but_not_out_of_data(serve: Callable[..., Server]) -> None:
    with Client(serve(_echo("422 Unprocessable Entity")).url, KEY, retry=NO_RETRY) as client:
        client.conceal([SECRET, ""])
        with pytest.raises(ApiError) as raised:
            client.patch(
                "/v1/convai/agents/a1", {"conversation_config": {"agent": {"first_message": SECRET}}}
            )
    assert SECRET not in str(raised.value) and "(sensitive)" in str(raised.value)
    with Client(serve(_echo("200 OK")).url, KEY, retry=NO_RETRY) as client:
        client.conceal([SECRET])
        assert client.get("/v1/convai/agents/a1") == {"agent_id": "a1", "name": SECRET}  # compared, not shown


def test_every_command_client_conceals_the_projects_env_values(
    serve: Callable[..., Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agentsync.yaml").write_text("namespace: concealed\n")
    (tmp_path / "agents" / "bot.yaml").write_text(
        "name: Bot\nconversation_config:\n  agent:\n    first_message: 'Hi ${env.GREETING}'\n"
    )
    monkeypatch.setenv("GREETING", SECRET)
    monkeypatch.setenv("ELEVENLABS_API_KEY", KEY)
    monkeypatch.delenv("ELEVENLABS_BASE_URL", raising=False)
    project = load_project(tmp_path)
    server = serve(_echo("422 Unprocessable Entity"))
    options = WorkspaceOptions(tmp_path, None, server.url, None, 1, False)
    with workspace_client(options, project) as client, pytest.raises(ApiError) as raised:
        client.get("/v1/convai/agents/a1")
    shown = f"{raised.value}\n{raised.value.hint}"
    assert SECRET not in shown and "(sensitive)" in shown
