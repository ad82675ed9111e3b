"""``agentsync apply`` end to end: the CLI in-process against the emulator over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from projects import write_project as _write_project

from agentsync.cli import run
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY, Emulator, Faults

WRITES = ("POST", "PATCH", "DELETE")


def write_project(
    root: Path,
    agents: dict[str, dict[str, Any]],
    *,
    tags: list[dict[str, Any]] | None = None,
    extra: str = "",
) -> Path:
    return _write_project(root, agents, tags=tags, settings=f"namespace: t\n{extra}")


def agent(name: str, first_message: str = "Hello!", **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "tags": ["support"],
        "conversation_config": {"agent": {"first_message": first_message}},
        **more,
    }


def writes(emulator: Emulator) -> int:
    return sum(r["count"] for r in emulator.stats()["requests"] if r["method"] in WRITES)


def apply(root: Path, *args: str) -> int:
    return run(["apply", "-C", str(root), *args])


def plan(root: Path, *args: str) -> int:
    return run(["plan", "-C", str(root), "--detailed-exitcode", *args])


@pytest.fixture
def api(api_env: Emulator) -> Iterator[Client]:
    with Client(api_env.url, ADMIN_KEY) as client:
        yield client


def agents_by_marker(api: Client) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for summary in api.paginate("/v1/convai/agents", "agents"):
        for tag in summary["tags"]:
            if tag.startswith("t:"):
                found.setdefault(tag[2:], []).append(summary["agent_id"])
    return found


# -- the round trip ----------------------------------------------------------------------------------------


def test_plan_apply_plan_again_shows_no_changes(
    tmp_path: Path, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(
        tmp_path,
        {"support": agent("Support"), "sales": agent("Sales", "Hi")},
        tags=[{"title": "vip", "description": "A very important caller"}],
    )
    assert plan(root) == 2
    assert apply(root, "--auto-approve") == 0
    out = capsys.readouterr().out
    assert "ok agent support created" in out and "ok tag vip created" in out
    assert "Apply complete: 3 applied, 0 not converged, 0 failed, 0 skipped" in out
    assert plan(root) == 0
    owned = agents_by_marker(api)
    assert sorted(owned) == ["sales", "support"] and all(len(ids) == 1 for ids in owned.values())
    body = api.get(f"/v1/convai/agents/{owned['support'][0]}")
    assert body["conversation_config"]["agent"]["first_message"] == "Hello!"
    assert sorted(body["tags"]) == ["support", "t:support"]


def test_drift_made_through_the_api_is_reverted(
    tmp_path: Path, api: Client, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support")})
    assert apply(root, "--auto-approve") == 0
    agent_id = agents_by_marker(api)["support"][0]
    api.patch(
        f"/v1/convai/agents/{agent_id}", {"conversation_config": {"agent": {"first_message": "drifted"}}}
    )
    assert plan(root) == 2
    capsys.readouterr()
    assert apply(root, "--auto-approve", "-m", "revert drift") == 0
    assert "ok agent support updated" in capsys.readouterr().out
    body = api.get(f"/v1/convai/agents/{agent_id}")
    assert body["conversation_config"]["agent"]["first_message"] == "Hello!"
    assert plan(root) == 0


def test_nothing_to_do_exits_0_without_writing(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support")})
    assert apply(root, "--auto-approve") == 0
    before = writes(api_env)
    assert apply(root, "--auto-approve") == 0
    assert "No changes" in capsys.readouterr().out
    assert writes(api_env) == before


# -- saved plans ---------------------------------------------------------------------------------------------


def test_a_saved_plan_is_applied_exactly(
    tmp_path: Path, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support")})
    saved = tmp_path / "plan.json"
    assert plan(root, "--out", str(saved)) == 2
    # A file edit after planning is not applied: the saved plan is what was reviewed.
    write_project(tmp_path, {"support": agent("Support", "Edited after the plan")})
    assert apply(root, str(saved), "--auto-approve") == 0
    agent_id = agents_by_marker(api)["support"][0]
    assert (
        api.get(f"/v1/convai/agents/{agent_id}")["conversation_config"]["agent"]["first_message"] == "Hello!"
    )


def test_a_stale_saved_plan_is_refused_with_no_write(
    tmp_path: Path, api: Client, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support"), "sales": agent("Sales")})
    assert apply(root, "--auto-approve") == 0
    write_project(tmp_path, {"support": agent("Support", "New greeting"), "sales": agent("Sales", "New too")})
    saved = tmp_path / "plan.json"
    assert plan(root, "--out", str(saved)) == 2
    agent_id = agents_by_marker(api)["support"][0]
    api.patch(f"/v1/convai/agents/{agent_id}", {"name": "Renamed in the UI"})
    before = writes(api_env)
    capsys.readouterr()
    assert apply(root, str(saved), "--auto-approve") == 1
    err = capsys.readouterr().err
    assert "stale" in err and "agent support" in err and "agent sales" not in err
    assert "agentsync plan --out" in err
    assert writes(api_env) == before


def test_two_applies_racing_on_one_agent_the_second_is_refused_and_nothing_is_lost(
    tmp_path: Path, api: Client, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support")})
    assert apply(root, "--auto-approve") == 0
    write_project(tmp_path, {"support": agent("Support", "From the first run")})
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert plan(root, "--out", str(first)) == 2
    assert plan(root, "--out", str(second)) == 2
    assert apply(root, str(first), "--auto-approve") == 0
    before = writes(api_env)
    assert apply(root, str(second), "--auto-approve") == 1
    assert "stale" in capsys.readouterr().err
    assert writes(api_env) == before
    assert plan(root) == 0


def test_a_saved_plan_for_another_namespace_is_refused(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support")})
    saved = tmp_path / "plan.json"
    assert plan(root, "--out", str(saved)) == 2
    (root / "agentsync.yaml").write_text("namespace: other\n")
    assert apply(root, str(saved), "--auto-approve") == 1
    assert "another target" in capsys.readouterr().err
    assert writes(api_env) == 0


# -- refusals --------------------------------------------------------------------------------------------


def test_without_a_tty_and_without_auto_approve_nothing_is_written(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support")})
    assert apply(root) == 1
    err = capsys.readouterr().err
    assert "no terminal" in err and "--auto-approve" in err
    assert writes(api_env) == 0


def test_dry_run_writes_nothing(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support")}, tags=[{"title": "vip"}])
    assert apply(root, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "Dry run: 2 to write, nothing was written" in out
    assert writes(api_env) == 0
    assert sum(r["count"] for r in api_env.stats()["requests"]) > 0  # it did read


def test_deletes_need_prune_and_only_touch_owned_agents(
    tmp_path: Path, api: Client, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support"), "old": agent("Old")})
    assert apply(root, "--auto-approve") == 0
    stranger = api.post("/v1/convai/agents/create", {"name": "Not ours", "conversation_config": {}})[
        "agent_id"
    ]
    (root / "agents" / "old.yaml").unlink()
    saved = tmp_path / "prune.json"
    assert plan(root, "--prune", "--out", str(saved)) == 2
    before = writes(api_env)
    assert apply(root, str(saved), "--auto-approve") == 1
    assert "--prune" in capsys.readouterr().err
    assert writes(api_env) == before
    assert apply(root, str(saved), "--auto-approve", "--prune") == 0
    assert "ok agent old deleted" in capsys.readouterr().out
    assert sorted(agents_by_marker(api)) == ["support"]
    assert api.get(f"/v1/convai/agents/{stranger}")["name"] == "Not ours"


def test_deleting_an_agent_with_a_phone_number_needs_force(
    tmp_path: Path, api: Client, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support"), "old": agent("Old")})
    assert apply(root, "--auto-approve") == 0
    old_id = agents_by_marker(api)["old"][0]
    # Phone numbers are attached through another endpoint the emulator does not serve.
    body = api_env.store.get_agent(old_id)
    assert body is not None
    body["phone_numbers"] = [
        {
            "phone_number": "+15550100",
            "label": "Main line",
            "phone_number_id": "phnum_1",
            "provider": "twilio",
        }
    ]
    api_env.store.put_agent(body, "user_admin")
    (root / "agents" / "old.yaml").unlink()
    before = writes(api_env)
    capsys.readouterr()
    assert apply(root, "--auto-approve", "--prune") == 1
    err = capsys.readouterr().err
    assert "phone number +15550100" in err and "--force" in err
    assert writes(api_env) == before
    assert apply(root, "--auto-approve", "--prune", "--force") == 0
    assert "old" not in agents_by_marker(api)


def test_rewriting_more_than_the_safety_share_needs_force(
    tmp_path: Path, api: Client, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    agents = {f"a{i:02d}": agent(f"Agent {i}") for i in range(10)}
    root = write_project(tmp_path, agents, extra="safety: {max_change_share: 0.3, min_managed: 10}\n")
    assert apply(root, "--auto-approve") == 0
    changed = {k: (agent(f"Agent {k}", "Changed") if k < "a04" else v) for k, v in agents.items()}
    write_project(tmp_path, changed)
    before = writes(api_env)
    capsys.readouterr()
    assert apply(root, "--auto-approve") == 1
    assert "--force" in capsys.readouterr().err
    assert writes(api_env) == before
    assert apply(root, "--auto-approve", "--force") == 0
    assert plan(root) == 0


# -- convergence and the report ----------------------------------------------------------------------------


def test_a_field_the_server_does_not_keep_is_reported_not_converged(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support")})
    assert apply(root, "--auto-approve") == 0
    write_project(tmp_path, {"support": agent("Support v2", "Changed")})
    api_env.set_faults(Faults(not_kept_paths=("conversation_config.agent.first_message",)))
    capsys.readouterr()
    assert apply(root, "--auto-approve") == 1
    out = capsys.readouterr().out
    assert "!! agent support updated" in out
    assert "did not take: conversation_config.agent.first_message" in out
    assert "name" not in out.split("did not take:")[1].split("\n")[0]
    assert "Apply incomplete: 0 applied, 1 not converged" in out


def test_json_report(tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path, {"support": agent("Support")}, tags=[{"title": "vip"}])
    assert apply(root, "--auto-approve", "--format", "json") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["format_version"] == 1 and report["ok"] is True and report["exit_code"] == 0
    assert report["summary"]["applied"] == 2 and report["summary"]["failed"] == 0
    rows = {(r["kind"], r["key"]): r for r in report["results"]}
    assert rows[("agent", "support")]["action"] == "create"
    assert rows[("agent", "support")]["remote_id"].startswith("agent_")
    assert rows[("tag", "vip")]["outcome"] == "applied"
    assert report["requests"]["POST"] == 2
    assert "support" in captured.err  # the plan went to stderr, keeping stdout pure JSON


def test_json_report_of_a_not_converged_apply(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"support": agent("Support")})
    assert apply(root, "--auto-approve") == 0
    write_project(tmp_path, {"support": agent("Support", "Changed")})
    api_env.set_faults(Faults(not_kept_paths=("conversation_config.agent.first_message",)))
    capsys.readouterr()
    assert apply(root, "--auto-approve", "--format", "json") == 1
    report = json.loads(capsys.readouterr().out)
    (row,) = report["results"]
    assert row["outcome"] == "not_converged"
    assert row["not_converged_paths"] == ["conversation_config.agent.first_message"]
    assert report["ok"] is False and report["exit_code"] == 1


# -- confirmation and adoption -------------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "code", "written"), [("n\n", 1, False), ("y\n", 0, True)])
def test_on_a_terminal_apply_asks_first(
    tmp_path: Path,
    api_env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
    code: int,
    written: bool,
) -> None:
    import io

    import agentsync.cli.apply as cli_apply

    root = write_project(tmp_path, {"support": agent("Support")})
    # A real terminal cannot be had under pytest; only the TTY check is replaced.
    monkeypatch.setattr(cli_apply, "_tty", lambda stream: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    assert apply(root) == code
    assert "Apply 1 change?" in capsys.readouterr().err
    assert (writes(api_env) > 0) is written


def test_adopting_an_existing_agent_adds_the_marker_and_keeps_its_other_tags(
    tmp_path: Path, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    agent_id = api.post(
        "/v1/convai/agents/create", {"name": "Legacy", "tags": ["team-a"], "conversation_config": {}}
    )["agent_id"]
    root = write_project(tmp_path, {"legacy": {"id": agent_id, "name": "Legacy bot"}})
    assert apply(root, "--auto-approve") == 0
    assert f"ok agent legacy adopted [{agent_id}]" in capsys.readouterr().out
    body = api.get(f"/v1/convai/agents/{agent_id}")
    assert sorted(body["tags"]) == ["t:legacy", "team-a"] and body["name"] == "Legacy bot"
    (root / "agents" / "legacy.yaml").write_text(json.dumps({"name": "Legacy bot"}))
    assert plan(root) == 0


def test_a_saved_plan_applies_with_the_in_process_emulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each --emulator run listens on a new port; the plan is still for the same (project-local) workspace.
    root = write_project(tmp_path, {"support": agent("Support")})
    saved = tmp_path / "plan.json"
    assert plan(root, "--emulator", "--out", str(saved)) == 2
    assert apply(root, str(saved), "--emulator", "--auto-approve") == 0
    assert "ok agent support created" in capsys.readouterr().out
    assert plan(root, "--emulator") == 0


def requests_by_method(emulator: Emulator) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in emulator.stats()["requests"]:
        counts[row["method"]] = counts.get(row["method"], 0) + row["count"]
    return counts


def test_auto_approve_without_a_plan_file_reads_the_workspace_once(
    tmp_path: Path, api: Client, api_env: Emulator
) -> None:
    root = write_project(tmp_path, {"a": agent("A"), "b": agent("B")})
    assert apply(root, "--auto-approve") == 0
    for key in ("a", "b"):
        (root / "agents" / f"{key}.yaml").write_text(json.dumps(agent(key.upper(), "Changed!")))
    before = requests_by_method(api_env)
    assert apply(root, "--auto-approve") == 0
    after = requests_by_method(api_env)
    sent = {
        method: after[method] - before.get(method, 0)
        for method in after
        if after[method] != before.get(method, 0)
    }
    # Two list passes (active and archived), one GET per agent for the plan, then one PATCH and one
    # read-back each: the plan made a moment ago is not read a second time.
    assert sent == {"GET": 2 + 2 + 2, "PATCH": 2}


def test_a_change_made_while_the_terminal_waits_for_yes_is_refused(
    tmp_path: Path,
    api: Client,
    api_env: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import click

    import agentsync.cli.apply as cli_apply

    root = write_project(tmp_path, {"support": agent("Support")})
    assert apply(root, "--auto-approve") == 0
    (root / "agents" / "support.yaml").write_text(json.dumps(agent("Support", "Changed!")))
    agent_id = agents_by_marker(api)["support"][0]

    def slow_yes(*args: Any, **kwargs: Any) -> bool:
        # Someone edits the agent in the UI while the terminal waits for an answer.
        api.patch(f"/v1/convai/agents/{agent_id}", {"name": "Edited meanwhile"})
        return True

    monkeypatch.setattr(cli_apply, "_tty", lambda stream: True)
    monkeypatch.setattr(click, "confirm", slow_yes)
    before = writes(api_env)
    assert apply(root) == 1
    assert "the plan is stale: agent support changed" in capsys.readouterr().err
    assert writes(api_env) == before + 1  # the edit made "in the UI", and nothing from apply
    assert api.get(f"/v1/convai/agents/{agent_id}")["name"] == "Edited meanwhile"


def test_target_applies_only_the_named_agent(tmp_path: Path, api: Client, api_env: Emulator) -> None:
    root = write_project(tmp_path, {"a": agent("A"), "b": agent("B")})
    assert apply(root, "--auto-approve", "--target", "a") == 0
    assert sorted(agents_by_marker(api)) == ["a"]
    assert plan(root) == 2  # b is still to be created


def test_target_cannot_narrow_a_saved_plan(
    tmp_path: Path, api_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path, {"a": agent("A"), "b": agent("B")})
    saved = tmp_path / "plan.json"
    assert plan(root, "--out", str(saved)) == 2
    capsys.readouterr()
    before = writes(api_env)
    assert apply(root, str(saved), "--auto-approve", "--target", "a") == 1
    assert "--target cannot narrow a saved plan" in capsys.readouterr().err
    assert writes(api_env) == before
