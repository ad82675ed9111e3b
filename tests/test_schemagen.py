from __future__ import annotations

from pathlib import Path

from jsonschema import Draft202012Validator

from agentsync import schemagen

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def test_committed_schemas_match_a_fresh_generation() -> None:
    for name, text in schemagen.generate().items():
        committed = (SCHEMAS / name).read_text(encoding="utf-8")
        assert committed == text, f"schemas/{name} is stale: run python -m agentsync.schemagen"


def test_generated_schemas_are_valid_json_schema() -> None:
    for schema in (schemagen.agent_schema(), schemagen.tags_schema(), schemagen.project_schema()):
        Draft202012Validator.check_schema(schema)


def test_agent_schema_is_closed_writable_and_self_contained() -> None:
    schema = schemagen.agent_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "name",
        "tags",
        "conversation_config",
        "platform_settings",
        "workflow",
        "id",
        "renamed_from",
    }
    assert "required" not in schema
    assert "#/components/" not in schemagen.render(schema)
    assert "tools" not in schema["$defs"]["PromptAgentAPIModel-Input"]["properties"]
    assert "hold_audio" not in schema["$defs"]["AgentQueueingConfig"]["properties"]
    assert schema["$defs"]["ASRConversationalConfig"]["additionalProperties"] is False


def test_catalogues_are_open_but_keep_known_values() -> None:
    validator = Draft202012Validator(schemagen.agent_schema())
    llm = schemagen.agent_schema()["$defs"]["LLM"]
    assert "gemini-2.5-flash" in llm["anyOf"][0]["enum"]
    open_values = {
        "conversation_config": {
            "agent": {"prompt": {"llm": "model-from-next-month"}},
            "tts": {"model_id": "eleven_v9"},
        },
        "workflow": {"nodes": {"n": {"type": "teleport"}}},
    }
    assert list(validator.iter_errors(open_values)) == []


def test_known_node_types_are_still_checked() -> None:
    validator = Draft202012Validator(schemagen.agent_schema())
    errors = list(validator.iter_errors({"workflow": {"nodes": {"s": {"type": "start", "oops": 1}}}}))
    assert len(errors) == 1


def test_write_creates_every_schema_file(tmp_path: Path) -> None:
    written = schemagen.write(tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(schemagen.SCHEMA_FILES)
