"""Shape checks for what the API answers, before anything is built from it.

A read that decodes as JSON but has the wrong shape (a proxy's answer, a broken deploy, a truncated
rewrite) must stop the run with one sentence naming the URL, never reach the planner: a summary without
its ``tags`` would hide an owned agent's marker and plan a create; a non-object ``conversation_config``
would crash the diff. Only what agentsync reads is checked, so new fields never break it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentsync.errors import NetworkError

_KIND = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def _shape(value: Any) -> str:
    return _KIND.get(type(value), type(value).__name__)


def _wrong(url: str, what: str) -> NetworkError:
    return NetworkError(
        f"the answer from {url} is not what the API sends: {what}",
        url=url,
        hint="check that the base URL points at the ElevenLabs API, or try again",
    )


def _object(value: Any, url: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _wrong(url, f"{what} is {_shape(value)}, not an object")
    return value


def _field(
    body: Mapping[str, Any], key: str, kind: type | tuple[type, ...], url: str, what: str, *, required: bool
) -> None:
    if key not in body:
        if required:
            raise _wrong(url, f"{what} has no {key!r}")
        return
    if not isinstance(body[key], kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join(sorted({_KIND.get(k, k.__name__) for k in kinds}))
        raise _wrong(url, f"{what}'s {key!r} is {_shape(body[key])}, not {expected}")


def _string_list(body: Mapping[str, Any], key: str, url: str, what: str) -> None:
    _field(body, key, list, url, what, required=True)
    if not all(isinstance(item, str) for item in body[key]):
        raise _wrong(url, f"{what}'s {key!r} holds something other than strings")


def check_summary(item: Any, url: str) -> Mapping[str, Any]:
    """One item of the agent list: an object with a string ``agent_id`` and a ``tags`` list of strings."""
    summary = _object(item, url, "an item of 'agents'")
    _field(summary, "agent_id", str, url, "an agent summary", required=True)
    _string_list(summary, "tags", url, f"agent {summary['agent_id']}")
    return summary


def check_tag(item: Any, url: str) -> Mapping[str, Any]:
    """One conversation tag: an object with string ``tag_id`` and ``title``."""
    tag = _object(item, url, "a conversation tag")
    _field(tag, "tag_id", str, url, "a conversation tag", required=True)
    _field(tag, "title", str, url, f"tag {tag['tag_id']}", required=True)
    _field(tag, "description", (str, type(None)), url, f"tag {tag['tag_id']}", required=False)
    return tag


def check_agent(body: Any, url: str) -> Mapping[str, Any]:
    """A full agent: an object whose top-level fields agentsync diffs have the API's types."""
    agent = _object(body, url, "the agent")
    _field(agent, "agent_id", str, url, "the agent", required=True)
    _field(agent, "conversation_config", dict, url, "the agent", required=True)
    _field(agent, "name", (str, type(None)), url, "the agent", required=False)
    for key in ("platform_settings", "workflow"):
        _field(agent, key, (dict, type(None)), url, "the agent", required=False)
    if "tags" in agent:
        _string_list(agent, "tags", url, "the agent")
    return agent


def _named(item: Any, url: str, noun: str, config: str) -> Mapping[str, Any]:
    """An object with a string ``id`` and a ``config`` object that carries the resource's name."""
    found = _object(item, url, f"a {noun}" if noun[0] not in "aeiouM" else f"an {noun}")
    _field(found, "id", str, url, f"a {noun}", required=True)
    _field(found, config, dict, url, f"{noun} {found['id']}", required=True)
    _field(found[config], "name", str, url, f"{noun} {found['id']}'s {config}", required=True)
    return found


def check_tool(item: Any, url: str) -> Mapping[str, Any]:
    """One tool: a string ``id`` and a ``tool_config`` carrying its name."""
    return _named(item, url, "tool", "tool_config")


def check_mcp_server(item: Any, url: str) -> Mapping[str, Any]:
    """One MCP server: a string ``id``, a ``config`` carrying its name, and a list of dependent agents."""
    server = _named(item, url, "MCP server", "config")
    _field(server, "dependent_agents", list, url, f"MCP server {server['id']}", required=False)
    return server


def check_dependent(item: Any, url: str) -> Mapping[str, Any]:
    """One agent of a dependents list: an object, with a string ``id`` when the key may see it."""
    agent = _object(item, url, "a dependent agent")
    _field(agent, "id", str, url, "a dependent agent", required=False)
    return agent


def check_page(page: Any, url: str, items_key: str) -> Mapping[str, Any]:
    """A list answer that holds the whole list: an object whose ``items_key`` is a list."""
    body = _object(page, url, "the list")
    _field(body, items_key, list, url, "the list", required=True)
    return body


def check_secret(item: Any, url: str) -> Mapping[str, Any]:
    """One workspace secret: an object with string ``secret_id`` and ``name``, and ``used_by`` an object
    of lists when present (it says what a delete would break)."""
    secret = _object(item, url, "a workspace secret")
    _field(secret, "secret_id", str, url, "a workspace secret", required=True)
    _field(secret, "name", str, url, f"secret {secret['secret_id']}", required=True)
    _field(secret, "used_by", dict, url, f"secret {secret['secret_id']}", required=False)
    for key, value in dict(secret.get("used_by") or {}).items():
        if not isinstance(value, list | bool):
            raise _wrong(
                url, f"secret {secret['secret_id']}'s used_by {key!r} is {_shape(value)}, not a list"
            )
    return secret


def check_test_summary(item: Any, url: str) -> Mapping[str, Any]:
    """One item of the agent-testing list: an object with string ``id`` and ``name``."""
    summary = _object(item, url, "an item of 'tests'")
    _field(summary, "id", str, url, "an agent test summary", required=True)
    _field(summary, "name", str, url, f"agent test {summary['id']}", required=True)
    _field(summary, "type", str, url, f"agent test {summary['id']}", required=False)
    return summary


def check_test(body: Any, url: str) -> Mapping[str, Any]:
    """A full agent test: string ``id``, ``name`` and ``type``; the parts agentsync diffs are objects."""
    test = _object(body, url, "the agent test")
    _field(test, "id", str, url, "the agent test", required=True)
    _field(test, "name", str, url, f"agent test {test['id']}", required=True)
    _field(test, "type", str, url, f"agent test {test['id']}", required=False)
    for key in ("tool_call_parameters", "tool_mock_config"):
        _field(test, key, (dict, type(None)), url, f"agent test {test['id']}", required=False)
    return test


def check_environment_variable(item: Any, url: str) -> Mapping[str, Any]:
    """One environment variable: string ``id``, ``label`` and ``type``, and ``values`` an object."""
    variable = _object(item, url, "an environment variable")
    _field(variable, "id", str, url, "an environment variable", required=True)
    what = f"environment variable {variable['id']}"
    _field(variable, "label", str, url, what, required=True)
    _field(variable, "type", str, url, what, required=True)
    _field(variable, "values", dict, url, what, required=True)
    return variable


def check_phone_number(item: Any, url: str) -> Mapping[str, Any]:
    """One phone number: string ``phone_number_id`` and ``phone_number``, and ``assigned_agent`` an
    object with a string ``agent_id``, or null."""
    number = _object(item, url, "a phone number")
    _field(number, "phone_number_id", str, url, "a phone number", required=True)
    what = f"phone number {number['phone_number_id']}"
    _field(number, "phone_number", str, url, what, required=True)
    _field(number, "assigned_agent", (dict, type(None)), url, what, required=False)
    assigned = number.get("assigned_agent")
    if isinstance(assigned, Mapping):
        _field(assigned, "agent_id", str, url, f"{what}'s assigned_agent", required=True)
        for key in ("branch_id", "environment"):
            _field(assigned, key, (str, type(None)), url, f"{what}'s assigned_agent", required=False)
    return number
