"""Agent list: cursor pagination (stable under writes), filters, sorting, summaries."""

from __future__ import annotations

from typing import Any

from agentsync import spec
from tests.emulator.conftest import Api

AGENTS = "/v1/convai/agents"


def page(api: Api, query: str = "") -> dict[str, Any]:
    response = api.get(f"{AGENTS}?{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def all_ids(api: Api, query: str) -> list[str]:
    ids: list[str] = []
    body = page(api, query)
    while True:
        ids += [a["agent_id"] for a in body["agents"]]
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return ids
        body = page(api, f"{query}&cursor={body['next_cursor']}")


def make(api: Api, *names: str, **extra: Any) -> list[str]:
    return [api.create_agent({"name": n, "conversation_config": {}, **extra}) for n in names]


def test_default_page_size_is_30_and_newest_first(api: Api) -> None:
    ids = make(api, *[f"a{i}" for i in range(31)])
    body = page(api)
    assert len(body["agents"]) == 30 and body["has_more"] is True
    assert [a["agent_id"] for a in body["agents"]] == ids[::-1][:30]


def test_pages_walk_every_agent_once(api: Api) -> None:
    ids = make(api, *[f"a{i}" for i in range(7)])
    assert all_ids(api, "page_size=3") == ids[::-1]


def test_cursor_survives_creates_and_deletes_between_pages(api: Api) -> None:
    ids = make(api, *[f"a{i}" for i in range(6)])  # newest first: a5 a4 | a3 a2 | a1 a0
    first = page(api, "page_size=2")
    assert [a["agent_id"] for a in first["agents"]] == [ids[5], ids[4]]
    api.delete(f"{AGENTS}/{ids[4]}")  # the last agent seen
    api.delete(f"{AGENTS}/{ids[3]}")  # the next one
    make(api, "newer")  # lands before the cursor: not part of this walk
    rest = page(api, f"page_size=2&cursor={first['next_cursor']}")
    assert [a["agent_id"] for a in rest["agents"]] == [ids[2], ids[1]]


def test_unknown_cursor_is_422(api: Api) -> None:
    response = api.get(f"{AGENTS}?cursor=bogus")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_search_is_a_case_insensitive_substring(api: Api) -> None:
    ids = make(api, "Support Bot", "Sales", "After-SUPPORT")
    found = {a["agent_id"] for a in page(api, "search=support")["agents"]}
    assert found == {ids[0], ids[2]}


def test_tags_filter_matches_any_given_tag(api: Api) -> None:
    a = api.create_agent({"tags": ["x"], "conversation_config": {}})
    b = api.create_agent({"tags": ["y", "z"], "conversation_config": {}})
    api.create_agent({"tags": ["w"], "conversation_config": {}})
    assert {x["agent_id"] for x in page(api, "tags=x&tags=z")["agents"]} == {a, b}
    assert [x["agent_id"] for x in page(api, "tags=y")["agents"]] == [b]


def test_archived_agents_are_excluded_by_default_and_alone_with_true(api: Api) -> None:
    live, archived = make(api, "live", "old")
    api.patch(f"{AGENTS}/{archived}", json={"platform_settings": {"archived": True}})
    assert [a["agent_id"] for a in page(api)["agents"]] == [live]
    only = page(api, "archived=true")["agents"]
    assert [a["agent_id"] for a in only] == [archived] and only[0]["archived"] is True


def test_sort_by_name_both_directions_and_stable_paging(api: Api) -> None:
    make(api, "bravo", "Alpha", "charlie", "delta")
    assert [a["name"] for a in page(api, "sort_by=name&sort_direction=asc")["agents"]] == [
        "Alpha",
        "bravo",
        "charlie",
        "delta",
    ]
    assert [a["name"] for a in page(api, "sort_by=name")["agents"]] == ["delta", "charlie", "bravo", "Alpha"]
    walked = all_ids(api, "sort_by=name&sort_direction=asc&page_size=3")
    assert walked == [a["agent_id"] for a in page(api, "sort_by=name&sort_direction=asc")["agents"]]


def test_sort_by_created_at_and_call_count(api: Api) -> None:
    ids = make(api, "one", "two", "three")
    assert [a["agent_id"] for a in page(api, "sort_by=created_at&sort_direction=asc")["agents"]] == ids
    assert len(page(api, "sort_by=call_count_7d")["agents"]) == 3


def test_cursor_from_another_sort_is_rejected(api: Api) -> None:
    make(api, "a", "b")
    cursor = page(api, "page_size=1")["next_cursor"]
    assert api.get(f"{AGENTS}?page_size=1&sort_by=name&cursor={cursor}").status_code == 422


def test_created_by_me_filters_by_creator(api: Api) -> None:
    from tests.emulator.conftest import MEMBER_KEY

    mine = api.create_agent()
    theirs = api.create_agent(key=MEMBER_KEY)
    assert [a["agent_id"] for a in page(api, "created_by_user_id=@me")["agents"]] == [mine]
    assert [a["agent_id"] for a in page(api, "created_by_user_id=user_member")["agents"]] == [theirs]


def test_summaries_carry_exactly_the_summary_fields(api: Api) -> None:
    make(api, "one")
    summary = page(api)["agents"][0]
    assert set(summary) == set(spec.schema(spec.AGENT_SUMMARY)["properties"])
    assert summary["voice_id"] == "cjVigY5qzO86Huf0OWal"
