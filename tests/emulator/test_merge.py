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
