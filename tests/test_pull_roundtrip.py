"""pull as the plan run in reverse, end to end through the command line against the emulator: the
shipped example right after apply in every environment, drift written back by where each value came
from, a legacy workspace made through the API, escaping, foreign markers, ids per workspace."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from agentsync.cli import run as cli_run
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY, Emulator
from agentsync.load import load_project
from agentsync.planner import build_plan
from agentsync.pull import write_files
from agentsync.remote import fetch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "support-desk"
AUTH = {"xi-api-key": ADMIN_KEY}
TOKEN = "crm-token-7f3a9c1e"
ENVIRONMENTS: list[list[str]] = [[], ["-e", "dev"], ["-e", "prod"]]


def run(argv: list[str]) -> int:
    # The example declares its environments' residency; these tests point every command at the
    # emulator through ELEVENLABS_BASE_URL, which the operator must confirm.
    workspace = argv[0] in ("plan", "apply", "pull")
    return cli_run([*argv, "--allow-base-url-override"] if workspace else argv)


@pytest.fixture
def workspace(api_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("ELEVENLABS_API_KEY_DEV", ADMIN_KEY)
    monkeypatch.setenv("NORTHWIND_CRM_TOKEN", TOKEN)
    return api_env


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def example_repo(tmp_path: Path) -> Path:
    root = tmp_path / "support-desk"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".agentsync"))
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "example")
    return root


def apply_everywhere(root: Path) -> None:
    for env in (["-e", "dev"], ["-e", "prod"]):
        assert run(["apply", "-C", str(root), "--auto-approve", *env]) == 0


def pull(root: Path, *args: str) -> int:
    return run(["pull", "-C", str(root), *args])


def plan_is_empty(root: Path, env: list[str]) -> bool:
    return run(["plan", "-C", str(root), "--detailed-exitcode", *env]) == 0


def agent_id(emulator: Emulator, name: str) -> str:
    answer = requests.get(
        f"{emulator.url}/v1/convai/agents", headers=AUTH, params={"search": name}, timeout=5
    )
    ids = [a["agent_id"] for a in answer.json()["agents"] if a["name"] == name]
    assert ids, name
    return str(ids[0])


def patch(emulator: Emulator, agent: str, body: dict[str, Any]) -> None:
    answer = requests.patch(f"{emulator.url}/v1/convai/agents/{agent}", headers=AUTH, json=body, timeout=5)
    assert answer.status_code == 200, answer.text


def every_file(root: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts)


# --- 1. right after apply, pull changes nothing, in every environment --------------------------------


def test_pull_right_after_apply_leaves_every_file_byte_identical(
    workspace: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = example_repo(tmp_path)
    apply_everywhere(root)
    for env in ENVIRONMENTS:
        assert pull(root, *env) == 0
        assert git(root, "diff", "--exit-code").returncode == 0, git(root, "diff").stdout
        assert git(root, "status", "--porcelain").stdout == ""
    capsys.readouterr()
    for env in (["-e", "dev"], ["-e", "prod"]):
        assert plan_is_empty(root, env)
    assert TOKEN not in every_file(root)


# --- 2. drift is written by where the declared value came from ---------------------------------------


def test_prod_drift_keeps_templates_overrides_and_secrets_out_of_the_files(
    workspace: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = example_repo(tmp_path)
    apply_everywhere(root)
    receptionist = agent_id(workspace, "Northwind Receptionist")  # dev and prod share the emulator
    capsys.readouterr()
    project = load_project(root, environment="prod")
    with Client(workspace.url, ADMIN_KEY) as client:
        state = fetch(client, project)
    prod_id = next(
        i for i, body in state.bodies["agent"].items() if "support-desk:receptionist" in body.get("tags", [])
    )
    assert receptionist
    webhook = {
        "url": "https://crm.northwind.example/elevenlabs/caller",
        "request_headers": {"Authorization": "Bearer other"},
    }
    patch(
        workspace,
        prod_id,
        {
            "conversation_config": {"agent": {"first_message": "Hello from the dashboard."}},
            "platform_settings": {
                "call_limits": {"daily_limit": 1234},
                "workspace_overrides": {"conversation_initiation_client_data_webhook": webhook},
            },
        },
    )
    before = (root / "agents" / "receptionist.yaml").read_text()
    assert pull(root, "-e", "prod") == 0
    out = capsys.readouterr().out
    after = (root / "agents" / "receptionist.yaml").read_text()
    assert "first_message: Hello from the dashboard.\n" in after
    assert "daily_limit: ${var.DAILY_LIMIT}  # per environment, in agentsync.yaml\n" in after
    assert "DAILY_LIMIT" in out and "request_headers" in out and "environment override" in out
    assert "Bearer other" not in every_file(root) and TOKEN not in every_file(root) and TOKEN not in out
    # Only the one plainly written line changed.
    changed = [line for line in git(root, "diff", "-U0").stdout.splitlines() if line[:1] in "+-"]
    assert [line for line in changed if not line.startswith(("+++", "---"))] == [
        "-    first_message: Hi, this is Northwind Support. How can I help you today?",
        "+    first_message: Hello from the dashboard.",
    ]
    assert before != after


def test_dev_drift_in_an_overridden_field_is_not_copied_into_the_base_file(
    workspace: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = example_repo(tmp_path)
    assert run(["apply", "-C", str(root), "--auto-approve", "-e", "dev"]) == 0
    billing = agent_id(workspace, "Northwind Billing")
    patch(workspace, billing, {"conversation_config": {"agent": {"prompt": {"llm": "gemini-2.0-flash"}}}})
    capsys.readouterr()
    assert pull(root, "-e", "dev") == 0
    out = capsys.readouterr().out
    assert git(root, "status", "--porcelain").stdout == ""
    assert "conversation_config.agent.prompt.llm" in out and "agentsync.yaml" in out


# --- 3 and 9. a legacy workspace pulled into a new project validates and plans clean ------------------

ALL_NODES: dict[str, Any] = {
    "nodes": {
        "start_node": {"type": "start", "position": {"x": 0, "y": 0}, "edge_order": ["e1"]},
        "triage": {
            "type": "override_agent",
            "label": "Triage",
            "additional_prompt": "Sort it.",
            "edge_order": ["e2", "e3", "e4"],
        },
        "expert": {"type": "standalone_agent", "agent_id": "AGENT_B", "edge_order": []},
        "lookup": {"type": "tool", "tools": [{"tool_id": "tool_x"}], "edge_order": ["e5"]},
        "human": {
            "type": "phone_number",
            "transfer_destination": {"type": "phone", "phone_number": "+15550100"},
        },
        "bye": {"type": "end", "edge_order": []},
    },
    "edges": {
        "e1": {"source": "start_node", "target": "triage", "forward_condition": {"type": "unconditional"}},
        "e2": {
            "source": "triage",
            "target": "expert",
            "forward_condition": {"type": "llm", "condition": "Expert."},
        },
        "e3": {
            "source": "triage",
            "target": "lookup",
            "forward_condition": {
                "type": "expression",
                "expression": {
                    "type": "eq_operator",
                    "left": {"type": "dynamic_variable", "name": "tier"},
                    "right": {"type": "string_literal", "value": "gold"},
                },
            },
        },
        "e4": {
            "source": "triage",
            "target": "human",
            "forward_condition": {"type": "llm", "condition": "Human."},
        },
        "e5": {
            "source": "lookup",
            "target": "bye",
            "forward_condition": {"type": "result", "successful": True},
        },
    },
}


def rich_body(name: str, other: str | None) -> dict[str, Any]:
    workflow = None
    if other is not None:
        workflow = {
            **ALL_NODES,
            "nodes": {**ALL_NODES["nodes"], "expert": {**ALL_NODES["nodes"]["expert"], "agent_id": other}},
        }
    body: dict[str, Any] = {
        "name": name,
        "tags": ["legacy"],
        "conversation_config": {
            "agent": {
                "first_message": "Hi {{user_name}}, costs are ${code} and $${name} in ${env.HOME}.",
                "language": "en",
                "dynamic_variables": {"dynamic_variable_placeholders": {"user_name": "caller"}},
                "prompt": {
                    "prompt": "Line one with ${code}.\nLine two with $${name}.\n",
                    "llm": "gpt-4o-mini",
                    "built_in_tools": {
                        "end_call": {"name": "end_call", "params": {"system_tool_type": "end_call"}},
                        "language_detection": {
                            "name": "language_detection",
                            "params": {"system_tool_type": "language_detection"},
                        },
                    },
                },
            },
            "language_presets": {"de": {"overrides": {"agent": {"first_message": "Hallo!"}}}},
        },
        "platform_settings": {
            "data_collection": {"order": {"type": "string", "description": "The order number."}},
            "evaluation": {
                "criteria": [{"id": "ok", "name": "OK", "conversation_goal_prompt": "It went well."}]
            },
            "workspace_overrides": {
                "conversation_initiation_client_data_webhook": {
                    "url": "https://hooks.example/x",
                    "request_headers": {},
                }
            },
        },
    }
    if workflow is not None:
        body["workflow"] = workflow
    return body


def create(emulator: Emulator, body: dict[str, Any]) -> str:
    answer = requests.post(f"{emulator.url}/v1/convai/agents/create", headers=AUTH, json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["agent_id"])


def legacy_workspace(emulator: Emulator) -> tuple[str, str]:
    expert = create(emulator, rich_body("Expert Desk", None))
    front = create(emulator, rich_body("Front Desk", expert))
    for title in ("Escalated", "Resolved"):
        answer = requests.post(
            f"{emulator.url}/v1/convai/tags", headers=AUTH, json={"title": title}, timeout=5
        )
        assert answer.status_code == 200, answer.text
    return expert, front


def test_init_then_pull_all_of_a_legacy_workspace_validates_and_plans_only_adoptions(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expert, front = legacy_workspace(api_env)
    root = tmp_path / "legacy"
    assert run(["init", str(root)]) == 0
    assert pull(root, "--all") == 0
    out = capsys.readouterr().out
    assert not (root / "agents" / "support-bot.yaml").exists()
    assert not (root / "agents" / "prompts" / "support-bot.md").exists()
    assert "removed  agents/support-bot.yaml" in out
    assert run(["validate", str(root)]) == 0, capsys.readouterr().out
    tags = (root / "tags.yaml").read_text()
    assert "escalated" not in tags and "Escalated" in tags
    front_file = (root / "agents" / "front-desk.yaml").read_text()
    assert "agent_id: ${agent.expert-desk.id}" in front_file  # 10: a managed id is a reference
    assert "params:" in front_file and "request_headers: {}" in front_file
    assert len(front_file.splitlines()) < 130  # a rich agent, without its ~200 lines of server defaults
    project = load_project(root)
    with Client(api_env.url, ADMIN_KEY) as client:
        plan = build_plan(project, fetch(client, project))
        remote = {i: client.get(f"/v1/convai/agents/{i}") for i in (expert, front)}
    assert {c.action.value for c in plan.changes} == {"adopt"}
    assert all(not c.fields for c in plan.changes), [c.fields for c in plan.changes]
    # 4: load(pull(x)) == x for text with ${...} and $${...}, inline and behind !file.
    config = project.definitions["agent"]["expert-desk"].config["conversation_config"]["agent"]
    wanted = remote[expert]["conversation_config"]["agent"]
    assert config["first_message"] == wanted["first_message"]
    assert config["prompt"]["prompt"] == wanted["prompt"]["prompt"]


def test_prompts_behind_file_round_trip_dollar_text_exactly(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", "/home/operator")
    create(api_env, rich_body("Expert Desk", None))
    root = tmp_path / "p"
    root.mkdir()
    (root / "agentsync.yaml").write_text("namespace: team\n")
    assert pull(root, "--all", "--prompts-as-files") == 0
    assert "/home/operator" not in every_file(root)
    prompt = (
        load_project(root)
        .definitions["agent"]["expert-desk"]
        .config["conversation_config"]["agent"]["prompt"]["prompt"]
    )
    assert prompt == "Line one with ${code}.\nLine two with $${name}.\n"
    capsys.readouterr()
    assert run(["plan", "-C", str(root), "--detailed-exitcode"]) == 2  # the adoption, and nothing else
    assert "conversation_config" not in capsys.readouterr().out


# --- 5. another project's agents are left alone ----------------------------------------------------


def test_pull_all_skips_an_agent_with_another_namespace_marker_unless_asked(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create(api_env, {"name": "Theirs", "tags": ["other-project:theirs"], "conversation_config": {}})
    root = tmp_path / "p"
    root.mkdir()
    (root / "agentsync.yaml").write_text("namespace: team\n")
    assert pull(root, "--all") == 0
    assert "another project's ownership marker" in capsys.readouterr().out
    assert not (root / "agents" / "theirs.yaml").exists()
    assert pull(root, "--all", "--adopt-foreign") == 0
    assert "id: agent_" in (root / "agents" / "theirs.yaml").read_text()


# --- 6. a second pull over the empty tags.yaml pull wrote ------------------------------------------


def test_a_second_pull_reads_the_empty_tags_list_it_wrote(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "agentsync.yaml").write_text("namespace: team\n")
    (root / "tags.yaml").write_text("# Conversation tags.\n[]\n")
    assert pull(root) == 0
    assert pull(root) == 0
    create(api_env, {"name": "A", "conversation_config": {}})
    requests.post(f"{api_env.url}/v1/convai/tags", headers=AUTH, json={"title": "vip"}, timeout=5)
    assert pull(root) == 0
    assert "title: vip" in (root / "tags.yaml").read_text()
    assert run(["validate", str(root)]) == 0


# --- 7. prompt files are in place before the agent file that includes them --------------------------


def test_included_files_are_renamed_before_the_file_that_includes_them(
    api_env: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(api_env, rich_body("Expert Desk", None))
    root = tmp_path / "p"
    root.mkdir()
    (root / "agentsync.yaml").write_text("namespace: team\n")
    written: list[str] = []

    def stop_after_first(files: dict[Path, str]) -> None:
        first = next(iter(files))
        write_files({first: files[first]})  # the process dies after its first rename
        written.append(first.name)
        raise KeyboardInterrupt

    monkeypatch.setattr("agentsync.pull.write_files", stop_after_first)
    assert run(["pull", "-C", str(root), "--all", "--prompts-as-files"]) != 0
    assert written == ["expert-desk.md"]
    assert not (root / "agents" / "expert-desk.yaml").exists()


# --- 8. the id that adopts belongs to the environment --------------------------------------------


def test_with_an_environment_the_adopting_id_goes_into_its_overrides(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = create(api_env, {"name": "Stranger", "conversation_config": {}})
    root = tmp_path / "p"
    root.mkdir()
    settings = (
        "# Settings.\nnamespace: team\nenvironments:\n  dev:  # the dev workspace\n    residency: global\n"
    )
    (root / "agentsync.yaml").write_text(settings)
    assert pull(root, "--all", "-e", "dev") == 0
    assert "id:" not in (root / "agents" / "stranger.yaml").read_text()
    text = (root / "agentsync.yaml").read_text()
    assert text.startswith("# Settings.\nnamespace: team\nenvironments:\n  dev:  # the dev workspace\n")
    assert f"overrides:\n      agents:\n        stranger:\n          id: {stranger}\n" in text
    assert load_project(root, environment="dev").definitions["agent"]["stranger"].id == stranger
    capsys.readouterr()
    assert run(["apply", "-C", str(root), "-e", "dev", "--auto-approve"]) == 0
    assert "adopt" in capsys.readouterr().out
    assert pull(root, "-e", "dev") == 0
    assert "id:" not in (root / "agentsync.yaml").read_text()  # the marker makes it redundant
