"""The plan as a value: what would change, per resource, and how it would be written.

A plan is built from the loaded project and the fetched remote state and nothing else (no I/O). It
is rendered, saved with ``plan --out`` and applied exactly by ``apply PLAN_FILE``.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any, NamedTuple

from agentsync import variables as templates
from agentsync.errors import Location, PlanFileError, SafetyError
from agentsync.files import write_atomic
from agentsync.kinds import Ref, by_name
from agentsync.values import canonical

if TYPE_CHECKING:
    from agentsync.project import SafetySettings

# 2: kinds are names, dependencies are (kind, key) pairs, notes travel with the change, and the JSON
# Patch is derived when rendering instead of being stored.
PLAN_FORMAT_VERSION = 2

# What a plan file (and every renderer) holds in place of a secret's old value.
MASKED = "(sensitive)"

Path = tuple[str | int, ...]


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    ADOPT = "adopt"
    DELETE = "delete"


class _Absent:
    """Stands for "no value": the old side of a created field, the new side of a released one."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


def dotted(path: Path) -> str:
    """``("conversation_config", "agent", "tools", 0)`` -> ``conversation_config.agent.tools[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class FieldChange:
    """One changed path of the managed view, with its old and new values (either may be ABSENT)."""

    path: Path
    old: Any = ABSENT
    new: Any = ABSENT

    @property
    def dotted(self) -> str:
        return dotted(self.path)


@dataclass(frozen=True)
class SecretRef:
    """A field whose value came from ``${env.*}``: where it is in the definition (and so in the body
    and the managed view), the text the file wrote, and the keyed digest (HMAC-SHA256 under a key derived
    from the API key) of the value it resolved to. A saved plan keeps only this; apply resolves the
    template again and checks the digest."""

    path: Path
    template: str
    digest: str


@dataclass(frozen=True)
class Change:
    """One resource the plan would write. ``body`` is the exact request body (None for DELETE);
    ``fingerprint`` identifies the remote state the change was computed from, so that apply can refuse a
    stale plan before any write."""

    kind: str
    action: Action
    key: str
    remote_id: str | None
    name: str | None
    fields: tuple[FieldChange, ...]
    method: str
    path: str
    body: dict[str, Any] | None
    fingerprint: str
    source: Location | None = None
    depends_on: tuple[Ref, ...] = ()
    attached: tuple[str, ...] = ()
    previous_key: str | None = None
    secrets: tuple[SecretRef, ...] = ()
    # What the change does that its fields do not show (the ownership marker it adds or moves).
    notes: tuple[str, ...] = ()

    @property
    def ref(self) -> Ref:
        return Ref(self.kind, self.key)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key}"


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    unchanged: int
    managed: int
    namespace: str
    base_url: str
    environment: str | None = None
    warnings: tuple[str, ...] = ()
    format_version: int = PLAN_FORMAT_VERSION
    # Error-level findings: what apply will refuse (the safety limits), shown by every format.
    errors: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)


# --- fingerprints -------------------------------------------------------------------------------------


def _canonical_json(value: Any) -> str:
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(kind: str, key: str, resource: Mapping[str, Any] | None) -> str:
    """The fingerprint of the remote resource a change was computed from: its full body, or None when
    the key had no resource (a create), so that a create made stale by someone creating the resource
    meanwhile is caught."""
    payload = {"kind": kind, "key": key, "resource": "absent" if resource is None else dict(resource)}
    return hashlib.sha256(_canonical_json(payload).encode("utf-8")).hexdigest()


# --- safety -------------------------------------------------------------------------------------------


class Finding(NamedTuple):
    """Why apply refuses a plan without --force, and what to do about it."""

    message: str
    hint: str


def plan_fingerprint(plan: Plan) -> str:
    """What a ``safety: {allow: [...]}`` entry names: a digest of exactly what the plan writes (each
    change's kind, key, action, remote id, body and the fingerprint of the remote state it came from),
    with secrets as their templates, so that it is the same at review and at apply, and names no secret."""
    items = sorted(
        _canonical_json([c.kind, c.key, c.action.value, c.remote_id, c.fingerprint, c.body])
        for c in map(conceal, plan.changes)
    )
    return hashlib.sha256("\n".join(items).encode("utf-8")).hexdigest()[:16]


def safety_findings(plan: Plan, safety: SafetySettings) -> list[Finding]:
    """Every rule the plan breaks that apply enforces unless --force (or an allow entry): more than
    ``max_change_share`` of the managed resources rewritten or deleted (once there are ``min_managed``
    of them), or an agent deleted that still has phone numbers or WhatsApp accounts attached."""
    found = [_share(plan, safety), _attached(plan)]
    return [f for f in found if f is not None]


def allowed(plan: Plan, safety: SafetySettings) -> bool:
    return bool(plan.changes) and plan_fingerprint(plan) in safety.allow


def check_safety(plan: Plan, safety: SafetySettings, *, force: bool) -> None:
    """Refuse, unless ``force`` or the plan's fingerprint is allowed, a plan that breaks a safety rule."""
    if force or allowed(plan, safety):
        return
    for finding in safety_findings(plan, safety):
        raise SafetyError(finding.message, hint=finding.hint)


def with_safety(plan: Plan, safety: SafetySettings) -> Plan:
    """The plan with what apply would refuse as its error-level ``errors`` (so that every format shows
    it, and ``plan`` fails, before the merge rather than at apply), or, when a reviewed allow entry
    covers it, a warning saying so."""
    found = safety_findings(plan, safety)
    if not found:
        return plan
    fp = plan_fingerprint(plan)
    if fp in safety.allow:
        note = (
            f"this plan is over the safety limits, and allowed by safety.allow entry {fp} in agentsync.yaml"
        )
        return replace(plan, warnings=(*plan.warnings, note))
    errors = tuple(
        f"apply refuses this plan without --force: {f.message}; after review, allow exactly this plan "
        f"with `safety: {{allow: [{fp}]}}` in agentsync.yaml, or pass --force to apply"
        for f in found
    )
    return replace(plan, errors=(*plan.errors, *errors))


def _share(plan: Plan, safety: SafetySettings) -> Finding | None:
    touched = sum(1 for c in plan.changes if c.action in (Action.UPDATE, Action.ADOPT, Action.DELETE))
    if plan.managed < safety.min_managed or touched <= safety.max_change_share * plan.managed:
        return None
    return Finding(
        f"the plan updates or deletes {touched} of {plan.managed} managed resources, more than the "
        f"{safety.max_change_share:.0%} allowed by the safety settings",
        "review the plan and re-run with --force if it is intended",
    )


def _attached(plan: Plan) -> Finding | None:
    held = [c for c in plan.changes if c.action is Action.DELETE and c.attached]
    if not held:
        return None
    what = "; ".join(f"{c.label} ({', '.join(c.attached)})" for c in held)
    noun = "resource that has" if len(held) == 1 else "resources that have"
    return Finding(
        f"the plan deletes {len(held)} {noun} something attached: {what}",
        "detach them first, or re-run with --force to delete anyway",
    )


# --- the plan file ------------------------------------------------------------------------------------


def _field_change_to_dict(change: FieldChange) -> dict[str, Any]:
    # ABSENT is encoded by leaving the key out, so an explicit null stays distinguishable from it.
    out: dict[str, Any] = {"path": list(change.path)}
    if change.old is not ABSENT:
        out["old"] = change.old
    if change.new is not ABSENT:
        out["new"] = change.new
    return out


def _location_to_dict(location: Location | None) -> dict[str, Any] | None:
    return None if location is None else {"file": location.file, "line": location.line, "col": location.col}


# --- secrets: a plan file holds templates, never values -----------------------------------------------


def rewrite_secrets(
    change: Change, new: Callable[[SecretRef], Any], old: Callable[[SecretRef], Any]
) -> Change:
    """``change`` with the value of every secret path replaced: ``new`` on the side being written (the
    body, each field's new value, the JSON Patch values), ``old`` on the remote side."""
    if not change.secrets:
        return change
    secrets = change.secrets
    body = None if change.body is None else _rewrite(change.body, (), secrets, new)
    changed = tuple(
        replace(fc, old=_rewrite(fc.old, fc.path, secrets, old), new=_rewrite(fc.new, fc.path, secrets, new))
        for fc in change.fields
    )
    return replace(change, body=body, fields=changed)


def _rewrite(value: Any, base: Path, secrets: Sequence[SecretRef], fn: Callable[[SecretRef], Any]) -> Any:
    if value is ABSENT:
        return value
    for secret in secrets:
        if secret.path[: len(base)] == base:
            value = templates.replace_at(value, secret.path[len(base) :], _constant(fn(secret)))
    return value


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda _: value


def conceal(change: Change) -> Change:
    """The change as a plan file keeps it: each secret's template in place of its value, and the
    remote's old value masked."""
    return rewrite_secrets(change, lambda s: s.template, lambda s: MASKED)


def reveal(plan: Plan, context: templates.Context, digest_key: bytes = b"") -> Plan:
    """A loaded plan with every secret resolved again from ``context`` (the environment apply runs in).
    PlanFileError, before anything is written, when one is unset or differs from what was planned."""
    changes = tuple(
        rewrite_secrets(c, _revealer(c, context, digest_key), lambda s: MASKED) for c in plan.changes
    )
    return replace(plan, changes=changes)


def _revealer(change: Change, context: templates.Context, key: bytes) -> Callable[[SecretRef], Any]:
    values = {s.path: _resolve_secret(change, s, context, key) for s in change.secrets}
    return lambda secret: values[secret.path]


def _resolve_secret(change: Change, secret: SecretRef, context: templates.Context, key: bytes) -> Any:
    where = f"{change.label}, {dotted(secret.path)}"
    try:
        found = templates.resolve(secret.template, context)
    except templates.TemplateError as exc:
        raise PlanFileError(
            f"the saved plan needs a secret for {where}: {exc.message}; nothing was written",
            hint="set it as it was when the plan was made",
        ) from None
    # A whole placeholder in a number or boolean field was typed when the plan was made; type it again.
    response = by_name(change.kind).fields.response
    value = templates.typed(response, secret.path, found.value) if found.whole else found.value
    if templates.secret_hash(templates.secret_text(value), key) != secret.digest:
        raise PlanFileError(
            f"the secret for {where} ({secret.template}) differs from the one the plan was "
            "made with; nothing was written",
            hint="set the same value, or run `agentsync plan --out FILE` again",
        )
    return value


def _secret_to_dict(secret: SecretRef) -> dict[str, Any]:
    return {"path": list(secret.path), "template": secret.template, "hmac": secret.digest}


def _change_to_dict(change: Change) -> dict[str, Any]:
    change = conceal(change)
    out = {f.name: getattr(change, f.name) for f in fields(change)}
    out.update(
        action=change.action.value,
        source=_location_to_dict(change.source),
        fields=[_field_change_to_dict(fc) for fc in change.fields],
        depends_on=[list(ref) for ref in change.depends_on],
        attached=list(change.attached),
        secrets=[_secret_to_dict(s) for s in change.secrets],
        notes=list(change.notes),
    )
    return out


def to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as versioned JSON data (``format_version``): every field of Plan and Change, with
    secrets as their templates (see :func:`conceal`)."""
    out = {f.name: getattr(plan, f.name) for f in fields(plan)}
    out.update(
        changes=[_change_to_dict(c) for c in plan.changes],
        warnings=list(plan.warnings),
        errors=list(plan.errors),
        meta=dict(plan.meta),
        format_version=plan.format_version,
    )
    return out


def _field_change_from_dict(data: Mapping[str, Any]) -> FieldChange:
    return FieldChange(tuple(data["path"]), data.get("old", ABSENT), data.get("new", ABSENT))


def _location_from_dict(data: Mapping[str, Any] | None) -> Location | None:
    return None if data is None else Location(str(data["file"]), int(data["line"]), int(data["col"]))


def _change_from_dict(data: Mapping[str, Any]) -> Change:
    return Change(
        kind=_known_kind(data["kind"]),
        action=Action(data["action"]),
        key=data["key"],
        remote_id=data["remote_id"],
        name=data["name"],
        fields=tuple(_field_change_from_dict(f) for f in data["fields"]),
        method=data["method"],
        path=data["path"],
        body=data["body"],
        fingerprint=data["fingerprint"],
        source=_location_from_dict(data.get("source")),
        depends_on=tuple(Ref(str(k), str(v)) for k, v in data.get("depends_on", ())),
        attached=tuple(data.get("attached", ())),
        previous_key=data.get("previous_key"),
        secrets=tuple(
            SecretRef(tuple(s["path"]), str(s["template"]), str(s["hmac"])) for s in data.get("secrets", ())
        ),
        notes=tuple(str(n) for n in data.get("notes", ())),
    )


def _known_kind(name: Any) -> str:
    by_name(str(name))  # KeyError for a kind this agentsync does not manage
    return str(name)


def from_dict(data: Mapping[str, Any]) -> Plan:
    """The plan ``to_dict`` described; PlanFileError for another format version or a malformed one."""
    if not isinstance(data, Mapping):
        raise PlanFileError("the plan is not a JSON object")
    version = data.get("format_version")
    if version != PLAN_FORMAT_VERSION:
        raise PlanFileError(
            f"the plan has format version {version!r}; this agentsync reads version {PLAN_FORMAT_VERSION}",
            hint="re-run `agentsync plan --out FILE` with this version",
        )
    try:
        return _plan_from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(
            f"the plan is malformed ({type(exc).__name__}: {exc})", hint="re-run `agentsync plan --out FILE`"
        ) from exc


def _plan_from_dict(data: Mapping[str, Any]) -> Plan:
    return Plan(
        changes=tuple(_change_from_dict(c) for c in data["changes"]),
        unchanged=int(data["unchanged"]),
        managed=int(data["managed"]),
        namespace=data["namespace"],
        base_url=data["base_url"],
        environment=data.get("environment"),
        warnings=tuple(data.get("warnings", ())),
        format_version=int(data["format_version"]),
        errors=tuple(str(e) for e in data.get("errors", ())),
        meta=dict(data.get("meta") or {}),
    )


def save(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write the plan as JSON, atomically: a reader sees the old file or the whole new one."""
    write_atomic(FilePath(path), json.dumps(to_dict(plan), indent=2, ensure_ascii=False) + "\n")


def load(path: str | os.PathLike[str]) -> Plan:
    """Read a plan ``save`` wrote; PlanFileError for a missing, unreadable, corrupt or other-version file."""
    try:
        text = FilePath(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanFileError(
            f"plan file {path} does not exist", hint="create it with `agentsync plan --out FILE`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"cannot read plan file {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"plan file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})",
            hint="it may be truncated; re-run `agentsync plan --out FILE`",
        ) from exc
    try:
        return from_dict(data)
    except PlanFileError as exc:
        raise PlanFileError(f"plan file {path}: {exc.message}", hint=exc.hint) from exc
