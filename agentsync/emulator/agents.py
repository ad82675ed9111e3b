"""The agent endpoints: create, list, get, patch, delete, duplicate.

Decisions where the reference is silent:
- an agent created without a name is called ``New agent``; a duplicate without a name is
  ``<name> (copy)``;
- ``name: null``, ``tags: null``, ``conversation_config: null`` and ``platform_settings: null`` in a
  PATCH leave the stored value unchanged (the response requires them), while ``null`` for a nullable
  field inside the config is stored as null;
- ``prompt.tools`` beside ``prompt.tool_ids`` is a 422 unless both are empty lists (see
  :func:`check_tools`);
- every answer comes from a stored agent that validates against the response model: defaults are the
  spec's or the reference's live ones (``agentsync.defaults``), and a PATCH checks the merged result;
  input-only keys (a tool parameter's ``property_kind``) are not stored;
- a member of a discriminated union without its tag is a 422 ``union_tag_not_found``
  (:mod:`agentsync.emulator.unions`), checked before defaults are filled, which would guess the tag;
- ``access_info`` says the caller created the agent (creator fields from the creating key's user id);
- fields the packaged spec declares but live captures do not show (:data:`NOT_CAPTURED`) are not
  filled on create, so a new agent has exactly the captured key set; a client may still set them.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from agentsync import spec
from agentsync.emulator import defaults, ids
from agentsync.emulator.agent_list import agent_summaries, list_agents, sort_by_of, sort_key
from agentsync.emulator.config import ApiKey, Faults
from agentsync.emulator.merge import merge_patch, unchanged_part
from agentsync.emulator.problems import bad_config, not_found, validation_problem
from agentsync.emulator.prompt_tools import echo_prompt_tools
from agentsync.emulator.routing import Request, Response, json_response, no_content, raw_json_response
from agentsync.emulator.store import Store
from agentsync.emulator.unions import untagged_members
from agentsync.emulator.validation import errors_for, strip_touched, strip_unknown

DEFAULT_NAME = "New agent"
NOT_CAPTURED: tuple[tuple[str, ...], ...] = (
    ("procedures",),
    ("default_hold_audio_url",),
    ("platform_settings", "queueing_config"),
    ("conversation_config", "tts", "audio_effects"),
    ("conversation_config", "conversation", "dtmf_input_settings"),
    ("conversation_config", "agent", "prompt", "rag", "knowledge_base_tool_info"),
    ("platform_settings", "overrides", "conversation_config_override", "tts", "supported_voices"),
)
# The fields a client writes; everything else in the stored agent is the server's.
WRITABLE = ("name", "tags", "conversation_config", "platform_settings", "workflow")
ENGLISH_MODELS = frozenset({"eleven_turbo_v2", "eleven_flash_v2", "eleven_v3_conversational"})
OTHER_MODELS = frozenset({"eleven_turbo_v2_5", "eleven_flash_v2_5", "eleven_v3_conversational"})


class AgentApi:
    def __init__(self, store: Store, faults: Callable[[], Faults]) -> None:
        self.store = store
        self.faults = faults

    # -- handlers ----------------------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        body = strip_unknown(request.body, spec.schema(spec.AGENT_CREATE_BODY))
        agent_id = self._create(body, request.caller)
        return json_response({"agent_id": agent_id}, wrote=True)

    def get(self, request: Request) -> Response:
        found = self.store.agent_view(request.params["agent_id"], self._view)
        if found is None:
            raise not_found("agent", request.params["agent_id"])
        return raw_json_response(found)

    def list(self, request: Request) -> Response:
        sort_by = sort_by_of(request.query)
        order = self.store.agent_order(sort_by, lambda record: sort_key(record, sort_by))
        return json_response(list_agents(order, request.query, request.caller))

    def summaries(self, request: Request) -> Response:
        return json_response(agent_summaries(self.store.agent_records(), request.query["agent_ids"]))

    def patch(self, request: Request) -> Response:
        agent_id = request.params["agent_id"]
        with self.store.lock:
            # The stored body itself, read only: the merge, the completion and the shaping build new
            # objects and share the subtrees the patch leaves alone (copying the whole agent for every
            # PATCH was over 40% of the emulator's CPU under apply). Old and new body share them, and
            # stored bodies are never changed in place.
            stored = self.store.stored_agent(agent_id)
            if stored is None:
                raise not_found("agent", agent_id)
            updated = self._patched(stored, request.body or {})
            self.store.put_agent(updated, request.caller.user_id, handed_over=True)
            return raw_json_response(self.store.agent_view(agent_id, self._view) or b"", wrote=True)

    def delete(self, request: Request) -> Response:
        if not self.store.delete_agent(request.params["agent_id"]):
            raise not_found("agent", request.params["agent_id"])
        return no_content()

    def duplicate(self, request: Request) -> Response:
        source = self._existing(request.params["agent_id"])
        body = {key: source[key] for key in WRITABLE if key in source}
        name = (request.body or {}).get("name")
        body["name"] = name if name is not None else f"{source.get('name') or DEFAULT_NAME} (copy)"
        return json_response({"agent_id": self._store_new(body, request.caller)}, wrote=True)

    # -- steps -------------------------------------------------------------------------------------

    def _view(self, agent: dict[str, Any]) -> dict[str, Any]:
        return echo_prompt_tools(self.store, agent)

    def _existing(self, agent_id: str) -> dict[str, Any]:
        found = self.store.get_agent(agent_id)
        if found is None:
            raise not_found("agent", agent_id)
        return found

    def _create(self, body: dict[str, Any], caller: ApiKey) -> str:
        check_tools(body, ["body"])
        base = base_agent()
        check_tags(body, WRITABLE)
        merged = response_shaped(complete(merge_patch(base, _non_null(body))), WRITABLE)
        merged["name"] = merged.get("name") or DEFAULT_NAME
        check_agent(merged)
        return self._store_new(merged, caller)

    def _store_new(self, body: dict[str, Any], caller: ApiKey) -> str:
        agent = base_agent()
        agent.update(copy.deepcopy(body))
        now = int(time.time())
        branch = ids.branch_id()
        agent.update(
            agent_id=ids.agent_id(),
            version_id=ids.version_id(),
            branch_id=branch,
            main_branch_id=branch,
            metadata={"created_at_unix_secs": now, "updated_at_unix_secs": now},
            access_info=access_info(caller),
        )
        self.store.put_agent(agent, caller.user_id)
        return str(agent["agent_id"])

    def _patched(self, stored: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        patch = strip_unknown(_non_null_top(body), spec.schema(spec.AGENT_PATCH_BODY))
        patch.pop("version_description", None)
        check_tools(patch, ["body"])
        faults = self.faults()
        # ``stored`` is never changed: the merge shares its untouched subtrees and copies nothing else.
        merged = merge_patch(stored, patch, map_merge=faults.map_merge, share=True)
        check_tags(merged, tuple(patch), touched=patch)
        kept = unchanged_part(stored, patch, map_merge=faults.map_merge)
        merged = response_shaped(complete(merged, kept), tuple(patch), touched=patch)
        check_agent(merged, prefix="Invalid conversation config: ", touched=patch)
        _restore_paths(merged, stored, faults.not_kept_paths)
        merged["version_id"] = ids.version_id()
        merged["metadata"] = {**stored["metadata"], "updated_at_unix_secs": int(time.time())}
        return merged


def base_agent() -> dict[str, Any]:
    """The complete default agent, without the fields live captures do not show."""
    agent = defaults.agent_defaults()
    _drop_paths(agent, NOT_CAPTURED)
    return agent


def complete(agent: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    """``agent`` with every missing server default filled in, as the server's model would fill it;
    the not-captured fields are added only when the client set them. ``before`` is what of ``agent``
    is known complete already (:func:`~agentsync.emulator.merge.unchanged_part`): it is not walked for
    defaults again."""
    absent = [path for path in NOT_CAPTURED if not _has_path(agent, path)]
    filled = defaults.fill_new(agent, before, spec.schema(spec.AGENT_RESPONSE))
    _drop_paths(filled, absent)
    return dict(filled)


def response_shaped(
    agent: dict[str, Any], keys: tuple[str, ...], *, touched: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``agent`` with the written fields among ``keys`` cut to what the response model declares: input-only
    keys (a tool parameter's ``property_kind``) are read, never stored or answered. With ``touched`` (a
    PATCH body, ``agent`` the stored agent it changed) only what the body reached is cut again."""
    props = spec.schema(spec.AGENT_RESPONSE)["properties"]
    for key in keys:
        if key in WRITABLE and key in agent:
            if touched is not None and key in touched:
                agent[key] = strip_touched(agent[key], props[key], touched[key])
            else:
                agent[key] = strip_unknown(agent[key], props[key])
    return agent


def _has_path(doc: dict[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _drop_paths(doc: dict[str, Any], paths: list[tuple[str, ...]] | tuple[tuple[str, ...], ...]) -> None:
    for path in paths:
        parent: Any = doc
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)


def access_info(caller: ApiKey) -> dict[str, Any]:
    return {
        "is_creator": True,
        "creator_name": caller.user_id,
        "creator_email": f"{caller.user_id}@emulator.invalid",
        "role": "admin",
        "anonymous_access_level_override": None,
        "access_source": "creator",
    }


def _non_null(body: dict[str, Any]) -> dict[str, Any]:
    """Create: an explicit null for an optional top-level field means "use the default"."""
    return {k: v for k, v in body.items() if v is not None}


def _non_null_top(body: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in body.items()
        if v is not None
        or k not in ("name", "tags", "conversation_config", "platform_settings", "procedures")
    }


def check_tools(body: dict[str, Any], loc: list[str | int]) -> None:
    """The deprecated ``prompt.tools`` may not be sent beside ``prompt.tool_ids``, unless both are empty
    lists: the spec's own create example sends ``"tools": [], "tool_ids": []``, which says nothing twice."""
    prompt = ((body.get("conversation_config") or {}).get("agent") or {}).get("prompt")
    if not isinstance(prompt, dict):
        return
    tools, tool_ids = prompt.get("tools"), prompt.get("tool_ids")
    if tools is not None and tool_ids is not None and (tools or tool_ids):
        where = [*loc, "conversation_config", "agent", "prompt"]
        raise validation_problem(
            [
                {
                    "loc": where,
                    "msg": "Value error, cannot specify both tools and tool_ids",
                    "type": "value_error",
                    "input": {"tools": prompt["tools"]},
                    "ctx": {"error": "cannot specify both tools and tool_ids"},
                }
            ]
        )


def check_tags(
    agent: dict[str, Any], keys: tuple[str, ...], *, touched: dict[str, Any] | None = None
) -> None:
    """422 when a union member among the written fields lacks its tag (:mod:`.unions`); checked before
    defaults are filled, which would otherwise guess the tag. With ``touched`` (a PATCH body, ``agent``
    the stored agent merged with it) only what the body reached is looked at."""
    props = spec.schema(spec.AGENT_CREATE_BODY)["properties"]
    found = [
        item
        for key in keys
        if key in WRITABLE and key in agent
        for item in untagged_members(
            agent[key], props[key], ["body", key], touched=None if touched is None else touched.get(key)
        )
    ]
    if found:
        raise validation_problem(found)


def check_agent(agent: dict[str, Any], prefix: str = "", touched: dict[str, Any] | None = None) -> None:
    """The writable part must satisfy the create schema (422), then the language/TTS-model rule (400).

    With ``touched`` (a PATCH body) the patched subtrees are checked first, alone: the rest is the
    stored agent, valid already, and checking a whole agent costs about 10 ms of CPU, which serialises
    concurrent writes behind one interpreter. Only a clean pass is trusted; any error (a real one, or a
    required key the partial document lacks) is decided, and worded, by the check of the whole agent.
    """
    if touched is None or errors_for(touched_part(agent, touched), spec.AGENT_CREATE_BODY, ["body"]):
        writable = {key: agent[key] for key in WRITABLE if key in agent}
        errors = errors_for(writable, spec.AGENT_CREATE_BODY, ["body"])
        if errors:
            raise validation_problem(errors)
    message = language_rule(agent["conversation_config"])
    if message:
        raise bad_config(prefix + message, "conversation_config.tts.model_id")


def touched_part(agent: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The writable subtrees of ``agent`` that ``patch`` reached, nested as in the agent."""
    return {key: _narrowed(agent[key], patch[key]) for key in WRITABLE if key in patch and key in agent}


def _narrowed(value: Any, patch: Any) -> Any:
    if not (isinstance(value, dict) and isinstance(patch, dict) and patch):
        return value
    return {key: _narrowed(value[key], patch[key]) for key in patch if key in value}


def language_rule(config: dict[str, Any]) -> str | None:
    """English agents need turbo/flash v2, the others the v2_5 models (v3 conversational works for both)."""
    language = (config.get("agent") or {}).get("language") or "en"
    model = (config.get("tts") or {}).get("model_id")
    if language == "en" and model not in ENGLISH_MODELS:
        return "English Agents must use turbo or flash v2"
    if language != "en" and model not in OTHER_MODELS:
        return "Non-english Agents must use turbo or flash v2_5"
    return None


def _restore_paths(merged: dict[str, Any], stored: dict[str, Any], paths: tuple[str, ...]) -> None:
    """The ``not_kept_paths`` fault: these paths keep their stored value whatever the PATCH said."""
    for dotted in paths:
        keys = dotted.split(".")
        old, new = _parent(stored, keys), _own_parent(merged, keys)
        if new is None:
            continue
        if old is not None and keys[-1] in old:
            new[keys[-1]] = copy.deepcopy(old[keys[-1]])
        else:
            new.pop(keys[-1], None)


def _own_parent(doc: dict[str, Any], keys: list[str]) -> dict[str, Any] | None:
    """The parent of ``keys`` in ``doc``, each object on the way copied first: ``doc`` may share them
    with the stored body, which must not change."""
    node: Any = doc
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            return None
        node[key] = node = dict(child)
    return node if isinstance(node, dict) else None


def _parent(doc: dict[str, Any], keys: list[str]) -> dict[str, Any] | None:
    node: Any = doc
    for key in keys[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None
