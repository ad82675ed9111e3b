"""The official ElevenLabs Python SDK, pointed at the emulator, parses every response it gets."""

from __future__ import annotations

from collections.abc import Iterator

import elevenlabs
import httpx
import pytest
from elevenlabs import ToolRequestModel
from elevenlabs.conversational_ai.tests.types import TestsCreateRequestBody_Llm as NewLlmTest
from elevenlabs.conversational_ai.tests.types import TestsUpdateRequestBody_Llm as ChangedLlmTest
from elevenlabs.types import ToolRequestModelToolConfig_Client, ToolRequestModelToolConfig_Webhook

from agentsync.emulator import ADMIN_KEY, Emulator

pytestmark = pytest.mark.sdk


@pytest.fixture
def client(emulator: Emulator) -> Iterator[object]:
    # The SDK is a test dependency: a missing one fails the suite rather than skipping these tests.
    with httpx.Client(timeout=30) as http:
        yield elevenlabs.ElevenLabs(api_key=ADMIN_KEY, base_url=emulator.url, httpx_client=http)


def test_sdk_agent_lifecycle(client: object) -> None:
    agents = client.conversational_ai.agents  # type: ignore[attr-defined]
    created = agents.create(
        conversation_config={"agent": {"first_message": "Hi"}}, name="SDK agent", tags=["sdk"]
    )
    agent = agents.get(created.agent_id)
    assert agent.name == "SDK agent" and agent.conversation_config.agent.first_message == "Hi"
    updated = agents.update(created.agent_id, conversation_config={"tts": {"speed": 1.1}}, name="Renamed")
    assert updated.name == "Renamed" and updated.conversation_config.tts.speed == 1.1
    assert updated.version_id != agent.version_id
    page = agents.list(page_size=10, search="renamed", tags=["sdk"])
    assert [a.agent_id for a in page.agents] == [created.agent_id] and page.has_more is False
    copy_id = agents.duplicate(created.agent_id, name="Copy").agent_id
    assert agents.get(copy_id).name == "Copy"
    agents.delete(created.agent_id)
    with pytest.raises(elevenlabs.core.ApiError) as raised:
        agents.get(created.agent_id)
    assert raised.value.status_code == 404


def test_sdk_conversation_tags(client: object) -> None:
    tags = client.conversational_ai.conversations.tags  # type: ignore[attr-defined]
    tag = tags.create(title="Escalated", description="needs a human")
    assert tags.get(tag.tag_id).title == "Escalated"
    assert tags.update(tag.tag_id, title="Urgent").title == "Urgent"
    listed = tags.list(page_size=5)
    assert [t.tag_id for t in listed.conversation_tags] == [tag.tag_id]
    tags.assign("conv_sdk", tag_ids=[tag.tag_id])
    tags.unassign("conv_sdk", tag.tag_id)
    tags.delete(tag.tag_id)
    assert tags.list().conversation_tags == []


def test_sdk_sees_validation_errors_as_422(client: object) -> None:
    agents = client.conversational_ai.agents  # type: ignore[attr-defined]
    with pytest.raises(elevenlabs.core.ApiError) as raised:
        agents.create(conversation_config={"tts": {"stability": 3}})
    assert raised.value.status_code == 422


def test_sdk_tool_lifecycle(client: object) -> None:
    tools = client.conversational_ai.tools  # type: ignore[attr-defined]
    hook = ToolRequestModelToolConfig_Webhook(
        name="status_page",
        description="Reads the status page",
        api_schema={"url": "https://status.example.com/api", "method": "POST"},  # type: ignore[arg-type]
    )
    created = tools.create(request=ToolRequestModel(tool_config=hook))
    assert created.tool_config.type == "webhook" and created.tool_config.response_timeout_secs == 20
    assert tools.get(created.id).tool_config.api_schema.method == "POST"
    other = ToolRequestModelToolConfig_Client(name="open_ticket", description="Opens a ticket")
    updated = tools.update(created.id, request=ToolRequestModel(tool_config=other))
    assert updated.id == created.id and updated.tool_config.type == "client"
    listed = tools.list(page_size=5, search="open", types=["client"])
    assert [t.id for t in listed.tools] == [created.id] and listed.has_more is False
    agents = client.conversational_ai.agents  # type: ignore[attr-defined]
    agent_id = agents.create(conversation_config={"agent": {"prompt": {"tool_ids": [created.id]}}}).agent_id
    dependents = tools.get_dependent_agents(created.id)
    assert [a.id for a in dependents.agents] == [agent_id]
    with pytest.raises(elevenlabs.core.ApiError) as refused:
        tools.delete(created.id)
    assert refused.value.status_code == 409
    tools.delete(created.id, force=True)
    with pytest.raises(elevenlabs.core.ApiError) as raised:
        tools.get(created.id)
    assert raised.value.status_code == 404
    assert agents.get(agent_id).conversation_config.agent.prompt.tool_ids == []


def test_sdk_mcp_server_lifecycle(client: object) -> None:
    servers = client.conversational_ai.mcp_servers  # type: ignore[attr-defined]
    created = servers.create(config={"url": "https://mcp.example.com/sse", "name": "crm"})
    assert created.config.transport == "SSE"
    updated = servers.update(created.id, approval_policy="auto_approve_all")
    assert updated.config.approval_policy == "auto_approve_all"
    assert [s.id for s in servers.list().mcp_servers] == [created.id]
    agents = client.conversational_ai.agents  # type: ignore[attr-defined]
    prompt = {"mcp_server_ids": [created.id]}
    agent_id = agents.create(conversation_config={"agent": {"prompt": prompt}}).agent_id
    assert [a.id for a in servers.get(created.id).dependent_agents] == [agent_id]
    with pytest.raises(elevenlabs.core.ApiError) as refused:
        servers.delete(created.id)
    assert refused.value.status_code == 409
    agents.update(agent_id, conversation_config={"agent": {"prompt": {"mcp_server_ids": []}}})
    servers.delete(created.id)
    assert servers.list().mcp_servers == []
    with pytest.raises(elevenlabs.core.ApiError) as raised:
        servers.get(created.id)
    assert raised.value.status_code == 404


def test_sdk_sees_a_parameter_with_two_value_sources_as_422(client: object) -> None:
    tools = client.conversational_ai.tools  # type: ignore[attr-defined]
    parameter = {"type": "string", "description": "The order", "dynamic_variable": "order"}
    hook = ToolRequestModelToolConfig_Webhook(
        name="lookup_order",
        description="Finds an order",
        api_schema={"url": "https://shop.example/{order}", "path_params_schema": {"order": parameter}},  # type: ignore[arg-type]
    )
    with pytest.raises(elevenlabs.core.ApiError) as raised:
        tools.create(request=ToolRequestModel(tool_config=hook))
    assert raised.value.status_code == 422
    assert tools.list().tools == []


def test_sdk_secret_lifecycle(client: object) -> None:
    secrets = client.conversational_ai.secrets  # type: ignore[attr-defined]
    created = secrets.create(name="crm-token", value="sdk-value")
    assert created.name == "crm-token"
    assert secrets.get(created.secret_id).used_by.tools == []
    assert secrets.update(created.secret_id, name="crm", value="v2").name == "crm"
    listed = secrets.list(page_size=5)
    assert [s.secret_id for s in listed.secrets] == [created.secret_id] and listed.next_cursor is None
    tools = client.conversational_ai.tools  # type: ignore[attr-defined]
    hook = ToolRequestModelToolConfig_Webhook(
        name="lookup",
        description="Looks an order up",
        api_schema={  # type: ignore[arg-type]
            "url": "https://crm.example.com/orders",
            "request_headers": {"Authorization": {"secret_id": created.secret_id}},
        },
    )
    tool = tools.create(request=ToolRequestModel(tool_config=hook))
    assert [d.id for d in secrets.get_dependencies(created.secret_id, "tools").dependencies] == [tool.id]
    with pytest.raises(elevenlabs.core.ApiError) as refused:
        secrets.delete(created.secret_id)
    assert refused.value.status_code == 409
    tools.delete(tool.id)
    secrets.delete(created.secret_id)
    assert secrets.list().secrets == []


def test_sdk_environment_variable_lifecycle(client: object) -> None:
    from elevenlabs.environment_variables import EnvironmentVariablesCreateRequestBody_String

    env_vars = client.environment_variables  # type: ignore[attr-defined]
    body = EnvironmentVariablesCreateRequestBody_String(label="CRM_URL", values={"production": "https://p"})
    created = env_vars.create(request=body)
    assert env_vars.get(created.id).values == {"production": "https://p"}
    updated = env_vars.update(created.id, values={"staging": "https://s"})
    assert updated.values == {"production": "https://p", "staging": "https://s"}
    listed = env_vars.list(label="CRM_URL")
    assert [v.id for v in listed.environment_variables] == [created.id] and listed.has_more is False
    with pytest.raises(elevenlabs.core.ApiError) as duplicate:
        env_vars.create(request=body)
    assert duplicate.value.status_code == 409


def test_sdk_phone_number_routing(client: object, emulator: Emulator) -> None:
    number_id = emulator.add_phone_number("+15550123", "Support")["phone_number_id"]
    numbers = client.conversational_ai.phone_numbers  # type: ignore[attr-defined]
    agent_id = client.conversational_ai.agents.create(conversation_config={}).agent_id  # type: ignore[attr-defined]
    routed = numbers.update(number_id, agent_id=agent_id, environment="staging")
    assert routed.assigned_agent.agent_id == agent_id and routed.assigned_agent.environment == "staging"
    assert numbers.get(number_id).assigned_agent.environment == "staging"
    assert [n.phone_number_id for n in numbers.list()] == [number_id]


def test_sdk_agent_tests_and_runs(client: object) -> None:
    ai = client.conversational_ai  # type: ignore[attr-defined]
    agent = ai.agents.create(conversation_config={"agent": {"prompt": {"prompt": "Say hello first."}}})
    created = ai.tests.create(request=NewLlmTest(name="greets", success_condition='says "hello"'))
    assert ai.tests.get(created.id).name == "greets"
    updated = ai.tests.update(
        created.id, request=ChangedLlmTest(name="greets", success_condition='says "goodbye"')
    )
    assert updated.success_condition == 'says "goodbye"'
    assert [t.id for t in ai.tests.list(page_size=5).tests] == [created.id]
    invocation = ai.agents.run_tests(agent.agent_id, tests=[{"test_id": created.id}], repeat_count=1)
    assert [r.status for r in invocation.test_runs] == ["pending"]
    runs = ai.tests.invocations.get(invocation.id).test_runs
    assert [(r.status, r.condition_result.result) for r in runs] == [("failed", "failure")]
    listed = ai.tests.invocations.list(agent_id=agent.agent_id)
    assert [(r.id, r.failed_count) for r in listed.results] == [(invocation.id, 1)]
    ai.tests.delete(created.id)
