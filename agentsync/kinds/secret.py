"""Workspace secrets: ``secrets.yaml``, a list of ``{name, value: ${env.X}}`` matched by name.

The value is write-only: sent on create and on a rotation, never read back, never diffed, never in a
plan file (a saved plan keeps the ``${env.X}`` placeholder and a hash). An existing secret's value is
sent again only when asked (``--rotate-secret NAME``), since a changed value cannot be seen. A delete
(authoritative projects only) names what still uses the secret, and the API refuses it while anything
does.
"""

from __future__ import annotations

from typing import Any

from agentsync import spec
from agentsync.kinds.base import Api, Fields, Hooks, JsonObject, Kind, Layout, Path, Shower
from agentsync.kinds.identity import NaturalKey
from agentsync.responses import check_secret

USERS = (
    ("tools", "tool"),
    ("agents", "agent"),
    ("phone_numbers", "phone number"),
    ("mcp_servers", "MCP server"),
)


def used_by(body: JsonObject) -> tuple[str, ...]:
    """What the secret's ``used_by`` says still uses it, as labels (the preview the API gives)."""
    used = body.get("used_by") or {}
    found: list[str] = []
    for key, noun in USERS:
        for user in used.get(key) or []:
            if isinstance(user, dict):
                found.append(
                    f"{noun} {user.get('name') or user.get('phone_number') or ''} ({_id(user)})".replace(
                        " ()", ""
                    )
                )
        if used.get(f"{key}_has_more"):
            found.append(f"more {noun}s")
    found.extend(str(other).replace("_", " ") for other in used.get("others") or [])
    return tuple(found)


def _id(user: JsonObject) -> str:
    return str(user.get("id") or user.get("phone_number_id") or "")


def value_from_env(value: Any, namespaces: list[str], show: Shower) -> list[tuple[Path, str]]:
    """Each secret's value must come from ``${env.*}``: a literal would sit in the repository."""
    found: list[tuple[Path, str]] = []
    for index, entry in enumerate(value if isinstance(value, list) else []):
        text = entry.get("value") if isinstance(entry, dict) else None
        # An unset ${env.X} is reported where it stands; the value then still holds the placeholder.
        unset = isinstance(text, str) and "${env." in text
        if (
            isinstance(text, str)
            and not unset
            and not show((index, "value"), text).startswith("the value of ")
        ):
            message = f"[{index}].value: a secret's value must be a ${{env.NAME}} placeholder, never written in the file"
            found.append(((index, "value"), message))
    return found


SECRET = Kind(
    name="secret",
    plural="secrets",
    noun="workspace secret",
    level=5,
    api=Api(
        collection="/v1/convai/secrets",
        items_key="secrets",
        id_field="secret_id",
        item="/v1/convai/secrets/{id}",
        create="/v1/convai/secrets",
        check=check_secret,
        check_item=check_secret,
        pagination="next_cursor",
        create_constants={"type": "new"},
        update_constants={"type": "update"},
    ),
    fields=Fields(
        writable=("name", "value"),
        create_body=spec.SECRET_CREATE_BODY,
        response=spec.SECRET_RESPONSE,
        verbatim=frozenset({("name",), ("value",)}),
        write_only=(("value",),),
        whole_update=True,
    ),
    layout=Layout(where="secrets.yaml", schema_file="secrets.schema.json", key_path=("name",)),
    identity=NaturalKey(path=("name",), noun="workspace secret"),
    hooks=Hooks(attached=used_by, checks=value_from_env),
)
