"""Generate the JSON Schemas in ``schemas/`` from the packaged OpenAPI document.

Run ``python -m agentsync.schemagen [DIR]`` to rewrite them (DIR defaults to ``schemas``). The validator
builds the same schemas in memory, so editors and ``agentsync validate`` apply one set of rules:

- a definition (an agent file, an entry of tags.yaml) is its kind's create body (writable fields only)
  plus agentsync's ``id`` (and ``renamed_from`` for a file per key), one schema per kind;
- typed objects are closed (``additionalProperties: false``) so that a typo is an error, not a no-op;
- read-only fields and the deprecated ``prompt.tools`` are removed (the validator names them specifically);
- catalogues that grow every month (LLMs, TTS models, ASR providers, workflow node types) are open: the
  known values stay for completion, and any other string is accepted.

The files differ from the in-memory schemas in one way: an editor sees a file before its placeholders are
resolved, so where a number or a boolean is expected the files also accept a whole-string ``${var.X}`` or
``${env.X}`` (which the loader turns into that type). The validator checks resolved values, where such a
string would be a literal and stays an error.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from agentsync import ids, spec
from agentsync.kinds import BY_NAME, KINDS, Kind
from agentsync.planschema import plan_schema
from agentsync.project import RESIDENCIES

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFS_PREFIX = "#/$defs/"
SCHEMA_FILES = (*(k.layout.schema_file for k in KINDS), "project.schema.json", "plan.schema.json")

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
# A whole-string ${var.NAME} or ${env.NAME} (with an optional :-default), as variables.py reads it.
PLACEHOLDER_PATTERN = r"^\$\{(var\.[A-Za-z_][A-Za-z0-9_]*|env\.[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?)\}$"
PLACEHOLDER_DEF = "placeholder"
_TYPED = frozenset({"integer", "number", "boolean"})
# Keywords that describe a value for an editor's hover and completion; they stay beside the union.
_ANNOTATIONS = ("title", "description", "default", "examples", "deprecated")


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


def kind_schema(kind: Kind) -> dict[str, Any]:
    """The editor and validation schema of one kind's definitions (a copy: callers may change it)."""
    return copy.deepcopy(_kind_schema(kind.name))


def shared_kind_schema(kind: Kind) -> Mapping[str, Any]:
    """The same schema, not copied: for readers that never change it (the validator)."""
    return _kind_schema(kind.name)


def agent_schema() -> dict[str, Any]:
    return kind_schema(BY_NAME["agent"])


def tags_schema() -> dict[str, Any]:
    return kind_schema(BY_NAME["tag"])


@cache
def _kind_schema(name: str) -> dict[str, Any]:
    kind = BY_NAME[name]
    models = list(kind.fields.variants) or [kind.fields.create_body]
    body = _union_body(models)
    defs = _defs(reachable(models))
    if spec.WORKFLOW_INPUT in defs:
        nodes = copy.deepcopy(spec.schema(spec.WORKFLOW_INPUT)["properties"]["nodes"])
        _open_node_types(nodes)
        defs[spec.WORKFLOW_INPUT]["properties"]["nodes"] = _clean(nodes)
    properties = {k: v for k, v in _clean(body["properties"]).items() if k in kind.fields.writable}
    properties.update(_meta_properties(kind))
    item: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [r for r in body.get("required", []) if r in properties and r not in kind.fields.required]
    if required:
        item["required"] = required
    if kind.layout.is_folder:
        title = f"agentsync {kind.noun} file ({kind.layout.where}KEY.yaml)"
        return {"$schema": DIALECT, "title": title, **item, "$defs": defs}
    title = f"agentsync {kind.plural} ({kind.layout.where})"
    return {"$schema": DIALECT, "title": title, "type": "array", "items": item, "$defs": defs}


def _union_body(models: list[str]) -> dict[str, Any]:
    """One object schema for a union of models: every property of any of them, a property that is a
    different constant in each (the ``type`` tag) as an enum of them, required only what all require."""
    schemas = [spec.schema(m) for m in models]
    if len(schemas) == 1:
        return schemas[0]
    properties: dict[str, Any] = {}
    for schema in schemas:
        for key, node in schema["properties"].items():
            properties.setdefault(key, node)
    for key in properties:
        # A map each model types its own way (an environment variable's values) takes any of them.
        shapes = [s["properties"][key] for s in schemas if key in s["properties"]]
        distinct = [n for i, n in enumerate(shapes) if n not in shapes[:i]]
        if len(distinct) > 1 and all(n.get("type") == "object" for n in distinct):
            properties[key] = {"anyOf": distinct}
        consts = [s["properties"][key]["const"] for s in schemas if "const" in s["properties"].get(key, {})]
        if len(consts) == len(schemas):
            tag = {k: v for k, v in properties[key].items() if k not in ("const", "default")}
            properties[key] = {**tag, "enum": consts, "default": consts[0]}
    required = [r for r in schemas[0].get("required", []) if all(r in s.get("required", []) for s in schemas)]
    return {"type": "object", "properties": properties, "required": required}


def _meta_properties(kind: Kind) -> dict[str, Any]:
    if kind.identity.marks:
        adopt = f"Adopt this existing {kind.noun} instead of creating one."
    else:
        adopt = f"Match this existing {kind.noun} by id (a rename is then an update)."
    found: dict[str, Any] = {"id": {"description": adopt, "type": "string", "pattern": ids.SAFE_ID}}
    if kind.layout.is_folder:
        found["renamed_from"] = {
            "description": f"The key this {kind.noun} had before its file was renamed.",
            "type": "string",
            "minLength": 1,
        }
    return found


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
            "elevenlabs_environment": {
                "description": "Native environments: the ElevenLabs environment this name maps to, in one "
                "workspace (environment-variable values are keyed by it). With it, the environment sets "
                "nothing else: one workspace, one namespace, one definition of every resource.",
                "type": "string",
                "pattern": NAME_PATTERN,
            },
        },
        "additionalProperties": False,
    }


def _overrides_schema() -> dict[str, Any]:
    # Each entry is part of an agent file, deep-merged onto it; the merged agent is validated against
    # the agent schema with line numbers pointing here, so this only fixes the shape.
    entry = {"type": ["object", "null"]}
    return {
        "description": "Fields merged onto definitions in this environment: mappings merge, anything "
        "else replaces. Under each kind, `*` applies to every definition, a key to one; a key set to "
        "null leaves that definition out of this environment.",
        "type": "object",
        "additionalProperties": False,
        "properties": {k.plural: {"type": "object", "additionalProperties": entry} for k in KINDS},
    }


def _ownership_schema(kind: Kind) -> dict[str, Any]:
    owns = f"{kind.noun}s that no definition in {kind.layout.where} declares"
    does = (
        f"Report the {owns} as kept ({kind.api.no_delete})."
        if kind.api.no_delete
        else f"Let --prune delete {owns}."
    )
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {"authoritative": {"description": does, "type": "boolean"}},
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
            "variables": {
                "description": "Values for ${var.NAME} that every environment shares; an environment's own "
                "variables win.",
                "type": "object",
                "propertyNames": {"pattern": ENV_VAR_PATTERN},
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            },
            "environments": {
                "type": "object",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {"$ref": "#/$defs/environment"},
            },
            # A kind a plan neither creates nor deletes (phone numbers) has nothing to own.
            **{
                k.plural: _ownership_schema(k)
                for k in KINDS
                if not k.identity.marks and not (k.api.no_create and k.api.no_delete)
            },
            "safety": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "max_change_share": {"type": "number", "minimum": 0, "maximum": 1},
                    "min_managed": {"type": "integer", "minimum": 0},
                    "allow": {
                        "type": "array",
                        "description": "Fingerprints of reviewed plans that apply may run over these "
                        "limits without --force (plan prints the fingerprint).",
                        "items": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                    },
                },
            },
        },
        "additionalProperties": False,
        "$defs": {"environment": _environment_schema()},
    }


def _typed(node: dict[str, Any]) -> bool:
    """A node that wants a number or a boolean (maybe also null), and no string, constant or union tag."""
    kinds = node.get("type")
    # A `properties` map may hold a property called "type"; only a string or a list of them is a type.
    if not isinstance(kinds, (str, list)):
        return False
    names = set(kinds) if isinstance(kinds, list) else {kinds}
    return bool(names & _TYPED) and "string" not in names and "const" not in node


def with_placeholders(node: Any) -> Any:
    """A copy of a schema in which every number or boolean also accepts a whole-string placeholder."""
    if isinstance(node, list):
        return [with_placeholders(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: with_placeholders(value) for key, value in node.items()}
    if not _typed(out):
        return out
    kept = {key: out.pop(key) for key in _ANNOTATIONS if key in out}
    return {**kept, "anyOf": [out, {"$ref": DEFS_PREFIX + PLACEHOLDER_DEF}]}


def editor_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as written to ``schemas/``: placeholders accepted where the loader converts them."""
    out: dict[str, Any] = with_placeholders(schema)
    if out == schema:
        return out
    out.setdefault("$defs", {})[PLACEHOLDER_DEF] = {
        "description": "${var.NAME} or ${env.NAME}: the loader turns the value into the type wanted here.",
        "type": "string",
        "pattern": PLACEHOLDER_PATTERN,
    }
    return out


def render(schema: dict[str, Any]) -> str:
    """The file text of a schema: stable, readable, ending in a newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """File name -> text for every schema in ``schemas/``."""
    files = {k.layout.schema_file: render(editor_schema(kind_schema(k))) for k in KINDS}
    files["project.schema.json"] = render(project_schema())
    files["plan.schema.json"] = render(plan_schema())
    return files


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
