"""What every renderer shares: secret masking (in one place), value display, ordering and the summary."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import jsonpointer

from agentsync.kinds import by_name, rank
from agentsync.plan import ABSENT, Action, Change, FieldChange, Path, Plan, rewrite_secrets
from agentsync.strategy import Strategy

SENSITIVE = "(sensitive)"
# Secrets are masked two ways, both here: a field whose value came from ``${env.*}`` (the change's
# ``secrets`` paths, on both sides, in the body and the JSON Patch), and a field whose name contains one
# of these words, whatever its value came from.
# The names also cover a value that stopped coming from ``${env.*}``: its old side, read from the server,
# is still the secret it was, and no file says so any more.
SECRET_WORDS: tuple[str, ...] = (
    "secret",
    "token",
    "password",
    "api_key",
    "authorization",
    "cookie",
    "credential",
)

SYMBOLS: dict[Action, str] = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.ADOPT: "±",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
}
# Creates and adopts first, deletes last: the order apply follows (a replacement creates first).
ACTION_ORDER: tuple[Action, ...] = (
    Action.CREATE,
    Action.REPLACE,
    Action.ADOPT,
    Action.UPDATE,
    Action.DELETE,
)


def is_secret_name(name: str | int) -> bool:
    lowered = str(name).lower()
    return any(word in lowered for word in SECRET_WORDS)


def is_secret_path(path: Path) -> bool:
    return bool(path) and is_secret_name(path[-1])


def mask(value: Any) -> Any:
    """``value`` with every secret-named key's value replaced, at any depth."""
    if isinstance(value, Mapping):
        return {k: (SENSITIVE if is_secret_name(k) else mask(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


def masked_side(field: FieldChange, value: Any) -> Any:
    """One side of a field change as it may be shown."""
    if value is ABSENT:
        return ABSENT
    return SENSITIVE if is_secret_path(field.path) else mask(value)


def mask_json_patch(ops: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    masked = []
    for op in ops:
        last = str(op.get("path", "")).rsplit("/", 1)[-1]
        value = SENSITIVE if "value" in op and is_secret_name(last) else mask(op.get("value"))
        masked.append({**op, "value": value} if "value" in op else dict(op))
    return masked


def display(value: Any) -> str:
    """A value on one line, as JSON shows it (strings quoted), or ``(absent)``."""
    if value is ABSENT:
        return "(absent)"
    if value == SENSITIVE:
        return SENSITIVE
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def is_multiline(field: FieldChange) -> bool:
    """Both sides are text and at least one spans lines: shown as a unified line diff."""
    sides = [v for v in (field.old, field.new) if v is not ABSENT]
    return (
        not is_secret_path(field.path)
        and all(isinstance(v, str) for v in sides)
        and any("\n" in v for v in sides)
    )


def masked(change: Change) -> Change:
    """``change`` with the value of every ``${env.*}`` field replaced on both sides."""
    return rewrite_secrets(change, lambda s: SENSITIVE, lambda s: SENSITIVE)


def ordered(plan: Plan) -> list[Change]:
    """Changes in reading order: by action (creates first, deletes last), then kind, then key; each
    with its ``${env.*}`` secrets masked, since this is what every renderer shows."""

    def order(change: Change) -> tuple[int, int, str]:
        return ACTION_ORDER.index(change.action), rank(change.kind), change.key

    return [masked(c) for c in sorted(plan.changes, key=order)]


def summary(plan: Plan) -> str:
    """``Plan: 1 to create, 2 to update, 0 to delete, 12 unchanged.`` (replacements and adoptions
    named when any)."""
    if not plan.has_changes:
        return f"No changes. The workspace matches the project ({plan.unchanged} unchanged)."
    parts = [f"{plan.count(Action.CREATE)} to create"]
    for named in (Action.REPLACE, Action.ADOPT):
        if plan.count(named):
            parts.append(f"{plan.count(named)} to {named.value}")
    parts += [
        f"{plan.count(Action.UPDATE)} to update",
        f"{plan.count(Action.DELETE)} to delete",
        f"{plan.unchanged} unchanged",
    ]
    return f"Plan: {', '.join(parts)}."


def header(plan: Plan) -> str:
    return f"{environments(plan, str)} · namespace {plan.namespace} · {plan.base_url}"


def environments(plan: Plan, code: Callable[[str], str]) -> str:
    """``environment dev``; with native environments every one and the ElevenLabs environment it maps
    to (``environments dev (development), prod (production), one workspace``); ``code`` marks names."""
    mapped = plan.meta.get("elevenlabs_environments")
    if isinstance(mapped, dict) and mapped:
        shown = ", ".join(f"{code(str(name))} ({code(str(native))})" for name, native in mapped.items())
        return f"environments {shown}, one workspace"
    return f"environment {code(plan.environment)}" if plan.environment else "the default environment"


def title(change: Change) -> str:
    """``agent support-bot ("Support Bot", agent_123)``: what a change is about, in one phrase."""
    named = change.name and change.name != change.key
    extras = [json.dumps(change.name, ensure_ascii=False)] if named else []
    if change.remote_id:
        extras.append(change.remote_id)
    tail = f" ({', '.join(extras)})" if extras else ""
    return f"{change.kind} {change.key}{tail}"


def notes(change: Change, namespace: str) -> list[str]:
    """What a change does that its fields do not show (the ownership marker it adds or moves, why a
    delete happens), from the change itself, and what is attached to a resource it deletes."""
    found = list(change.notes)
    if change.attached:
        found.append(f"attached: {', '.join(change.attached)}")
    return found


def json_patch(change: Change) -> list[dict[str, Any]]:
    """The RFC 6902 JSON Patch of the managed view, derived from the field list (RFC 6901 pointers,
    so a key with ``/``, ``~`` or only digits stays one segment)."""
    ops: list[dict[str, Any]] = []
    for fc in change.fields:
        pointer = jsonpointer.JsonPointer.from_parts([str(p) for p in fc.path]).path
        if fc.old is ABSENT:
            ops.append({"op": "add", "path": pointer, "value": fc.new})
        elif fc.new is ABSENT:
            ops.append({"op": "remove", "path": pointer})
        else:
            ops.append({"op": "replace", "path": pointer, "value": fc.new})
    return ops


def request_line(change: Change) -> str:
    return f"{change.method} {change.path}"


def body_text(change: Change) -> str | None:
    """The request body as it will be sent, secrets masked, pretty-printed; None for no body."""
    if change.body is None:
        return None
    return json.dumps(mask(change.body), indent=2, ensure_ascii=False)


NO_FINAL_NEWLINE = "\\ No newline at end of file"
# Whitespace at the end of a changed line, shown so that a whitespace-only change is never an empty diff.
_TRAILING = re.compile(r"[ \t\r]+$")
_MARKS = str.maketrans({" ": "·", "\t": "→", "\r": "␍"})


def line_diff(field: FieldChange) -> list[str]:
    """A unified line diff of a multi-line text field (headers dropped: the path says what it is).
    As git shows it: a line without a final newline is followed by ``\\ No newline at end of file``;
    and trailing spaces, tabs and carriage returns of changed lines are shown as ``·``, ``→``, ``␍``."""
    old = field.old if isinstance(field.old, str) else ""
    new = field.new if isinstance(field.new, str) else ""
    lines = list(difflib.unified_diff(_lines(old), _lines(new), lineterm="", n=2))[2:]
    return [shown for line in lines for shown in _diff_line(line)]


def _lines(text: str) -> list[str]:
    """Lines split at ``\\n`` only, each keeping it (a carriage return or a form feed is part of its line)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _diff_line(line: str) -> list[str]:
    if line.startswith("@@"):
        return [line.rstrip("\n")]
    sign, body = line[:1], line[1:]
    ended = body.endswith("\n")
    body = body[:-1] if ended else body
    if sign in "+-":
        body = _TRAILING.sub(lambda m: m.group(0).translate(_MARKS), body)
    return [sign + body] if ended else [sign + body, NO_FINAL_NEWLINE]


def leaves(change: Change) -> list[FieldChange]:
    """What a renderer lists for a change: each field expanded (:func:`expand`); a list the kind's API
    treats as a set shows the elements removed and added, with no position."""
    strategies = by_name(change.kind).fields.strategies
    found: list[FieldChange] = []
    for field in change.fields:
        if strategies.get(field.path) is Strategy.SET and not is_secret_path(field.path):
            found += _set_elements(field)
        else:
            found += expand(field)
    return found


def _set_elements(field: FieldChange) -> list[FieldChange]:
    old = field.old if isinstance(field.old, list) else []
    new = field.new if isinstance(field.new, list) else []
    if not old or not new:
        return [field]
    kept = {_key(v) for v in new}
    had = {_key(v) for v in old}
    gone = [FieldChange(field.path, old=v) for v in old if _key(v) not in kept]
    added = [FieldChange(field.path, new=v) for v in new if _key(v) not in had]
    return gone + added or [field]


def expand(field: FieldChange) -> list[FieldChange]:
    """A field added or removed as a whole object, shown as its leaves (lists stay whole), so that a
    created agent reads like an update and its prompt shows as text rather than an escaped string; a
    changed list, shown as the elements that changed (:func:`elements`)."""
    if isinstance(field.old, list) and isinstance(field.new, list):
        return elements(field)
    value = field.new if field.old is ABSENT else field.old if field.new is ABSENT else None
    if not isinstance(value, Mapping) or not value or is_secret_path(field.path):
        return [field]
    leaves: list[FieldChange] = []
    for key, item in value.items():
        path = (*field.path, key)
        side = FieldChange(path, new=item) if field.old is ABSENT else FieldChange(path, old=item)
        leaves += expand(side)
    return leaves


def elements(field: FieldChange) -> list[FieldChange]:
    """A changed list as the elements that differ: added ones at their new index, removed ones at their
    old index, and, for an object replaced by an object, only the keys the new element declares that
    differ; keys only the server's copy has (its defaults) are left out unless nothing else differs.
    A list under a secret-named field stays whole (and masked)."""
    old, new = field.old, field.new
    if not old or not new or any(is_secret_name(p) for p in field.path):
        return [field]
    matcher = difflib.SequenceMatcher(None, [_key(v) for v in old], [_key(v) for v in new], autojunk=False)
    found: list[FieldChange] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for offset in range(i2 - i1):
                found += _element(field.path, j1 + offset, old[i1 + offset], new[j1 + offset])
            continue
        found += [FieldChange((*field.path, i), old=old[i]) for i in range(i1, i2)]
        found += [FieldChange((*field.path, j), new=new[j]) for j in range(j1, j2)]
    return found or [field]


def _element(path: Path, index: int, old: Any, new: Any) -> list[FieldChange]:
    here = (*path, index)
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        return [FieldChange(here, old, new)]
    declared = [
        FieldChange((*here, k), old.get(k, ABSENT), v)
        for k, v in new.items()
        if _key(old.get(k, ABSENT)) != _key(v)
    ]
    if declared:
        return declared
    return [FieldChange((*here, k), old=v) for k, v in old.items() if k not in new]


def _key(value: Any) -> str:
    return (
        "\0absent" if value is ABSENT else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    )
