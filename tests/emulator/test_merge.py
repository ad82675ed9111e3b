"""The pure PATCH merge rule and default filling, without HTTP."""

from __future__ import annotations

import copy
from typing import Any

from agentsync.emulator.defaults import defaults_for
from agentsync.emulator.merge import merge_patch

STORED: dict[str, Any] = {
    "name": "a",
    "tags": ["x", "y"],
    "conversation_config": {
        "tts": {"speed": 1.0, "stability": 0.5},
        "language_presets": {"de": {"overrides": {}}, "fr": {"overrides": {}}},
        "agent": {"dynamic_variables": {"dynamic_variable_placeholders": {"a": "1"}}},
    },
    "workflow": {"nodes": {"start_node": {"type": "start"}}, "edges": {}},
}


def test_objects_merge_and_scalars_replace() -> None:
    merged = merge_patch(STORED, {"conversation_config": {"tts": {"speed": 1.1}}})
    assert merged["conversation_config"]["tts"] == {"speed": 1.1, "stability": 0.5}


def test_lists_workflow_and_top_level_fields_replace() -> None:
    merged = merge_patch(STORED, {"tags": ["z"], "workflow": {"nodes": {"n": {"type": "end"}}}})
    assert merged["tags"] == ["z"] and merged["workflow"] == {"nodes": {"n": {"type": "end"}}}


def test_free_form_maps_replace_by_default_and_merge_on_request() -> None:
    patch: dict[str, Any] = {"conversation_config": {"language_presets": {"es": {"overrides": {}}}}}
    assert set(merge_patch(STORED, patch)["conversation_config"]["language_presets"]) == {"es"}
    merged = merge_patch(STORED, patch, map_merge=True)
    assert set(merged["conversation_config"]["language_presets"]) == {"de", "fr", "es"}


def test_nested_free_form_map_is_found_through_the_schema() -> None:
    patch = {
        "conversation_config": {"agent": {"dynamic_variables": {"dynamic_variable_placeholders": {"b": "2"}}}}
    }
    merged = merge_patch(STORED, patch)
    assert merged["conversation_config"]["agent"]["dynamic_variables"]["dynamic_variable_placeholders"] == {
        "b": "2"
    }


def test_null_replaces_and_inputs_are_not_modified() -> None:
    stored = copy.deepcopy(STORED)
    patch: dict[str, Any] = {"conversation_config": {"tts": {"speed": None}}}
    merged = merge_patch(stored, patch)
    assert merged["conversation_config"]["tts"]["speed"] is None
    assert stored == STORED and patch == {"conversation_config": {"tts": {"speed": None}}}
    merged["conversation_config"]["tts"]["stability"] = 0.0
    assert stored["conversation_config"]["tts"]["stability"] == 0.5


def test_defaults_for_fills_defaults_nulls_and_empty_collections() -> None:
    tts = defaults_for("TTSConversationalConfig-Input")
    assert tts["model_id"] == "eleven_flash_v2" and tts["speed"] == 1.0
    assert tts["pronunciation_dictionary_locators"] == []
    tag = defaults_for("PatchConversationTagRequestModel")
    assert tag == {"title": None, "description": None}
    # A required string with no default is left out, never invented; each call gets a fresh copy.
    first = defaults_for("CreateConversationTagRequestModel")
    assert "title" not in first
    first["title"] = "changed"
    assert "title" not in defaults_for("CreateConversationTagRequestModel")


# --- completing only what a PATCH brought ------------------------------------------------------------

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from ruamel.yaml import YAML  # noqa: E402

from agentsync.emulator.agents import base_agent, complete, response_shaped  # noqa: E402
from agentsync.emulator.merge import unchanged_part  # noqa: E402

EXAMPLE_AGENTS = sorted((Path(__file__).parents[2] / "examples" / "support-desk" / "agents").glob("*.yaml"))
PATCHES: list[dict[str, Any]] = [
    {"name": "renamed"},
    {"conversation_config": {"agent": {"first_message": "Hi"}}},
    {"conversation_config": {"tts": {"model_id": "eleven_flash_v2", "speed": 1.1}}},
    {
        "conversation_config": {
            "agent": {
                "prompt": {
                    "tools": [
                        {"type": "system", "name": "end_call", "params": {"system_tool_type": "end_call"}}
                    ]
                }
            }
        }
    },
    {
        "conversation_config": {
            "language_presets": {"de": {"overrides": {"agent": {"first_message": "Hallo"}}}}
        }
    },
    {"conversation_config": {"turn": {"turn_timeout": 9}, "vad": {}}},
    {
        "platform_settings": {
            "evaluation": {"criteria": [{"id": "c", "name": "C", "conversation_goal_prompt": "ok?"}]}
        }
    },
    {"platform_settings": {"data_collection": {"email": {"type": "string", "description": "e-mail"}}}},
    {"platform_settings": {"call_limits": {"daily_limit": 7}, "widget": {"variant": "compact"}}},
    {"platform_settings": {"auth": {"enable_auth": True}}},
    # objects under a union, moved to another branch: its defaults must be filled
    {"platform_settings": {"widget": {"avatar": {"type": "url"}}}},  # custom_url: its default
    {"platform_settings": {"guardrails": {"content": {"trigger_action": {"type": "retry"}}}}},
    {"conversation_config": {"agent": {"prompt": {"backup_llm_config": {"preference": "disabled"}}}}},
    {"workflow": {"nodes": {"start_node": {"type": "start"}}, "edges": {}}},
    {
        "tags": ["a", "b"],
        "conversation_config": {
            "agent": {"dynamic_variables": {"dynamic_variable_placeholders": {"x": "1"}}}
        },
    },
]


def stored_agent(path: Path) -> dict[str, Any]:
    reader = YAML(typ="safe")
    reader.constructor.add_constructor("!file", lambda loader, node: f"text of {node.value}")
    body = reader.load(path.read_text())
    body = {
        k: v
        for k, v in body.items()
        if k in ("name", "tags", "conversation_config", "platform_settings", "workflow")
    }
    return response_shaped(complete(merge_patch(base_agent(), body)), tuple(body))


@pytest.mark.parametrize("map_merge", [False, True], ids=["maps-replaced", "maps-merged"])
@pytest.mark.parametrize("path", EXAMPLE_AGENTS, ids=lambda p: p.stem)
def test_completing_only_what_the_patch_brought_gives_the_whole_completion(
    path: Path, map_merge: bool
) -> None:
    stored = stored_agent(path)
    for patch in PATCHES:
        whole = complete(merge_patch(stored, patch, map_merge=map_merge))
        private = copy.deepcopy(stored)  # as the PATCH handler has it: the store's copy for one request
        merged = merge_patch(private, patch, map_merge=map_merge, share=True)
        assert complete(merged, unchanged_part(private, patch, map_merge=map_merge)) == whole, patch
        assert merge_patch(stored, patch, map_merge=map_merge) == merged  # sharing changes no value


@pytest.mark.parametrize(
    "faults",
    [{}, {"map_merge": True}, {"not_kept_paths": ("conversation_config.agent.first_message", "name")}],
    ids=["plain", "maps-merged", "paths-not-kept"],
)
def test_a_patch_never_changes_the_body_it_replaces(faults: dict[str, Any]) -> None:
    """The PATCH handler builds the new body from the stored one without copying it first, so old and
    new share what the patch left alone; the old body (a listing may still be reading it) must stay
    exactly as it was."""
    from agentsync.client import Client
    from agentsync.emulator import ADMIN_KEY, Emulator, EmulatorConfig, Faults
    from agentsync.errors import ApiError

    config = EmulatorConfig(faults=Faults(**faults))
    with Emulator(config) as emulator, Client(emulator.url, ADMIN_KEY) as client:
        created = {"name": "Desk", "conversation_config": {"agent": {"first_message": "Hello"}}}
        agent_id = client.post("/v1/convai/agents/create", created)["agent_id"]
        written = 0
        for patch in PATCHES:
            before = emulator.store.stored_agent(agent_id)
            assert before is not None
            snapshot = copy.deepcopy(before)
            try:
                client.patch(f"/v1/convai/agents/{agent_id}", patch)
                written += 1
            except ApiError as exc:  # a patch the API refuses changes nothing either
                assert exc.status == 422, exc
            assert before == snapshot, patch
        assert written >= len(PATCHES) - 2
