"""The packaged ElevenLabs OpenAPI document and the few ways the rest of the code looks into it.

The document (``agentsync/data/openapi.json``) is the trimmed official spec: the ground truth for every
schema, default and enum. The emulator validates and fills defaults from it, the schema generator builds
the editor schemas from it, and the diff derives its patch strategy from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

REF_PREFIX = "#/components/schemas/"

# The request and response models of the managed kinds.
AGENT_CREATE_BODY = "Body_Create_Agent_v1_convai_agents_create_post"
AGENT_PATCH_BODY = "Body_Patches_an_Agent_settings_v1_convai_agents__agent_id__patch"
AGENT_RESPONSE = "GetAgentResponseModel"
AGENT_SUMMARY = "AgentSummaryResponseModel"
AGENTS_PAGE = "GetAgentsPageResponseModel"
CONVERSATION_CONFIG_INPUT = "ConversationalConfigAPIModel-Input"
PLATFORM_SETTINGS_INPUT = "AgentPlatformSettingsRequestModel"
WORKFLOW_INPUT = "AgentWorkflowRequestModel"
TAG_RESPONSE = "ConversationTagResponseModel"
TAG_CREATE_BODY = "CreateConversationTagRequestModel"
TAG_PATCH_BODY = "PatchConversationTagRequestModel"
TAGS_PAGE = "GetConversationTagsPageResponseModel"
TOOL_CREATE_BODY = "ToolRequestModel"
TOOL_UPDATE_BODY = "ToolRequestModel"  # PATCH takes the whole model again: tool_config is replaced
TOOL_RESPONSE = "ToolResponseModel"
TOOLS_PAGE = "ToolsResponseModel"
TOOL_DEPENDENTS_PAGE = "GetToolDependentAgentsResponseModel"
MCP_SERVER_CREATE_BODY = "MCPServerRequestModel"
MCP_SERVER_UPDATE_BODY = "MCPServerConfigUpdateRequestModel"
MCP_SERVER_RESPONSE = "MCPServerResponseModel"
MCP_SERVERS_LIST = "MCPServersResponseModel"  # unpaginated: the whole list in one answer
SECRET_CREATE_BODY = "PostWorkspaceSecretRequest"
SECRET_PATCH_BODY = "PatchWorkspaceSecretRequest"  # name and value, every time
SECRET_RESPONSE = "ConvAIWorkspaceStoredSecretConfig"
SECRETS_PAGE = "GetWorkspaceSecretsResponseModel"  # next_cursor only, no has_more
SECRET_DEPENDENCIES_PAGE = "GetSecretDependenciesResponseModel"
# The create body is an inline union in the path, tagged by ``type``; these are its variants.
ENV_VAR_CREATE_BODIES = {
    "string": "CreateStringEnvironmentVariableRequest",
    "secret": "CreateSecretEnvironmentVariableRequest",
    "auth_connection": "CreateAuthConnectionEnvironmentVariableRequest",
}
ENV_VAR_CREATE_BODY = "CreateEnvironmentVariableRequest"  # not a component: the union above
ENV_VAR_PATCH_BODY = "UpdateEnvironmentVariableRequest"
ENV_VAR_RESPONSE = "EnvironmentVariableResponse"
ENV_VARS_PAGE = "EnvironmentVariablesListResponse"
PHONE_NUMBER_PATCH_BODY = "UpdatePhoneNumberRequest"
PHONE_NUMBER_RESPONSES = {
    "twilio": "GetPhoneNumberTwilioResponseModel",
    "exotel": "GetPhoneNumberExotelResponseModel",
    "sip_trunk": "GetPhoneNumberSIPTrunkResponseModel",
}
# Agent tests are a union tagged by ``type``: one create, update and response model per test type.
TEST_TYPES = ("llm", "tool", "simulation")
TEST_CREATE_BODIES = {
    "llm": "CreateResponseUnitTestRequest",
    "tool": "CreateToolCallUnitTestRequest",
    "simulation": "CreateSimulationTestRequest",
}
TEST_UPDATE_BODIES = {
    "llm": "UpdateResponseUnitTestRequest",
    "tool": "UpdateToolCallUnitTestRequest",
    "simulation": "UpdateSimulationTestRequest",
}
TEST_RESPONSES = {
    "llm": "GetResponseUnitTestResponseModel",
    "tool": "GetToolCallUnitTestResponseModel",
    "simulation": "GetSimulationTestResponseModel",
}
TESTS_PAGE = "GetTestsPageResponseModel"
RUN_TESTS_BODY = "RunAgentTestsRequestModel"
RESUBMIT_TESTS_BODY = "ResubmitTestsRequestModel"
TEST_CONFIG_OVERRIDE = "AdhocAgentConfigOverrideForTestRequestModel"


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The whole OpenAPI document, parsed once per process. Treat it as read-only.

    Read from beside this module, as an installed package has it: importlib.resources alone costs
    about 10 ms of every command's start-up, before the first request; it is the way only when the
    package is not a plain folder (a zip).
    """
    installed = Path(__file__).parent / "data" / "openapi.json"
    if installed.is_file():
        text = installed.read_text(encoding="utf-8")
    else:
        from importlib import resources

        text = resources.files("agentsync").joinpath("data/openapi.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def schemas() -> dict[str, Any]:
    components: dict[str, Any] = document()["components"]["schemas"]
    return components


def schema(name: str) -> dict[str, Any]:
    """The component schema called ``name`` (KeyError if the document has none)."""
    found: dict[str, Any] = schemas()[name]
    return found


def ref_name(ref: str) -> str:
    if not ref.startswith(REF_PREFIX):
        raise ValueError(f"not a component reference: {ref}")
    return ref[len(REF_PREFIX) :]


def deref(node: Mapping[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` links until a schema with content of its own is reached."""
    seen = 0
    current: Mapping[str, Any] = node
    while "$ref" in current:
        current = schema(ref_name(current["$ref"]))
        seen += 1
        if seen > 64:
            raise ValueError("reference cycle in the OpenAPI document")
    return dict(current)


class Unwrapped(NamedTuple):
    """A schema node with references followed and a ``null`` alternative taken off."""

    node: dict[str, Any]
    nullable: bool


def _is_null(node: Mapping[str, Any]) -> bool:
    return node.get("type") == "null"


def unwrap(node: Mapping[str, Any]) -> Unwrapped:
    """Reduce ``$ref`` / ``anyOf: [X, null]`` wrappers to the schema that describes the value.

    A ``$ref`` beside an ``anyOf`` (as the PATCH body has for ``conversation_config``) is the stronger,
    typed description, so it wins. A union of several non-null alternatives is returned as it is.
    """
    nullable = False
    current: Mapping[str, Any] = node
    for _ in range(64):
        branches = current.get("anyOf") or current.get("oneOf")
        if branches is not None:
            nullable = nullable or any(_is_null(b) for b in branches)
        if "$ref" in current:
            current = schema(ref_name(current["$ref"]))
            continue
        if branches is not None:
            real = [b for b in branches if not _is_null(b)]
            if len(real) == 1:
                current = real[0]
                continue
        if current.get("type") == ["null"]:
            nullable = True
        return Unwrapped(dict(current), nullable)
    raise ValueError("schema nesting too deep in the OpenAPI document")


def is_free_form_map(node: Mapping[str, Any]) -> bool:
    """True for an object whose keys are data (``additionalProperties`` and no declared properties)."""
    return (
        node.get("type") == "object"
        and not node.get("properties")
        and node.get("additionalProperties") not in (None, False)
    )


def is_typed_object(node: Mapping[str, Any]) -> bool:
    return bool(node.get("properties"))


def operation(method: str, path: str) -> dict[str, Any]:
    """The operation object of ``METHOD path`` as the document writes the path."""
    found: dict[str, Any] = document()["paths"][path][method.lower()]
    return found


def child(node: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    """The schema of ``key`` inside an object described by ``node``; None when the schema cannot tell.

    Declared properties first, then the value schema of a free-form map, then the property of any
    variant of a union of objects.
    """
    if node is None:
        return None
    target = unwrap(node).node
    props = target.get("properties") or {}
    if key in props:
        found: Mapping[str, Any] = props[key]
        return found
    extra = target.get("additionalProperties")
    if isinstance(extra, dict) and not props:
        return extra
    for variant in target.get("oneOf") or target.get("anyOf") or ():
        inner = unwrap(variant).node.get("properties") or {}
        if key in inner:
            return dict(inner[key])
    return None


def schema_at(root: str, path: tuple[str | int, ...]) -> Mapping[str, Any] | None:
    """The schema of the value at ``path`` inside a value of the component ``root``, or None."""
    node: Mapping[str, Any] | None = schema(root)
    for part in path:
        if node is None:
            return None
        if isinstance(part, int):
            items = unwrap(node).node.get("items")
            node = items if isinstance(items, dict) else None
        else:
            node = child(node, part)
    return node
