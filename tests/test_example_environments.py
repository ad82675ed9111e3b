"""The support-desk example in both ways of running environments, end to end against the emulator:
a workspace per environment (agentsync.yaml) and native environments in one workspace
(agentsync.native.yaml). In both, the CRM token reaches the workspace only as a secret: no agent or
tool body the emulator stores holds it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from agentsync.cli import run
from agentsync.emulator import ADMIN_KEY, Emulator

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-desk"
TOKEN = "northwind-crm-token-7c2f9e41"
SECRET = "northwind-crm-authorization"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "support-desk"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".agentsync"))
    monkeypatch.setenv("ELEVENLABS_API_KEY_DEV", ADMIN_KEY)
    monkeypatch.setenv("ELEVENLABS_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("NORTHWIND_CRM_TOKEN", TOKEN)
    return target


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def everything_stored(emulator: Emulator) -> str:
    """Every body the emulator holds, of every kind (agents, tools, secrets, variables, ...)."""
    return json.dumps(emulator.store.to_json())


def agents_by_name(emulator: Emulator) -> dict[str, dict[str, Any]]:
    with emulator.store.lock:
        return {r.body["name"]: r.body for r in emulator.store.agents.values()}


def secret_ids(emulator: Emulator) -> dict[str, str]:
    return {r.body["name"]: r.body["secret_id"] for r in emulator.store.records("secrets")}


def test_a_workspace_per_environment_keeps_the_token_in_a_secret(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Emulator() as dev, Emulator() as prod:
        for name, workspace in (("dev", dev), ("prod", prod)):
            argv = ["apply", "-C", str(project), "-e", name, "--base-url", workspace.url, "--auto-approve"]
            code, out = cli(capsys, *argv)
            assert code == 0, out
            assert TOKEN not in out
        for name, workspace in (("dev", dev), ("prod", prod)):
            argv = [
                "plan",
                "-C",
                str(project),
                "-e",
                name,
                "--base-url",
                workspace.url,
                "--detailed-exitcode",
            ]
            code, out = cli(capsys, *argv)
            assert code == 0, out
            assert TOKEN not in everything_stored(workspace)
        # dev leaves the secret and the variables out; prod's receptionist points at its secret.
        assert secret_ids(dev) == {} and not dev.store.records("environment_variables")
        webhook = agents_by_name(prod)["Northwind Receptionist"]["platform_settings"]["workspace_overrides"][
            "conversation_initiation_client_data_webhook"
        ]
        assert webhook["request_headers"] == {"Authorization": {"secret_id": secret_ids(prod)[SECRET]}}
        labels = {r.body["label"]: r.body for r in prod.store.records("environment_variables")}
        assert labels["crm_authorization"]["values"] == {
            "production": {"secret_id": secret_ids(prod)[SECRET]}
        }


def test_native_environments_serve_dev_and_prod_from_one_workspace(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(project / "agentsync.native.yaml", project / "agentsync.yaml")
    with Emulator() as workspace:
        code, out = cli(capsys, "apply", "-C", str(project), "--base-url", workspace.url, "--auto-approve")
        assert code == 0, out
        assert "16 applied, 0 not converged, 0 failed, 0 skipped" in out
        code, out = cli(
            capsys, "plan", "-C", str(project), "--base-url", workspace.url, "--detailed-exitcode"
        )
        assert code == 0 and "No changes" in out, out
        assert "environments dev (development), prod (production), one workspace" in out
        assert TOKEN not in everything_stored(workspace) and TOKEN not in out
        labels = {r.body["label"]: r.body for r in workspace.store.records("environment_variables")}
        assert labels["billing_api"]["values"] == {
            "production": "https://billing.northwind.example/api",
            "development": "https://billing-sandbox.northwind.example/api",
        }
        # One receptionist for both environments, with the limit the settings share.
        receptionist = agents_by_name(workspace)["Northwind Receptionist"]
        assert receptionist["platform_settings"]["call_limits"]["daily_limit"] == 2000
        assert "support-desk:receptionist" in receptionist["tags"]


def test_the_native_variant_validates_without_a_problem(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(project / "agentsync.native.yaml", project / "agentsync.yaml")
    code, out = cli(capsys, "validate", "-C", str(project), "--format", "json")
    assert code == 0 and json.loads(out)["problems"] == [], out


def test_native_environments_take_no_env_option(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copyfile(project / "agentsync.native.yaml", project / "agentsync.yaml")
    code, out = cli(capsys, "plan", "-C", str(project), "--emulator", "-e", "dev")
    assert code != 0
    assert "--env dev: the environments of this project are native" in out and "Traceback" not in out


NATIVE = "namespace: n\nenvironments:\n  dev: {elevenlabs_environment: development}\n  prod: {elevenlabs_environment: production}\n"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "environments:\n  dev: {elevenlabs_environment: development}\n  prod: {api_key_env: ELEVENLABS_API_KEY}\n",
            "agentsync.yaml:3:3: error: environments.prod: every environment maps an elevenlabs_environment",
        ),
        (
            "environments:\n  dev: {elevenlabs_environment: development}\n",
            "environments: one native environment must map elevenlabs_environment: production",
        ),
        (
            "environments:\n  a: {elevenlabs_environment: production}\n  b: {elevenlabs_environment: production}\n",
            "agentsync.yaml:3:31: error: environments.b.elevenlabs_environment: 'production' is already mapped by a",
        ),
        (
            "environments:\n  prod:\n    elevenlabs_environment: production\n    namespace: other\n",
            "agentsync.yaml:4:5: error: environments.prod.namespace: a native environment cannot set the namespace",
        ),
        (
            "environments:\n  prod:\n    elevenlabs_environment: production\n    overrides: {agents: {}}\n",
            "environments.prod.overrides: a native environment cannot set an override of its own",
        ),
        (
            "environments:\n  prod:\n    elevenlabs_environment: production\n    variables: {A: 1}\n",
            "a value that differs per environment is an environment variable's value",
        ),
        (
            "default_environment: prod\nenvironments:\n  prod: {elevenlabs_environment: production}\n",
            "default_environment: native environments share one workspace",
        ),
        (
            "environments:\n  prod: {elevenlabs_environment: 'not a name'}\n",
            "agentsync.yaml:2:34: error: environments.prod.elevenlabs_environment: 'not a name' does not match",
        ),
    ],
    ids=[
        "mixed",
        "no-production",
        "mapped-twice",
        "namespace",
        "overrides",
        "variables",
        "default",
        "bad-name",
    ],
)
def test_native_settings_errors_are_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: str, message: str
) -> None:
    (tmp_path / "agentsync.yaml").write_text(settings)
    code, out = cli(capsys, "validate", "-C", str(tmp_path))
    assert code != 0
    assert message in out, out


def test_a_value_for_an_unmapped_environment_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "agentsync.yaml").write_text(NATIVE)
    (tmp_path / "environment-variables.yaml").write_text(
        "- label: crm_url\n  type: string\n  values:\n    production: https://p.example\n    developmnt: https://d.example\n"
    )
    code, out = cli(capsys, "validate", "-C", str(tmp_path))
    assert code != 0
    assert (
        "environment-variables.yaml:5:5: error: values.developmnt: 'developmnt' is not an ElevenLabs" in out
    ), out
    assert "did you mean 'development'?" in out


def test_shared_variables_fill_every_environment_and_an_environments_own_win(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agentsync.yaml").write_text(
        "namespace: v\nvariables: {GREETING: Hello, LIMIT: 5}\n"
        "environments:\n  a: {}\n  b: {variables: {LIMIT: 9}}\n"
    )
    (tmp_path / "agents" / "bot.yaml").write_text(
        "name: Bot\nconversation_config: {agent: {first_message: '${var.GREETING}'}}\n"
        "platform_settings: {call_limits: {daily_limit: '${var.LIMIT}'}}\n"
    )
    for env, limit in (("a", 5), ("b", 9)):
        code, out = cli(capsys, "plan", "-C", str(tmp_path), "-e", env, "--format", "json", "--show-body")
        assert code == 0, out
        (change,) = json.loads(out)["changes"]
        assert change["body"]["platform_settings"]["call_limits"]["daily_limit"] == limit
        assert change["body"]["conversation_config"]["agent"]["first_message"] == "Hello"
