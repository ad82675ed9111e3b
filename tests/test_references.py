"""``${agent.KEY.id}``: resolved to remote ids at plan time, filled in by apply after a create in the
same run, refused when it names nothing, and a loop of creates refused naming the loop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentsync.apply import Outcome, apply_plan, check_fresh, stages
from agentsync.client import Client
from agentsync.emulator import ADMIN_KEY, Emulator
from agentsync.errors import IdentityError
from agentsync.kinds import Ref
from agentsync.load import load_project, validate_project
from agentsync.plan import Action
from agentsync.planner import build_plan
from agentsync.remote import fetch


def agent(name: str, *refs: str) -> str:
    transfers = "".join(f"\n          - {{agent_id: '${{agent.{r}.id}}', condition: go}}" for r in refs)
    tool = (
        (
            "\n    prompt:\n      built_in_tools:\n        transfer_to_agent:\n          name: transfer_to_agent"
            "\n          params:\n            system_tool_type: transfer_to_agent\n            transfers:"
            + transfers.replace("\n          -", "\n              -")
        )
        if refs
        else ""
    )
    return f"name: {name}\nconversation_config:\n  agent:\n    first_message: hi{tool}\n"


def make(tmp_path: Path, agents: dict[str, str]) -> Path:
    (tmp_path / "agents").mkdir(exist_ok=True)
    (tmp_path / "agentsync.yaml").write_text("namespace: refs\n")
    for key, text in agents.items():
        (tmp_path / "agents" / f"{key}.yaml").write_text(text)
    return tmp_path


OPEN: list[Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def opened(emulator: Emulator) -> Client:
    client = Client(emulator.url, ADMIN_KEY)
    OPEN.append(client)
    return client


def plan_for(root: Path, emulator: Emulator) -> tuple[Client, object]:
    project = load_project(root, environ={})
    client = opened(emulator)
    return client, build_plan(project, fetch(client, project))


def transfers(emulator: Emulator, client: Client, agent_id: str) -> list[str]:
    body = client.get(f"/v1/convai/agents/{agent_id}")
    params = body["conversation_config"]["agent"]["prompt"]["built_in_tools"]["transfer_to_agent"]["params"]
    return [t["agent_id"] for t in params["transfers"]]


def test_a_reference_to_an_agent_created_in_the_same_apply_gets_its_new_id(
    tmp_path: Path, emulator: Emulator
) -> None:
    root = make(tmp_path, {"a-front": agent("Front", "z-billing"), "z-billing": agent("Billing")})
    client, plan = plan_for(root, emulator)
    front = next(c for c in plan.changes if c.key == "a-front")  # type: ignore[attr-defined]
    assert front.depends_on == (Ref("agent", "z-billing"),)
    order = [[c.key for c in stage] for stage in stages(plan)]  # type: ignore[arg-type]
    assert order == [["z-billing"], ["a-front"]]
    report = apply_plan(client, plan, snapshot=check_fresh(client, plan))  # type: ignore[arg-type]
    assert [r.outcome for r in report.results] == [Outcome.APPLIED, Outcome.APPLIED]
    ids = {r.key: r.remote_id for r in report.results}
    assert transfers(emulator, client, str(ids["a-front"])) == [ids["z-billing"]]
    # Now both exist: the reference resolves at plan time and nothing differs.
    _, again = plan_for(root, emulator)
    assert not again.has_changes  # type: ignore[attr-defined]


def test_a_loop_of_creates_is_refused_naming_it_but_a_loop_of_existing_agents_is_fine(
    tmp_path: Path, emulator: Emulator
) -> None:
    root = make(tmp_path, {"receptionist": agent("R", "billing"), "billing": agent("B", "receptionist")})
    with pytest.raises(IdentityError) as caught:
        plan_for(root, emulator)
    assert "agent billing -> agent receptionist -> agent billing" in caught.value.message
    # Create both without the references, then add them: the ids are known, so it plans two updates.
    make(tmp_path, {"receptionist": agent("R"), "billing": agent("B")})
    client, plan = plan_for(root, emulator)
    apply_plan(client, plan, snapshot=check_fresh(client, plan))  # type: ignore[arg-type]
    make(tmp_path, {"receptionist": agent("R", "billing"), "billing": agent("B", "receptionist")})
    client, plan = plan_for(root, emulator)
    assert [c.action for c in plan.changes] == [Action.UPDATE, Action.UPDATE]  # type: ignore[attr-defined]
    assert all(c.depends_on == () for c in plan.changes)  # type: ignore[attr-defined]
    assert "${agent." not in str([c.body for c in plan.changes])  # type: ignore[attr-defined]


def test_a_reference_to_an_unknown_agent_warns_in_validate_and_fails_plan_at_its_line(
    tmp_path: Path, emulator: Emulator
) -> None:
    root = make(tmp_path, {"front": agent("Front", "biling"), "billing": agent("Billing")})
    warnings = [p for p in validate_project(root) if not p.is_error]
    assert len(warnings) == 1 and "did you mean 'billing'" in warnings[0].message
    assert warnings[0].location is not None and warnings[0].location.file == "agents/front.yaml"
    with pytest.raises(IdentityError) as caught:
        plan_for(root, emulator)
    assert caught.value.message.startswith("agents/front.yaml:")
    assert "'biling', which is neither declared in this project nor in the workspace" in caught.value.message


def test_a_targeted_plan_needs_the_referenced_create_too(tmp_path: Path, emulator: Emulator) -> None:
    root = make(tmp_path, {"front": agent("Front", "billing"), "billing": agent("Billing")})
    project = load_project(root, environ={})
    client = opened(emulator)
    with pytest.raises(IdentityError, match="does not exist yet and is not part of this plan") as caught:
        build_plan(project, fetch(client, project, targets=("front",)), targets=("front",))
    assert caught.value.hint == "add --target billing so that it is created first"
