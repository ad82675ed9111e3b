"""Generate the JSON Schemas in ``schemas/`` from the packaged OpenAPI document.

Run ``python -m agentsync.schemagen [DIR]`` to rewrite them (DIR defaults to ``schemas``). The validator
builds the same schemas in memory, so editors and ``agentsync validate`` apply one set of rules:

- an agent file is the create body (writable fields only) plus agentsync's ``id`` and ``renamed_from``;
- typed objects are closed (``additionalProperties: false``) so that a typo is an error, not a no-op;
- read-only fields and the deprecated ``prompt.tools`` are removed (the validator names them specifically);
- catalogues that grow every month (LLMs, TTS models, ASR providers, workflow node types) are open: the
  known values stay for completion, and any other string is accepted.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from agentsync import ids, spec
from agentsync.project import RESIDENCIES
from agentsync.resources import tag

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFS_PREFIX = "#/$defs/"
SCHEMA_FILES = ("agent.schema.json", "tags.schema.json", "project.schema.json")

# Keywords that are OpenAPI's or a code generator's, not JSON Schema's; editors would only be confused.
_DROPPED_KEYWORDS = frozenset({"example", "discriminator", "optional"})
# Catalogue enums, by component name: opened so that a new model is never an error.
CATALOGUES: dict[str, str] = {
    "LLM": "LLM",
    "TTSConversationalModel": "TTS model",
    "ASRProvider": "ASR provider",
}
# Prompt models whose deprecated ``tools`` list is read-only for agentsync.
_PROMPT_MODEL_PREFIX = "PromptAgentAPIModel"
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"
ENV_VAR_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"


def _refs(node: Any) -> Iterator[str]:
    """Every component a schema node refers to, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield spec.ref_name(value)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def reachable(roots: list[str]) -> list[str]:
    """The component names reachable from ``roots``, sorted for a stable output."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_refs(spec.schema(name)))
    return sorted(seen)


def _clean(node: Any) -> Any:
    """Copy a schema node with refs pointed at ``$defs``, non-JSON-Schema keywords dropped, read-only
    properties removed and typed objects closed."""
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYWORDS or key.startswith("x-"):
            continue
        if key == "$ref":
            out[key] = DEFS_PREFIX + spec.ref_name(value)
        elif key == "properties":
            out[key] = {k: _clean(v) for k, v in value.items() if not v.get("readOnly")}
        else:
            out[key] = _clean(value)
    if out.get("properties") and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _open_catalogue(node: dict[str, Any]) -> dict[str, Any]:
    """``{enum: [...]}`` -> any string, with the known values kept for completion."""
    known = {"type": "string", "enum": node["enum"]}
    return {"title": node.get("title", ""), "anyOf": [known, {"type": "string"}]}


def _open_node_types(nodes: dict[str, Any]) -> None:
    """Let a workflow node of a type the spec does not know through; the validator warns about it."""
    union = nodes["additionalProperties"]
    known = sorted(union["discriminator"]["mapping"]) if "discriminator" in union else []
    other = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string", "not": {"enum": known}}},
        # Unknown node types are not checked further: the spec says nothing about their fields.
        "additionalProperties": True,
    }
    union["oneOf"].append(other)


def node_types() -> list[str]:
    """The workflow node types the spec knows (the discriminator of ``workflow.nodes``)."""
    union = spec.schema(spec.WORKFLOW_INPUT)["properties"]["nodes"]["additionalProperties"]
    return sorted(union["discriminator"]["mapping"])


def _defs(names: list[str]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for name in names:
        if name in CATALOGUES:
            defs[name] = _open_catalogue(spec.schema(name))
            continue
        node = _clean(spec.schema(name))
        if name.startswith(_PROMPT_MODEL_PREFIX):
            node.get("properties", {}).pop("tools", None)
        defs[name] = node
    return defs


def agent_schema() -> dict[str, Any]:
    """The schema of one agent file."""
    return copy.deepcopy(_agent_schema())


@lru_cache(maxsize=1)
def _agent_schema() -> dict[str, Any]:
    body = spec.schema(spec.AGENT_CREATE_BODY)
    nodes = copy.deepcopy(spec.schema(spec.WORKFLOW_INPUT)["properties"]["nodes"])
    _open_node_types(nodes)
    defs = _defs(reachable([spec.AGENT_CREATE_BODY]))
    defs[spec.WORKFLOW_INPUT]["properties"]["nodes"] = _clean(nodes)
    properties = _clean(body["properties"])
    properties["id"] = {
        "description": "Adopt this existing agent instead of creating one.",
        "type": "string",
        "minLength": 1,
        "pattern": ids.SAFE_ID,
    }
    properties["renamed_from"] = {
        "description": "The key this agent had before its file was renamed.",
        "type": "string",
        "minLength": 1,
    }
    return {
        "$schema": DIALECT,
        "title": "agentsync agent file",
        "description": "One ElevenLabs agent: its writable fields, in the API's own names and shapes.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "$defs": defs,
    }


def tags_schema() -> dict[str, Any]:
    """The schema of ``tags.yaml``: a list of conversation tags."""
    create = spec.schema(spec.TAG_CREATE_BODY)["properties"]
    item = {
        "type": "object",
        "properties": {
            "title": {
                "description": create["title"].get("description", "The tag's title."),
                "type": "string",
                "minLength": 1,
                "maxLength": tag.TITLE_MAX,
            },
            "description": {
                "description": "What the tag means.",
                "anyOf": [{"type": "string", "maxLength": tag.DESCRIPTION_MAX}, {"type": "null"}],
            },
            "id": {
                "description": "Match this existing tag by id (a rename is then an update).",
                "type": "string",
                "minLength": 1,
                "pattern": ids.SAFE_ID,
            },
        },
        "required": ["title"],
        "additionalProperties": False,
    }
    return {
        "$schema": DIALECT,
        "title": "agentsync conversation tags (tags.yaml)",
        "type": "array",
        "items": item,
    }


def _environment_schema() -> dict[str, Any]:
    scalar = {"type": ["string", "number", "boolean"]}
    return {
        "type": "object",
        "properties": {
            "base_url": {
                "description": "API base URL; overrides residency.",
                "type": "string",
                "pattern": "^https?://",
            },
            "residency": {
                "description": "Data residency region of the workspace.",
                "enum": sorted(RESIDENCIES),
            },
            "api_key_env": {
                "description": "Environment variable that holds the API key.",
                "type": "string",
                "pattern": ENV_VAR_PATTERN,
            },
            "namespace": {
                "description": "Ownership namespace in this environment.",
                "type": "string",
                "pattern": NAME_PATTERN,
            },
            "variables": {
                "description": "Values for ${var.NAME} in project files.",
                "type": "object",
                "propertyNames": {"pattern": ENV_VAR_PATTERN},
                "additionalProperties": scalar,
            },
            "overrides": _overrides_schema(),
        },
        "additionalProperties": False,
    }


def _overrides_schema() -> dict[str, Any]:
    # Each entry is part of an agent file, deep-merged onto it; the merged agent is validated against
    # the agent schema with line numbers pointing here, so this only fixes the shape.
    agent = {"type": "object"}
    return {
        "description": "Fields merged onto definitions in this environment: mappings merge, anything "
        "else replaces. `*` applies to every agent, a key to one agent.",
        "type": "object",
        "additionalProperties": False,
        "properties": {"agents": {"type": "object", "additionalProperties": agent}},
    }


def project_schema() -> dict[str, Any]:
    """The schema of ``agentsync.yaml``."""
    return {
        "$schema": DIALECT,
        "title": "agentsync project settings (agentsync.yaml)",
        "type": "object",
        "properties": {
            "namespace": {
                "description": "Ownership namespace: agents are marked <namespace>:<key>.",
                "type": "string",
                "pattern": NAME_PATTERN,
                "maxLength": 64,
            },
            "default_environment": {
                "description": "The environment used when none is given.",
                "type": "string",
            },
            "environments": {
                "type": "object",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {"$ref": "#/$defs/environment"},
            },
            "tags": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "authoritative": {
                        "description": "Let --prune delete conversation tags not in tags.yaml.",
                        "type": "boolean",
                    }
                },
            },
            "safety": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "max_change_share": {"type": "number", "minimum": 0, "maximum": 1},
                    "min_managed": {"type": "integer", "minimum": 0},
                },
            },
        },
        "additionalProperties": False,
        "$defs": {"environment": _environment_schema()},
    }


def render(schema: dict[str, Any]) -> str:
    """The file text of a schema: stable, readable, ending in a newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """File name -> text for every schema in ``schemas/``."""
    return {
        "agent.schema.json": render(agent_schema()),
        "tags.schema.json": render(tags_schema()),
        "project.schema.json": render(project_schema()),
    }


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in generate().items():
        target = directory / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":  # pragma: no cover - exercised by the freshness test through write()
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")):
        sys.stdout.write(f"wrote {path}\n")
