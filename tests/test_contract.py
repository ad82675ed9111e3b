"""The contract every registered kind keeps, run for each entry of KINDS through the real command line
against the emulator over HTTP: create, a no-op re-plan, drift in an unmanaged field (no change), an
edit planned as its minimal body, drift in a managed field, a stale saved plan refused, delete only
with --prune, hostile list answers as one error, and apply -> pull -> git diff empty -> plan empty
with no secret in any file.

A kind that registers without a sample here fails :func:`test_every_kind_has_a_contract_sample`: the
next kind gets these tests by registering and writing its sample.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from agentsync.cli import run
from agentsync.emulator import ADMIN_KEY, Emulator, Faults
from agentsync.kinds import KINDS, Kind

SECRET = "contract-secret-5d1e9b7c"
Patch = Callable[[Emulator, str], None]


@dataclass(frozen=True)
class Sample:
    """One kind's definition, an edit of it, and remote changes to a managed and an unmanaged field."""

    files: Mapping[str, str]
    edit: tuple[str, str, str]  # file, text, replacement
    edit_body: Mapping[str, Any]  # the exact request body the edit plans
    drift_unmanaged: Patch
    drift_managed: Patch
    settings: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    write_only: bool = False  # the value is never read back: drift cannot be seen, rotation is asked for
    replace_edit: tuple[str, str, str] | None = None  # an edit of a field the kind cannot update
    creates: bool = True  # False: adopt-only, a plan never creates one (phone numbers)
    deletes: bool = True  # False: a plan never deletes one, it reports it kept (environment variables)
    stale: Patch | None = None  # a change after a plan was saved (default: drift_unmanaged)
    # Remote objects the sample needs first; the names it returns are replaced in the files.
    setup: Callable[[Emulator], Mapping[str, str]] = lambda emulator: {}


def _nothing(emulator: Emulator, remote_id: str) -> None:
    """A secret (an environment variable) has no field the server shows and the file does not declare."""


def _agent_and_number(emulator: Emulator) -> Mapping[str, str]:
    """A number bought in the dashboard, and an agent it may route to."""
    emulator.add_phone_number("+14155550100", "front desk")
    answer = requests.post(
        f"{emulator.url}/v1/convai/agents/create",
        json={"name": "Desk", "conversation_config": {}},
        headers={"xi-api-key": ADMIN_KEY},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {"AGENT_ID": answer.json()["agent_id"]}


def _patch(path: str, body: Mapping[str, Any]) -> Patch:
    def send(emulator: Emulator, remote_id: str) -> None:
        url = f"{emulator.url}{path.format(id=remote_id)}"
        answer = requests.patch(url, json=body, headers={"xi-api-key": ADMIN_KEY}, timeout=10)
        assert answer.status_code == 200, answer.text

    return send


def _longer_timeout(emulator: Emulator, remote_id: str) -> None:
    """A field the file leaves to the server, changed to a new value each time."""
    url = f"{emulator.url}/v1/convai/mcp-servers/{remote_id}"
    headers = {"xi-api-key": ADMIN_KEY}
    now = requests.get(url, headers=headers, timeout=10).json()["config"]["response_timeout_secs"]
    answer = requests.patch(url, json={"response_timeout_secs": now + 1}, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text


def _put(path: str, body: Mapping[str, Any]) -> Patch:
    def send(emulator: Emulator, remote_id: str) -> None:
        url = f"{emulator.url}{path.format(id=remote_id)}"
        answer = requests.put(url, json=body, headers={"xi-api-key": ADMIN_KEY}, timeout=10)
        assert answer.status_code == 200, answer.text

    return send


GREETS = {
    "name": "greets",
    "type": "llm",
    "success_condition": 'The agent says "hello"',
    "chat_history": [{"role": "user", "message": "Hi", "time_in_call_secs": 0}],
}
EDITED_GREETS = {**GREETS, "success_condition": 'The agent says "hello there"'}

WEBHOOK = {
    "type": "webhook",
    "name": "lookup",
    "description": "Find the order",
    "api_schema": {"url": "https://orders.example/api/find"},
}
EDITED_WEBHOOK = {**WEBHOOK, "description": "Find the order by its number"}

SAMPLES: dict[str, Sample] = {
    "tag": Sample(
        files={"tags.yaml": "- title: vip\n"},
        edit=("tags.yaml", "- title: vip\n", "- title: vip\n  description: Important\n"),
        edit_body={"description": "Important"},
        drift_unmanaged=_patch("/v1/convai/tags/{id}", {"description": "set in the dashboard"}),
        drift_managed=_patch("/v1/convai/tags/{id}", {"description": "changed in the dashboard"}),
        settings="tags: {authoritative: true}\n",
    ),
    "tool": Sample(
        files={"tools/lookup.yaml": json.dumps({"tool_config": WEBHOOK})},
        edit=("tools/lookup.yaml", '"Find the order"', '"Find the order by its number"'),
        edit_body={"tool_config": EDITED_WEBHOOK},
        drift_unmanaged=_patch(
            "/v1/convai/tools/{id}", {"tool_config": WEBHOOK, "response_mocks": [{"mock_result": "found"}]}
        ),
        drift_managed=_patch(
            "/v1/convai/tools/{id}", {"tool_config": {**EDITED_WEBHOOK, "description": "changed"}}
        ),
        settings="tools: {authoritative: true}\n",
    ),
    "mcp-server": Sample(
        files={"mcp-servers/docs.yaml": "config:\n  name: docs\n  url: https://mcp.example.com/sse\n"},
        edit=("mcp-servers/docs.yaml", "/sse\n", "/sse\n  approval_policy: auto_approve_all\n"),
        edit_body={"approval_policy": "auto_approve_all"},
        drift_unmanaged=_longer_timeout,
        drift_managed=_patch("/v1/convai/mcp-servers/{id}", {"approval_policy": "require_approval_all"}),
        settings="mcp-servers: {authoritative: true}\n",
        replace_edit=("mcp-servers/docs.yaml", "mcp.example.com", "mcp.example.org"),
    ),
    "secret": Sample(
        files={"secrets.yaml": "- name: crm-token\n  value: ${env.CONTRACT_SECRET}\n"},
        edit=("secrets.yaml", "crm-token", "crm-token"),
        edit_body={},
        drift_unmanaged=_nothing,
        drift_managed=_nothing,
        settings="secrets: {authoritative: true}\n",
        env={"CONTRACT_SECRET": SECRET},
        write_only=True,
    ),
    "environment-variable": Sample(
        files={
            "environment-variables.yaml": (
                "- label: crm_url\n  type: string\n  values: {production: 'https://crm.example'}\n"
            )
        },
        edit=("environment-variables.yaml", "'https://crm.example'", "'https://crm.example/v2', staging: s"),
        edit_body={"values": {"production": "https://crm.example/v2", "staging": "s"}},
        drift_unmanaged=_nothing,
        drift_managed=_patch("/v1/convai/environment-variables/{id}", {"values": {"staging": "changed"}}),
        stale=_patch(
            "/v1/convai/environment-variables/{id}", {"values": {"production": "https://x.example"}}
        ),
        settings="environment_variables: {authoritative: true}\n",
        deletes=False,
    ),
    "phone-number": Sample(
        files={
            "phone-numbers.yaml": "- phone_number: '+14155550100'\n  agent_id: AGENT_ID\n  environment: staging\n"
        },
        edit=("phone-numbers.yaml", "environment: staging", "environment: development"),
        edit_body={"environment": "development"},
        drift_unmanaged=_patch("/v1/convai/phone-numbers/{id}", {"label": "renamed in the dashboard"}),
        drift_managed=_patch("/v1/convai/phone-numbers/{id}", {"environment": "changed"}),
        stale=_patch("/v1/convai/phone-numbers/{id}", {"label": "renamed again"}),
        creates=False,
        deletes=False,
        setup=_agent_and_number,
    ),
    "test": Sample(
        files={"tests/greets.yaml": json.dumps(GREETS)},
        edit=("tests/greets.yaml", '\\"hello\\"', '\\"hello there\\"'),
        edit_body=EDITED_GREETS,
        drift_unmanaged=_put(
            "/v1/convai/agent-testing/{id}", {**GREETS, "dynamic_variables": {"tier": "gold"}}
        ),
        drift_managed=_put(
            "/v1/convai/agent-testing/{id}", {**EDITED_GREETS, "success_condition": "changed"}
        ),
        settings="tests: {authoritative: true}\n",
    ),
    "agent": Sample(
        files={
            "agents/bot.yaml": (
                "name: Bot\nconversation_config:\n  agent:\n    first_message: Hi\n"
                "    prompt: {prompt: 'Token ${env.CONTRACT_SECRET} stays secret.'}\n"
            )
        },
        edit=("agents/bot.yaml", "first_message: Hi", "first_message: Hello"),
        edit_body={"conversation_config": {"agent": {"first_message": "Hello"}}},
        drift_unmanaged=_patch("/v1/convai/agents/{id}", {"conversation_config": {"tts": {"speed": 1.1}}}),
        drift_managed=_patch(
            "/v1/convai/agents/{id}", {"conversation_config": {"agent": {"first_message": "Changed"}}}
        ),
        env={"CONTRACT_SECRET": SECRET},
    ),
}


def test_every_kind_has_a_contract_sample() -> None:
    assert sorted(SAMPLES) == sorted(k.name for k in KINDS)


# --- the project and the command line -------------------------------------------------------------


@pytest.fixture(params=KINDS, ids=lambda k: k.name)
def kind(request: pytest.FixtureRequest) -> Kind:
    chosen: Kind = request.param
    return chosen


@pytest.fixture
def project(tmp_path: Path, kind: Kind, api_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    sample = SAMPLES[kind.name]
    for name, value in sample.env.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "project"
    (root / "agents").mkdir(parents=True)
    (root / "agentsync.yaml").write_text(f"namespace: contract\n{sample.settings}")
    names = sample.setup(api_env)
    for name, text in sample.files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        for placeholder, value in names.items():
            text = text.replace(placeholder, value)
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


class Cli:
    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.capsys = root, capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = run([argv[0], "-C", str(self.root), *argv[1:]])
        out, err = self.capsys.readouterr()
        return code, out, err

    def plan(self, *extra: str) -> dict[str, Any]:
        code, out, err = self("plan", "--format", "json", "--detailed-exitcode", *extra)
        assert code in (0, 2), err
        plan: dict[str, Any] = json.loads(out)
        assert (code == 2) == bool(plan["changes"])
        return plan

    def apply(self, *extra: str) -> None:
        code, _, err = self("apply", "--auto-approve", *extra)
        assert code == 0, err


@pytest.fixture
def cli(project: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(project, capsys)


def _only(plan: Mapping[str, Any], kind: Kind) -> dict[str, Any]:
    mine = [c for c in plan["changes"] if c["kind"] == kind.name]
    assert len(mine) == 1, plan["changes"]
    found: dict[str, Any] = mine[0]
    return found


def _edit(root: Path, sample: Sample) -> None:
    name, old, new = sample.edit
    text = (root / name).read_text()
    assert old in text
    (root / name).write_text(text.replace(old, new))


def _applied(cli: Cli, kind: Kind) -> str:
    """Create the sample (adopt-only: route the existing one), and prove that a second plan has nothing
    to do; the resource's id."""
    created = _only(cli.plan(), kind)
    wanted = ("create", "POST") if SAMPLES[kind.name].creates else ("update", "PATCH")
    assert (created["action"], created["method"]) == wanted
    cli.apply()
    assert cli.plan()["changes"] == []
    listing = requests.get(
        f"{cli_url()}{kind.api.collection}", headers={"xi-api-key": ADMIN_KEY}, timeout=10
    ).json()
    ids = [i[kind.api.id_field] for i in (listing[kind.api.items_key] if kind.api.items_key else listing)]
    assert len(ids) == 1, listing
    return str(ids[0])


def cli_url() -> str:
    import os

    return os.environ["ELEVENLABS_BASE_URL"]


# --- the contract ---------------------------------------------------------------------------------


def _prune(kind: Kind, cli: Cli, project: Path, sample: Sample, remote_id: str) -> None:
    for name in sample.files:
        (project / name).unlink()
    if kind.layout.is_folder:
        (project / kind.layout.where).mkdir(exist_ok=True)
    else:
        (project / kind.layout.where).write_text("[]\n")
    assert not [c for c in cli.plan()["changes"] if c["action"] == "delete"], "never a delete without --prune"
    if not sample.deletes:
        plan = cli.plan("--prune")
        assert not [c for c in plan["changes"] if c["kind"] == kind.name], plan
        if kind.api.no_delete and not kind.api.no_create:
            assert any(kind.api.no_delete in w and "kept" in w for w in plan["warnings"]), plan["warnings"]
        return
    delete = _only(cli.plan("--prune"), kind)
    assert (delete["action"], delete["remote_id"], delete["method"]) == ("delete", remote_id, "DELETE")
    cli.apply("--prune")
    assert cli.plan("--prune")["changes"] == []


def test_a_write_only_value_is_sent_on_create_and_on_rotation_only(
    kind: Kind, cli: Cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = SAMPLES[kind.name]
    if not sample.write_only:
        assert not kind.fields.write_only, f"{kind.name} has write-only fields: its sample must say so"
        return
    remote_id = _applied(cli, kind)
    monkeypatch.setenv("CONTRACT_SECRET", SECRET + "-rotated")
    plan = cli.plan()
    assert plan["changes"] == [], "a changed value cannot be seen, so it is never planned by itself"
    key = cli.plan("--rotate-secret", "crm-token")["changes"][0]
    assert (key["action"], key["remote_id"]) == ("update", remote_id)
    code, out, err = cli("apply", "--auto-approve", "--rotate-secret", "crm-token")
    assert code == 0 and SECRET not in out + err, out + err
    _prune(kind, cli, project, sample, remote_id)


def test_create_drift_edit_stale_and_prune(kind: Kind, cli: Cli, project: Path, api_env: Emulator) -> None:
    sample = SAMPLES[kind.name]
    if sample.write_only:
        assert kind.fields.write_only
        return  # test_a_write_only_value_is_sent_on_create_and_on_rotation_only holds such a kind
    remote_id = _applied(cli, kind)

    sample.drift_unmanaged(api_env, remote_id)
    assert cli.plan()["changes"] == [], "a field the file does not declare is the server's"

    _edit(project, sample)
    update = _only(cli.plan(), kind)
    assert (update["action"], update["remote_id"]) == ("update", remote_id)
    assert update["body"] == dict(sample.edit_body)
    cli.apply()
    assert cli.plan()["changes"] == []

    sample.drift_managed(api_env, remote_id)
    drift = _only(cli.plan(), kind)
    assert drift["action"] == "update" and drift["fields"]
    code, _, err = cli("plan", "--out", str(project / "saved.json"))
    assert code == 0, err
    (sample.stale or sample.drift_unmanaged)(
        api_env, remote_id
    )  # the workspace moves on after the plan was saved
    code, out, err = cli("apply", str(project / "saved.json"), "--auto-approve")
    assert code == 1 and "the plan is stale" in err and f"{kind.name} " in err, out + err
    cli.apply()
    assert cli.plan()["changes"] == []
    _prune(kind, cli, project, sample, remote_id)


@pytest.mark.parametrize("broken", ["truncated", "not_object", "wrong_type", "html"])
def test_a_hostile_list_answer_is_one_error(kind: Kind, cli: Cli, api_env: Emulator, broken: str) -> None:
    api_env.set_faults(Faults(hostile_rate=1.0, hostile_kinds=(broken,), hostile_route=kind.api.collection))
    code, out, err = cli("plan")
    assert code == 1, out
    assert "Traceback" not in err and err.startswith("error: ") and kind.api.collection in err, err
    assert out == ""


def test_apply_then_pull_leaves_the_files_as_they_are(kind: Kind, cli: Cli, project: Path) -> None:
    _applied(cli, kind)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "applied"], cwd=project, check=True)
    code, _, err = cli("pull")
    assert code == 0, err
    diff = subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True)
    assert diff.stdout == "", diff.stdout
    assert cli.plan()["changes"] == []
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert SECRET not in path.read_text(errors="replace"), path


def test_a_field_the_kind_cannot_update_is_a_replacement(kind: Kind, cli: Cli, project: Path) -> None:
    sample = SAMPLES[kind.name]
    if sample.replace_edit is None:
        assert not kind.fields.replace_on, (
            f"{kind.name} has fields it cannot update: its sample must edit one"
        )
        return
    old_id = _applied(cli, kind)
    name, old, new = sample.replace_edit
    (project / name).write_text((project / name).read_text().replace(old, new))
    change = _only(cli.plan(), kind)
    assert (change["action"], change["remote_id"], change["method"]) == ("replace", old_id, "POST")
    assert change["path"] == kind.api.create and change["fields"]
    cli.apply()
    assert cli.plan()["changes"] == []
    listing = requests.get(
        f"{cli_url()}{kind.api.collection}", headers={"xi-api-key": ADMIN_KEY}, timeout=10
    ).json()
    ids = [i[kind.api.id_field] for i in listing[kind.api.items_key]]
    assert len(ids) == 1 and ids[0] != old_id, "the new object stands in for the old one, which is gone"


def test_pull_all_into_an_empty_project_plans_no_changes(
    kind: Kind,
    cli: Cli,
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The workspace rebuilt as files: apply, then ``pull --all`` into a project that has only its
    settings; validate is clean, the plan has nothing to do, and no secret is in any file."""
    sample = SAMPLES[kind.name]
    _applied(cli, kind)
    empty = tmp_path / "rebuilt"
    empty.mkdir()
    (empty / "agentsync.yaml").write_text("namespace: contract\n")
    rebuilt = Cli(empty, capsys)
    code, out, err = rebuilt("pull", "--all")
    assert code == 0, out + err
    written = [p for p in empty.rglob("*") if p.is_file()]
    assert any(
        p.parent.name == kind.layout.where.rstrip("/") or p.name == kind.layout.where for p in written
    ), out
    # A pulled secret reads its value from the environment variable named after it.
    monkeypatch.setenv("CRM_TOKEN", SECRET)
    code, out, err = rebuilt("validate")
    assert code == 0 and "warning" not in out + err, out + err
    plan = rebuilt.plan()
    # What the sample made outside agentsync (an agent for a number to route to) is adopted, nothing else.
    assert [c for c in plan["changes"] if c["action"] != "adopt"] == [], plan["changes"]
    assert all(c["kind"] != kind.name for c in plan["changes"]), plan["changes"]
    # An agent's prompt that embedded an ${env.*} value holds it in plain text in the workspace: a project
    # that never declared it cannot know it is one. Every value the API keeps unreadable stays out.
    if kind.fields.write_only or not sample.env:
        for path in written:
            assert SECRET not in path.read_text(errors="replace"), path


def test_pull_writes_drift_in_a_managed_field_back_into_the_file(
    kind: Kind, cli: Cli, project: Path, api_env: Emulator
) -> None:
    """Plan in reverse: a managed field changed in the workspace is written into the file, then the
    plan is empty again; a second pull changes nothing."""
    sample = SAMPLES[kind.name]
    remote_id = _applied(cli, kind)
    _edit(project, sample)  # the edit declares the field the drift changes
    cli.apply()
    sample.drift_managed(api_env, remote_id)
    before = {name: (project / name).read_text() for name in sample.files}
    code, out, err = cli("pull")
    assert code == 0, out + err
    assert cli.plan()["changes"] == [], out
    if not sample.write_only:
        assert any((project / n).read_text() != t for n, t in before.items()), out
    code, out, err = cli("pull", "--format", "json")
    assert code == 0 and json.loads(out)["summary"]["changed"] == 0, out
