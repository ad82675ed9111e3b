"""Agent tests: a test file per key under ``tests/``, matched by name (or by ``id:``).

A test is a union of three models told apart by ``type`` (``llm`` response tests, ``tool`` tool-call
tests, ``simulation`` tests); its update is a PUT that replaces the whole test, so an update sends
every declared field. A test is never deleted and re-created to change it: agents attach it by id.
Tests point at tools by id (``tool_call_parameters.referenced_tool.id``,
``tool_mock_config.mocked_tool_ids``), written as references to managed tools.
"""

from __future__ import annotations

from agentsync import spec
from agentsync.kinds.base import Api, Fields, Kind, Layout
from agentsync.kinds.identity import NaturalKey
from agentsync.responses import check_test, check_test_summary

# Every field of the three create models but the folder (folders are not managed), in the spec's order;
# written out so that no command reads the whole OpenAPI document before its first request.
# tests/test_kinds.py holds it to the spec.
WRITABLE: tuple[str, ...] = (
    "from_conversation_metadata",
    "dynamic_variables",
    "chat_history",
    "conversation_initiation_source",
    "environment",
    "type",
    "success_condition",
    "success_examples",
    "failure_examples",
    "name",
    "tool_call_parameters",
    "check_any_tool_matches",
    "success_conditions",
    "simulation_scenario",
    "simulation_max_turns",
    "simulation_environment",
    "tool_mock_config",
    "tool_mock_overrides",
    "evaluation_model",
    "simulated_user_model",
)

TEST = Kind(
    name="test",
    plural="tests",
    noun="agent test",
    level=15,
    api=Api(
        collection="/v1/convai/agent-testing",
        items_key="tests",
        id_field="id",
        item="/v1/convai/agent-testing/{id}",
        create="/v1/convai/agent-testing/create",
        check=check_test,
        check_item=check_test_summary,
        update_method="PUT",
        list_is_full=False,
    ),
    fields=Fields(
        writable=WRITABLE,
        create_body=spec.TEST_CREATE_BODIES["llm"],
        variants=tuple(spec.TEST_CREATE_BODIES.values()),
        response=spec.TEST_RESPONSES["tool"],
        verbatim=frozenset({("name",)}),
    ),
    layout=Layout(
        where="tests/",
        schema_file="test.schema.json",
        order=("name", "type"),
        keep=frozenset({"name", "type"}),
        id_paths=(
            (("tool_call_parameters", "referenced_tool", "id"), "tool"),
            (("tool_mock_config", "mocked_tool_ids", "*"), "tool"),
        ),
    ),
    identity=NaturalKey(path=("name",), noun="agent test"),
)
