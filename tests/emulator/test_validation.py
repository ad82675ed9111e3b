"""Auth and request validation: 401 (both kinds), 403, 422 (body, query, JSON), 400 language rule."""

from __future__ import annotations

from tests.emulator.conftest import MEMBER_KEY, Api

AGENTS = "/v1/convai/agents"
CREATE = "/v1/convai/agents/create"


def test_missing_key_is_401_needs_authorization(api: Api) -> None:
    response = api.get(AGENTS, key=None)
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert (detail["code"], detail["status"]) == ("unauthorized", "needs_authorization")


def test_unknown_key_is_401_invalid_api_key(api: Api) -> None:
    response = api.get(AGENTS, key="sk_wrong")
    assert response.status_code == 401
    assert response.json()["detail"]["status"] == "invalid_api_key"


def test_body_validation_runs_before_auth(api: Api) -> None:
    response = api.post(CREATE, key="sk_wrong", json={"name": "no config"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "conversation_config"]
    assert response.json()["detail"][0]["type"] == "missing"


def test_malformed_json_is_json_invalid(api: Api) -> None:
    response = api.post(CREATE, data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    item = response.json()["detail"][0]
    assert item["type"] == "json_invalid" and item["loc"][0] == "body"


def test_missing_required_body_is_422(api: Api) -> None:
    response = api.post(CREATE)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body"]


def test_non_object_body_is_422(api: Api) -> None:
    response = api.post(CREATE, json=[1, 2])
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "model_attributes_type"


def test_out_of_range_number_has_pydantic_type_and_ctx(api: Api) -> None:
    response = api.post(CREATE, json={"conversation_config": {"tts": {"stability": 1.5}}})
    item = response.json()["detail"][0]
    assert response.status_code == 422
    assert item["loc"] == ["body", "conversation_config", "tts", "stability"]
    assert (item["type"], item["ctx"], item["input"]) == ("less_than_equal", {"le": 1.0}, 1.5)


def test_enum_and_type_errors_are_named_like_pydantic(api: Api) -> None:
    response = api.post(
        CREATE,
        json={"conversation_config": {"turn": {"mode": "shouting"}, "asr": {"keywords": "not a list"}}},
    )
    types = {tuple(i["loc"]): i["type"] for i in response.json()["detail"]}
    assert types == {
        ("body", "conversation_config", "asr", "keywords"): "list_type",
        ("body", "conversation_config", "turn", "mode"): "enum",
    }


def test_patch_validates_the_merged_agent_with_loc(api: Api) -> None:
    agent_id = api.create_agent()
    response = api.patch(f"{AGENTS}/{agent_id}", json={"conversation_config": {"tts": {"speed": 2}}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "conversation_config", "tts", "speed"]


def test_patch_body_of_wrong_type_is_422(api: Api) -> None:
    agent_id = api.create_agent()
    response = api.patch(f"{AGENTS}/{agent_id}", json={"conversation_config": "text"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "conversation_config"]


def test_tools_with_tool_ids_is_rejected(api: Api) -> None:
    agent_id = api.create_agent()
    prompt = {"tools": [], "tool_ids": ["tool_1"]}
    response = api.patch(f"{AGENTS}/{agent_id}", json={"conversation_config": {"agent": {"prompt": prompt}}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "conversation_config", "agent", "prompt"]
    alone = api.patch(
        f"{AGENTS}/{agent_id}", json={"conversation_config": {"agent": {"prompt": {"tool_ids": ["t"]}}}}
    )
    assert alone.status_code == 200


def test_language_rule_on_create_is_400(api: Api) -> None:
    response = api.post(CREATE, json={"conversation_config": {"agent": {"language": "de"}}})
    assert response.status_code == 400
    assert response.json()["detail"]["message"] == "Non-english Agents must use turbo or flash v2_5"


def test_language_rule_on_patch_is_prefixed(api: Api) -> None:
    agent_id = api.create_agent()
    response = api.patch(
        f"{AGENTS}/{agent_id}", json={"conversation_config": {"tts": {"model_id": "eleven_flash_v2_5"}}}
    )
    assert response.status_code == 400
    assert (
        response.json()["detail"]["message"]
        == "Invalid conversation config: English Agents must use turbo or flash v2"
    )
    both = {"agent": {"language": "de"}, "tts": {"model_id": "eleven_flash_v2_5"}}
    assert api.patch(f"{AGENTS}/{agent_id}", json={"conversation_config": both}).status_code == 200


def test_query_page_size_out_of_range_is_422(api: Api) -> None:
    for value, type_ in (("0", "greater_than_equal"), ("101", "less_than_equal"), ("many", "int_parsing")):
        response = api.get(f"{AGENTS}?page_size={value}")
        assert response.status_code == 422
        item = response.json()["detail"][0]
        assert (item["loc"], item["type"]) == (["query", "page_size"], type_)


def test_query_enum_and_bool_are_validated(api: Api) -> None:
    assert api.get(f"{AGENTS}?sort_by=size").json()["detail"][0]["loc"] == ["query", "sort_by"]
    assert api.get(f"{AGENTS}?archived=maybe").json()["detail"][0]["type"] == "bool_parsing"


def test_tag_page_size_limit_is_100(api: Api) -> None:
    assert api.get("/v1/convai/tags?page_size=100").status_code == 200
    assert api.get("/v1/convai/tags?page_size=101").json()["detail"][0]["loc"] == ["query", "page_size"]


def test_member_cannot_edit_or_delete_anothers_tag(api: Api) -> None:
    tag = api.create_tag("Admin's")
    path = f"/v1/convai/tags/{tag['tag_id']}"
    for response in (api.patch(path, json={"title": "x"}, key=MEMBER_KEY), api.delete(path, key=MEMBER_KEY)):
        assert response.status_code == 403
        assert response.json()["detail"]["type"] == "authorization_error"
    assert api.get(path).json()["title"] == "Admin's"


def test_member_edits_own_tag_and_admin_edits_any(api: Api) -> None:
    tag = api.create_tag("Member's", key=MEMBER_KEY)
    path = f"/v1/convai/tags/{tag['tag_id']}"
    assert api.patch(path, json={"title": "Mine"}, key=MEMBER_KEY).json()["title"] == "Mine"
    assert api.patch(path, json={"title": "Admin"}).json()["title"] == "Admin"
    assert api.delete(path, key=MEMBER_KEY).status_code == 204


def test_unknown_route_and_method(api: Api) -> None:
    assert api.get("/v1/convai/nothing").status_code == 404
    assert api.call("PUT", AGENTS).status_code == 405
