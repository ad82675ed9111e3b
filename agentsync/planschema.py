"""The schema of a plan (``schemas/plan.schema.json``): what ``plan --out`` writes and ``plan --format
json`` prints. Generated with the others by :mod:`agentsync.schemagen`; its kind enum comes from KINDS."""

from __future__ import annotations

import copy
from typing import Any

from agentsync.kinds import KINDS
from agentsync.plan import PLAN_FORMAT_VERSION

PLAN_SCHEMA_TEMPLATE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://agentsync.dev/schemas/plan.schema.json",
    "title": "agentsync plan",
    "description": "A plan as written by `agentsync plan --out FILE` and `agentsync plan --format json` "
    "(format version 2). The JSON output additionally carries `summary` and `masked: true`, "
    'and shows secret values as "(sensitive)"; a plan file carries neither and is what '
    "`agentsync apply FILE` runs.",
    "type": "object",
    "required": [
        "format_version",
        "changes",
        "unchanged",
        "managed",
        "namespace",
        "base_url",
        "environment",
        "warnings",
        "meta",
    ],
    "additionalProperties": False,
    "properties": {
        "format_version": {
            "const": PLAN_FORMAT_VERSION,
            "description": "Bumped on any incompatible change to this document.",
        },
        "changes": {
            "type": "array",
            "items": {"$ref": "#/$defs/change"},
            "description": "Resources the plan would write; unchanged ones are only counted.",
        },
        "unchanged": {"type": "integer", "minimum": 0},
        "managed": {
            "type": "integer",
            "minimum": 0,
            "description": "Resources in scope that agentsync manages (the base of the safety share).",
        },
        "namespace": {
            "type": "string",
            "minLength": 1,
            "description": "The ownership namespace: a marked resource carries "
            "`<namespace>:<key>` in its tags.",
        },
        "base_url": {"type": "string", "description": "The API root the plan was computed against."},
        "environment": {"type": ["string", "null"]},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "errors": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Error-level findings: what apply refuses without --force (the safety "
            "limits); plan exits 1 when there are any.",
        },
        "fingerprint": {
            "type": "string",
            "pattern": "^[0-9a-f]{16}$",
            "description": "JSON output only: the plan's fingerprint, for `safety: {allow: [...]}`.",
        },
        "meta": {
            "type": "object",
            "description": "Free-form facts about the run (agentsync version, request counts, ...).",
        },
        "summary": {
            "type": "object",
            "description": "JSON output only: the counts behind the closing summary line.",
            "required": ["create", "update", "adopt", "delete", "unchanged"],
            "additionalProperties": False,
            "properties": {
                "create": {"type": "integer", "minimum": 0},
                "update": {"type": "integer", "minimum": 0},
                "adopt": {"type": "integer", "minimum": 0},
                "delete": {"type": "integer", "minimum": 0},
                "unchanged": {"type": "integer", "minimum": 0},
            },
        },
        "masked": {
            "const": True,
            "description": "JSON output only: secret values are replaced; never apply this document.",
        },
    },
    "$defs": {
        "location": {
            "type": "object",
            "required": ["file", "line", "col"],
            "additionalProperties": False,
            "properties": {
                "file": {"type": "string"},
                "line": {"type": "integer", "minimum": 1},
                "col": {"type": "integer", "minimum": 1},
            },
        },
        "path": {
            "type": "array",
            "items": {"type": ["string", "integer"]},
            "description": 'A path in the managed view, e.g. ["conversation_config", "tts", "stability"].',
        },
        "field_change": {
            "type": "object",
            "required": ["path"],
            "additionalProperties": False,
            "description": "One changed path. A missing `old` means the field is new; a "
            "missing `new` means it is released or deleted. An explicit "
            "null is a null value.",
            "properties": {"path": {"$ref": "#/$defs/path"}, "old": True, "new": True},
        },
        "json_patch_op": {
            "type": "object",
            "required": ["op", "path"],
            "properties": {
                "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
                "path": {"type": "string"},
                "from": {"type": "string"},
                "value": True,
            },
        },
        "change": {
            "type": "object",
            "required": [
                "kind",
                "action",
                "key",
                "remote_id",
                "name",
                "fields",
                "method",
                "path",
                "body",
                "fingerprint",
                "source",
                "depends_on",
                "attached",
                "previous_key",
            ],
            "additionalProperties": False,
            "properties": {
                "kind": {"enum": [k.name for k in KINDS]},
                "action": {"enum": ["create", "update", "adopt", "delete"]},
                "key": {
                    "type": "string",
                    "minLength": 1,
                    "description": "The definition key: a file's path under "
                    "its kind's folder, or an entry's natural "
                    "key.",
                },
                "remote_id": {
                    "type": ["string", "null"],
                    "description": "The workspace id; null for a create.",
                },
                "name": {"type": ["string", "null"]},
                "fields": {"type": "array", "items": {"$ref": "#/$defs/field_change"}},
                "method": {"enum": ["POST", "PATCH", "PUT", "DELETE"]},
                "path": {
                    "type": "string",
                    "pattern": "^/v1/",
                    "description": "The request path, relative to base_url.",
                },
                "body": {
                    "type": ["object", "null"],
                    "description": "The exact request body; null for a delete.",
                },
                "json_patch": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/json_patch_op"},
                    "description": "JSON output only: the RFC 6902 "
                    "patch of the managed view, derived "
                    "from `fields`.",
                },
                "fingerprint": {
                    "type": "string",
                    "description": "Identifies the remote state the "
                    "change was computed from; apply "
                    "refuses the plan when it no longer "
                    "matches.",
                },
                "source": {"oneOf": [{"$ref": "#/$defs/location"}, {"type": "null"}]},
                "depends_on": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "prefixItems": [{"type": "string"}, {"type": "string"}],
                        "items": False,
                        "minItems": 2,
                    },
                    "description": "[kind, key] of resources created in "
                    "this plan that this one references; "
                    "applied first.",
                },
                "attached": {"type": "array", "items": {"type": "string"}},
                "previous_key": {"type": ["string", "null"]},
                "secrets": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/secret"},
                    "description": "Fields whose value comes from "
                    "${env.*}: the body and fields hold the "
                    "template, never the value.",
                },
                "notes": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "What the change does that its fields do not show.",
                },
            },
        },
        "secret": {
            "type": "object",
            "required": ["path", "template", "hmac"],
            "additionalProperties": False,
            "properties": {
                "path": {"type": "array", "items": {"type": ["string", "integer"]}},
                "template": {
                    "type": "string",
                    "description": "The text the file wrote: the placeholder, never its value.",
                },
                "hmac": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "HMAC-SHA256 of the resolved value under a key derived from the API key; "
                    "apply refuses the plan when it differs.",
                },
            },
        },
    },
}


def plan_schema() -> dict[str, Any]:
    return copy.deepcopy(PLAN_SCHEMA_TEMPLATE)
