"""Workspace secrets as a write-only kind, end to end: the CLI in-process against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from projects import write_project

from agentsync.cli import run
from agentsync.emulator import Emulator
from agentsync.emulator.secrets import holds_value

VALUE = "crm-token-value-0123456789"


def project(
    root: Path, secrets: list[dict[str, Any]], agents: dict[str, Any] | None = None, extra: str = ""
) -> Path:
    write_project(root, agents or {}, settings=f"namespace: t\n{extra}")
    (root / "secrets.yaml").write_text(json.dumps(secrets))
    return root


def stored(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {r.body["name"]: r.body for r in emulator.store.records("secrets")}


def test_a_missing_secret_is_created_and_then_exists_without_a_change(
    tmp_path: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRM_TOKEN", VALUE)
    root = project(tmp_path, [{"name": "crm-token", "value": "${env.CRM_TOKEN}"}])
    assert run(["apply", "-C", str(root), "--auto-approve"]) == 0
    assert holds_value(stored(api_env)["crm-token"]["value_sha256"], VALUE)
    capsys.readouterr()
    assert run(["plan", "-C", str(root), "--detailed-exitcode"]) == 0
    out = capsys.readouterr()
    assert "1 workspace secret exists (crm-token): value not compared" in out.out + out.err
    assert "rotate it (--rotate-secret crm-token)" in out.out + out.err
    assert VALUE not in out.out + out.err


def test_a_changed_value_is_sent_only_on_rotation_and_never_printed(
    tmp_path: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRM_TOKEN", VALUE)
    root = project(tmp_path, [{"name": "crm-token", "value": "${env.CRM_TOKEN}"}])
    assert run(["apply", "-C", str(root), "--auto-approve"]) == 0
    monkeypatch.setenv("CRM_TOKEN", "rotated-value-9876543210")
    assert run(["apply", "-C", str(root), "--auto-approve"]) == 0
    assert holds_value(stored(api_env)["crm-token"]["value_sha256"], VALUE)  # not compared, not sent
    plan_file = tmp_path / "plan.json"
    capsys.readouterr()
    assert run(["plan", "-C", str(root), "--rotate-secret", "crm-token", "--out", str(plan_file)]) == 0
    shown = capsys.readouterr()
    saved = plan_file.read_text()
    for text in (shown.out, shown.err, saved):
        assert "rotated-value-9876543210" not in text and VALUE not in text
    assert "${env.CRM_TOKEN}" in saved
    assert run(["apply", "-C", str(root), str(plan_file), "--auto-approve"]) == 0
    assert holds_value(stored(api_env)["crm-token"]["value_sha256"], "rotated-value-9876543210")


def test_rotating_an_undeclared_secret_is_a_usage_error(
    tmp_path: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRM_TOKEN", VALUE)
    root = project(tmp_path, [{"name": "crm-token", "value": "${env.CRM_TOKEN}"}])
    assert run(["plan", "-C", str(root), "--rotate-secret", "crm-tokn"]) != 0
    assert "crm-token" in capsys.readouterr().err


def test_a_literal_value_in_the_file_is_refused(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, [{"name": "crm-token", "value": "written-in-the-repo"}])
    assert run(["validate", "-C", str(root)]) != 0
    shown = capsys.readouterr()
    assert "must be a ${env.NAME} placeholder" in shown.out + shown.err
    assert stored(api_env) == {}


def applied_with_secret_llm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose agent's custom LLM key is ``${secret.crm-token.id}``, applied."""
    monkeypatch.setenv("CRM_TOKEN", VALUE)
    llm = {
        "custom_llm": {
            "url": "https://llm.example.com/v1",
            "api_key": {"secret_id": "${secret.crm-token.id}"},
        }
    }
    agents = {"desk": {"name": "Desk", "conversation_config": {"agent": {"prompt": llm}}}}
    root = project(tmp_path, [{"name": "crm-token", "value": "${env.CRM_TOKEN}"}], agents)
    assert run(["apply", "-C", str(root), "--auto-approve"]) == 0
    return root


def test_a_tool_header_references_the_secret_by_id_and_never_holds_the_value(
    tmp_path: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = applied_with_secret_llm(tmp_path, monkeypatch)
    secret_id = stored(api_env)["crm-token"]["secret_id"]
    (agent,) = [r.body for r in api_env.store.agent_records()]
    assert agent["conversation_config"]["agent"]["prompt"]["custom_llm"]["api_key"] == {
        "secret_id": secret_id
    }
    assert VALUE not in json.dumps(api_env.store.to_json())
    assert run(["plan", "-C", str(root), "--detailed-exitcode"]) == 0


def test_delete_needs_authoritative_and_prune_and_names_what_uses_the_secret(
    tmp_path: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = applied_with_secret_llm(tmp_path, monkeypatch)
    project(tmp_path, [], agents={}, extra="secrets: {authoritative: true}\n")
    # The agent still uses the secret in the workspace until it is gone: the delete is held back.
    capsys.readouterr()
    assert run(["apply", "-C", str(root), "--auto-approve", "--prune", "--target", "secret:crm-token"]) != 0
    err = capsys.readouterr().err
    assert "agent Desk" in err and "crm-token" in stored(api_env)
    assert run(["apply", "-C", str(root), "--auto-approve", "--prune", "--target", "desk"]) == 0
    assert run(["apply", "-C", str(root), "--auto-approve", "--prune"]) == 0
    assert stored(api_env) == {}


def test_an_unset_value_is_one_error_not_also_warnings_that_the_secret_is_undeclared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CRM_TOKEN", raising=False)
    header = {"Authorization": {"secret_id": "${secret.crm-token.id}"}}
    agent = {
        "name": "A",
        "platform_settings": {
            "workspace_overrides": {
                "conversation_initiation_client_data_webhook": {
                    "url": "https://x.example/hook",
                    "request_headers": header,
                }
            }
        },
    }
    extra = "environments:\n  dev:\n    overrides:\n      secrets: {crm-token: null}\n  prod: {}\n"
    root = project(tmp_path, [{"name": "crm-token", "value": "${env.CRM_TOKEN}"}], {"a": agent}, extra)
    assert run(["plan", "-C", str(root), "-e", "prod", "--base-url", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert "environment variable CRM_TOKEN is not set" in err
    assert "no file declares" not in err and "no workspace secret" not in err
    assert "the project has 1 error" in err
    # A reference to a secret that really is undeclared is still reported.
    (root / "secrets.yaml").write_text("[]")
    assert run(["validate", "-C", str(root)]) == 0
    assert "names workspace secret 'crm-token' that no file declares" in capsys.readouterr().out
