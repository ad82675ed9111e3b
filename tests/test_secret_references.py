"""``${secret.KEY.id}`` in every place a body holds a secret locator ``{secret_id}``: webhook-tool
headers, an MCP server's secret token and headers, a custom LLM's key and headers, and the
conversation-initiation webhook's headers. Each is
resolved to the secret's id (created first, in the same apply), stored as the locator, and planned
as no change afterwards; the value itself is in no stored body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentsync.cli import run
from agentsync.emulator import Emulator

VALUE = "secret-reference-value-3b8e"
REF = {"secret_id": "${secret.tok.id}"}

TOOL = {
    "tool_config": {
        "type": "webhook",
        "name": "lookup",
        "description": "Find the order",
        "api_schema": {"url": "https://orders.example/find", "request_headers": {"Authorization": REF}},
    }
}
SERVER = {
    "config": {
        "name": "docs",
        "url": "https://docs.example/mcp",
        "secret_token": REF,
        "request_headers": {"X-Org": REF},
    }
}
AGENT = {
    "name": "Bot",
    "conversation_config": {
        "agent": {
            "prompt": {
                "llm": "custom-llm",
                "custom_llm": {
                    "url": "https://llm.example/v1",
                    "api_key": REF,
                    "request_headers": {"X-Org": REF},
                },
            }
        }
    },
    "platform_settings": {
        "workspace_overrides": {
            "conversation_initiation_client_data_webhook": {
                "url": "https://crm.example/caller",
                "request_headers": {"Authorization": REF},
            }
        }
    },
}

POSITIONS = {
    "webhook tool header": ("tool", ("tool_config", "api_schema", "request_headers", "Authorization")),
    "MCP server secret token": ("mcp-server", ("config", "secret_token")),
    "MCP server header": ("mcp-server", ("config", "request_headers", "X-Org")),
    "custom LLM api_key": ("agent", ("conversation_config", "agent", "prompt", "custom_llm", "api_key")),
    "custom LLM header": (
        "agent",
        ("conversation_config", "agent", "prompt", "custom_llm", "request_headers", "X-Org"),
    ),
    "conversation-initiation webhook header": (
        "agent",
        (
            "platform_settings",
            "workspace_overrides",
            "conversation_initiation_client_data_webhook",
            "request_headers",
            "Authorization",
        ),
    ),
}


def at(body: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        body = body[part]
    return body


@pytest.fixture
def applied(tmp_path: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("TOK", VALUE)
    (tmp_path / "agents").mkdir()
    (tmp_path / "tools").mkdir()
    (tmp_path / "mcp-servers").mkdir()
    (tmp_path / "mcp-servers" / "docs.yaml").write_text(json.dumps(SERVER))
    (tmp_path / "agentsync.yaml").write_text("namespace: s\n")
    (tmp_path / "secrets.yaml").write_text("- name: tok\n  value: ${env.TOK}\n")
    (tmp_path / "tools" / "lookup.yaml").write_text(json.dumps(TOOL))
    (tmp_path / "agents" / "bot.yaml").write_text(json.dumps(AGENT))
    assert run(["apply", "-C", str(tmp_path), "--auto-approve"]) == 0
    assert run(["plan", "-C", str(tmp_path), "--detailed-exitcode"]) == 0
    return api_env


@pytest.mark.parametrize("position", sorted(POSITIONS))
def test_every_secret_id_position_takes_a_secret_reference(applied: Emulator, position: str) -> None:
    kind, path = POSITIONS[position]
    (secret,) = applied.store.records("secrets")
    if kind == "tool":
        with applied.store.lock:
            (body,) = [r.body for r in applied.store.tools.values()]
    elif kind == "mcp-server":
        with applied.store.lock:
            (body,) = [r.body for r in applied.store.mcp_servers.values()]
    else:
        with applied.store.lock:
            (body,) = [r.body for r in applied.store.agents.values()]
    assert at(body, path) == {"secret_id": secret.body["secret_id"]}
    assert VALUE not in json.dumps(applied.store.to_json())
