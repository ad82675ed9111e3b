"""The kinds registry and the two identity strategies (markers, natural keys), without I/O."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from agentsync import diff, targets
from agentsync.errors import IdentityError, Location, UsageError
from agentsync.kinds import BY_NAME, KINDS, rank
from agentsync.kinds.agent import AGENT, attached
from agentsync.kinds.identity import marker, marker_key
from agentsync.kinds.tag import TAG
from agentsync.remote import in_scope
from tests.defs import agent_def, make_project, tag_def

NS = "agentsync"


def summary(agent_id: str, *tags: str) -> dict[str, Any]:
    return {"agent_id": agent_id, "name": agent_id, "tags": list(tags), "created_at_unix_secs": 1}


# --- the registry -------------------------------------------------------------------------------------


def test_kinds_are_registered_once_in_dependency_order_with_unique_names() -> None:
    assert [k.level for k in KINDS] == sorted(k.level for k in KINDS)
    assert len({k.name for k in KINDS}) == len(KINDS) == len({k.plural for k in KINDS})
    assert BY_NAME["tag"] is TAG and BY_NAME["agent"] is AGENT
    assert rank("tag") < rank("agent") < rank("no-such-kind")
    assert sum(1 for k in KINDS if k.bare_target) == 1


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_kind_is_complete_and_consistent(kind: Any) -> None:
    assert kind.api.item.count("{id}") == 1 and kind.api.collection.startswith("/v1/")
    assert kind.api.update_method in ("PATCH", "PUT")
    assert kind.fields.writable and not set(kind.fields.read_only) & {(f,) for f in kind.fields.writable}
    assert kind.layout.schema_file.endswith(".schema.json")
    assert kind.layout.is_folder or kind.layout.key_path


# --- markers ------------------------------------------------------------------------------------------


def test_marker_round_trips_and_ignores_other_namespaces() -> None:
    assert marker(NS, "team/bot") == "agentsync:team/bot"
    assert marker_key("agentsync:team/bot", NS) == "team/bot"
    assert marker_key("agentsync:", NS) is None
    assert marker_key("staging:bot", NS) is None


def test_the_marker_index_groups_ids_by_key_and_tolerates_null_tags() -> None:
    items = [
        summary("a1", "agentsync:bot"),
        summary("a2", "agentsync:bot", "agentsync:bot"),
        summary("a3", "other:bot"),
        {"agent_id": "a4", "name": "n", "tags": None},
    ]
    index = AGENT.identity.index(items, "agent_id", NS)
    assert dict(index.keys) == {"bot": ("a1", "a2")}
    assert index.conflicts == ()


def test_two_markers_of_this_namespace_on_one_agent_are_an_error_naming_both() -> None:
    index = AGENT.identity.index([summary("a1", "agentsync:bot", "agentsync:other")], "agent_id", NS)
    assert index.conflicts == ("a1",)
    with pytest.raises(
        IdentityError, match=r"agent a1 carries 2 ownership markers .*agentsync:bot, agentsync:other"
    ):
        AGENT.identity.match(agent_def("bot"), index, {}, NS)


def test_claim_puts_the_marker_first_without_duplicates_or_stale_markers() -> None:
    body = {"tags": ["a", "agentsync:old", "a", "agentsync:bot", "b", "other:x"]}
    assert AGENT.identity.claim(body, "bot", NS, None)["tags"] == ["agentsync:bot", "a", "b", "other:x"]
    assert AGENT.identity.claim({}, "bot", NS, None) == {"tags": ["agentsync:bot"]}
    assert AGENT.identity.claim({}, "bot", NS, {"tags": ["kept"]}) == {"tags": ["agentsync:bot", "kept"]}
    assert AGENT.identity.hide({"tags": ["agentsync:bot", "x"]}, NS) == {"tags": ["x"]}


def test_a_create_named_like_an_unowned_agent_warns_how_to_adopt_it() -> None:
    index = AGENT.identity.index(
        [{**summary("a7"), "name": "Support"}, {**summary("a8", "agentsync:x"), "name": "Support"}],
        "agent_id",
        NS,
    )
    [warning] = AGENT.identity.warnings([agent_def("bot", config={"name": "Support"})], index, NS)
    assert "agent a7 named 'Support'" in warning and "add `id: a7` to agents/bot.yaml" in warning
    assert AGENT.identity.warnings([agent_def("bot", config={"name": "Other"})], index, NS) == ()


def test_attached_resources_name_numbers_and_accounts() -> None:
    agent_body = {
        "phone_numbers": [{"phone_number_id": "p1", "phone_number": None}],
        "whatsapp_accounts": [{"phone_number": "+4930", "phone_number_id": "w1"}],
    }
    assert attached(agent_body) == ("phone number p1", "WhatsApp account +4930")
    assert attached({"phone_numbers": None}) == ()


# --- scope and targets --------------------------------------------------------------------------------

SUMMARIES = [
    summary("a1", "agentsync:bot"),
    summary("a2", "agentsync:old"),
    summary("a3", "agentsync:gone"),
    summary("a4", "unrelated"),
    summary("a5", "other:bot"),
]


def _scope(*defs: Any, target: tuple[str, ...] = ()) -> list[str]:
    return in_scope(AGENT, make_project(defs), SUMMARIES, targets.parse(target))


def test_in_scope_are_declared_ids_owned_rename_sources_and_prune_candidates() -> None:
    defs = (agent_def("bot"), agent_def("new", renamed_from="old"), agent_def("adopted", id="a9"))
    assert _scope(*defs) == ["a9", "a1", "a3", "a2"]


def test_in_scope_follows_targets() -> None:
    defs = (agent_def("bot"), agent_def("new", renamed_from="old"))
    assert _scope(*defs, target=("new",)) == ["a2"]
    assert _scope(*defs, target=("gone", "tag:vip")) == ["a3"]
    assert _scope(*defs, target=("tag:vip",)) == []


def test_an_unknown_target_is_a_usage_error_with_a_suggestion() -> None:
    with pytest.raises(UsageError, match="unknown target 'bto'") as caught:
        _scope(agent_def("bot"), target=("bto",))
    assert caught.value.hint == "did you mean 'bot'?"
    with pytest.raises(UsageError, match="unknown target 'tag:vpi'") as caught:
        targets.of(targets.parse(["tag:vpi"]), TAG, {"vip"})
    assert caught.value.hint == "did you mean 'tag:vip'?"


def test_no_targets_select_everything() -> None:
    assert targets.parse([]) is None
    assert targets.of(targets.parse(["tag:x"]), AGENT, {"a"}) == frozenset()


# --- natural keys -------------------------------------------------------------------------------------


def tag(tag_id: str, title: str) -> dict[str, Any]:
    return {"tag_id": tag_id, "title": title, "description": None, "workspace_id": "w"}


def _match(definition: Any, remote: list[dict[str, Any]]) -> str | None:
    index = TAG.identity.index(remote, "tag_id", NS)
    return TAG.identity.match(definition, index, {t["tag_id"]: t for t in remote}, NS).remote_id


def test_a_tag_is_matched_by_title_or_by_id() -> None:
    remote = [tag("t1", "vip"), tag("t2", "churn")]
    assert _match(tag_def({"title": "vip"}), remote) == "t1"
    assert _match(tag_def({"title": "new"}), remote) is None
    assert _match(tag_def({"title": "renamed"}, id="t2"), remote) == "t2"


def test_natural_key_errors_name_the_location_and_ids() -> None:
    where = Location("tags.yaml", 4, 3)
    with pytest.raises(IdentityError, match=r"tags.yaml:4:3: the workspace has 2 .* \(t1, t2\)"):
        _match(tag_def({"title": "vip"}, location=where), [tag("t1", "vip"), tag("t2", "vip")])
    with pytest.raises(IdentityError, match=r"tags.yaml:4:3: conversation tag 'vip' declares id: t7"):
        _match(tag_def({"title": "vip"}, id="t7", location=where), [tag("t1", "vip")])


def test_a_tag_view_keeps_declared_writable_fields() -> None:
    assert diff.managed_view(TAG.fields, {"title": "a"}, tag("t1", "b")) == {"title": "b"}
    assert diff.managed_view(TAG.fields, {"title": "a", "description": "d"}, tag("t1", "b")) == {
        "title": "b",
        "description": None,
    }


# --- agent tests --------------------------------------------------------------------------------------


def test_an_agent_test_is_found_by_its_name_not_by_its_file_name() -> None:
    from agentsync.kinds import Definition
    from agentsync.kinds.test import TEST

    items = [{"id": "test_1", "name": "greets the caller", "type": "llm"}]
    index = TEST.identity.index(items, TEST.api.id_field, NS)
    definition = Definition("test", "greets", "tests/greets.yaml", {"name": "greets the caller"})
    assert TEST.identity.lookup_key(definition) == "greets the caller"
    assert TEST.identity.match(definition, index, {}, NS).remote_id == "test_1"
    assert TEST.api.update_method == "PUT" and TEST.layout.is_folder
    assert {"success_condition", "tool_call_parameters", "success_conditions"} <= set(TEST.fields.writable)
    assert "parent_folder_id" not in TEST.fields.writable


def test_the_field_lists_written_into_kinds_are_the_specs() -> None:
    """mcp_server and test write out what they read of the spec (so that loading the kinds never parses
    the whole OpenAPI document); these lists must stay exactly what the spec says, order included."""
    from agentsync import spec
    from agentsync.kinds import mcp_server, test

    assert tuple(spec.schema(mcp_server.CONFIG_INPUT)["properties"]) == mcp_server.CONFIG_FIELDS
    assert set(spec.schema(spec.MCP_SERVER_UPDATE_BODY)["properties"]) == mcp_server.UPDATABLE_FIELDS
    assert (
        tuple(
            dict.fromkeys(
                name
                for model in spec.TEST_CREATE_BODIES.values()
                for name in spec.schema(model)["properties"]
                if name != "parent_folder_id"
            )
        )
        == test.WRITABLE
    )


def test_loading_the_kinds_reads_no_openapi_document() -> None:
    """In a fresh interpreter: importing every kind leaves the spec's document unparsed (it is read
    when a file is validated, after the first request has gone out)."""
    probe = (
        "import agentsync.kinds, agentsync.spec as s, agentsync.prefetch, agentsync.cli.apply\n"
        "print(s.document.cache_info().currsize)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0"
