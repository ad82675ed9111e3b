"""The safety limits at plan time: what apply refuses without --force is an error-level finding of the
plan in every format, and a reviewed ``safety: {allow: [FINGERPRINT]}`` entry in git allows exactly
that plan. End to end through the CLI against the emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from projects import write_project

from agentsync import plan as plan_module
from agentsync.cli import run
from agentsync.emulator import Emulator

LIMITS = "safety: {max_change_share: 0.3, min_managed: 10}\n"
WRITES = ("POST", "PATCH", "DELETE")


def agent(name: str, first_message: str = "Hello!") -> dict[str, Any]:
    return {"name": name, "conversation_config": {"agent": {"first_message": first_message}}}


def settings(extra: str = "") -> str:
    return f"namespace: t\n{LIMITS}{extra}"


def writes(emulator: Emulator) -> int:
    return sum(r["count"] for r in emulator.stats()["requests"] if r["method"] in WRITES)


def cli(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run([args[0], "-C", str(root), *args[1:]])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def over_limit(tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]) -> Path:
    """Ten agents applied, then four of them changed in the files: 40 % of the managed ones."""
    agents = {f"a{i:02d}": agent(f"Agent {i}") for i in range(10)}
    write_project(tmp_path, agents, settings=settings())
    assert cli(tmp_path, capsys, "apply", "--auto-approve")[0] == 0
    changed = {k: agent(v["name"], "Changed") if k < "a04" else v for k, v in agents.items()}
    write_project(tmp_path, changed, settings=settings())
    return tmp_path


def fingerprint_in(text: str) -> str:
    found = re.search(r"allow: \\?\[([0-9a-f]{16})\\?\]", text)
    assert found is not None, text
    return found.group(1)


def test_text_plan_shows_the_refusal_as_an_error_and_fails(
    over_limit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(over_limit, capsys, "plan", "--detailed-exitcode")
    assert code == 1
    assert "Error: apply refuses this plan without --force: the plan updates or deletes 4 of 10" in out
    assert "more than the 30% allowed" in out
    assert "Plan: 0 to create, 4 to update" in out
    fingerprint_in(out)
    # Without --detailed-exitcode too: an error-level finding is an error.
    assert cli(over_limit, capsys, "plan")[0] == 1


def test_markdown_json_and_the_plan_file_carry_the_finding(
    over_limit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, md, _ = cli(over_limit, capsys, "plan", "--format", "markdown", "--out", str(over_limit / "p.json"))
    assert code == 1
    assert "> **Error:** apply refuses this plan without --force" in md
    code, out, _ = cli(over_limit, capsys, "plan", "--format", "json")
    document = json.loads(out)
    assert code == 1 and len(document["errors"]) == 1 and "4 of 10" in document["errors"][0]
    assert document["fingerprint"] == fingerprint_in(md)
    saved = json.loads((over_limit / "p.json").read_text(encoding="utf-8"))
    assert saved["errors"] == document["errors"]
    assert plan_module.load(over_limit / "p.json").errors == tuple(document["errors"])
    assert run(["show", str(over_limit / "p.json")]) == 0
    shown = capsys.readouterr().out
    assert "Error: apply refuses this plan without --force" in shown


def test_an_allow_entry_with_the_fingerprint_lets_exactly_this_plan_through(
    over_limit: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = cli(over_limit, capsys, "plan")
    fp = fingerprint_in(out)
    before = writes(api_env)
    code, _, err = cli(over_limit, capsys, "apply", "--auto-approve")
    assert code == 1 and "--force" in err and writes(api_env) == before
    (over_limit / "agentsync.yaml").write_text(
        f"namespace: t\nsafety:\n  max_change_share: 0.3\n  min_managed: 10\n  allow: [{fp}]\n"
    )
    code, out, _ = cli(over_limit, capsys, "plan", "--detailed-exitcode")
    assert code == 2, out
    assert "Error:" not in out and f"allowed by safety.allow entry {fp}" in out
    assert cli(over_limit, capsys, "apply", "--auto-approve")[0] == 0
    assert cli(over_limit, capsys, "plan", "--detailed-exitcode")[0] == 0


def test_an_allow_entry_does_not_cover_a_different_plan(
    over_limit: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    fp = fingerprint_in(cli(over_limit, capsys, "plan")[1])
    # One more agent changed after the review: a different plan, so the old entry does not cover it.
    (over_limit / "agents" / "a05.yaml").write_text(json.dumps(agent("Agent 5", "Changed too")))
    (over_limit / "agentsync.yaml").write_text(
        f"namespace: t\nsafety:\n  max_change_share: 0.3\n  min_managed: 10\n  allow: [{fp}]\n"
    )
    code, out, _ = cli(over_limit, capsys, "plan")
    assert code == 1 and fingerprint_in(out) != fp
    before = writes(api_env)
    assert cli(over_limit, capsys, "apply", "--auto-approve")[0] == 1
    assert writes(api_env) == before


def test_force_at_apply_shows_no_error_and_writes(
    over_limit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(over_limit, capsys, "apply", "--auto-approve", "--force")
    assert code == 0 and "Error:" not in out


def test_a_malformed_allow_entry_is_a_located_error(
    over_limit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (over_limit / "agentsync.yaml").write_text(
        "namespace: t\nsafety:\n  allow: [not-a-fingerprint]\n", encoding="utf-8"
    )
    code, out, err = cli(over_limit, capsys, "plan")
    assert code == 1
    assert "agentsync.yaml:3:" in out + err


def test_the_fingerprint_names_no_secret_and_is_stable(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN_A", "first-secret-value")
    agents = {f"a{i:02d}": agent(f"Agent {i}") for i in range(10)}
    write_project(tmp_path, agents, settings=settings())
    assert cli(tmp_path, capsys, "apply", "--auto-approve")[0] == 0
    changed = {k: agent(v["name"], "Key ${env.TOKEN_A}") if k < "a04" else v for k, v in agents.items()}
    write_project(tmp_path, changed, settings=settings())
    first = fingerprint_in(cli(tmp_path, capsys, "plan")[1])
    assert fingerprint_in(cli(tmp_path, capsys, "plan")[1]) == first
    monkeypatch.setenv("TOKEN_A", "second-secret-value")
    out = cli(tmp_path, capsys, "plan", "--format", "json")[1]
    assert json.loads(out)["fingerprint"] == first
    assert "secret-value" not in out


def test_a_saved_plan_is_allowed_by_the_entry_added_after_review(
    over_limit: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = over_limit / "reviewed.json"
    code, out, _ = cli(over_limit, capsys, "plan", "--out", str(saved))
    assert code == 1 and saved.is_file()
    fp = fingerprint_in(out)
    before = writes(api_env)
    assert run(["apply", "-C", str(over_limit), str(saved), "--auto-approve"]) == 1
    assert writes(api_env) == before
    (over_limit / "agentsync.yaml").write_text(
        f"namespace: t\nsafety:\n  max_change_share: 0.3\n  min_managed: 10\n  allow: [{fp}]\n"
    )
    assert run(["apply", "-C", str(over_limit), str(saved), "--auto-approve"]) == 0
    assert cli(over_limit, capsys, "plan", "--detailed-exitcode")[0] == 0
