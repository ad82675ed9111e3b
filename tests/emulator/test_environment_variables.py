"""Conformance of the emulated environment-variable endpoints (there is no DELETE); the ``api`` fixture
validates every response against the packaged spec at the end of each test."""

from __future__ import annotations

from typing import Any

from agentsync.emulator import Emulator, Faults
from tests.emulator.conftest import Api

VARS = "/v1/convai/environment-variables"


def create(api: Api, label: str = "CRM_URL", type_: str = "string", **values: Any) -> dict[str, Any]:
    body = {"type": type_, "label": label, "values": values or {"production": "https://crm.example.com"}}
    response = api.post(VARS, json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def secret(api: Api, name: str = "crm") -> str:
    made = api.post("/v1/convai/secrets", json={"type": "new", "name": name, "value": "v"})
    return str(made.json()["secret_id"])


def test_create_and_get_return_the_same_variable(api: Api) -> None:
    made = create(api, production="https://crm.example.com", staging="https://staging.crm.example.com")
    got = api.get(f"{VARS}/{made['id']}").json()
    assert got == made and got["type"] == "string" and got["workspace_id"]
    assert got["values"] == {
        "production": "https://crm.example.com",
        "staging": "https://staging.crm.example.com",
    }


def test_a_duplicate_label_is_409_and_no_production_is_400(api: Api) -> None:
    create(api, label="CRM_URL")
    duplicate = api.post(VARS, json={"type": "string", "label": "CRM_URL", "values": {"production": "x"}})
    assert (
        duplicate.status_code == 409 and duplicate.json()["detail"]["code"] == "environment_variable_exists"
    )
    no_production = api.post(VARS, json={"type": "string", "label": "OTHER", "values": {"staging": "x"}})
    assert (
        no_production.status_code == 400 and no_production.json()["detail"]["code"] == "production_required"
    )
    assert [v["label"] for v in api.get(VARS).json()["environment_variables"]] == ["CRM_URL"]


def test_the_create_body_is_a_union_tagged_by_type(api: Api) -> None:
    untagged = api.post(VARS, json={"label": "X", "values": {"production": "x"}})
    assert untagged.status_code == 422 and untagged.json()["detail"][0]["type"] == "union_tag_not_found"
    unknown = api.post(VARS, json={"type": "number", "label": "X", "values": {"production": "x"}})
    assert unknown.json()["detail"][0]["type"] == "union_tag_invalid"
    wrong = api.post(VARS, json={"type": "secret", "label": "X", "values": {"production": "plain"}})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"][:3] == ["body", "secret", "values"]


def test_a_secret_value_names_an_existing_secret(api: Api) -> None:
    secret_id = secret(api)
    made = create(api, label="CRM_TOKEN", type_="secret", production={"secret_id": secret_id})
    assert made["values"] == {"production": {"secret_id": secret_id}}
    missing = api.post(
        VARS, json={"type": "secret", "label": "BAD", "values": {"production": {"secret_id": "secret_nope"}}}
    )
    assert missing.status_code == 404 and missing.json()["detail"]["code"] == "secret_not_found"


def test_patch_merges_per_environment_and_null_removes_one(api: Api) -> None:
    made = create(api, production="p", staging="s", dev="d")
    path = f"{VARS}/{made['id']}"
    patched = api.patch(path, json={"values": {"staging": "s2", "dev": None, "qa": "q"}}).json()
    # Omitted keys are kept; a given key replaces that environment; null removes it.
    assert patched["values"] == {"production": "p", "staging": "s2", "qa": "q"}
    assert api.get(path).json()["values"] == patched["values"]
    refused = api.patch(path, json={"values": {"production": None}})
    assert refused.status_code == 400 and refused.json()["detail"]["code"] == "production_required"


def test_the_type_cannot_change(api: Api) -> None:
    made = create(api, production="p")
    secret_id = secret(api)
    refused = api.patch(f"{VARS}/{made['id']}", json={"values": {"production": {"secret_id": secret_id}}})
    assert refused.status_code == 400 and refused.json()["detail"]["code"] == "type_mismatch"
    assert api.get(f"{VARS}/{made['id']}").json()["values"] == {"production": "p"}


def test_there_is_no_delete(api: Api) -> None:
    made = create(api)
    response = api.delete(f"{VARS}/{made['id']}")
    assert response.status_code == 405
    assert api.get(f"{VARS}/{made['id']}").status_code == 200


def test_list_filters_and_pages_by_has_more(api: Api) -> None:
    ids = [
        create(api, label=f"V{i}", production="p", **({"staging": "s"} if i % 2 else {}))["id"]
        for i in range(5)
    ]
    seen: list[str] = []
    params: dict[str, Any] = {"page_size": 2}
    while True:
        page = api.get(VARS, params=params).json()
        seen.extend(v["id"] for v in page["environment_variables"])
        if not page["has_more"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ids
    staged = api.get(VARS, params={"environment": "staging"}).json()["environment_variables"]
    assert [v["label"] for v in staged] == ["V1", "V3"] and all(
        v["values"] == {"staging": "s"} for v in staged
    )
    assert [v["id"] for v in api.get(VARS, params={"label": "V2"}).json()["environment_variables"]] == [
        ids[2]
    ]
    assert api.get(VARS, params={"type": "secret"}).json()["environment_variables"] == []


def test_the_faults_play_servers_that_treat_values_otherwise(api: Api, emulator: Emulator) -> None:
    made = create(api, production="p", staging="s")
    path = f"{VARS}/{made['id']}"
    emulator.set_faults(Faults(env_values_keep_nulls=True))
    assert api.patch(path, json={"values": {"staging": None}}).json()["values"] == {
        "production": "p",
        "staging": "s",
    }
    emulator.set_faults(Faults(env_values_replace=True))
    assert api.patch(path, json={"values": {"production": "p2"}}).json()["values"] == {"production": "p2"}
