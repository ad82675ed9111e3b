"""The README's main job, end to end: the support-desk example planned and applied against the
in-process emulator, twice, through the real command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests

from agentsync.cli import run
from agentsync.emulator import ADMIN_KEY, Emulator

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-desk"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "support-desk"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".agentsync"))
    return target


def test_the_example_validates_without_a_single_problem(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["validate", str(project), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == []


def test_apply_twice_converges_and_the_second_run_changes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    first = capsys.readouterr().out
    assert "Plan: 13 to create, 0 to update, 0 to delete, 0 unchanged." in first
    assert "13 applied, 0 not converged, 0 failed, 0 skipped" in first
    # The in-process emulator keeps its state in the project, so the second run sees the first.
    assert (project / ".agentsync" / "emulator.json").is_file()

    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    second = capsys.readouterr().out
    # The second run shows the plan it made (header, any warnings) and says plainly that nothing changed.
    assert "agentsync plan: environment dev · namespace support-desk-dev" in second
    assert "No changes. The workspace matches the project (13 unchanged)." in second
    assert run(["plan", "-C", str(project), "--emulator", "--detailed-exitcode"]) == 0


def test_an_edited_prompt_is_one_update_shown_as_a_line_diff(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    capsys.readouterr()
    prompt = project / "agents" / "prompts" / "billing.md"
    prompt.write_text(prompt.read_text().replace("500 EUR", "750 EUR"))

    assert run(["plan", "-C", str(project), "--emulator", "--detailed-exitcode", "--show-body"]) == 2
    out = capsys.readouterr().out
    assert "~ update agent billing" in out
    assert "-Refunds above 500 EUR need a human" in out
    assert "+Refunds above 750 EUR need a human" in out
    assert "Plan: 0 to create, 1 to update, 0 to delete, 12 unchanged." in out


def test_the_workflow_survives_a_round_trip_through_the_api(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    capsys.readouterr()
    receptionist = project / "agents" / "receptionist.yaml"
    text = receptionist.read_text().replace("successful: true", "successful: false")
    receptionist.write_text(text)
    assert run(["plan", "-C", str(project), "--emulator", "--detailed-exitcode"]) == 2
    out = capsys.readouterr().out
    assert "workflow.edges.lookup_to_triage" in out
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    assert "1 applied, 0 not converged" in capsys.readouterr().out
    assert run(["plan", "-C", str(project), "--emulator", "--detailed-exitcode"]) == 0


def test_the_emulator_keeps_one_workspace_per_environment_so_prod_gets_its_own_tools(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NORTHWIND_CRM_TOKEN", "crm-token-for-the-test")
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    assert run(["apply", "-C", str(project), "-e", "prod", "--emulator", "--auto-approve"]) == 0
    out = capsys.readouterr().out
    # prod creates everything, the four tools included, instead of finding dev's by their names.
    assert "16 applied, 0 not converged" in out
    states = {p.name: json.loads(p.read_text()) for p in (project / ".agentsync").glob("emulator*.json")}
    assert sorted(states) == ["emulator-prod.json", "emulator.json"]
    dev_tools = {t["body"]["id"] for t in states["emulator.json"]["tools"]}
    prod_tools = {t["body"]["id"] for t in states["emulator-prod.json"]["tools"]}
    assert len(dev_tools) == len(prod_tools) == 4 and not dev_tools & prod_tools
    assert run(["plan", "-C", str(project), "-e", "prod", "--emulator", "--detailed-exitcode"]) == 0


def _stored(emulator: Emulator, path: str) -> Any:
    return requests.get(f"{emulator.url}{path}", headers={"xi-api-key": ADMIN_KEY}, timeout=10).json()


def test_each_environment_gets_its_own_tools_and_its_agents_point_at_them(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY_DEV", ADMIN_KEY)
    monkeypatch.setenv("ELEVENLABS_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("NORTHWIND_CRM_TOKEN", "crm-token-for-the-test")
    with Emulator() as dev, Emulator() as prod:
        for name, workspace in (("dev", dev), ("prod", prod)):
            argv = ["apply", "-C", str(project), "-e", name, "--base-url", workspace.url, "--auto-approve"]
            assert run(argv) == 0, capsys.readouterr().err
        ids = {}
        for name, workspace in (("dev", dev), ("prod", prod)):
            tools = {
                t["tool_config"]["name"]: t["id"] for t in _stored(workspace, "/v1/convai/tools")["tools"]
            }
            assert set(tools) == {"check_status_page", "lookup_account", "request_refund", "open_ticket"}
            agents = _stored(workspace, "/v1/convai/agents")["agents"]
            tech = next(a for a in agents if a["name"] == "Northwind Tech Support")
            body = _stored(workspace, f"/v1/convai/agents/{tech['agent_id']}")
            tool_ids = body["conversation_config"]["agent"]["prompt"]["tool_ids"]
            assert tool_ids == [tools["check_status_page"], tools["open_ticket"]]
            (server,) = _stored(workspace, "/v1/convai/mcp-servers")["mcp_servers"]
            assert server["config"]["name"] == "northwind_product_docs"
            assert body["conversation_config"]["agent"]["prompt"]["mcp_server_ids"] == [server["id"]]
            ids[name] = {**tools, "mcp": server["id"]}
        assert not set(ids["dev"].values()) & set(ids["prod"].values())
        capsys.readouterr()
        for name, workspace in (("dev", dev), ("prod", prod)):
            assert (
                run(
                    [
                        "plan",
                        "-C",
                        str(project),
                        "-e",
                        name,
                        "--base-url",
                        workspace.url,
                        "--detailed-exitcode",
                    ]
                )
                == 0
            )


def test_a_tool_edit_sends_the_whole_tool_config_and_shows_the_one_field(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    capsys.readouterr()
    tool = project / "tools" / "status-page.yaml"
    tool.write_text(
        tool.read_text().replace(
            "Accept: application/json", "Accept: application/json\n      X-Client: voice"
        )
    )
    assert (
        run(
            [
                "plan",
                "-C",
                str(project),
                "--emulator",
                "--detailed-exitcode",
                "--show-body",
                "--format",
                "json",
            ]
        )
        == 2
    )
    [change] = json.loads(capsys.readouterr().out)["changes"]
    assert (change["kind"], change["action"], change["method"]) == ("tool", "update", "PATCH")
    assert [f["path"] for f in change["fields"]] == [
        ["tool_config", "api_schema", "request_headers", "X-Client"]
    ]
    config = change["body"]["tool_config"]
    assert config["name"] == "check_status_page" and config["api_schema"]["url"].startswith("https://status.")
    assert config["api_schema"]["request_headers"] == {"Accept": "application/json", "X-Client": "voice"}
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    assert run(["plan", "-C", str(project), "--emulator", "--detailed-exitcode"]) == 0


def test_a_change_that_takes_a_tool_away_from_a_tested_agent_fails_its_test_and_is_not_applied(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    assert run(["test", "-C", str(project), "--emulator", "--target", "billing"]) == 0
    billing = project / "agents" / "billing.yaml"
    original = billing.read_text()
    assert "        - ${tool.refund-request.id}\n" in original
    billing.write_text(original.replace("        - ${tool.refund-request.id}\n", ""))
    capsys.readouterr()
    assert run(["plan", "-C", str(project), "--emulator", "--test", "--format", "markdown"]) == 1
    comment = capsys.readouterr().out
    assert "| FAIL | `agent billing` | `refunds` | 0/1 |" in comment
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve", "--require-tests"]) == 1
    assert "refused: agent billing is not written: test refunds failed" in capsys.readouterr().err
    billing.write_text(original)
    assert run(["plan", "-C", str(project), "--emulator", "--test", "--detailed-exitcode"]) == 0
    assert "Tests: 1 passed, 0 failed, 0 not run." in capsys.readouterr().out


def test_a_new_mcp_server_url_replaces_it_and_tech_support_moves_to_the_new_one(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    server = project / "mcp-servers" / "product-docs.yaml"
    server.write_text(
        server.read_text().replace("docs.northwind.example/mcp", "docs.northwind.example/mcp/v2")
    )
    capsys.readouterr()
    assert run(["plan", "-C", str(project), "--emulator", "--detailed-exitcode"]) == 2
    out = capsys.readouterr().out
    assert "-/+ replace mcp-server product-docs" in out and "~ update agent tech-support" in out
    assert "Plan: 0 to create, 1 to replace, 1 to update, 0 to delete, 11 unchanged." in out
    assert run(["apply", "-C", str(project), "--emulator", "--auto-approve"]) == 0
    assert "2 applied, 0 not converged, 0 failed, 0 skipped" in capsys.readouterr().out
    assert run(["plan", "-C", str(project), "--emulator", "--detailed-exitcode"]) == 0
