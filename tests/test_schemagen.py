from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

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


# --- What an editor sees: the written files, before placeholders are resolved -------------------------

EXAMPLE = SCHEMAS.parent / "examples" / "support-desk"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def editor_yaml() -> YAML:
    """YAML as yaml-language-server reads it with the `!file scalar` custom tag: the tag's value is text."""
    yaml = YAML(typ="safe")
    yaml.constructor.add_constructor("!file", lambda loader, node: loader.construct_scalar(node))
    return yaml


def example_files() -> list[Path]:
    skip = {".agentsync", "schemas"}
    return sorted(p for p in EXAMPLE.rglob("*.yaml") if not skip & set(p.relative_to(EXAMPLE).parts))


def schema_validator(path: Path) -> Draft202012Validator:
    """The validator of the schema a file's modeline names, as the editor resolves it."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.match(first)
    assert match, f"{path} has no modeline"
    target = (path.parent / match.group(1)).resolve()
    return Draft202012Validator(json.loads(target.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.relative_to(EXAMPLE).as_posix())
def test_every_example_file_validates_against_its_written_schema(path: Path) -> None:
    document = editor_yaml().load(path.read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in schema_validator(path).iter_errors(document)]
    assert errors == []


def test_the_example_uses_a_placeholder_where_a_number_goes() -> None:
    # The case this is about: without it the test above would prove nothing about placeholders.
    text = (EXAMPLE / "agents" / "receptionist.yaml").read_text(encoding="utf-8")
    assert "daily_limit: ${var.DAILY_LIMIT}" in text


def limits(value: object) -> dict[str, object]:
    return {"platform_settings": {"call_limits": {"daily_limit": value}}}


def written_agent_validator() -> Draft202012Validator:
    schema = json.loads((SCHEMAS / "agent.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("value", [500, "${var.DAILY_LIMIT}", "${env.LIMIT}", "${env.LIMIT:-50}"])
def test_a_number_field_takes_a_number_or_a_whole_placeholder(value: object) -> None:
    assert list(written_agent_validator().iter_errors(limits(value))) == []


@pytest.mark.parametrize(
    "value",
    ["fifty", "${agent.billing.id}", "${var.A} ${var.B}", "limit ${var.DAILY_LIMIT}", "${var.}", True, 1.5],
)
def test_a_number_field_still_refuses_a_wrong_literal(value: object) -> None:
    assert list(written_agent_validator().iter_errors(limits(value))) != []


def test_a_boolean_field_takes_a_placeholder_and_refuses_text() -> None:
    validator = written_agent_validator()
    disabled = {"conversation_config": {"conversation": {"text_only": "${var.TEXT_ONLY}"}}}
    assert list(validator.iter_errors(disabled)) == []
    disabled["conversation_config"]["conversation"]["text_only"] = "yes"
    assert list(validator.iter_errors(disabled)) != []


def test_the_validator_still_wants_resolved_types() -> None:
    # agentsync validate checks values after the loader resolved them: a string left there is literal.
    validator = Draft202012Validator(schemagen.agent_schema())
    assert list(validator.iter_errors(limits("${var.DAILY_LIMIT}"))) != []
    assert list(validator.iter_errors(limits(500))) == []
