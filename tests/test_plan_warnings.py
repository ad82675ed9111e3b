"""Warnings at scale, end to end: one warning per cause (not one per agent), and a Markdown plan that
stays under GitHub's comment limit with its warnings, saying what it cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projects import write_project

from agentsync.cli import run
from agentsync.emulator import Emulator
from agentsync.render import markdown

STAR_LLM = """\
namespace: w
default_environment: dev
environments:
  dev:
    overrides:
      agents:
        "*":
          conversation_config:
            agent:
              prompt:
                llm: gpt-9
"""


def agents(count: int) -> dict[str, dict[str, str]]:
    return {f"agent-{i:03d}": {"name": f"Agent {i}"} for i in range(count)}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_star_override_with_an_unknown_llm_warns_once_with_the_count(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, agents(40), settings=STAR_LLM)
    code, out, _ = cli(capsys, "validate", "-C", str(tmp_path), "--format", "github")
    annotations = [line for line in out.splitlines() if line.startswith("::warning")]
    assert code == 0 and len(annotations) == 1
    assert "agentsync.yaml,line=11" in annotations[0]
    assert "'gpt-9' is not a known LLM" in annotations[0] and "(found in 40 agents)" in annotations[0]
    code, out, _ = cli(capsys, "plan", "-C", str(tmp_path), "--format", "json")
    warnings = json.loads(out)["warnings"]
    assert code == 0 and len(warnings) == 1 and "found in 40 agents" in warnings[0]
    code, out, _ = cli(capsys, "plan", "-C", str(tmp_path))
    assert sum(1 for line in out.splitlines() if line.startswith("Warning:")) == 1


def test_the_same_mistake_in_two_files_is_still_two_warnings(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    llm = {"conversation_config": {"agent": {"prompt": {"llm": "gpt-9"}}}}
    write_project(tmp_path, {"a": {"name": "A", **llm}, "b": {"name": "B", **llm}})
    code, out, _ = cli(capsys, "validate", "-C", str(tmp_path), "--format", "github")
    annotations = [line for line in out.splitlines() if line.startswith("::warning")]
    assert code == 0 and len(annotations) == 2
    assert {a.split(",")[0].rsplit("/", 1)[-1] for a in annotations} == {"a.yaml", "b.yaml"}
    assert not any("found in" in a for a in annotations)


def test_many_kept_agents_keep_the_markdown_plan_under_the_limit(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    many = {f"{'k' * 120}-{i:04d}": {"name": f"Agent {i}"} for i in range(560)}
    write_project(tmp_path, many)
    assert cli(capsys, "apply", "-C", str(tmp_path), "--auto-approve", "--concurrency", "16")[0] == 0
    # Every file is gone but one, with a change: 559 owned agents are kept (no --prune) and listed.
    write_project(tmp_path, {"solo": {"name": "Solo"}})
    code, out, _ = cli(capsys, "plan", "-C", str(tmp_path), "--format", "json")
    (kept,) = [w for w in json.loads(out)["warnings"] if "kept, since --prune was not given" in w]
    assert len(kept) > markdown.LIMIT  # the whole list, where there is room for it
    code, md, _ = cli(capsys, "plan", "-C", str(tmp_path), "--format", "markdown")
    assert code == 0
    assert len(md) < 65_536
    assert "560 agents managed by this project no longer declared" in md
    assert "cut here:" in md and "more characters" in md
    assert "create agent solo" in md


def test_many_long_warnings_are_summarised_and_counted() -> None:
    from agentsync.plan import Plan

    warnings = tuple(f"warning {i}: " + ", ".join(f"name-{j}" for j in range(400)) for i in range(60))
    plan = Plan(changes=(), unchanged=1, managed=1, namespace="n", base_url="http://x", warnings=warnings)
    text = markdown.render(plan)
    assert len(text) <= markdown.LIMIT
    shown = text.count("> **Warning:**")
    assert 0 < shown < 60
    assert f"{60 - shown} more warnings are not shown" in text
    assert text.count("cut here:") == shown
