"""Environment variables as a kind, end to end: the CLI in-process against the emulator over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from projects import write_project

from agentsync.cli import run
from agentsync.emulator import Emulator, Faults

FILE = "environment-variables.yaml"


def project(root: Path, text: str, extra: str = "") -> Path:
    write_project(root, {}, settings=f"namespace: t\n{extra}")
    (root / FILE).write_text(text)
    return root


def stored(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {r.body["label"]: r.body for r in emulator.store.records("environment_variables")}


def cli(root: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run([argv[0], "-C", str(root), *argv[1:]])
    out = capsys.readouterr()
    return code, out.out + out.err


TWO = "- label: crm_url\n  type: string\n  values: {production: 'https://crm.example', staging: 'https://s.example'}\n"
ONE = "- label: crm_url\n  type: string\n  values: {production: 'https://crm.example'}\n"


def test_a_variable_is_created_updated_and_an_environment_removed_with_null(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, TWO)
    assert cli(root, capsys, "apply", "--auto-approve")[0] == 0
    assert stored(api_env)["crm_url"]["values"] == {
        "production": "https://crm.example",
        "staging": "https://s.example",
    }
    assert cli(root, capsys, "plan", "--detailed-exitcode")[0] == 0

    (root / FILE).write_text(ONE)
    code, out = cli(root, capsys, "plan", "--format", "json", "--detailed-exitcode")
    assert code == 2
    change = json.loads(out)["changes"][0]
    assert change["body"] == {"values": {"production": "https://crm.example", "staging": None}}
    assert cli(root, capsys, "apply", "--auto-approve")[0] == 0
    assert stored(api_env)["crm_url"]["values"] == {"production": "https://crm.example"}
    assert cli(root, capsys, "plan", "--detailed-exitcode")[0] == 0


def test_a_server_that_ignores_null_is_caught_by_the_read_back(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, TWO)
    assert cli(root, capsys, "apply", "--auto-approve")[0] == 0
    api_env.set_faults(Faults(env_values_keep_nulls=True))
    (root / FILE).write_text(ONE)
    code, out = cli(root, capsys, "apply", "--auto-approve")
    assert code == 1
    assert "not converged" in out and "did not take: values" in out, out


def test_a_server_that_replaces_values_whole_ends_the_same(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, TWO)
    assert cli(root, capsys, "apply", "--auto-approve")[0] == 0
    api_env.set_faults(Faults(env_values_replace=True))
    (root / FILE).write_text(TWO.replace("https://s.example", "https://s2.example"))
    assert cli(root, capsys, "apply", "--auto-approve")[0] == 0
    assert stored(api_env)["crm_url"]["values"] == {
        "production": "https://crm.example",
        "staging": "https://s2.example",
    }
    assert cli(root, capsys, "plan", "--detailed-exitcode")[0] == 0


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_a_removed_variable_is_reported_kept_in_every_format(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    root = project(tmp_path, ONE, "environment_variables: {authoritative: true}\n")
    assert cli(root, capsys, "apply", "--auto-approve")[0] == 0
    (root / FILE).write_text("[]\n")
    for extra in ((), ("--prune",)):
        code, out = cli(root, capsys, "plan", "--format", fmt, "--detailed-exitcode", *extra)
        assert code == 0, out
        out = out.replace("\\_", "_")  # Markdown escapes the underscore
        assert "1 environment variable no longer declared (crm_url)" in out
        assert "kept: the API cannot delete environment variables" in out
    assert cli(root, capsys, "apply", "--auto-approve", "--prune")[0] == 0
    assert "crm_url" in stored(api_env)


def test_a_changed_type_is_a_located_plan_error(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "env-var-kind-token-1")
    root = project(tmp_path, ONE)
    (root / "secrets.yaml").write_text("- name: tok\n  value: ${env.TOKEN}\n")
    assert cli(root, capsys, "apply", "--auto-approve")[0] == 0
    (root / FILE).write_text(
        "- label: crm_url\n  type: secret\n  values: {production: {secret_id: '${secret.tok.id}'}}\n"
    )
    code, out = cli(root, capsys, "plan")
    assert code == 1
    assert f"{FILE}:2:3: environment variable 'crm_url' has type 'string' in the workspace" in out, out
    assert "cannot change once created" in out and "the API cannot delete environment variables" in out
    assert "Traceback" not in out
    assert stored(api_env)["crm_url"]["type"] == "string"


def test_a_secret_typed_value_points_at_a_managed_secret(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "env-var-kind-token-2")
    root = project(
        tmp_path,
        "- label: crm_key\n  type: secret\n  values: {production: {secret_id: '${secret.tok.id}'}}\n",
    )
    (root / "secrets.yaml").write_text("- name: tok\n  value: ${env.TOKEN}\n")
    code, out = cli(root, capsys, "apply", "--auto-approve")
    assert code == 0, out
    secret_id = next(r.body["secret_id"] for r in api_env.store.records("secrets"))
    assert stored(api_env)["crm_key"]["values"] == {"production": {"secret_id": secret_id}}
    assert "env-var-kind-token-2" not in json.dumps(stored(api_env))
    assert cli(root, capsys, "plan", "--detailed-exitcode")[0] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- label: crm_url\n  type: string\n  values: {staging: 'https://s.example'}\n",
            f"{FILE}:3:11: error: [0].values: a 'production' value is required",
        ),
        (
            "- label: crm_url\n  type: secret\n  values: {production: 'https://crm.example'}\n",
            f"{FILE}:3:24: error: [0].values.production: a secret variable's value is {{secret_id: ...}}",
        ),
        (
            "- label: crm_url\n  type: string\n  values: {production: '${env.CRM_URL}'}\n",
            f"{FILE} cannot use ${{env.*}}",
        ),
        (
            "- label: crm_url\n  type: text\n  values: {production: x}\n",
            f"{FILE}:2:9:",
        ),
        ("- label: crm_url\n  type: [string]\n  values: {production: x}\n", f"{FILE}:2:9:"),
        (
            "- label: crm_url\n  type: string\n  value: {production: x}\n",
            f"{FILE}:3:3:",
        ),
        (ONE + ONE, "duplicate label 'crm_url'"),
    ],
    ids=[
        "no-production",
        "wrong-value-type",
        "env-placeholder",
        "unknown-type",
        "type-not-a-string",
        "unknown-field",
        "duplicate",
    ],
)
def test_bad_files_are_located_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    message: str,
) -> None:
    monkeypatch.setenv("CRM_URL", "https://crm.example")
    root = project(tmp_path, text)
    code, out = cli(root, capsys, "validate")
    assert code != 0
    assert message in out, out


def test_a_label_created_meanwhile_makes_the_saved_plan_stale_never_a_twin(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, ONE)
    code, out = cli(root, capsys, "plan", "--out", str(tmp_path / "plan.json"))
    assert code == 0, out
    # Someone creates the same label before the saved plan is applied.
    api_env.store.put(
        "environment_variables",
        "envvar_other",
        {
            "id": "envvar_other",
            "label": "crm_url",
            "type": "string",
            "values": {"production": "x"},
            "workspace_id": "w",
            "created_at_unix_secs": 1,
            "updated_at_unix_secs": 1,
            "created_by_user_id": None,
        },
        "user_admin",
    )
    code, out = cli(root, capsys, "apply", str(tmp_path / "plan.json"), "--auto-approve")
    assert code == 1 and "stale" in out, out
    assert len(stored(api_env)) == 1
