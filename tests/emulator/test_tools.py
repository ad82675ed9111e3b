"""Conformance of the emulated tool endpoints; the ``api`` fixture validates every response against the
packaged spec at the end of each test."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsync import spec
from agentsync.emulator import MEMBER_KEY
from tests.emulator.conftest import Api

TOOLS = "/v1/convai/tools"
INPUT = {
    "webhook": "WebhookToolConfig-Input",
    "client": "ClientToolConfig-Input",
    "system": "SystemToolConfig-Input",
    "mcp": "MCPToolConfig-Input",
}


def webhook(name: str = "status_page", **extra: Any) -> dict[str, Any]:
    return {
        "type": "webhook",
        "name": name,
        "description": "Reads the status page",
        "api_schema": {
            "url": "https://status.example.com/api",
            "request_headers": {"X-Key": {"secret_id": "s1"}},
        },
        **extra,
    }


def client_tool(name: str = "open_ticket", **extra: Any) -> dict[str, Any]:
    return {"type": "client", "name": name, "description": "Opens a ticket in the app", **extra}


def system_tool(name: str = "hang_up") -> dict[str, Any]:
    return {"type": "system", "name": name, "params": {"system_tool_type": "end_call"}}


def mcp_tool(name: str = "crm_lookup") -> dict[str, Any]:
    return {
        "type": "mcp",
        "name": name,
        "description": "Looks a customer up",
        "integration_type": "mcp_server",
        "mcp_tool_name": "lookup",
        "mcp_tool_description": "lookup",
        "mcp_server_id": "mcp_1",
        "mcp_server_name": "crm",
    }


def create(api: Api, config: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = api.post(TOOLS, json={"tool_config": config, **body})
    assert response.status_code == 200, response.text
    tool: dict[str, Any] = response.json()
    return tool


def agent_using(api: Api, *tool_ids: str) -> str:
    return api.create_agent({"conversation_config": {"agent": {"prompt": {"tool_ids": list(tool_ids)}}}})


# -- create, get, defaults -----------------------------------------------------------------------------


def test_create_fills_the_schema_defaults_and_get_returns_the_same_tool(api: Api) -> None:
    tool = create(api, webhook())
    assert tool["id"].startswith("tool_")
    config = tool["tool_config"]
    assert config["response_timeout_secs"] == 20
    assert config["interruption_mode"] == "allow" and config["pre_tool_speech"] == "auto"
    assert config["api_schema"]["method"] == "GET"
    assert config["api_schema"]["content_type"] == "application/json"
    assert config["api_schema"]["request_headers"] == {"X-Key": {"secret_id": "s1"}}
    assert tool["usage_stats"] == {"total_calls": 0, "avg_latency_secs": 0.0}
    assert tool["response_mocks"] is None
    assert api.get(f"{TOOLS}/{tool['id']}").json() == tool


def test_each_tool_type_gets_the_defaults_of_its_own_variant(api: Api) -> None:
    assert create(api, client_tool())["tool_config"]["expects_response"] is False
    assert create(api, system_tool())["tool_config"]["description"] == ""
    assert create(api, mcp_tool())["tool_config"]["approval_policy"] == "require_approval_all"


def test_unknown_keys_are_dropped_not_stored(api: Api) -> None:
    tool = create(api, client_tool(colour="blue"), extra=1)
    assert "colour" not in tool["tool_config"] and "extra" not in tool


def test_response_mocks_are_completed(api: Api) -> None:
    tool = create(api, client_tool(), response_mocks=[{"mock_result": "ok"}])
    assert tool["response_mocks"] == [{"parameter_conditions": [], "mock_result": "ok", "is_error": False}]


def test_a_missing_tool_is_404(api: Api) -> None:
    response = api.get(f"{TOOLS}/tool_missing")
    assert response.status_code == 404
    assert response.json()["detail"]["code"] == "tool_not_found"


# -- validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        ({}, ["body", "tool_config"], "missing"),
        ({"tool_config": {"name": "x", "description": "y"}}, ["body", "tool_config"], "union_tag_not_found"),
        ({"tool_config": {"type": "smb", "name": "x"}}, ["body", "tool_config"], "union_tag_invalid"),
        (
            {"tool_config": client_tool(name="has space")},
            ["body", "tool_config", "client", "name"],
            "string_pattern_mismatch",
        ),
        (
            {"tool_config": client_tool(name="x" * 65)},
            ["body", "tool_config", "client", "name"],
            "string_pattern_mismatch",
        ),
        (
            {"tool_config": {"type": "webhook", "name": "w", "description": "d"}},
            ["body", "tool_config", "webhook", "api_schema"],
            "missing",
        ),
        (
            {"tool_config": client_tool(response_timeout_secs=500)},
            ["body", "tool_config", "client", "response_timeout_secs"],
            "less_than_equal",
        ),
        (
            {"tool_config": client_tool(), "response_mocks": [{}]},
            ["body", "response_mocks", 0, "mock_result"],
            "missing",
        ),
        ({"tool_config": "webhook"}, ["body", "tool_config"], None),
    ],
)
def test_an_invalid_create_is_a_422_naming_the_field(
    api: Api, body: dict[str, Any], loc: list[Any], type_: str | None
) -> None:
    response = api.post(TOOLS, json=body)
    assert response.status_code == 422, response.text
    items = response.json()["detail"]
    assert loc in [item["loc"] for item in items]
    if type_ is not None:
        assert type_ in [item["type"] for item in items if item["loc"] == loc]
    assert api.get(TOOLS).json()["tools"] == []


def literal(**sources: Any) -> dict[str, Any]:
    return {"type": "string", **sources}


def with_path_param(**sources: Any) -> dict[str, Any]:
    hook = webhook()
    hook["api_schema"] = {
        "url": "https://shop.example/{order}",
        "path_params_schema": {"order": literal(**sources)},
    }
    return hook


@pytest.mark.parametrize(
    "sources",
    [
        {},
        {"description": "The order number", "dynamic_variable": "order"},
        {"constant_value": "A1", "is_system_provided": True},
        {"dynamic_variable": "order", "is_omitted": True},
    ],
)
def test_a_parameter_needs_exactly_one_value_source(api: Api, sources: dict[str, Any]) -> None:
    response = api.post(TOOLS, json={"tool_config": with_path_param(**sources)})
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "tool_config", "webhook", "api_schema", "path_params_schema", "order"]
    assert item["type"] == "value_error" and "description, dynamic_variable" in item["msg"]
    assert api.get(TOOLS).json()["tools"] == []


@pytest.mark.parametrize(
    "sources",
    [
        {"description": "The order number"},
        {"dynamic_variable": "order"},
        {"constant_value": 0},
        {"is_system_provided": True},
    ],
)
def test_a_parameter_with_one_value_source_is_created(api: Api, sources: dict[str, Any]) -> None:
    create(api, with_path_param(**sources))


def test_nested_body_and_client_parameters_follow_the_rule_and_array_items_need_no_source(api: Api) -> None:
    body = {
        "type": "object",
        "properties": {
            "lines": {"type": "array", "description": "Order lines", "items": {"type": "string"}},
            "note": {"type": "object", "properties": {"text": literal()}},
        },
    }
    hook = webhook()
    hook["api_schema"] = {"url": "https://shop.example/orders", "method": "POST", "request_body_schema": body}
    response = api.post(TOOLS, json={"tool_config": hook})
    assert response.status_code == 422, response.text
    locs = [item["loc"][-4:] for item in response.json()["detail"]]
    assert locs == [["properties", "note", "properties", "text"]]
    client = client_tool(
        parameters={"type": "object", "properties": {"page": literal(description="x", constant_value="y")}}
    )
    refused = api.post(TOOLS, json={"tool_config": client})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-3:] == ["parameters", "properties", "page"]


def test_an_unknown_tag_lists_the_expected_tags(api: Api) -> None:
    item = api.post(TOOLS, json={"tool_config": {"type": "smb"}}).json()["detail"][0]
    assert item["ctx"]["tag"] == "smb"
    for tag in INPUT:
        assert f"'{tag}'" in item["msg"]


def test_validation_comes_before_authentication(api: Api) -> None:
    assert api.post(TOOLS, json={}, key=None).status_code == 422
    assert api.post(TOOLS, json={"tool_config": client_tool()}, key=None).status_code == 401


# -- update: replace semantics ------------------------------------------------------------------------


def test_patch_replaces_the_tool_config_whole(api: Api) -> None:
    tool = create(api, client_tool(response_timeout_secs=90, expects_response=True))
    response = api.patch(f"{TOOLS}/{tool['id']}", json={"tool_config": client_tool(description="New text")})
    assert response.status_code == 200, response.text
    config = response.json()["tool_config"]
    assert config["description"] == "New text"
    # What the PATCH left out went back to its default: nothing of the stored config survives.
    assert config["response_timeout_secs"] == 20 and config["expects_response"] is False
    assert api.get(f"{TOOLS}/{tool['id']}").json()["tool_config"] == config


def test_patch_keeps_response_mocks_it_does_not_mention_and_clears_them_with_null(api: Api) -> None:
    tool = create(api, client_tool(), response_mocks=[{"mock_result": "ok"}])
    path = f"{TOOLS}/{tool['id']}"
    kept = api.patch(path, json={"tool_config": client_tool()}).json()
    assert kept["response_mocks"] == tool["response_mocks"]
    cleared = api.patch(path, json={"tool_config": client_tool(), "response_mocks": None}).json()
    assert cleared["response_mocks"] is None


def test_patch_needs_the_whole_tool_config(api: Api) -> None:
    tool = create(api, client_tool())
    response = api.patch(f"{TOOLS}/{tool['id']}", json={"tool_config": {"description": "only this"}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "union_tag_not_found"
    assert api.patch(f"{TOOLS}/{tool['id']}", json={}).status_code == 422


def test_patch_can_change_the_type_and_keeps_the_id(api: Api) -> None:
    tool = create(api, client_tool(name="flexible"))
    updated = api.patch(f"{TOOLS}/{tool['id']}", json={"tool_config": webhook(name="flexible")}).json()
    assert updated["id"] == tool["id"] and updated["tool_config"]["type"] == "webhook"


def test_patch_of_a_missing_tool_is_404(api: Api) -> None:
    assert api.patch(f"{TOOLS}/tool_missing", json={"tool_config": client_tool()}).status_code == 404


# -- list ----------------------------------------------------------------------------------------------


def test_list_pages_newest_first_with_cursors(api: Api) -> None:
    made = [create(api, client_tool(name=f"tool_{i}"))["id"] for i in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"page_size": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get(TOOLS, params=params).json()
        seen += [t["id"] for t in page["tools"]]
        pages += 1
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == list(reversed(made)) and pages == 3


def test_list_defaults_to_30_per_page_and_caps_page_size(api: Api) -> None:
    for i in range(31):
        create(api, client_tool(name=f"t{i}"))
    page = api.get(TOOLS).json()
    assert len(page["tools"]) == 30 and page["has_more"] is True
    assert api.get(TOOLS, params={"page_size": 101}).status_code == 422
    assert api.get(TOOLS, params={"page_size": "many"}).json()["detail"][0]["type"] == "int_parsing"


def test_list_sorts_by_name_in_either_direction(api: Api) -> None:
    for name in ("bravo", "Alpha", "charlie"):
        create(api, client_tool(name=name))
    names = [
        t["tool_config"]["name"]
        for t in api.get(TOOLS, params={"sort_by": "name", "sort_direction": "asc"}).json()["tools"]
    ]
    assert names == ["Alpha", "bravo", "charlie"]
    page = api.get(TOOLS, params={"sort_by": "name", "page_size": 2}).json()
    assert [t["tool_config"]["name"] for t in page["tools"]] == ["charlie", "bravo"]
    rest = api.get(TOOLS, params={"sort_by": "name", "page_size": 2, "cursor": page["next_cursor"]}).json()
    assert [t["tool_config"]["name"] for t in rest["tools"]] == ["Alpha"]


def test_search_is_a_name_prefix(api: Api) -> None:
    for name in ("lookup_order", "Lookup_customer", "order_lookup"):
        create(api, client_tool(name=name))
    found = {t["tool_config"]["name"] for t in api.get(TOOLS, params={"search": "lookup"}).json()["tools"]}
    assert found == {"lookup_order", "Lookup_customer"}


def test_types_filter_keeps_the_given_types(api: Api) -> None:
    create(api, webhook())
    create(api, client_tool())
    create(api, system_tool())

    def types(*wanted: str) -> set[str]:
        page = api.get(TOOLS, params=[("types", t) for t in wanted]).json()
        return {t["tool_config"]["type"] for t in page["tools"]}

    assert types("webhook") == {"webhook"}
    assert types("webhook", "client") == {"webhook", "client"}
    assert types("api_integration_webhook") == set()
    assert api.get(TOOLS, params={"types": "system"}).status_code == 422


def test_created_by_filters_on_the_creator(api: Api) -> None:
    mine = create(api, client_tool(name="admins"))["id"]
    theirs = api.post(TOOLS, json={"tool_config": client_tool(name="members")}, key=MEMBER_KEY).json()["id"]
    listed = api.get(TOOLS, params={"created_by_user_id": "@me"}).json()["tools"]
    assert [t["id"] for t in listed] == [mine]
    owned = api.get(TOOLS, params={"show_only_owned_documents": "true"}, key=MEMBER_KEY).json()["tools"]
    assert [t["id"] for t in owned] == [theirs]


def test_a_foreign_cursor_is_a_422(api: Api) -> None:
    create(api, client_tool())
    assert api.get(TOOLS, params={"cursor": "bm90LWEtY3Vyc29y"}).status_code == 422


# -- dependents, delete --------------------------------------------------------------------------------


def test_dependent_agents_lists_every_agent_that_references_the_tool(api: Api) -> None:
    tool = create(api, webhook())["id"]
    other = create(api, client_tool())["id"]
    by_prompt = agent_using(api, tool, other)
    by_node = api.create_agent(
        {
            "conversation_config": {},
            "workflow": {
                "nodes": {
                    "start_node": {"type": "start", "edge_order": []},
                    "lookup": {"type": "tool", "tools": [{"tool_id": tool}], "edge_order": []},
                },
                "edges": {},
            },
        }
    )
    agent_using(api, other)
    page = api.get(f"{TOOLS}/{tool}/dependent-agents").json()
    assert [a["id"] for a in page["agents"]] == [by_prompt, by_node]
    assert {b["agent_id"] for b in page["branches"]} == {by_prompt, by_node}
    assert all(b["is_main"] for b in page["branches"]) and page["has_more"] is False
    first = api.get(f"{TOOLS}/{tool}/dependent-agents", params={"page_size": 1}).json()
    assert first["has_more"] is True and [a["id"] for a in first["agents"]] == [by_prompt]
    rest = api.get(
        f"{TOOLS}/{tool}/dependent-agents", params={"page_size": 1, "cursor": first["next_cursor"]}
    )
    assert [a["id"] for a in rest.json()["agents"]] == [by_node]


def test_deleting_an_unused_tool_answers_200(api: Api) -> None:
    tool = create(api, client_tool())["id"]
    response = api.delete(f"{TOOLS}/{tool}")
    assert response.status_code == 200 and response.json() == {}
    assert api.get(f"{TOOLS}/{tool}").status_code == 404
    assert api.delete(f"{TOOLS}/{tool}").status_code == 404


def test_deleting_a_tool_in_use_is_refused_with_409_naming_the_agents(api: Api) -> None:
    tool = create(api, client_tool())["id"]
    agent = agent_using(api, tool)
    response = api.delete(f"{TOOLS}/{tool}")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail["code"] == "tool_in_use" and agent in detail["message"]
    assert api.get(f"{TOOLS}/{tool}").status_code == 200


def test_force_deletes_and_takes_the_tool_out_of_every_agent(api: Api) -> None:
    tool = create(api, client_tool())["id"]
    keep = create(api, client_tool(name="keep"))["id"]
    agent = agent_using(api, tool, keep)
    assert api.delete(f"{TOOLS}/{tool}", params={"force": "true"}).status_code == 200
    prompt = api.get(f"/v1/convai/agents/{agent}").json()["conversation_config"]["agent"]["prompt"]
    assert prompt["tool_ids"] == [keep]
    assert [t["name"] for t in prompt["tools"]] == ["keep"]


def test_an_agent_that_drops_the_tool_no_longer_blocks_its_delete(api: Api) -> None:
    tool = create(api, client_tool())["id"]
    agent = agent_using(api, tool)
    api.patch(
        f"/v1/convai/agents/{agent}", json={"conversation_config": {"agent": {"prompt": {"tool_ids": []}}}}
    )
    assert api.get(f"{TOOLS}/{tool}/dependent-agents").json()["agents"] == []
    assert api.delete(f"{TOOLS}/{tool}").status_code == 200


# -- GET agent echoes prompt.tools ---------------------------------------------------------------------


def test_get_agent_echoes_the_deprecated_prompt_tools_from_tool_ids(api: Api) -> None:
    first = create(api, webhook())
    second = create(api, client_tool())
    agent = agent_using(api, second["id"], first["id"])
    prompt = api.get(f"/v1/convai/agents/{agent}").json()["conversation_config"]["agent"]["prompt"]
    assert prompt["tools"] == [second["tool_config"], first["tool_config"]]
    # A tool update shows in the agent at once; the agent itself did not change.
    api.patch(f"{TOOLS}/{first['id']}", json={"tool_config": webhook(description="Changed")})
    prompt = api.get(f"/v1/convai/agents/{agent}").json()["conversation_config"]["agent"]["prompt"]
    assert prompt["tools"][1]["description"] == "Changed"


def test_the_echo_includes_built_in_tools_and_the_patch_answer_shows_it(api: Api) -> None:
    tool = create(api, client_tool())
    agent = api.create_agent({"conversation_config": {}})
    body = {
        "conversation_config": {
            "agent": {
                "prompt": {
                    "tool_ids": [tool["id"]],
                    "built_in_tools": {
                        "end_call": {"name": "end_call", "params": {"system_tool_type": "end_call"}}
                    },
                }
            }
        }
    }
    answer = api.patch(f"/v1/convai/agents/{agent}", json=body).json()
    names = [t["name"] for t in answer["conversation_config"]["agent"]["prompt"]["tools"]]
    assert names == ["open_ticket", "end_call"]


def test_an_agent_without_tools_echoes_an_empty_list(api: Api) -> None:
    agent = api.create_agent()
    assert (
        api.get(f"/v1/convai/agents/{agent}").json()["conversation_config"]["agent"]["prompt"]["tools"] == []
    )


# -- many generated bodies -----------------------------------------------------------------------------


def _enum_choices(schema_name: str) -> dict[str, list[Any]]:
    """The optional properties of a config variant whose values the spec enumerates (or booleans)."""
    node = spec.schema(schema_name)
    required = set(node.get("required", []))
    choices: dict[str, list[Any]] = {}
    for name, prop in node["properties"].items():
        target = spec.unwrap(prop).node
        if name in required or name == "type":
            continue
        if "enum" in target:
            choices[name] = list(target["enum"])
        elif target.get("type") == "boolean":
            choices[name] = [True, False]
    return choices


BASES = {"webhook": webhook, "client": client_tool, "system": system_tool, "mcp": mcp_tool}


@st.composite
def tool_configs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(BASES)))
    config = BASES[kind](name=draw(st.from_regex(r"[a-zA-Z0-9_-]{1,64}", fullmatch=True)))
    for name, values in _enum_choices(INPUT[kind]).items():
        if draw(st.booleans()):
            config[name] = draw(st.sampled_from(values))
    return config


def _scalars(config: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """The values of the keys sent as scalars (objects come back completed with defaults)."""
    return {k: config[k] for k, v in sent.items() if not isinstance(v, dict)}


@settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=tool_configs(), second=tool_configs())
def test_every_answer_to_generated_tools_is_valid_against_the_spec(
    api: Api, first: dict[str, Any], second: dict[str, Any]
) -> None:
    tool = create(api, first)
    assert _scalars(tool["tool_config"], first) == _scalars(first, first)
    updated = api.patch(f"{TOOLS}/{tool['id']}", json={"tool_config": second})
    assert updated.status_code == 200, updated.text
    assert _scalars(updated.json()["tool_config"], second) == _scalars(second, second)
    agent = agent_using(api, tool["id"])
    assert api.get(f"/v1/convai/agents/{agent}").status_code == 200
    assert api.get(TOOLS, params={"search": second["name"][:1]}).status_code == 200
    assert api.delete(f"{TOOLS}/{tool['id']}", params={"force": "true"}).status_code == 200
    api.delete(f"/v1/convai/agents/{agent}")
    api.check_all()
    api.seen.clear()
