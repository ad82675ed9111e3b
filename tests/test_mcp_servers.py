"""MCP servers as a kind, through the real command line against the emulator: created before the agents
that reference them by ``${mcp-server.KEY.id}``, updated in the PATCH layout, and replaced (create the
new one, re-point the agents, delete the old one) when a field the API cannot update changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from agentsync import plan as planfile
from agentsync.cli import run
from agentsync.emulator import ADMIN_KEY, Emulator, Faults
from agentsync.planschema import plan_schema

SERVER = "config:\n  name: docs\n  url: https://mcp.example.com/sse\n  approval_policy: auto_approve_all\n"
AGENT = (
    "name: Helper\nconversation_config:\n  agent:\n    first_message: Hi\n    prompt:\n"
    "      prompt: Use the docs.\n      mcp_server_ids: ['${mcp-server.docs.id}']\n"
)


def make(root: Path, settings: str = "", **files: str) -> Path:
    (root / "agents").mkdir(parents=True, exist_ok=True)
    (root / "mcp-servers").mkdir(exist_ok=True)
    (root / "agentsync.yaml").write_text(f"namespace: mcp\n{settings}")
    (root / "mcp-servers" / "docs.yaml").write_text(files.get("server", SERVER))
    (root / "agents" / "helper.yaml").write_text(files.get("agent", AGENT))
    return root


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(capsys: pytest.CaptureFixture[str], root: Path) -> dict[str, Any]:
    code, out, err = cli(capsys, "plan", "-C", str(root), "--format", "json")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def get(emulator: Emulator, path: str) -> Any:
    answer = requests.get(f"{emulator.url}{path}", headers={"xi-api-key": ADMIN_KEY}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def servers(emulator: Emulator) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = get(emulator, "/v1/convai/mcp-servers")["mcp_servers"]
    return found


def agent_servers(emulator: Emulator) -> list[str]:
    (summary,) = get(emulator, "/v1/convai/agents")["agents"]
    agent = get(emulator, f"/v1/convai/agents/{summary['agent_id']}")
    ids: list[str] = agent["conversation_config"]["agent"]["prompt"]["mcp_server_ids"]
    return ids


def test_the_server_is_created_before_the_agent_that_references_it(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make(tmp_path)
    plan = plan_json(capsys, root)
    assert [(c["kind"], c["action"]) for c in plan["changes"]] == [
        ("mcp-server", "create"),
        ("agent", "create"),
    ]
    assert plan["changes"][1]["depends_on"] == [["mcp-server", "docs"]]
    assert cli(capsys, "apply", "-C", str(root), "--auto-approve")[0] == 0
    (server,) = servers(api_env)
    assert agent_servers(api_env) == [server["id"]]
    assert plan_json(capsys, root)["changes"] == []


def test_an_updatable_field_is_patched_at_the_top_level_and_read_back(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make(tmp_path)
    assert cli(capsys, "apply", "-C", str(root), "--auto-approve")[0] == 0
    (before,) = servers(api_env)
    (root / "mcp-servers" / "docs.yaml").write_text(SERVER + "  response_timeout_secs: 45\n")
    (change,) = plan_json(capsys, root)["changes"]
    assert (change["action"], change["method"], change["remote_id"]) == ("update", "PATCH", before["id"])
    assert change["body"] == {"response_timeout_secs": 45}
    code, out, err = cli(capsys, "apply", "-C", str(root), "--auto-approve")
    assert code == 0, out + err
    (after,) = servers(api_env)
    assert after["id"] == before["id"] and after["config"]["response_timeout_secs"] == 45
    assert plan_json(capsys, root)["changes"] == []


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("url: https://mcp.example.com/sse", "url: https://mcp2.example.com/sse", "config.url"),
        ("approval_policy", "description: Product docs\n  approval_policy", "config.description"),
        ("approval_policy", "transport: STREAMABLE_HTTP\n  approval_policy", "config.transport"),
    ],
)
def test_a_field_that_cannot_be_updated_replaces_the_server_and_moves_the_agent(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str], old: str, new: str, field: str
) -> None:
    root = make(tmp_path)
    assert cli(capsys, "apply", "-C", str(root), "--auto-approve")[0] == 0
    (before,) = servers(api_env)
    (root / "mcp-servers" / "docs.yaml").write_text(SERVER.replace(old, new))

    code, out, _ = cli(capsys, "plan", "-C", str(root))
    assert "-/+ replace mcp-server docs" in out and "1 to replace" in out, out
    assert f"{field} cannot be updated" in out
    plan = plan_json(capsys, root)
    replace, agent = plan["changes"]
    assert (replace["action"], replace["remote_id"], replace["method"]) == ("replace", before["id"], "POST")
    assert [f["path"] for f in replace["fields"]] == [field.split(".")]
    assert (agent["action"], agent["depends_on"]) == ("update", [["mcp-server", "docs"]])
    assert plan["summary"]["replace"] == 1

    code, out, err = cli(capsys, "apply", "-C", str(root), "--auto-approve")
    assert code == 0, out + err
    (after,) = servers(api_env)
    assert after["id"] != before["id"] and agent_servers(api_env) == [after["id"]]
    assert plan_json(capsys, root)["changes"] == []


def test_a_saved_replacement_is_checked_for_freshness_and_validates_against_the_plan_schema(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    import jsonschema

    root = make(tmp_path)
    assert cli(capsys, "apply", "-C", str(root), "--auto-approve")[0] == 0
    (before,) = servers(api_env)
    (root / "mcp-servers" / "docs.yaml").write_text(SERVER.replace("mcp.example", "mcp2.example"))
    saved = root / "saved.json"
    assert cli(capsys, "plan", "-C", str(root), "--out", str(saved))[0] == 0
    jsonschema.validate(json.loads(saved.read_text()), plan_schema())
    assert [c.action for c in planfile.load(saved).changes] == [
        planfile.Action.REPLACE,
        planfile.Action.UPDATE,
    ]

    answer = requests.patch(
        f"{api_env.url}/v1/convai/mcp-servers/{before['id']}",
        json={"response_timeout_secs": 40},
        headers={"xi-api-key": ADMIN_KEY},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    code, out, err = cli(capsys, "apply", "-C", str(root), str(saved), "--auto-approve")
    assert code == 1 and "the plan is stale: mcp-server docs" in err, out + err
    assert [s["id"] for s in servers(api_env)] == [before["id"]], "nothing was written"

    assert cli(capsys, "plan", "-C", str(root), "--out", str(saved))[0] == 0
    code, out, err = cli(capsys, "apply", "-C", str(root), str(saved), "--auto-approve")
    assert code == 0, out + err
    (after,) = servers(api_env)
    assert after["id"] != before["id"] and agent_servers(api_env) == [after["id"]]


def test_a_replacement_is_refused_while_an_agent_outside_the_project_uses_the_old_server(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make(tmp_path)
    assert cli(capsys, "apply", "-C", str(root), "--auto-approve")[0] == 0
    (before,) = servers(api_env)
    other = requests.post(
        f"{api_env.url}/v1/convai/agents/create",
        json={
            "name": "Other",
            "conversation_config": {"agent": {"prompt": {"mcp_server_ids": [before["id"]]}}},
        },
        headers={"xi-api-key": ADMIN_KEY},
        timeout=10,
    )
    assert other.status_code == 200, other.text
    other_id = other.json()["agent_id"]
    (root / "mcp-servers" / "docs.yaml").write_text(SERVER.replace("mcp.example", "mcp2.example"))
    code, out, err = cli(capsys, "plan", "-C", str(root))
    assert code == 1, out
    assert "would delete what other resources still use" in err and f"mcp-server docs ({before['id']})" in err
    assert other_id in err, err
    assert [s["id"] for s in servers(api_env)] == [before["id"]]


def test_the_old_server_is_kept_when_the_agent_does_not_move(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make(tmp_path)
    assert cli(capsys, "apply", "-C", str(root), "--auto-approve")[0] == 0
    (before,) = servers(api_env)
    (root / "mcp-servers" / "docs.yaml").write_text(SERVER.replace("mcp.example", "mcp2.example"))
    # The server does not keep the agent's new list, so the agent still points at the old server.
    api_env.set_faults(Faults(not_kept_paths=("conversation_config.agent.prompt.mcp_server_ids",)))
    code, out, err = cli(capsys, "apply", "-C", str(root), "--auto-approve")
    assert code != 0, out
    assert f"the old one ({before['id']}) was kept" in out + err, out + err
    assert before["id"] in [s["id"] for s in servers(api_env)]


def test_a_new_name_is_a_new_server_and_prune_deletes_the_old_one_after_the_agent_moved(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make(tmp_path, "mcp-servers: {authoritative: true}\n")
    assert cli(capsys, "apply", "-C", str(root), "--auto-approve")[0] == 0
    (before,) = servers(api_env)
    (root / "mcp-servers" / "docs.yaml").write_text(SERVER.replace("name: docs", "name: docs-v2"))
    assert agent_servers(api_env) == [before["id"]]
    code, out, err = cli(capsys, "plan", "-C", str(root), "--prune", "--format", "json")
    actions = [(c["kind"], c["action"]) for c in json.loads(out)["changes"]]
    assert actions == [("mcp-server", "create"), ("agent", "update"), ("mcp-server", "delete")], actions
    code, out, err = cli(capsys, "apply", "-C", str(root), "--auto-approve", "--prune")
    assert code == 0, out + err
    (after,) = servers(api_env)
    assert after["config"]["name"] == "docs-v2" and agent_servers(api_env) == [after["id"]]


def test_a_replacement_of_a_server_pinned_by_id_is_refused_at_its_file(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make(tmp_path)
    assert cli(capsys, "apply", "-C", str(root), "--auto-approve")[0] == 0
    (before,) = servers(api_env)
    pinned = f"id: {before['id']}\n" + SERVER.replace("mcp.example", "mcp2.example")
    (root / "mcp-servers" / "docs.yaml").write_text(pinned)
    code, out, err = cli(capsys, "plan", "-C", str(root))
    assert code == 1, out
    assert err.startswith("error: mcp-servers/docs.yaml:1:1: config.url cannot be updated"), err
    assert f"id: pins {before['id']}" in err and "hint: remove id:" in err
