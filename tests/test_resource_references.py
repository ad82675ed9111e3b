"""``${tool.KEY.id}`` and ``${mcp-server.KEY.id}`` in every place an agent points at a tool or an MCP
server (reference §1.0), through the real command line against the emulator: each one resolves to
the id its workspace gave, and a key no file declares is an error at its line with "did you mean"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from agentsync.cli import run
from agentsync.emulator import ADMIN_KEY, Emulator

TOOL = "tool_config:\n  type: client\n  name: lookup\n  description: Look the caller up.\n"
SERVER = "config:\n  name: docs\n  url: https://mcp.example.com/sse\n"

# Each position: the agent file (with {tool} / {server} placeholders) and the path to read back.
AGENT = """name: Helper
conversation_config:
  agent:
    first_message: Hi
    prompt:
      prompt: Help.
      tool_ids: ['${{tool.{tool}.id}}']
      mcp_server_ids: ['${{mcp-server.{server}.id}}']
      native_mcp_server_ids: ['${{mcp-server.{server}.id}}']
  language_presets:
    fr:
      overrides:
        agent:
          prompt:
            tool_ids: ['${{tool.{tool}.id}}']
            native_mcp_server_ids: ['${{mcp-server.{server}.id}}']
workflow:
  nodes:
    start_node: {{type: start, position: {{x: 0, y: 0}}, edge_order: [to_desk]}}
    desk:
      type: override_agent
      label: Desk
      position: {{x: 0, y: 100}}
      additional_prompt: Be brief.
      additional_tool_ids: ['${{tool.{tool}.id}}']
      conversation_config:
        agent:
          prompt:
            mcp_server_ids: ['${{mcp-server.{server}.id}}']
      edge_order: [to_lookup]
    lookup:
      type: tool
      position: {{x: 0, y: 200}}
      tools:
        - tool_id: '${{tool.{tool}.id}}'
      edge_order: []
  edges:
    to_desk: {{source: start_node, target: desk, forward_condition: {{type: unconditional}}}}
    to_lookup: {{source: desk, target: lookup, forward_condition: {{type: unconditional}}}}
"""

TOOL_PLACES: list[tuple[str, ...]] = [
    ("conversation_config", "agent", "prompt", "tool_ids", "0"),
    ("conversation_config", "language_presets", "fr", "overrides", "agent", "prompt", "tool_ids", "0"),
    ("workflow", "nodes", "desk", "additional_tool_ids", "0"),
    ("workflow", "nodes", "lookup", "tools", "0", "tool_id"),
]
SERVER_PLACES: list[tuple[str, ...]] = [
    ("conversation_config", "agent", "prompt", "mcp_server_ids", "0"),
    ("conversation_config", "agent", "prompt", "native_mcp_server_ids", "0"),
    (
        "conversation_config",
        "language_presets",
        "fr",
        "overrides",
        "agent",
        "prompt",
        "native_mcp_server_ids",
        "0",
    ),
    ("workflow", "nodes", "desk", "conversation_config", "agent", "prompt", "mcp_server_ids", "0"),
]
# The line of each position in AGENT, counted from 1.
LINES = {"tool": (7, 15, 25, 35), "server": (8, 9, 16, 29)}


def make(root: Path, tool: str = "lookup", server: str = "docs") -> Path:
    for folder in ("agents", "tools", "mcp-servers"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "agentsync.yaml").write_text("namespace: refs\n")
    (root / "tools" / "lookup.yaml").write_text(TOOL)
    (root / "mcp-servers" / "docs.yaml").write_text(SERVER)
    (root / "agents" / "helper.yaml").write_text(AGENT.format(tool=tool, server=server))
    return root


def at(doc: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def listed(emulator: Emulator, collection: str, items: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{emulator.url}{collection}", headers={"xi-api-key": ADMIN_KEY}, timeout=10)
    found: list[dict[str, Any]] = answer.json()[items]
    return found


def test_every_position_resolves_to_the_new_ids(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make(tmp_path)
    assert run(["apply", "-C", str(root), "--auto-approve"]) == 0, capsys.readouterr().err
    (tool,) = listed(api_env, "/v1/convai/tools", "tools")
    (server,) = listed(api_env, "/v1/convai/mcp-servers", "mcp_servers")
    (summary,) = listed(api_env, "/v1/convai/agents", "agents")
    url = f"{api_env.url}/v1/convai/agents/{summary['agent_id']}"
    agent = requests.get(url, headers={"xi-api-key": ADMIN_KEY}, timeout=10).json()
    assert [at(agent, p) for p in TOOL_PLACES] == [tool["id"]] * len(TOOL_PLACES)
    assert [at(agent, p) for p in SERVER_PLACES] == [server["id"]] * len(SERVER_PLACES)
    assert server["dependent_agents"][0]["id"] == summary["agent_id"]
    capsys.readouterr()
    assert run(["plan", "-C", str(root), "--detailed-exitcode"]) == 0, capsys.readouterr().out


@pytest.mark.parametrize(
    ("which", "typo", "close"), [("tool", "lokup", "lookup"), ("server", "dcos", "docs")]
)
def test_an_unknown_key_is_an_error_at_its_first_line_with_did_you_mean(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str], which: str, typo: str, close: str
) -> None:
    root = make(tmp_path, **{which: typo})
    assert run(["plan", "-C", str(root)]) == 1
    err = capsys.readouterr().err
    first = LINES[which][0]
    assert err.startswith(f"error: agents/helper.yaml:{first}:"), err
    assert f"'{typo}', which is neither declared in this project nor in the workspace" in err
    assert f"did you mean '{close}'?" in err


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize(("which", "kind"), [("tool", "tool"), ("server", "mcp-server")])
def test_validate_names_the_line_of_each_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str, kind: str, index: int
) -> None:
    root = make(tmp_path)
    good = "lookup" if which == "tool" else "docs"
    path = root / "agents" / "helper.yaml"
    lines = path.read_text().splitlines(keepends=True)
    line = LINES[which][index]
    assert f"${{{kind}.{good}.id}}" in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(f"{kind}.{good}.", f"{kind}.{good}x.")
    path.write_text("".join(lines))
    assert run(["validate", str(root)]) == 0  # a warning: the workspace may have it
    out = capsys.readouterr()
    text = out.out + out.err
    assert f"agents/helper.yaml:{line}:" in text and f"did you mean '{good}'?" in text, text
