"""`agentsync diff -e A -e B`: two environments' resolved definitions (offline) or their workspaces
(--live, against the emulator over HTTP), in text, Markdown and JSON, never showing a secret value."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from agentsync.cli import run
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY, Emulator

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-desk"
TOKEN = "crm-token-sk-7f3a9"


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "desk"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".agentsync"))
    monkeypatch.delenv("NORTHWIND_CRM_TOKEN", raising=False)
    for name in ("AGENTSYNC_ENV", "AGENTSYNC_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    return root


def diff(root: Path, *args: str) -> list[str]:
    return ["diff", "-C", str(root), "-e", "dev", "-e", "prod", *args]


def test_offline_shows_what_promotion_changes_and_needs_no_secret(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(diff(desk, "--no-color")) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "agentsync diff: dev → prod · resolved definitions, offline (- dev, + prod)"
    assert (
        '~ agent receptionist\n    ~ conversation_config.agent.prompt.llm: "gpt-4o-mini" → "gemini-2.5-flash"\n'
        in out
    )
    assert "    ~ platform_settings.call_limits.daily_limit: 50 → 2000\n" in out
    assert "request_headers.Authorization: (sensitive)" in out
    assert out.rstrip().endswith("5 resources differ between dev and prod (11 the same).")
    assert run(diff(desk, "--detailed-exitcode")) == 2


def test_the_same_environments_in_either_order(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["diff", "-C", str(desk), "-e", "prod", "-e", "dev", "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "daily_limit: 2000 → 50" in out and "(- prod, + dev)" in out


def test_an_embedded_secret_is_its_placeholder_never_a_value(
    desk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NORTHWIND_CRM_TOKEN", TOKEN)
    monkeypatch.setenv("GREETING_CODE", "promo-4411")
    settings = desk / "agentsync.yaml"
    text = settings.read_text(encoding="utf-8")
    prod_overrides = "    overrides:\n      agents:\n        receptionist:\n"
    assert text.count(prod_overrides) == 1
    greeting = '        billing:\n          conversation_config: {agent: {first_message: "Code ${env.GREETING_CODE}"}}\n'
    settings.write_text(
        text.replace(prod_overrides, "    overrides:\n      agents:\n" + greeting + "        receptionist:\n")
    )
    for fmt in ("text", "markdown", "json"):
        code = run(diff(desk, "--format", fmt))
        out, err = capsys.readouterr()
        assert code == 0, err
        assert TOKEN not in out + err and "promo-4411" not in out + err
        assert "Code ${env.GREETING_CODE}" in out
        assert "first_message" in out


def test_markdown_is_data_only_and_json_is_a_document(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(diff(desk, "--format", "markdown")) == 0
    markdown = capsys.readouterr().out
    tokens = MarkdownIt().enable("table").parse(markdown)
    assert not [t for t in tokens if t.type in ("html_block", "link_open", "image")]
    assert markdown.startswith("### agentsync diff: `dev` → `prod`")
    assert "| `platform_settings.call_limits.daily_limit` | `50` | `2000` |" in markdown
    assert run(diff(desk, "--format", "json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"] == {"differ": 5, "same": 11} and document["live"] is False
    limit = next(f for r in document["resources"] for f in r["fields"] if f["path"][-1] == "daily_limit")
    assert (limit["left"], limit["right"]) == (50, 2000)


@pytest.mark.parametrize(
    ("envs", "message"),
    [
        (["-e", "dev"], "diff compares two environments; 1 given"),
        (["-e", "dev", "-e", "dev"], "both are dev"),
        (["-e", "dev", "-e", "prod", "-e", "qa"], "3 given"),
        (["-e", "dev", "-e", "staging"], "staging"),
    ],
)
def test_bad_environments_are_one_clear_error(
    desk: Path, capsys: pytest.CaptureFixture[str], envs: list[str], message: str
) -> None:
    assert run(["diff", "-C", str(desk), *envs]) == 1
    assert message in capsys.readouterr().err


def test_a_broken_file_is_reported_at_its_location(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (desk / "agents" / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    assert run(diff(desk)) == 1
    assert "agents/broken.yaml:" in capsys.readouterr().err


def test_emulator_needs_live(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(diff(desk, "--emulator")) == 1
    assert "needs --live" in capsys.readouterr().err


# --- --live, against the emulator over HTTP ------------------------------------------------------------


@pytest.fixture
def workspaces(desk: Path, api_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """dev and prod applied into the emulator (one workspace, two namespaces), each with its own key
    variable; ELEVENLABS_BASE_URL points both environments there, as the operator confirms."""
    monkeypatch.setenv("ELEVENLABS_API_KEY_DEV", ADMIN_KEY)
    monkeypatch.setenv("AGENTSYNC_ALLOW_BASE_URL_OVERRIDE", "1")
    monkeypatch.setenv("NORTHWIND_CRM_TOKEN", TOKEN)
    for env in ("dev", "prod"):
        assert run(["apply", "-C", str(desk), "-e", env, "--auto-approve"]) == 0
    monkeypatch.delenv("NORTHWIND_CRM_TOKEN")
    return api_env


def agent_id(emulator: Emulator, marker: str) -> str:
    with Client(emulator.url, ADMIN_KEY) as client:
        agents = client.get("/v1/convai/agents", params={"page_size": 100})["agents"]
    return str(next(a["agent_id"] for a in agents if marker in a["tags"]))


def test_live_compares_the_workspaces_without_reading_a_secret(
    desk: Path, workspaces: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    for fmt in ("text", "markdown", "json"):
        assert run(diff(desk, "--live", "--format", fmt, "--no-color")) == 0
        out, err = capsys.readouterr()
        assert TOKEN not in out + err
        assert ADMIN_KEY not in out + err
    assert run(diff(desk, "--live", "--no-color")) == 0
    out = capsys.readouterr().out
    assert "live workspaces" in out
    assert "daily_limit: 50 → 2000" in out
    # Tool ids differ per workspace by design; written as references they are the same on both sides.
    assert "tool_" not in out and "agent_" not in out


def test_live_shows_drift_that_the_definitions_do_not(
    desk: Path, workspaces: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    prod = agent_id(workspaces, "support-desk:tech-support")
    changed = {"conversation_config": {"conversation": {"max_duration_seconds": 900}}}
    with Client(workspaces.url, ADMIN_KEY) as client:
        client.patch(f"/v1/convai/agents/{prod}", changed)
    capsys.readouterr()
    assert run(diff(desk, "--live", "--no-color")) == 0
    out = capsys.readouterr().out
    block = out.split("~ agent tech-support\n", 1)[1].split("\n\n", 1)[0]
    assert "    ~ conversation_config.conversation.max_duration_seconds: 1200 → 900" in block.splitlines()
    assert run(diff(desk, "--no-color")) == 0
    assert "max_duration_seconds" not in capsys.readouterr().out


def test_live_names_a_resource_one_workspace_lacks(
    desk: Path, workspaces: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with Client(workspaces.url, ADMIN_KEY) as client:
        client.delete(f"/v1/convai/agents/{agent_id(workspaces, 'support-desk:billing')}")
    capsys.readouterr()
    assert run(diff(desk, "--live", "--no-color", "--detailed-exitcode")) == 2
    assert "- agent billing (only in dev)" in capsys.readouterr().out


def test_a_long_markdown_diff_is_cut_between_resources_with_a_note() -> None:
    from agentsync.envdiff import Difference, EnvDiff
    from agentsync.plan import FieldChange
    from agentsync.render import envdiff

    items = tuple(
        Difference("agent", f"agent-{n:04}", None, (FieldChange(("name",), "x" * 80, "y" * 80),))
        for n in range(2000)
    )
    text = envdiff.markdown(EnvDiff("dev", "prod", False, items, 0))
    assert len(text) < 65_536
    shown = text.count("#### ~ agent")
    assert 0 < shown < 2000
    assert f"*{2000 - shown} more resources are not shown here" in text
    assert "agent-0000" in text and "agent-1999" not in text
    small = envdiff.markdown(EnvDiff("dev", "prod", False, items[:3], 0))
    assert "not shown" not in small and small.count("#### ~ agent") == 3
