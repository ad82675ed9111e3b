from __future__ import annotations

from agentsync import schema
from agentsync.errors import Location, Severity
from agentsync.kinds.agent import AGENT
from agentsync.kinds.tag import TAG
from agentsync.loader import Document


def _doc(value: object, locations: dict | None = None) -> Document:
    return Document("agents/x.yaml", value, locations or {(): Location("agents/x.yaml", 1, 1)})


def _messages(value: object) -> list[str]:
    return [p.message for p in schema.check(_doc(value), schema.validator(AGENT))]


def test_valid_agent_has_no_problems() -> None:
    assert (
        _messages(
            {
                "name": "A",
                "tags": ["x"],
                "conversation_config": {"agent": {"first_message": "Hi"}},
                "platform_settings": {"call_limits": {"daily_limit": 5}},
            }
        )
        == []
    )


def test_unknown_top_level_field_suggests_the_close_one() -> None:
    assert _messages({"nmae": "A"}) == ["unknown field 'nmae'; did you mean 'name'?"]


def test_unknown_field_without_a_close_match_has_no_suggestion() -> None:
    assert _messages({"zzzzzz": 1}) == ["unknown field 'zzzzzz'"]


def test_nullable_object_reports_the_inner_error_not_the_union() -> None:
    assert _messages({"platform_settings": {"call_limits": {"daily_limt": 1}}}) == [
        "unknown field 'daily_limt' in platform_settings.call_limits; did you mean 'daily_limit'?"
    ]


def test_union_of_kinds_says_what_was_expected() -> None:
    assert _messages({"name": ["a"]}) == ["name: expected a string or null, found a list"]


def test_read_only_paths_get_specific_messages() -> None:
    assert schema.read_only_message(("metadata",)) is not None
    assert (
        schema.read_only_message(
            ("workflow", "nodes", "n", "conversation_config", "agent", "prompt", "tools")
        )
        is not None
    )
    assert schema.read_only_message(("name",)) is None


def test_catalogue_warnings_only_for_unknown_values() -> None:
    doc = _doc(
        {
            "conversation_config": {
                "agent": {"prompt": {"llm": "gemini-2.5-flash"}},
                "asr": {"provider": "whisper"},
            },
            "platform_settings": {"evaluation": {"criteria": [{"llm": "gpt-99"}]}},
        }
    )
    warnings = schema.catalogue_warnings(doc)
    assert [w.severity for w in warnings] == [Severity.WARNING, Severity.WARNING]
    assert [w.message.split(":")[0] for w in warnings] == [
        "platform_settings.evaluation.criteria[0].llm",
        "conversation_config.asr.provider",
    ]


def test_tag_schema_limits_title_length() -> None:
    problems = schema.check(_doc([{"title": "x" * 121}]), schema.validator(TAG))
    assert [p.message for p in problems] == ["[0].title: must be at most 120 characters long, found 121"]
