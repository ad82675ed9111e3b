"""Conversation tags and assignment to conversations."""

from __future__ import annotations

from typing import Any

from tests.emulator.conftest import MEMBER_KEY, Api

TAGS = "/v1/convai/tags"


def assigned(api: Api, conversation_id: str) -> set[str]:
    return api.emulator.store.conversation_tags(conversation_id)


def test_create_returns_the_tag_owned_by_the_caller(api: Api) -> None:
    tag = api.create_tag("Escalated", key=MEMBER_KEY, description="Needs a human")
    assert tag["owner_user_id"] == "user_member" and tag["workspace_id"] == "workspace_emulator"
    assert tag["description"] == "Needs a human" and tag["tag_id"]
    assert api.get(f"{TAGS}/{tag['tag_id']}").json() == tag


def test_title_and_description_limits(api: Api) -> None:
    too_long = api.post(TAGS, json={"title": "x" * 121})
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["type"] == "string_too_long"
    assert too_long.json()["detail"][0]["ctx"] == {"max_length": 120}
    assert api.post(TAGS, json={"title": ""}).json()["detail"][0]["type"] == "string_too_short"
    assert api.post(TAGS, json={"title": "ok", "description": "d" * 1001}).status_code == 422
    assert api.post(TAGS, json={"title": "x" * 120, "description": "d" * 1000}).status_code == 200
    assert api.post(TAGS, json={}).json()["detail"][0]["loc"] == ["body", "title"]


def test_list_is_newest_first_with_cursor_pages(api: Api) -> None:
    ids = [api.create_tag(f"t{i}")["tag_id"] for i in range(5)]
    first = api.get(f"{TAGS}?page_size=2").json()
    assert [t["tag_id"] for t in first["conversation_tags"]] == ids[::-1][:2] and first["has_more"]
    api.delete(f"{TAGS}/{ids[3]}")
    rest = api.get(f"{TAGS}?page_size=10&cursor={first['next_cursor']}").json()
    assert [t["tag_id"] for t in rest["conversation_tags"]] == [ids[2], ids[1], ids[0]]
    assert rest["has_more"] is False and rest["next_cursor"] is None
    assert api.get(f"{TAGS}?cursor=nonsense").status_code == 422


def test_patch_replaces_given_fields_only(api: Api) -> None:
    tag = api.create_tag("Old", description="keep")
    path = f"{TAGS}/{tag['tag_id']}"
    renamed: dict[str, Any] = api.patch(path, json={"title": "New"}).json()
    assert (renamed["title"], renamed["description"]) == ("New", "keep")
    cleared = api.patch(path, json={"title": None, "description": None}).json()
    assert (cleared["title"], cleared["description"]) == ("New", None)
    assert api.patch(path, json={"title": "x" * 121}).status_code == 422


def test_unknown_tag_is_404_everywhere(api: Api) -> None:
    path = f"{TAGS}/ctag_missing"
    for response in (api.get(path), api.patch(path, json={"title": "x"}), api.delete(path)):
        assert response.status_code == 404 and response.json()["detail"]["code"] == "tag_not_found"


def test_delete_is_204_then_404(api: Api) -> None:
    tag = api.create_tag("Gone")
    assert api.delete(f"{TAGS}/{tag['tag_id']}").status_code == 204
    assert api.delete(f"{TAGS}/{tag['tag_id']}").status_code == 404


def test_assign_and_unassign(api: Api) -> None:
    one, two = api.create_tag("one")["tag_id"], api.create_tag("two")["tag_id"]
    path = "/v1/convai/conversations/conv_1/tags"
    assert api.post(path, json={"tag_ids": [one, two]}).status_code == 204
    assert api.post(path, json={"tag_ids": [one]}).status_code == 204  # idempotent
    assert assigned(api, "conv_1") == {one, two}
    assert api.delete(f"{path}/{one}").status_code == 204
    assert api.delete(f"{path}/{one}").status_code == 204  # not assigned: a no-op
    assert assigned(api, "conv_1") == {two}


def test_assign_needs_existing_tags_and_a_valid_list(api: Api) -> None:
    real = api.create_tag("real")["tag_id"]
    path = "/v1/convai/conversations/conv_2/tags"
    missing = api.post(path, json={"tag_ids": [real, "ctag_nope"]})
    assert missing.status_code == 404 and assigned(api, "conv_2") == set()
    assert api.post(path, json={"tag_ids": []}).json()["detail"][0]["type"] == "too_short"
    assert api.post(path, json={"tag_ids": [real] * 51}).json()["detail"][0]["type"] == "too_long"
    assert api.delete(f"{path}/ctag_nope").status_code == 404


def test_deleting_a_tag_removes_it_from_conversations(api: Api) -> None:
    tag = api.create_tag("temp")["tag_id"]
    api.post("/v1/convai/conversations/conv_3/tags", json={"tag_ids": [tag]})
    api.delete(f"{TAGS}/{tag}")
    assert assigned(api, "conv_3") == set()
