"""``apply --format markdown``: the report for a CI job summary, end to end against the emulator, and
the renderer's safety with hostile data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from projects import write_project

from agentsync.cli import run
from agentsync.emulator import ADMIN_KEY, Emulator, Faults
from agentsync.outcomes import ApplyReport, Outcome, Result
from agentsync.plan import Action
from agentsync.render import report_markdown


def agent(name: str, first_message: str = "Hello!") -> dict[str, Any]:
    return {"name": name, "conversation_config": {"agent": {"first_message": first_message}}}


def apply_md(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(["apply", "-C", str(root), "--auto-approve", "--format", "markdown", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_report_lists_what_was_created_updated_and_deleted(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, {"one": agent("One"), "two": agent("Two")})
    code, out, err = apply_md(tmp_path, capsys, "-m", "first")
    assert code == 0
    assert out.startswith("### agentsync apply\n\n**Apply complete: 2 applied")
    assert "| ok | agent `one` | created | applied, read back | `agent_" in out
    assert "Version description: `first`" in out
    # The plan goes to the log (stderr); stdout is only the report.
    assert "create agent one" in err and "create agent one" not in out
    write_project(tmp_path, {"one": agent("One", "Changed")})
    code, out, _ = apply_md(tmp_path, capsys, "--prune")
    assert code == 0
    assert "| ok | agent `one` | updated |" in out and "| ok | agent `two` | deleted |" in out


def test_no_changes_is_said_in_markdown(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, {"one": agent("One")})
    assert apply_md(tmp_path, capsys)[0] == 0
    code, out, _ = apply_md(tmp_path, capsys)
    assert code == 0 and "No changes: the workspace matches the project." in out


def test_a_field_that_did_not_take_is_listed_under_not_converged(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, {"one": agent("One")})
    assert apply_md(tmp_path, capsys)[0] == 0
    write_project(tmp_path, {"one": agent("One", "Changed")})
    api_env.set_faults(Faults(not_kept_paths=("conversation_config.agent.first_message",)))
    code, out, _ = apply_md(tmp_path, capsys)
    assert code == 1
    assert "**not converged**" in out
    assert (
        "#### Not converged\n\n- agent `one`: did not take: `conversation_config.agent.first_message`" in out
    )


def test_a_failed_write_names_its_reason_in_a_code_span(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # The API refuses a non-English agent on an English-only TTS model (400).
    broken = agent("One")
    broken["conversation_config"] |= {"agent": {"language": "de"}, "tts": {"model_id": "eleven_turbo_v2"}}
    write_project(tmp_path, {"one": broken, "two": agent("Two")})
    code, out, _ = apply_md(tmp_path, capsys)
    assert code == 1
    assert "**failed**" in out and "#### Failed\n\n- agent `one`: `" in out, out
    assert "| ok | agent `two` | created |" in out


HOSTILE = "x](https://evil.example)<img src=x onerror=alert(1)>|`tick`\n# heading"


def test_data_never_becomes_markdown_or_html() -> None:
    report = ApplyReport(
        (
            Result("agent", Action.CREATE, HOSTILE, Outcome.FAILED, remote_id="id|`x`", reason=HOSTILE),
            Result("agent", Action.UPDATE, "ok", Outcome.NOT_CONVERGED, paths=(HOSTILE,)),
        ),
        version_description=HOSTILE,
    )
    text = report_markdown.render(report)
    # Every hostile value is inside a code span: no line starts with it, no raw newline splits it.
    assert "\n# heading" not in text
    for line in text.splitlines():
        outside = re.sub(r"(`+).*?\1", "", line)
        assert "](" not in outside and "<img" not in outside, line
    # In the table, a pipe from data cannot start a new cell.
    row = next(line for line in text.splitlines() if line.startswith("| xx |"))
    assert row.count(" | ") == 4


def test_many_resources_stay_under_the_limit_and_say_what_was_cut() -> None:
    results = tuple(
        Result("agent", Action.UPDATE, f"agent-{i:05d}-" + "k" * 60, Outcome.APPLIED, remote_id=f"agent_{i}")
        for i in range(3000)
    )
    text = report_markdown.render(ApplyReport(results))
    assert len(text) <= report_markdown.LIMIT
    assert re.search(r"\d+ of 3000 resources are not listed", text)


def test_a_value_from_the_process_environment_is_in_no_report_line(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The job summary is public to everyone who can read the run: neither the report nor the plan
    # logged beside it holds a resolved ${env.*} value or the key, on a create and on a refused update.
    monkeypatch.setenv("GREETING_TOKEN", "tok-9d1c-never-shown")
    write_project(tmp_path, {"one": agent("One", "Hi ${env.GREETING_TOKEN}")})
    code, out, err = apply_md(tmp_path, capsys)
    assert code == 0 and "| ok | agent `one` | created |" in out
    assert "tok-9d1c-never-shown" not in out + err
    monkeypatch.setenv("GREETING_TOKEN", "tok-9d1c-rotated")
    broken = agent("One", "Hi ${env.GREETING_TOKEN}")
    broken["conversation_config"] |= {"tts": {"model_id": "eleven_turbo_v2"}}
    broken["conversation_config"]["agent"]["language"] = "de"
    write_project(tmp_path, {"one": broken})
    code, out, err = apply_md(tmp_path, capsys)
    assert code == 1 and "#### Failed\n\n- agent `one`: `" in out, out
    assert "tok-9d1c" not in out + err and ADMIN_KEY not in out + err
