"""The plan as JSON for machines: ``agentsync.plan.to_dict`` with secrets masked, a ``summary`` of the
counts, and ``masked: true`` so that nobody mistakes this output for a plan file apply can run.

``schemas/plan.schema.json`` describes it (and the saved plan file, which is the same without masking).
"""

from __future__ import annotations

import json
from typing import Any

from agentsync import plan as plan_module
from agentsync.plan import Action, Plan
from agentsync.render import common


def document(plan: Plan) -> dict[str, Any]:
    """The JSON document as a dict: every field of the plan, secrets masked."""
    data = plan_module.to_dict(plan)
    data["changes"] = [
        _masked_change(c, common.json_patch(common.masked(change)))
        for c, change in zip(data["changes"], plan.changes, strict=True)
    ]
    data["summary"] = {action.value: plan.count(action) for action in Action} | {"unchanged": plan.unchanged}
    data["fingerprint"] = plan_module.plan_fingerprint(plan)
    data["masked"] = True
    return data


def render(plan: Plan) -> str:
    return json.dumps(document(plan), indent=2, ensure_ascii=False) + "\n"


def _masked_change(change: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **change,
        "fields": [_masked_field(f) for f in change["fields"]],
        "body": common.mask(change["body"]),
        "json_patch": common.mask_json_patch(tuple(patch)),
    }


def _masked_field(field: dict[str, Any]) -> dict[str, Any]:
    if not common.is_secret_path(tuple(field["path"])):
        return {k: common.mask(v) for k, v in field.items()} | {"path": field["path"]}
    return {k: (common.SENSITIVE if k in ("old", "new") else v) for k, v in field.items()}
