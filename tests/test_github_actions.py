"""The workflows teams copy from examples/github-actions, and the pre-commit hook.

Besides the shape of each workflow, every `agentsync ...` line in them is checked against the real
command line, so an option renamed in the CLI cannot leave the examples silently broken.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
from ruamel.yaml import YAML

from agentsync.cli import cli

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "examples" / "github-actions"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return data


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 readers turn the key `on` into True; ruamel's safe loader keeps "on" (YAML 1.2).
    found: dict[str, Any] = workflow.get("on", workflow.get(True))
    return found


def run_scripts(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def agentsync_invocations(script: str) -> list[list[str]]:
    joined = script.replace("\\\n", " ")
    calls = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("agentsync "):
            words = shlex.split(line.split("|")[0].split(">")[0])
            calls.append(words[1:])
    return calls


def all_invocations() -> list[list[str]]:
    calls = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for script in run_scripts(load(path.name)):
            calls.extend(agentsync_invocations(script))
    return calls


def test_every_workflow_is_valid_yaml_with_jobs() -> None:
    names = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
    assert names == ["agentsync-apply.yml", "agentsync-drift.yml", "agentsync-plan.yml"]
    for name in names:
        workflow = load(name)
        assert workflow["jobs"], name
        for job in workflow["jobs"].values():
            assert job["runs-on"] == "ubuntu-latest"
            assert any(step.get("uses", "").startswith("actions/checkout@") for step in job["steps"])


def test_plan_workflow_validates_plans_comments_once_and_keeps_the_plan() -> None:
    workflow = load("agentsync-plan.yml")
    assert "pull_request" in triggers(workflow)
    steps = workflow["jobs"]["plan"]["steps"]
    scripts = "\n".join(run_scripts(workflow))
    assert "agentsync validate" in scripts and "--format github" in scripts
    assert "--detailed-exitcode" in scripts and "--format markdown" in scripts
    assert "GITHUB_STEP_SUMMARY" in scripts
    artifact = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert artifact["with"]["path"] == "plan.json"
    comment = next(s for s in steps if s.get("uses", "").startswith("actions/github-script@"))
    script = comment["with"]["script"]
    # One comment per pull request: found again by its marker and updated, created only the first time.
    assert "<!-- agentsync-plan -->" in script
    assert "updateComment" in script and "createComment" in script
    assert workflow["permissions"]["pull-requests"] == "write"


def test_apply_workflow_applies_main_one_run_at_a_time() -> None:
    workflow = load("agentsync-apply.yml")
    assert triggers(workflow)["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    calls = [c for c in all_invocations() if c and c[0] == "apply"]
    assert calls and all("--auto-approve" in c for c in calls)


def test_drift_workflow_runs_on_a_schedule_and_fails_on_drift() -> None:
    workflow = load("agentsync-drift.yml")
    assert triggers(workflow)["schedule"][0]["cron"]
    script = "\n".join(run_scripts(workflow))
    assert "--detailed-exitcode" in script
    assert re.search(r'exit "\$code"', script)


def test_workflows_never_interpolate_event_text_into_shell() -> None:
    # Commit messages and titles are attacker-controlled: only secrets and ids may be expanded in `run`.
    for path in WORKFLOWS.glob("*.yml"):
        for script in run_scripts(load(path.name)):
            assert "github.event.head_commit" not in script
            assert "github.event.pull_request.title" not in script


def options_of(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize("words", all_invocations(), ids=lambda w: " ".join(w[:2]))
def test_every_agentsync_line_uses_real_options(words: list[str]) -> None:
    ctx = click.Context(cli)
    command = cli.get_command(ctx, words[0])
    assert command is not None, f"no command {words[0]!r}"
    known = options_of(command)
    for word in words[1:]:
        if word.startswith("-"):
            assert word.split("=")[0] in known, f"agentsync {words[0]} has no option {word}"


def test_pre_commit_hook_runs_validate() -> None:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "agentsync-validate")
    assert hook["entry"] == "agentsync validate"
    assert hook["pass_filenames"] is False
    pattern = re.compile(hook["files"])
    assert pattern.search("agents/support-bot.yaml")
    assert pattern.search("agents/prompts/support-bot.md")
    assert pattern.search("tags.yaml") and pattern.search("agentsync.yaml")
    assert not pattern.search("README.md")
