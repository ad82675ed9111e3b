"""The emulator fuzzed from the packaged OpenAPI document with Schemathesis, over HTTP.

Every operation the emulator's route table serves is fuzzed (a route added to the table is fuzzed the
day it lands), with positive and negative data, then as a stateful workflow over the links Schemathesis
infers between operations (a created agent's id feeds GET, PATCH, duplicate and DELETE). The checks are
the response schema, the status code, the content type, server errors and positive/negative data.

What the spec cannot say is a named :class:`Rule` with its reason; each one excuses exactly the checks it
names, and only for the answers it recognises. Examples are bounded so the file finishes in seconds;
under CI (``CI`` set) the runs are derandomised like every other property test.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from agentsync import spec
from agentsync.emulator import ADMIN_KEY, Emulator
from agentsync.emulator.app import App
from agentsync.emulator.config import Faults
from agentsync.emulator.store import Store

CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
    unsupported_method,
]
MAX_EXAMPLES = 12
STATEFUL_EXAMPLES = 8
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


def served_operations() -> set[tuple[str, str]]:
    """(METHOD, path template) of every route in the emulator's route table."""
    app = App(Store(), [], "ws_fuzz", Faults)
    return {(route.method, route.template) for route in app.routes}


def _served(ctx: Any) -> bool:
    return (ctx.operation.method.upper(), ctx.operation.path) in served_operations()


# A copy: schemathesis annotates the document it is given (its inferred links), and the process's
# cached document is what the product and the other tests read.
SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(spec.document())).include(_served)


# -- rules: what the spec cannot say -----------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    reason: str
    applies: Callable[[Any, Any], bool]  # (case, response) -> the answer is the one this rule explains
    excuses: tuple[CheckFunction, ...]


def _detail(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, dict) else {}


def _unknown_id(case: Any, response: Any) -> bool:
    return response.status_code == 404 and str(_detail(response).get("code", "")).endswith("_not_found")


def _made_up_cursor(case: Any, response: Any) -> bool:
    items = response.json().get("detail") if response.status_code == 422 else None
    return isinstance(items, list) and any(item.get("loc") == ["query", "cursor"] for item in items)


def _language_rule(case: Any, response: Any) -> bool:
    return (
        response.status_code == 400 and _detail(response).get("param") == "conversation_config.tts.model_id"
    )


# 400s whose rule the spec states in prose only (its descriptions), or not at all.
PROSE_RULES = frozenset({"production_required", "type_mismatch", "no_agent_assigned"})


def _prose_rule(case: Any, response: Any) -> bool:
    return response.status_code == 400 and _detail(response).get("code") in PROSE_RULES


def _untagged_member(case: Any, response: Any) -> bool:
    items = response.json().get("detail") if response.status_code == 422 else None
    return isinstance(items, list) and any(item.get("type") == "union_tag_not_found" for item in items)


def _tools_beside_tool_ids(case: Any, response: Any) -> bool:
    items = response.json().get("detail") if response.status_code == 422 else None
    return isinstance(items, list) and any(
        item.get("loc", [])[-3:] == ["conversation_config", "agent", "prompt"]
        and item.get("msg") == "Value error, cannot specify both tools and tool_ids"
        for item in items
    )


def _value_sources(case: Any, response: Any) -> bool:
    items = response.json().get("detail") if response.status_code == 422 else None
    return isinstance(items, list) and any(
        item.get("type") == "value_error" and "dynamic_variable, is_system_provided" in str(item.get("msg"))
        for item in items
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "unknown id is a 404",
        "the spec documents only 200/204/422, but an id that names nothing is the API's 404 not_found",
        _unknown_id,
        (status_code_conformance, positive_data_acceptance),
    ),
    Rule(
        "cursors are opaque",
        "a cursor is any string to the spec, but only one the listing handed out is valid (422 otherwise)",
        _made_up_cursor,
        (positive_data_acceptance,),
    ),
    Rule(
        "language and TTS model agree",
        "English agents need turbo/flash v2 and the others v2_5: a 400 the spec does not document",
        _language_rule,
        (status_code_conformance, positive_data_acceptance),
    ),
    Rule(
        "rules the spec states in prose",
        "environment-variable values must hold 'production' (the description says so), keep their type, and "
        "a phone number's branch and environment need an assigned agent: 400s the schemas cannot express",
        _prose_rule,
        (status_code_conformance, positive_data_acceptance),
    ),
    Rule(
        "a union member names its tag",
        "the API reads a union with a discriminator (tool_config, post_dial_digits, a system tool's params)"
        " as a pydantic tagged union, which needs the tag in the body; the spec gives the tag a default and"
        " leaves it optional, and OpenAPI leaves an absent discriminator undefined: 422 union_tag_not_found",
        _untagged_member,
        (positive_data_acceptance,),
    ),
    Rule(
        "prompt.tools and tool_ids are exclusive",
        "the API refuses the deprecated prompt.tools beside tool_ids (its tools-deprecation page), a"
        " cross-field rule the schema cannot state; two empty lists are accepted, as the spec's example sends",
        _tools_beside_tool_ids,
        (positive_data_acceptance,),
    ),
    Rule(
        "a tool parameter has exactly one value source",
        "LiteralJsonSchemaProperty's description says only one of description, dynamic_variable,"
        " is_system_provided, constant_value and is_omitted may be set, and one must be: a cross-field rule"
        " the schema cannot state (422 value_error)",
        _value_sources,
        (positive_data_acceptance,),
    ),
)


def excused(case: Any, response: Any) -> list[CheckFunction]:
    return [check for rule in RULES if rule.applies(case, response) for check in rule.excuses]


def call_and_check(case: Any, base_url: str) -> Any:
    headers = {"xi-api-key": ADMIN_KEY}
    response = case.call(base_url=base_url, headers=headers)
    case.validate_response(response, checks=CHECKS, excluded_checks=excused(case, response), headers=headers)
    return response


# -- the tests -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def test_every_served_route_is_in_the_spec_and_fuzzed() -> None:
    fuzzed_ops = {(op.ok().method.upper(), op.ok().path) for op in SCHEMA.get_all_operations()}  # type: ignore[union-attr]
    assert fuzzed_ops == served_operations()


OPERATIONS = sorted(served_operations())


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation(method: str, path: str, fuzzed: Emulator) -> None:
    # Strategies are built here, not at collection: building all of them up front is slow.
    operation = SCHEMA[path][method]

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        call_and_check(case, fuzzed.url)

    run()


def test_stateful_links(fuzzed: Emulator) -> None:
    machine = SCHEMA.as_state_machine()
    assert machine.bundles, "no links between operations were inferred"

    class Workflow(machine):  # type: ignore[misc,valid-type]
        def call(self, case: Any, **kwargs: Any) -> Any:
            return call_and_check(case, fuzzed.url)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            """Already checked in :meth:`call`, with the rules applied."""

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            derandomize=bool(os.environ.get("CI")),
            suppress_health_check=list(HealthCheck),
        )
    )
