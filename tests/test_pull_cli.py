"""``agentsync pull`` driven in-process against the emulator over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from agentsync.cli import run
from agentsync.emulator import ADMIN_KEY, Emulator

AUTH = {"xi-api-key": ADMIN_KEY}


def project(tmp_path: Path) -> Path:
    (tmp_path / "agentsync.yaml").write_text("namespace: team\n")
    return tmp_path


def create(emulator: Emulator, name: str, tags: list[str]) -> str:
    answer = requests.post(
        f"{emulator.url}/v1/convai/agents/create",
        headers=AUTH,
        timeout=5,
        json={"name": name, "tags": tags, "conversation_config": {}},
    )
    assert answer.status_code == 200
    agent_id: str = answer.json()["agent_id"]
    return agent_id


def test_pull_all_lists_created_files_and_notes_adoptions(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    create(api_env, "Owned", ["team:owned"])
    create(api_env, "Stranger", [])
    assert run(["pull", "--all", "-C", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "  created  agents/owned.yaml",
        "  created  agents/stranger.yaml",
        "Pulled 2 agents: 2 files changed, 0 unchanged.",
        "note: stranger is not managed yet; its id: makes the next apply adopt it",
    ]
    assert (root / "agents" / "owned.yaml").read_text() == "name: Owned\n"


def test_second_pull_changes_nothing(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    create(api_env, "Owned", ["team:owned"])
    assert run(["pull", "--all", "-C", str(root)]) == 0
    capsys.readouterr()
    assert run(["pull", "-C", str(root)]) == 0
    assert capsys.readouterr().out == "Pulled 1 agent: 0 files changed, 1 unchanged.\n"


def test_dry_run_says_what_would_change_and_writes_nothing(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    create(api_env, "Owned", ["team:owned"])
    assert run(["pull", "owned", "--dry-run", "-C", str(root)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "  create   agents/owned.yaml",
        "Pulled 1 agent: 1 file would change, 0 unchanged.",
        "Dry run: nothing was written.",
    ]
    assert not (root / "agents").exists()


def test_prompts_as_files_and_full(api_env: Emulator, tmp_path: Path) -> None:
    root = project(tmp_path)
    requests.post(
        f"{api_env.url}/v1/convai/agents/create",
        headers=AUTH,
        timeout=5,
        json={
            "name": "Bot",
            "tags": ["team:bot"],
            "conversation_config": {"agent": {"prompt": {"prompt": "Be brief.\nBe kind.\n"}}},
        },
    )
    assert run(["pull", "bot", "--full", "--prompts-as-files", "-C", str(root)]) == 0
    text = (root / "agents" / "bot.yaml").read_text()
    assert "prompt: !file prompts/bot.md" in text and "stability: 0.5" in text
    assert (root / "agents" / "prompts" / "bot.md").read_text() == "Be brief.\nBe kind.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pull", "a", "--all"], "choose one of KEY arguments, --all and --search"),
        (["pull", "--all", "--search", "x"], "choose one of KEY arguments, --all and --search"),
        (["pull", "--search", "  "], "--search needs some text"),
        (["pull", "nope"], "no agent in the workspace carries the marker team:nope"),
    ],
)
def test_bad_requests_exit_1_with_one_sentence(
    api_env: Emulator, tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    assert run([*args, "-C", str(root)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (root / "agents").exists()


def test_a_refused_key_is_one_sentence_and_writes_nothing(
    api_env: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk_not_a_key_the_emulator_knows")
    root = project(tmp_path)
    assert run(["pull", "--all", "-C", str(root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "401" in err and "Traceback" not in err
    assert "sk_not_a_key" not in err
    assert sorted(p.name for p in root.iterdir()) == ["agentsync.yaml"]


def test_pull_format_json_reports_files_and_resources_and_dry_run_writes_nothing(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    root = project(tmp_path)
    agent_id = create(api_env, "Owned", ["team:owned"])
    answer = requests.post(f"{api_env.url}/v1/convai/tags", headers=AUTH, timeout=5, json={"title": "vip"})
    assert answer.status_code == 200, answer.text
    assert run(["pull", "--all", "--dry-run", "--format", "json", "-C", str(root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in root.iterdir()) == ["agentsync.yaml"], "a dry run writes nothing"
    assert report["version"] == 1 and report["dry_run"] is True
    assert report["files"] == [
        {"path": "agents/owned.yaml", "action": "created", "kind": "agent", "key": "owned"},
        {"path": "tags.yaml", "action": "created", "kind": "tag", "key": None},
    ]
    assert {
        "kind": "agent",
        "key": "owned",
        "id": agent_id,
        "file": "agents/owned.yaml",
        "adopted": False,
    } in report["resources"]
    assert [r["kind"] for r in report["resources"]].count("tag") == 1
    assert report["summary"] == {"created": 2, "changed": 0, "unchanged": 0, "removed": 0}
    assert report["kinds"]["agent"] == {
        "resources": 1,
        "created": 1,
        "changed": 0,
        "unchanged": 0,
        "removed": 0,
    }
    assert report["kinds"]["tool"]["resources"] == 0 and report["skipped"] == [] and report["notes"] == []

    assert run(["pull", "--all", "--format", "json", "-C", str(root)]) == 0
    assert json.loads(capsys.readouterr().out)["dry_run"] is False
    assert run(["pull", "--format", "json", "-C", str(root)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["summary"] == {"created": 0, "changed": 0, "unchanged": 2, "removed": 0}
    assert sorted(again["kinds"]) == ["agent", "tag"], "plain pull looks only at kinds with files"


def test_pull_all_after_init_replaces_the_sample_without_promising_to_create_it(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "new"
    assert run(["init", str(root)]) == 0
    (root / "agents" / "draft.yaml").write_text("name: Draft\n")  # the user's own, not applied yet
    create(api_env, "Owned", ["agentsync:owned"])
    capsys.readouterr()
    assert run(["pull", "--all", "-C", str(root), "--base-url", api_env.url]) == 0
    out = capsys.readouterr().out
    assert "removed  agents/support-bot.yaml" in out
    # init's sample agent and tags are gone, so nothing says apply will create them; the user's draft
    # is kept and still will be.
    assert "support-bot is not in the workspace" not in out and "resolved" not in out
    assert "note: draft is not in the workspace yet; apply creates it" in out
    assert (root / "agents" / "draft.yaml").is_file()


def test_a_pulled_secret_says_which_variable_to_export_and_never_holds_a_value(
    api_env: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    body = {"type": "new", "name": "crm-token", "value": "value-never-read-back"}
    answer = requests.post(f"{api_env.url}/v1/convai/secrets", headers=AUTH, json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    assert run(["pull", "--all", "-C", str(root)]) == 0
    out = capsys.readouterr().out
    assert (
        "note: secrets.yaml: workspace secret crm-token's value is ${env.CRM_TOKEN}; export CRM_TOKEN" in out
    )
    assert (root / "secrets.yaml").read_text() == "- name: crm-token\n  value: ${env.CRM_TOKEN}\n"
    capsys.readouterr()
    monkeypatch.setenv("CRM_TOKEN", "the-operators-value")
    assert run(["pull", "--all", "-C", str(root)]) == 0  # the entry now exists: nothing to say again
    assert "export CRM_TOKEN" not in capsys.readouterr().out
