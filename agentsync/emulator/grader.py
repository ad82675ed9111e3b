"""The emulator's test grader: deterministic, so an outcome depends only on the test and the
configuration it ran against (the real API grades with an LLM).

- **tool** tests pass when the tested configuration can call ``tool_call_parameters.referenced_tool``:
  a tool id in any ``tool_ids`` / ``additional_tool_ids`` list or workflow tool node of
  ``conversation_config`` or ``workflow``, or, for a ``system`` tool, a non-null
  ``conversation_config.agent.prompt.built_in_tools.<id>``. With ``verify_absence`` they pass when it
  cannot. Without a referenced tool they pass when the configuration can call any tool.
- **llm** (response) tests pass when the tested prompt (``conversation_config.agent.prompt.prompt``)
  contains every phrase quoted with double quotes in ``success_condition``, ignoring case.
- **simulation** tests do the same with every entry of ``success_conditions`` (and the legacy
  ``success_condition``).
- A response or simulation test with no quoted phrase fails with the result ``unknown``: there is
  nothing the grader can check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from agentsync.emulator.dependents import tool_ids_of

CONFIG_PARTS = ("conversation_config", "platform_settings", "workflow")
QUOTED = re.compile(r'"([^"]+)"|\u201c([^\u201d]+)\u201d')


class Grade(NamedTuple):
    result: str  # EvaluationSuccessResult: success, failure, unknown
    summary: str
    messages: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.result == "success"


def tested_config(agent: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """The configuration a run tests: the stored agent's, each part the override gives replacing the
    stored part whole (the override is documented as layered on top of the stored version)."""
    config = {part: agent.get(part) for part in CONFIG_PARTS}
    for part in CONFIG_PARTS:
        if override is not None and override.get(part) is not None:
            config[part] = override[part]
    return config


def grade(test: Mapping[str, Any], config: Mapping[str, Any]) -> Grade:
    if test.get("type") == "tool":
        return _tool_grade(test, config)
    conditions = [test.get("success_condition")]
    if test.get("type") == "simulation":
        conditions += list(test.get("success_conditions") or [])
    return _phrase_grade([c for c in conditions if isinstance(c, str)], _prompt(config))


def _prompt(config: Mapping[str, Any]) -> str:
    node: Any = config.get("conversation_config") or {}
    for key in ("agent", "prompt", "prompt"):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, str) else ""


def phrases(conditions: list[str]) -> list[str]:
    """Every double-quoted phrase of the conditions, in order."""
    return [a or b for text in conditions for a, b in QUOTED.findall(text)]


def _phrase_grade(conditions: list[str], prompt: str) -> Grade:
    wanted = phrases(conditions)
    if not wanted:
        return Grade("unknown", "the success condition quotes no phrase the emulator's grader can check")
    missing = [p for p in wanted if p.casefold() not in prompt.casefold()]
    if missing:
        return Grade(
            "failure",
            f"the prompt does not contain {len(missing)} of {len(wanted)} required phrases",
            tuple(f"missing: {p!r}" for p in missing),
        )
    return Grade("success", f"the prompt contains all {len(wanted)} required phrases")


def callable_tools(config: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(tool ids, system tool names) the configuration can call."""
    tool_ids = tool_ids_of({part: config.get(part) for part in CONFIG_PARTS})
    prompt = ((config.get("conversation_config") or {}).get("agent") or {}).get("prompt") or {}
    built_in = prompt.get("built_in_tools") if isinstance(prompt, Mapping) else None
    system = (
        {k for k, v in (built_in or {}).items() if v is not None} if isinstance(built_in, Mapping) else set()
    )
    return tool_ids, system


def _tool_grade(test: Mapping[str, Any], config: Mapping[str, Any]) -> Grade:
    params = test.get("tool_call_parameters") or {}
    reference = params.get("referenced_tool")
    tool_ids, system = callable_tools(config)
    if not isinstance(reference, Mapping):
        can = bool(tool_ids or system)
        return Grade(
            "success" if can else "failure", "the agent can call a tool" if can else "the agent has no tool"
        )
    target = str(reference.get("id"))
    can = target in (system if reference.get("type") == "system" else tool_ids)
    absent = bool(params.get("verify_absence"))
    verb = "can" if can else "cannot"
    return Grade("success" if can != absent else "failure", f"the tested configuration {verb} call {target}")
