"""Text that differs only in whitespace: `!file` text has its CRLF line ends normalised as git does for
text files, and a plan shows a whitespace-only change visibly (a missing final newline, trailing spaces,
carriage returns) in text and Markdown instead of an empty diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from agentsync.cli import run
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY, Emulator
from agentsync.load import load_project
from agentsync.loader import normalise_newlines
from agentsync.plan import FieldChange
from agentsync.render.common import NO_FINAL_NEWLINE, line_diff

PROMPT = "# Role\n\nYou help callers.\nBe brief.\n"


def project(root: Path, prompt: bytes) -> Path:
    (root / "agents" / "prompts").mkdir(parents=True)
    (root / "agentsync.yaml").write_text("namespace: t\n", encoding="utf-8")
    agent = "name: Bot\nconversation_config:\n  agent:\n    prompt:\n      prompt: !file prompts/bot.md\n"
    (root / "agents" / "bot.yaml").write_text(agent, encoding="utf-8")
    (root / "agents" / "prompts" / "bot.md").write_bytes(prompt)
    return root


def stored_prompt(emulator: Emulator) -> str:
    with Client(emulator.url, ADMIN_KEY) as client:
        (summary,) = client.get("/v1/convai/agents")["agents"]
        agent = client.get(f"/v1/convai/agents/{summary['agent_id']}")
    prompt: str = agent["conversation_config"]["agent"]["prompt"]["prompt"]
    return prompt


@pytest.mark.parametrize(
    ("text", "loaded"),
    [
        ("a\r\nb\r\n", "a\nb\n"),
        ("a\r\nb", "a\nb"),
        ("a\nb\r\n", "a\nb\n"),  # mixed ends: every CRLF becomes LF, as git's text=auto does
        ("a\rb\r\n", "a\rb\r\n"),  # a lone CR: git takes the file for binary and leaves it; so do we
        ("plain\n", "plain\n"),
        ("", ""),
    ],
)
def test_line_ends_are_normalised_like_git(text: str, loaded: str) -> None:
    assert normalise_newlines(text) == loaded


def test_a_crlf_checkout_loads_the_same_text(tmp_path: Path) -> None:
    unix = load_project(project(tmp_path / "unix", PROMPT.encode()))
    windows = load_project(project(tmp_path / "windows", PROMPT.replace("\n", "\r\n").encode()))
    assert windows.definitions["agent"]["bot"].config == unix.definitions["agent"]["bot"].config


def test_a_crlf_checkout_plans_nothing_and_never_sends_a_carriage_return(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", PROMPT.replace("\n", "\r\n").encode())
    assert run(["apply", "-C", str(root), "--auto-approve"]) == 0
    assert stored_prompt(api_env) == PROMPT
    capsys.readouterr()
    # The same commit checked out with LF line ends: still nothing to do.
    (root / "agents" / "prompts" / "bot.md").write_bytes(PROMPT.encode())
    assert run(["plan", "-C", str(root), "--detailed-exitcode"]) == 0
    assert "No changes." in capsys.readouterr().out


def test_a_trimmed_final_newline_is_a_visible_change_in_text_and_markdown(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", PROMPT.encode())
    assert run(["apply", "-C", str(root), "--auto-approve"]) == 0
    (root / "agents" / "prompts" / "bot.md").write_bytes(PROMPT.rstrip("\n").encode())
    capsys.readouterr()
    assert run(["plan", "-C", str(root), "--no-color", "--detailed-exitcode"]) == 2
    text = capsys.readouterr().out
    block = text.split("~ conversation_config.agent.prompt.prompt:\n", 1)[1]
    assert block.splitlines()[:6] == [
        "        @@ -2,3 +2,3 @@",
        "         ",
        "         You help callers.",
        "        -Be brief.",
        "        +Be brief.",
        f"        {NO_FINAL_NEWLINE}",
    ]
    assert run(["plan", "-C", str(root), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    fences = [t.content for t in MarkdownIt().parse(markdown) if t.type == "fence" and t.info == "diff"]
    assert fences == [f"@@ -2,3 +2,3 @@\n \n You help callers.\n-Be brief.\n+Be brief.\n{NO_FINAL_NEWLINE}\n"]


def test_trailing_spaces_and_carriage_returns_from_the_workspace_are_marked(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", PROMPT.encode())
    assert run(["apply", "-C", str(root), "--auto-approve"]) == 0
    # Someone pasted the prompt in the dashboard: Windows line ends and a stray space.
    with Client(api_env.url, ADMIN_KEY) as client:
        (summary,) = client.get("/v1/convai/agents")["agents"]
        pasted = PROMPT.replace("\n", "\r\n").replace("Be brief.", "Be brief. ")
        prompt = {"conversation_config": {"agent": {"prompt": {"prompt": pasted}}}}
        client.patch(f"/v1/convai/agents/{summary['agent_id']}", prompt)
    capsys.readouterr()
    assert run(["plan", "-C", str(root), "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "        -Be brief.·␍\n" in out and "        +Be brief.\n" in out
    assert "        -# Role␍\n" in out and "        +# Role\n" in out
    # The workspace's text is shown, never obeyed: no raw carriage return reaches the terminal.
    assert "\r" not in out


@pytest.mark.parametrize(
    ("old", "new", "shown"),
    [
        ("a\nb\n", "a\nb", [" a", "-b", "+b", NO_FINAL_NEWLINE]),
        ("a\nb", "a\nb\n", [" a", "-b", NO_FINAL_NEWLINE, "+b"]),
        ("a\n\tb\n", "a\n\tb\t\n", [" a", "-\tb", "+\tb→"]),
        ("a\nb\n", "a\nb  \n", [" a", "-b", "+b··"]),
        ("a\nb\n", "a\nc\n", [" a", "-b", "+c"]),
        # A line that starts with "--" is a line, not a diff header.
        ("x\n-- y\nz\n", "x\nz\n", [" x", "--- y", " z"]),
    ],
)
def test_line_diff_marks_whitespace_only_where_it_changed(old: str, new: str, shown: list[str]) -> None:
    lines = line_diff(FieldChange(("prompt",), old=old, new=new))
    assert lines[0].startswith("@@ ") and lines[1:] == shown
