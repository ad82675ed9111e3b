"""How a plan shows a changed list and a long value, end to end: the elements that changed (not the
whole list twice), no server defaults as noise, deletes with their reason, long values out of table
cells in Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from projects import write_project

from agentsync.cli import run
from agentsync.emulator import Emulator


def bot(tags: list[str], voices: list[dict[str, Any]] | None = None, **more: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"name": "Bot", "tags": tags, **more}
    if voices is not None:
        config["conversation_config"] = {"tts": {"supported_voices": voices}}
    return config


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run(list(args))
    return code, capsys.readouterr().out


def test_a_changed_list_shows_the_elements_that_changed(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, {"bot": bot(["alpha", "beta", "gamma"])})
    assert cli(capsys, "apply", "-C", str(tmp_path), "--auto-approve")[0] == 0
    write_project(tmp_path, {"bot": bot(["alpha", "gamma", "delta", "omega"])})
    code, out = cli(capsys, "plan", "-C", str(tmp_path), "--detailed-exitcode")
    assert code == 2
    # Agent tags are a set: what left and what came, with no position.
    assert '    - tags: "beta"' in out and '    + tags: "delta"' in out and '    + tags: "omega"' in out
    assert '"alpha"' not in out and '"gamma"' not in out


def test_a_changed_element_shows_only_its_declared_keys_not_the_server_defaults(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    voices = [
        {"label": "Calm", "voice_id": "v1", "description": "d"},
        {"label": "Fast", "voice_id": "v2", "description": "d"},
    ]
    write_project(tmp_path, {"bot": bot(["a"], voices)})
    assert cli(capsys, "apply", "-C", str(tmp_path), "--auto-approve")[0] == 0
    voices[1] = {**voices[1], "label": "Quick"}
    write_project(tmp_path, {"bot": bot(["a"], voices)})
    code, out = cli(capsys, "plan", "-C", str(tmp_path), "--detailed-exitcode")
    assert code == 2
    changed = [
        line.strip() for line in out.splitlines() if line.startswith("    ~ ") or line.startswith("    + ")
    ]
    assert changed == ['~ conversation_config.tts.supported_voices[1].label: "Fast" → "Quick"'], out
    code, md = cli(capsys, "plan", "-C", str(tmp_path), "--format", "markdown")
    assert '| `conversation_config.tts.supported_voices[1].label` | `"Fast"` | `"Quick"` |' in md


def test_deletes_say_why(tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    write_project(tmp_path, {"bot": bot(["a"]), "old": bot(["b"])})
    assert cli(capsys, "apply", "-C", str(tmp_path), "--auto-approve")[0] == 0
    write_project(tmp_path, {"bot": bot(["a"])})
    _, out = cli(capsys, "plan", "-C", str(tmp_path), "--prune")
    assert "- delete agent old" in out and "! owned by this project, and no file declares it" in out
    _, md = cli(capsys, "plan", "-C", str(tmp_path), "--prune", "--format", "markdown")
    assert "Owned by this project, and no file declares it." in md


def test_a_long_value_leaves_its_markdown_table_cell(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, {"bot": bot(["a"])})
    assert cli(capsys, "apply", "-C", str(tmp_path), "--auto-approve")[0] == 0
    long_name = "A rather long agent name | with a pipe, " + "x" * 90
    write_project(tmp_path, {"bot": {**bot(["a"]), "name": long_name}})
    code, md = cli(capsys, "plan", "-C", str(tmp_path), "--format", "markdown")
    assert code == 0
    assert '| `name` | `"Bot"` | *(below)* |' in md
    assert f'`name` (new):\n\n```json\n"{long_name}"\n```' in md
    rows = [line for line in md.splitlines() if line.startswith("| `name`")]
    assert len(rows) == 1 and len(rows[0]) < 100
