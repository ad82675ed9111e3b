"""One Change per resource, for any kind: the create, the update (or adopt), the delete.

The body and the field list come from the diff core with the kind's fields; the ownership marker comes
from the kind's identity (added on create, adopt and re-key, hidden from every view).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from agentsync import diff
from agentsync import variables as templates
from agentsync.errors import IdentityError
from agentsync.kinds import Definition, Kind
from agentsync.kinds.base import JsonObject, Match
from agentsync.plan import ABSENT, Action, Change, FieldChange, SecretRef, dotted, fingerprint
from agentsync.remote import item_path


def create(kind: Kind, definition: Definition, namespace: str) -> Change:
    config = definition.config
    body: dict[str, Any] = {k: copy.deepcopy(config[k]) for k in kind.fields.writable if k in config}
    for name in kind.fields.required:
        body.setdefault(name, {})
    body = kind.identity.claim(body, definition.key, namespace, None)
    view = diff.desired_view(kind.fields, config)
    return Change(
        kind.name,
        Action.CREATE,
        definition.key,
        None,
        shown_name(kind, definition),
        tuple(diff.changes({}, view)),
        "POST",
        kind.api.create,
        body,
        fingerprint(kind.name, definition.key, None),
        source=definition.location_of(()),
        notes=kind.identity.notes(Action.CREATE.value, definition.key, None, namespace),
    )


def replaced_paths(kind: Kind, definition: Definition, remote: JsonObject, namespace: str) -> tuple[str, ...]:
    """The changed paths the kind cannot update (``Fields.replace_on``): any one means a replacement."""
    fields = kind.fields
    if not fields.replace_on:
        return ()
    declared = diff.desired_view(fields, definition.config)
    current = diff.managed_view(fields, definition.config, kind.identity.hide(remote, namespace))
    changed = diff.changes(current, diff.complete(fields, declared, current))
    return tuple(
        dict.fromkeys(
            fc.dotted for fc in changed for p in fields.replace_on if fc.path[: len(p)] == p[: len(fc.path)]
        )
    )


def replacement(
    kind: Kind,
    definition: Definition,
    match: Match,
    remote: JsonObject,
    namespace: str,
    paths: tuple[str, ...],
) -> Change:
    """The create that stands in for an update the API cannot make; apply deletes the old object
    (``remote_id``) once every change that references the new one has been applied."""
    if definition.id:
        raise IdentityError(
            f"{definition.where}{', '.join(paths)} cannot be updated, so the {kind.noun} would be replaced "
            f"by a new one with a new id, but id: pins {definition.id}",
            hint=f"remove id: from {definition.file}: the {kind.noun} is then found by its name and replaced",
        )
    created = create(kind, definition, namespace)
    current = diff.managed_view(kind.fields, definition.config, kind.identity.hide(remote, namespace))
    wanted = diff.complete(kind.fields, diff.desired_view(kind.fields, definition.config), current)
    note = (
        f"{', '.join(paths)} cannot be updated: a new {kind.noun} is created, what references it moves to "
        f"the new id, and {match.remote_id} is deleted after that"
    )
    return dataclasses.replace(
        created,
        action=Action.REPLACE,
        remote_id=match.remote_id,
        name=shown_name(kind, definition, remote),
        fields=tuple(diff.changes(current, wanted)),
        fingerprint=fingerprint(kind.name, definition.key, remote),
        notes=(note,),
    )


def as_update(kind: Kind, body: JsonObject) -> dict[str, Any]:
    """A body in the declared layout as the update request carries it (``Api.update_root``)."""
    root = kind.api.update_root
    return dict(body.get(root) or {}) if root else dict(body)


def update(
    kind: Kind,
    definition: Definition,
    match: Match,
    remote: JsonObject,
    namespace: str,
    *,
    rotate: bool = False,
) -> Change | None:
    """The update (or adopt) of a matched resource, or None when nothing it manages differs.
    ``rotate`` sends the write-only fields again (the API never shows them, so they never differ)."""
    fields = kind.fields
    paths = replaced_paths(kind, definition, remote, namespace)
    if paths:
        return replacement(kind, definition, match, remote, namespace, paths)
    declared = diff.desired_view(fields, definition.config)
    current = diff.managed_view(fields, definition.config, kind.identity.hide(remote, namespace))
    wanted = diff.complete(fields, declared, current)
    # Compared once: an unchanged resource (the common case) has no changes and an empty body.
    unchanged = diff.same(current, wanted)
    found = () if unchanged else tuple(diff.changes(current, wanted))
    _check_immutable(kind, definition, found)
    body = {} if unchanged else diff.patch_body(fields, declared, current, wanted)
    if body:
        body = kind.hooks.update_body(body, declared, current)
    rekey = match.adopt or match.previous_key is not None
    if not body and not rekey and not rotate:
        return None
    resent = _write_only(kind, definition) if rotate or (body and fields.whole_update) else {}
    if fields.whole_update or kind.api.update_method == "PUT":  # a full replace: what is left out is lost
        body = {k: copy.deepcopy(definition.config[k]) for k in fields.writable if k in definition.config}
    body.update(resent)
    field = kind.identity.marker_field
    if rekey or kind.identity.claims(body):
        if field is not None and field in definition.config:
            body[field] = copy.deepcopy(definition.config[field])  # as declared, not as compared
        body = kind.identity.claim(body, definition.key, namespace, remote)
    body = as_update(kind, body)
    action = Action.ADOPT if match.adopt else Action.UPDATE
    assert match.remote_id is not None, "an update always names its remote object"
    return Change(
        kind.name,
        action,
        definition.key,
        match.remote_id,
        shown_name(kind, definition, remote),
        found + tuple(FieldChange((k,), new=v) for k, v in resent.items()),
        kind.api.update_method,
        item_path(kind, match.remote_id),
        body,
        fingerprint(kind.name, definition.key, remote),
        source=definition.location_of(()),
        previous_key=match.previous_key,
        notes=kind.identity.notes(action.value, definition.key, match.previous_key, namespace)
        + (("write-only value sent again (rotation); it is never read back or compared",) if resent else ()),
    )


def _check_immutable(kind: Kind, definition: Definition, found: tuple[FieldChange, ...]) -> None:
    """A field fixed at create (an environment variable's type) that differs cannot be planned as an
    update; and where the kind cannot be deleted either, it cannot be replaced."""
    for change in found:
        fixed = next((p for p in kind.fields.immutable if change.path[: len(p)] == p), None)
        if fixed is None:
            continue
        where = definition.location_of(fixed) or definition.file
        old = change.old if change.old is not ABSENT else "unset"
        way = (
            f"and it cannot be replaced ({kind.api.no_delete})"
            if kind.api.no_delete
            else "so it cannot be planned as an update"
        )
        raise IdentityError(
            f"{where}: {kind.noun} '{definition.key}' has {dotted(fixed)} {old!r} in the workspace, and "
            f"{dotted(fixed)} cannot change once created, {way}",
            hint=f"restore the old value, or declare the {kind.noun} under a new name and remove the old "
            "one in the ElevenLabs dashboard",
        )


def _write_only(kind: Kind, definition: Definition) -> dict[str, Any]:
    """The declared top-level write-only fields, as sent on a rotation."""
    paths = [p for p in kind.fields.write_only if len(p) == 1 and p[0] in definition.config]
    return {str(p[0]): copy.deepcopy(definition.config[str(p[0])]) for p in paths}


def shown_name(kind: Kind, definition: Definition, remote: JsonObject | None = None) -> str | None:
    """The name a plan shows and saves; one from ``${env.*}`` is a secret, shown as its placeholder."""
    secret = definition.secrets.get(kind.name_path)
    if secret is not None:
        return secret
    return kind.display_name(definition.config) or (kind.display_name(remote) if remote is not None else None)


def delete(kind: Kind, key: str, remote_id: str, remote: JsonObject) -> Change:
    return Change(
        kind.name,
        Action.DELETE,
        key,
        remote_id,
        kind.display_name(remote),
        (),
        "DELETE",
        item_path(kind, remote_id),
        None,
        fingerprint(kind.name, key, remote),
        attached=kind.hooks.attached(remote),
        notes=("owned by this project, and no file declares it",),
    )


def secrets(definition: Definition, digest_key: bytes = b"") -> tuple[SecretRef, ...]:
    """Where the definition's ``${env.*}`` values are, with their templates and keyed digests."""
    found = []
    for path, template in sorted(definition.secrets.items(), key=lambda item: str(item[0])):
        present, value = templates.value_at(definition.config, path)
        if present:
            found.append(
                SecretRef(path, template, templates.secret_hash(templates.secret_text(value), digest_key))
            )
    return tuple(found)
