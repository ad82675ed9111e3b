from __future__ import annotations

from typing import Any

import pytest

from agentsync.errors import IdentityError, Location, UsageError
from agentsync.resources.agent import (
    AgentDef,
    agent_targets,
    agents_in_scope,
    attached_resources,
    marker,
    marker_key,
    owned_keys,
    owners,
    renamed_sources,
    with_marker,
)
from agentsync.resources.tag import TagDef, match_tag, tag_view

NS = "agentsync"


def summary(agent_id: str, *tags: str) -> dict[str, Any]:
    return {"agent_id": agent_id, "name": agent_id, "tags": list(tags), "created_at_unix_secs": 1}


def agent(key: str, **meta: Any) -> AgentDef:
    return AgentDef(key=key, file=f"agents/{key}.yaml", config={"name": key}, **meta)


# --- markers and ownership ----------------------------------------------------------------------------


def test_marker_round_trips_and_ignores_other_namespaces() -> None:
    assert marker(NS, "team/bot") == "agentsync:team/bot"
    assert marker_key("agentsync:team/bot", NS) == "team/bot"
    assert marker_key("agentsync:", NS) is None
    assert marker_key("staging:bot", NS) is None
    assert owned_keys(["support", "agentsync:a", "x:b"], NS) == ["a"]


def test_owners_groups_agent_ids_by_marker_and_tolerates_null_tags() -> None:
    summaries = [
        summary("a1", "agentsync:bot"),
        summary("a2", "agentsync:bot", "agentsync:bot"),
        summary("a3", "other:bot"),
        {"agent_id": "a4", "name": "n", "tags": None},
    ]
    assert owners(summaries, NS) == {"bot": ["a1", "a2"]}


def test_renamed_sources_map_old_keys_to_new() -> None:
    assert renamed_sources({"new": agent("new", renamed_from="old"), "x": agent("x")}) == {"old": "new"}


def test_with_marker_puts_the_marker_first_without_duplicates_or_stale_markers() -> None:
    assert with_marker("agentsync:bot", ["a", "agentsync:old", "a", "agentsync:bot", "b", "other:x"], NS) == [
        "agentsync:bot",
        "a",
        "b",
        "other:x",
    ]
    assert with_marker("agentsync:bot", [], NS) == ["agentsync:bot"]


def test_attached_resources_name_numbers_and_accounts() -> None:
    agent_body = {
        "phone_numbers": [{"phone_number_id": "p1", "phone_number": None}],
        "whatsapp_accounts": [{"phone_number": "+4930", "phone_number_id": "w1"}],
    }
    assert attached_resources(agent_body) == ("phone number p1", "WhatsApp account +4930")
    assert attached_resources({"phone_numbers": None}) == ()


# --- scope --------------------------------------------------------------------------------------------


SUMMARIES = [
    summary("a1", "agentsync:bot"),
    summary("a2", "agentsync:old"),
    summary("a3", "agentsync:gone"),
    summary("a4", "unrelated"),
    summary("a5", "other:bot"),
]


def test_agents_in_scope_are_declared_ids_owned_rename_sources_and_prune_candidates() -> None:
    defs = {
        "bot": agent("bot"),
        "new": agent("new", renamed_from="old"),
        "adopted": agent("adopted", id="a9"),
    }
    assert agents_in_scope(defs, SUMMARIES, NS) == ["a9", "a1", "a3", "a2"]


def test_agents_in_scope_follow_targets() -> None:
    defs = {"bot": agent("bot"), "new": agent("new", renamed_from="old")}
    assert agents_in_scope(defs, SUMMARIES, NS, targets=["new"]) == ["a2"]
    assert agents_in_scope(defs, SUMMARIES, NS, targets=["gone", "tag:vip"]) == ["a3"]
    assert agents_in_scope(defs, SUMMARIES, NS, targets=["tag:vip"]) == []


def test_agents_in_scope_reject_an_unknown_target() -> None:
    with pytest.raises(UsageError, match="unknown target 'bto'") as caught:
        agents_in_scope({"bot": agent("bot")}, SUMMARIES, NS, targets=["bto"])
    assert caught.value.hint == "did you mean 'bot'?"


def test_agent_targets_without_targets_select_everything() -> None:
    assert agent_targets([], {"a"}) is None
    assert agent_targets(["tag:x"], {"a"}) == set()


# --- tags ---------------------------------------------------------------------------------------------


def tag(tag_id: str, title: str) -> dict[str, Any]:
    return {"tag_id": tag_id, "title": title, "description": None, "workspace_id": "w"}


def test_match_tag_by_title_or_by_id() -> None:
    remote = [tag("t1", "vip"), tag("t2", "churn")]
    assert match_tag(TagDef({"title": "vip"}), remote) == remote[0]
    assert match_tag(TagDef({"title": "new"}), remote) is None
    assert match_tag(TagDef({"title": "renamed"}, id="t2"), remote) == remote[1]


def test_match_tag_errors_name_the_location_and_ids() -> None:
    where = Location("tags.yaml", 4, 3)
    with pytest.raises(IdentityError, match=r"tags.yaml:4:3: the workspace has 2 .* \(t1, t2\)"):
        match_tag(TagDef({"title": "vip"}, location=where), [tag("t1", "vip"), tag("t2", "vip")])
    with pytest.raises(IdentityError, match=r"tags.yaml:4:3: tag 'vip' declares id: t7"):
        match_tag(TagDef({"title": "vip"}, id="t7", location=where), [tag("t1", "vip")])


def test_tag_view_keeps_declared_writable_fields() -> None:
    assert tag_view({"title": "a"}, tag("t1", "b")) == {"title": "b"}
    assert tag_view({"title": "a", "description": "d"}, tag("t1", "b")) == {"title": "b", "description": None}
