from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from agentsync.errors import IdentityError, Location, PlanFileError, SafetyError, UsageError
from agentsync.kinds import Definition, Ref
from agentsync.plan import (
    ABSENT,
    PLAN_FORMAT_VERSION,
    Action,
    Change,
    FieldChange,
    Plan,
    check_safety,
    fingerprint,
    from_dict,
    load,
    save,
    to_dict,
)
from agentsync.planner import build_plan
from agentsync.project import Project, SafetySettings
from agentsync.remote import RemoteState
from agentsync.render import common
from tests.defs import agent_def, make_project, make_remote, tag_def

TagDef = tag_def

EXAMPLE = json.loads((Path(__file__).parent / "data" / "example-agent-response.json").read_text())
NS = "agentsync"


def body(agent_id: str, *tags: str, name: str = "Bot", **top: Any) -> dict[str, Any]:
    agent = copy.deepcopy(EXAMPLE)
    agent.update(agent_id=agent_id, name=name, tags=list(tags), **top)
    return agent


def agent(key: str, config: Mapping[str, Any] | None = None, **meta: Any) -> Definition:
    return agent_def(
        key,
        config=dict(config or {"name": "Bot"}),
        locations={(): Location(f"agents/{key}.yaml", 1, 1)},
        **meta,
    )


def tag(tag_id: str, title: str, description: str | None = None) -> dict[str, Any]:
    return {
        "tag_id": tag_id,
        "workspace_id": "w",
        "owner_user_id": "u",
        "title": title,
        "description": description,
        "created_at_unix_secs": 1,
    }


def project(
    *agents: Definition, tags: list[Definition] | None = None, authoritative: bool = False
) -> Project:
    return make_project(agents, tags, authoritative=authoritative, namespace=NS)


def remote(*bodies: Mapping[str, Any], tags: Sequence[Mapping[str, Any]] | None = None) -> RemoteState:
    return make_remote(bodies, tags)


def only(plan: Plan) -> Change:
    assert len(plan.changes) == 1, plan.changes
    return plan.changes[0]


# --- agents: create, update, no-op --------------------------------------------------------------------


def test_create_sends_declared_fields_an_empty_conversation_config_and_the_marker() -> None:
    plan = build_plan(project(agent("bot", {"name": "Bot", "tags": ["support"]})), remote())
    change = only(plan)
    assert (change.kind, change.action, change.method, change.path) == (
        "agent",
        Action.CREATE,
        "POST",
        "/v1/convai/agents/create",
    )
    assert change.body == {"name": "Bot", "tags": ["agentsync:bot", "support"], "conversation_config": {}}
    assert change.fingerprint == fingerprint("agent", "bot", None)
    assert FieldChange(("name",), ABSENT, "Bot") in change.fields
    assert change.source == Location("agents/bot.yaml", 1, 1)
    assert (plan.managed, plan.unchanged) == (0, 0)


def test_an_agent_equal_to_its_file_is_a_counted_no_op() -> None:
    config = {"name": "Bot", "tags": ["support"], "conversation_config": {"turn": {"turn_timeout": 7}}}
    plan = build_plan(project(agent("bot", config)), remote(body("a1", "support", "agentsync:bot")))
    assert (plan.changes, plan.unchanged, plan.managed) == ((), 1, 1)


def test_update_sends_the_minimal_body_and_fingerprints_the_remote() -> None:
    config = {"name": "Bot", "conversation_config": {"agent": {"first_message": "Hello"}}}
    current = body("a1", "agentsync:bot", "support")
    change = only(build_plan(project(agent("bot", config)), remote(current)))
    assert (change.action, change.method, change.path, change.remote_id) == (
        Action.UPDATE,
        "PATCH",
        "/v1/convai/agents/a1",
        "a1",
    )
    assert change.body == {"conversation_config": {"agent": {"first_message": "Hello"}}}
    assert common.json_patch(change) == [
        {"op": "replace", "path": "/conversation_config/agent/first_message", "value": "Hello"},
    ]
    assert change.fingerprint == fingerprint("agent", "bot", current)


def test_a_tags_change_always_carries_the_marker() -> None:
    config = {"tags": ["b", "a"]}
    change = only(build_plan(project(agent("bot", config)), remote(body("a1", "agentsync:bot", "a"))))
    assert change.body == {"tags": ["agentsync:bot", "b", "a"]}
    assert change.fields == (FieldChange(("tags",), ["a"], ["a", "b"]),)


# --- agents: identity ---------------------------------------------------------------------------------


def test_two_agents_with_one_marker_is_an_error_naming_both() -> None:
    with pytest.raises(IdentityError, match=r"a1, a2 all carry .*agentsync:bot"):
        build_plan(project(agent("bot")), remote(body("a1", "agentsync:bot"), body("a2", "agentsync:bot")))


def test_id_adopts_an_unowned_agent_adding_the_marker_and_changed_fields() -> None:
    definition = agent("bot", {"name": "Renamed"}, id="a9")
    change = only(build_plan(project(definition), remote(body("a9", "legacy"))))
    assert (change.action, change.remote_id, change.method) == (Action.ADOPT, "a9", "PATCH")
    assert change.body == {"name": "Renamed", "tags": ["agentsync:bot", "legacy"]}


def test_id_of_an_agent_already_carrying_its_marker_is_an_ordinary_update() -> None:
    definition = agent("bot", {"name": "Bot"}, id="a9")
    plan = build_plan(project(definition), remote(body("a9", "agentsync:bot")))
    assert (plan.changes, plan.unchanged) == ((), 1)


def test_id_missing_remotely_is_an_error() -> None:
    with pytest.raises(
        IdentityError, match=r"agents/bot.yaml:1:1: agent 'bot' declares id: a9, but .* no agent"
    ):
        build_plan(project(agent("bot", id="a9")), remote())


def test_id_of_an_agent_carrying_another_keys_marker_is_an_error() -> None:
    with pytest.raises(IdentityError, match=r"belongs to 'other' \(it carries agentsync:other\)"):
        build_plan(project(agent("bot", id="a9")), remote(body("a9", "agentsync:other")))


def test_id_while_another_agent_carries_the_keys_marker_is_an_error() -> None:
    with pytest.raises(IdentityError, match=r"agent a1 already carries its marker agentsync:bot"):
        build_plan(project(agent("bot", id="a9")), remote(body("a1", "agentsync:bot"), body("a9")))


# --- agents: rename -----------------------------------------------------------------------------------


def test_renamed_from_rekeys_the_old_agent_with_an_update_swapping_the_marker() -> None:
    definition = agent("new-bot", {"name": "Bot"}, renamed_from="old-bot")
    current = body("a1", "agentsync:old-bot", "support")
    change = only(build_plan(project(definition), remote(current), prune=True))
    assert (change.action, change.key, change.previous_key, change.remote_id) == (
        Action.UPDATE,
        "new-bot",
        "old-bot",
        "a1",
    )
    assert change.body == {"tags": ["agentsync:new-bot", "support"]}
    # Apply re-reads the agent by id and fingerprints it under the change's own key.
    assert change.fingerprint == fingerprint("agent", "new-bot", current)


def test_renamed_from_keeps_declared_tags_when_swapping_the_marker() -> None:
    definition = agent("new-bot", {"name": "Bot", "tags": ["vip"]}, renamed_from="old-bot")
    change = only(build_plan(project(definition), remote(body("a1", "agentsync:old-bot", "support"))))
    assert change.body == {"tags": ["agentsync:new-bot", "vip"]}
    assert change.fields == (FieldChange(("tags",), ["support"], ["vip"]),)


def test_renamed_from_after_the_rename_took_is_plain() -> None:
    definition = agent("new-bot", {"name": "Bot"}, renamed_from="old-bot")
    plan = build_plan(project(definition), remote(body("a1", "agentsync:new-bot")), prune=True)
    assert (plan.changes, plan.unchanged) == ((), 1)


def test_renamed_from_with_both_keys_present_is_an_error() -> None:
    definition = agent("new-bot", renamed_from="old-bot")
    with pytest.raises(IdentityError, match="both keys have an agent: a2 and a1"):
        build_plan(
            project(definition), remote(body("a1", "agentsync:old-bot"), body("a2", "agentsync:new-bot"))
        )


def test_a_create_and_a_delete_with_one_name_warn_of_a_rename() -> None:
    plan = build_plan(
        project(agent("new-bot", {"name": "Bot"})), remote(body("a1", "agentsync:old-bot")), prune=True
    )
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.DELETE]
    assert len(plan.warnings) == 1
    assert "renamed_from: old-bot" in plan.warnings[0] and "agents/new-bot.yaml" in plan.warnings[0]


# --- agents: prune ------------------------------------------------------------------------------------


def test_owned_agents_without_a_file_are_deleted_only_with_prune() -> None:
    state = remote(body("a1", "agentsync:gone", name="Gone"), body("a2", "otherns:x"), body("a3"))
    kept = build_plan(project(), state)
    assert kept.changes == ()
    assert kept.warnings == (
        "1 agent managed by this project no longer declared (gone): kept, since --prune was not given",
    )
    pruned = build_plan(project(), state, prune=True)
    assert pruned.warnings == ()
    change = only(pruned)
    assert (change.action, change.key, change.remote_id, change.method, change.path, change.body) == (
        Action.DELETE,
        "gone",
        "a1",
        "DELETE",
        "/v1/convai/agents/a1",
        None,
    )
    assert change.name == "Gone" and change.attached == ()


def test_a_delete_lists_attached_phone_numbers_and_whatsapp_accounts() -> None:
    numbers = [{"phone_number": "+15550100", "label": "main", "phone_number_id": "p1", "provider": "twilio"}]
    accounts = [{"phone_number_id": "w1", "phone_number": "+15550101"}]
    state = remote(body("a1", "agentsync:gone", phone_numbers=numbers, whatsapp_accounts=accounts))
    change = only(build_plan(project(), state, prune=True))
    assert change.attached == ("phone number +15550100", "WhatsApp account +15550101")


# --- tags ---------------------------------------------------------------------------------------------


def test_tags_are_created_updated_and_left_by_title() -> None:
    defs = [
        TagDef({"title": "new"}),
        TagDef({"title": "vip", "description": "VIP"}),
        TagDef({"title": "same"}),
    ]
    state = remote(tags=[tag("t1", "vip", "old"), tag("t2", "same")])
    plan = build_plan(project(tags=defs), state)
    create, update = plan.changes
    assert (create.action, create.method, create.path, create.body) == (
        Action.CREATE,
        "POST",
        "/v1/convai/tags",
        {"title": "new"},
    )
    assert create.fingerprint == fingerprint("tag", "new", None)
    assert (update.action, update.path, update.body) == (
        Action.UPDATE,
        "/v1/convai/tags/t1",
        {"description": "VIP"},
    )
    assert update.fields == (FieldChange(("description",), "old", "VIP"),)
    assert plan.unchanged == 1 and plan.managed == 2


def test_a_tag_id_makes_a_new_title_a_rename() -> None:
    plan = build_plan(project(tags=[TagDef({"title": "Gold"}, id="t1")]), remote(tags=[tag("t1", "VIP")]))
    change = only(plan)
    assert (change.action, change.key, change.previous_key, change.body) == (
        Action.UPDATE,
        "Gold",
        "VIP",
        {"title": "Gold"},
    )


def test_two_remote_tags_with_a_declared_title_is_an_error_naming_both() -> None:
    state = remote(tags=[tag("t1", "vip"), tag("t2", "vip")])
    with pytest.raises(IdentityError, match=r"2 conversation tags with title 'vip' \(t1, t2\)"):
        build_plan(project(tags=[TagDef({"title": "vip"}, location=Location("tags.yaml", 2, 3))]), state)


def test_a_tag_id_missing_remotely_is_an_error() -> None:
    with pytest.raises(IdentityError, match="declares id: t9"):
        build_plan(project(tags=[TagDef({"title": "vip"}, id="t9")]), remote(tags=[tag("t1", "vip")]))


def test_undeclared_tags_are_deleted_only_when_authoritative_and_pruning() -> None:
    state = remote(tags=[tag("t1", "keep"), tag("t2", "stray")])
    defs = [TagDef({"title": "keep"})]
    assert build_plan(project(tags=defs), state, prune=True).changes == ()
    kept = build_plan(project(tags=defs, authoritative=True), state)
    assert kept.changes == ()
    assert "1 conversation tag managed by this project no longer declared (stray)" in kept.warnings[0]
    plan = build_plan(project(tags=defs, authoritative=True), state, prune=True)
    change = only(plan)
    assert (change.action, change.key, change.path) == (Action.DELETE, "stray", "/v1/convai/tags/t2")
    assert plan.managed == 2


def test_tags_not_fetched_are_not_managed() -> None:
    plan = build_plan(project(tags=[TagDef({"title": "vip"})]), remote())
    assert (plan.changes, plan.managed) == ((), 0)


# --- targets and order --------------------------------------------------------------------------------


def _busy_project() -> tuple[Project, RemoteState]:
    defs = [agent("b", {"name": "B"}), agent("a", {"name": "A"}), agent("c", {"name": "C"})]
    state = remote(
        body("a3", "agentsync:c"),
        body("a8", "agentsync:old1", name="Old1"),
        body("a9", "agentsync:old2", name="Old2"),
        tags=[tag("t1", "stray")],
    )
    return project(*defs, tags=[TagDef({"title": "x"})], authoritative=True), state


def test_order_is_tags_then_agents_then_deletes_in_reverse() -> None:
    plan = build_plan(*_busy_project(), prune=True)
    assert [(c.kind, c.action.value, c.key) for c in plan.changes] == [
        ("tag", "create", "x"),
        ("agent", "create", "a"),
        ("agent", "create", "b"),
        ("agent", "update", "c"),
        ("agent", "delete", "old2"),
        ("agent", "delete", "old1"),
        ("tag", "delete", "stray"),
    ]


def test_targets_limit_the_plan() -> None:
    proj, state = _busy_project()
    plan = build_plan(proj, state, prune=True, targets=["b", "old1", "tag:stray"])
    assert [(c.action.value, c.key) for c in plan.changes] == [
        ("create", "b"),
        ("delete", "old1"),
        ("delete", "stray"),
    ]


def test_an_unknown_target_is_a_usage_error_with_a_suggestion() -> None:
    proj, state = _busy_project()
    with pytest.raises(UsageError, match="unknown target 'bb'") as caught:
        build_plan(proj, state, targets=["bb"])
    assert caught.value.hint == "did you mean 'b'?"
    with pytest.raises(UsageError, match="unknown target 'tag:nope'"):
        build_plan(proj, state, targets=["tag:nope"])


# --- safety -------------------------------------------------------------------------------------------


def _plan_with(actions: Sequence[Action], managed: int, attached: tuple[str, ...] = ()) -> Plan:
    changes = tuple(
        Change(
            "agent",
            a,
            f"k{i}",
            "id",
            None,
            (),
            "PATCH",
            "/",
            None,
            "fp",
            attached=attached if a is Action.DELETE else (),
        )
        for i, a in enumerate(actions)
    )
    return Plan(changes=changes, unchanged=0, managed=managed, namespace=NS, base_url="")


def test_safety_allows_small_shares_and_small_projects() -> None:
    rules = SafetySettings(max_change_share=0.3, min_managed=10)
    check_safety(_plan_with([Action.UPDATE] * 3, managed=10), rules, force=False)
    check_safety(_plan_with([Action.DELETE] * 9, managed=9), rules, force=False)
    check_safety(_plan_with([Action.CREATE] * 50, managed=10), rules, force=False)


def test_safety_refuses_a_large_share_unless_forced() -> None:
    rules = SafetySettings(max_change_share=0.3, min_managed=10)
    plan = _plan_with([Action.UPDATE, Action.DELETE, Action.ADOPT, Action.UPDATE], managed=10)
    with pytest.raises(SafetyError, match=r"updates or deletes 4 of 10 managed resources, more than the 30%"):
        check_safety(plan, rules, force=False)
    check_safety(plan, rules, force=True)


def test_safety_refuses_deleting_an_agent_with_attached_numbers() -> None:
    plan = _plan_with([Action.DELETE], managed=1, attached=("phone number +1555",))
    with pytest.raises(
        SafetyError, match=r"deletes 1 resource that has something attached: agent k0 \(phone number \+1555\)"
    ) as err:
        check_safety(plan, SafetySettings(), force=False)
    assert "--force" in (err.value.hint or "")
    check_safety(plan, SafetySettings(), force=True)


# --- fingerprints -------------------------------------------------------------------------------------


def test_fingerprints_identify_the_remote_state() -> None:
    first = body("a1", "agentsync:bot")
    assert fingerprint("agent", "bot", first) == fingerprint("agent", "bot", copy.deepcopy(first))
    assert fingerprint("agent", "bot", first) != fingerprint("agent", "bot", None)
    assert fingerprint("agent", "a", None) != fingerprint("agent", "b", None)
    changed = copy.deepcopy(first)
    changed["metadata"]["updated_at_unix_secs"] += 1
    assert fingerprint("agent", "bot", changed) != fingerprint("agent", "bot", first)
    reordered = dict(reversed(list(first.items())))
    assert fingerprint("agent", "bot", reordered) == fingerprint("agent", "bot", first)
    assert fingerprint("tag", "a", tag("t1", "a")) != fingerprint("tag", "a", tag("t1", "a", "d"))
    assert fingerprint("tag", "a", None) != fingerprint("tag", "b", None)
    assert len(fingerprint("tag", "a", None)) == 64


# --- the plan file ------------------------------------------------------------------------------------


def _full_plan() -> Plan:
    proj, state = _busy_project()
    plan = build_plan(proj, state, prune=True)
    extra = Change(
        "agent",
        Action.UPDATE,
        "z",
        "a5",
        "Z",
        (FieldChange(("x", 0), ABSENT, None), FieldChange(("y",), None, ABSENT)),
        "PATCH",
        "/v1/convai/agents/a5",
        {"name": None},
        "fp",
        source=Location("agents/z.yaml", 3, 4),
        depends_on=(Ref("agent", "a"),),
        attached=("phone number 1",),
        previous_key="y",
    )
    return Plan(
        changes=(*plan.changes, extra),
        unchanged=2,
        managed=5,
        namespace=NS,
        base_url="http://x",
        environment="prod",
        warnings=("w",),
        meta={"created": "now"},
    )


def test_to_dict_and_from_dict_round_trip_every_field() -> None:
    plan = _full_plan()
    data = json.loads(json.dumps(to_dict(plan)))
    assert data["format_version"] == PLAN_FORMAT_VERSION
    assert data["changes"][-1]["fields"] == [{"path": ["x", 0], "new": None}, {"path": ["y"], "old": None}]
    assert data["changes"][-1]["source"] == {"file": "agents/z.yaml", "line": 3, "col": 4}
    assert from_dict(data) == plan


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    plan = _full_plan()
    target = tmp_path / "plan.json"
    save(plan, target)
    assert load(target) == plan
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temp file left behind


def test_load_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match=r"plan file .*nope.json does not exist"):
        load(tmp_path / "nope.json")


def test_load_refuses_a_corrupt_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text('{"format_version": 1, "changes": [')
    with pytest.raises(PlanFileError, match=r"is not valid JSON \(line 1"):
        load(target)


def test_load_refuses_another_format_version(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text(json.dumps({**to_dict(_full_plan()), "format_version": 99}))
    with pytest.raises(
        PlanFileError, match=f"format version 99; this agentsync reads version {PLAN_FORMAT_VERSION}"
    ):
        load(target)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("changes"),
        lambda d: d["changes"][0].update(action="explode"),
        lambda d: d["changes"][0].update(fields=[{"nopath": 1}]),
    ],
)
def test_load_refuses_a_malformed_plan(tmp_path: Path, damage: Any) -> None:
    data = to_dict(_full_plan())
    damage(data)
    target = tmp_path / "plan.json"
    target.write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match="the plan is malformed"):
        load(target)


def test_from_dict_refuses_a_non_object() -> None:
    with pytest.raises(PlanFileError, match="not a JSON object"):
        from_dict([])  # type: ignore[arg-type]
