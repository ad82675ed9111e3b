"""Environment variables: ``environment-variables.yaml``, a list of ``{label, type, values}`` matched
by label.

ElevenLabs' native environments: one agent and one tool serve every environment, and what differs
(a URL, a key, an auth connection) is a variable whose ``values`` map an ElevenLabs environment name
to its value. ``production`` is required. A ``secret`` variable's values are ``{secret_id:
${secret.KEY.id}}``, an ``auth_connection`` one's ``{auth_connection_id: ...}``.

The API has no DELETE: a variable no file declares any more is reported as kept, never deleted. The
type and the label are fixed once created (an update carries ``values`` only), so a change of either
is a plan error at its line. An update sends every declared environment, and ``null`` for each
environment the workspace has and the file no longer declares: that ends the same on a server that
merges ``values`` key by key and on one that replaces it whole.
"""

from __future__ import annotations

from typing import Any

from agentsync import spec
from agentsync.kinds.base import Api, Fields, Hooks, JsonObject, Kind, Layout, Path, Shower
from agentsync.kinds.identity import NaturalKey
from agentsync.responses import check_environment_variable
from agentsync.strategy import Strategy

PRODUCTION = "production"
# What one value of each type is: a string, or an object holding this one id.
VALUE_KEY: dict[str, str | None] = {
    "string": None,
    "secret": "secret_id",
    "auth_connection": "auth_connection_id",
}


def _fits(type_: str, value: Any) -> bool:
    key = VALUE_KEY.get(type_)
    if key is None:
        return isinstance(value, str)
    return isinstance(value, dict) and set(value) == {key} and isinstance(value[key], str)


def _shape(type_: str) -> str:
    key = VALUE_KEY.get(type_)
    return "a string" if key is None else f"{{{key}: ...}}"


def value_rules(value: Any, namespaces: list[str], show: Shower) -> list[tuple[Path, str]]:
    """Every variable has a ``production`` value, and every value fits the variable's type."""
    found: list[tuple[Path, str]] = []
    for index, entry in enumerate(value if isinstance(value, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
            continue
        values, type_ = entry["values"], entry.get("type")
        if PRODUCTION not in values:
            found.append(
                (
                    (index, "values"),
                    f"[{index}].values: a 'production' value is required (calls without an environment use it)",
                )
            )
        if not isinstance(type_, str) or type_ not in VALUE_KEY:
            continue  # the schema reports a type that is not one of these
        for environment, item in values.items():
            if not _fits(str(type_), item):
                found.append(
                    (
                        (index, "values", environment),
                        f"[{index}].values.{environment}: a {type_} variable's value is {_shape(str(type_))}",
                    )
                )
    return found


def removed_environments(body: dict[str, Any], declared: JsonObject, current: JsonObject) -> dict[str, Any]:
    """``null`` for each environment the workspace holds and the file no longer declares."""
    values = body.get("values")
    held = current.get("values")
    if not isinstance(values, dict) or not isinstance(held, dict):
        return body
    return {**body, "values": {**values, **{k: None for k in held if k not in values}}}


ENVIRONMENT_VARIABLE = Kind(
    name="environment-variable",
    plural="environment_variables",
    noun="environment variable",
    level=8,
    name_path=("label",),
    api=Api(
        collection="/v1/convai/environment-variables",
        items_key="environment_variables",
        id_field="id",
        item="/v1/convai/environment-variables/{id}",
        create="/v1/convai/environment-variables",
        check=check_environment_variable,
        check_item=check_environment_variable,
        no_delete="the API cannot delete environment variables",
    ),
    fields=Fields(
        writable=("label", "type", "values"),
        create_body=spec.ENV_VAR_CREATE_BODIES["string"],
        variants=tuple(spec.ENV_VAR_CREATE_BODIES.values()),
        response=spec.ENV_VAR_RESPONSE,
        # Compared whole, so that an environment the file no longer declares shows as a change.
        strategies={("values",): Strategy.REPLACE},
        verbatim=frozenset({("label",), ("type",), ("values",)}),
        immutable=(("label",), ("type",)),
    ),
    # Values are shown to everyone in the workspace: a secret is a workspace secret that a
    # secret-typed variable points at, never an ${env.*} value here.
    layout=Layout(
        where="environment-variables.yaml",
        schema_file="environment-variables.schema.json",
        key_path=("label",),
        allow_env=False,
        order=("label", "type", "values"),
        environment_keys=("values",),
        id_paths=((("values", "*", "secret_id"), "secret"),),
    ),
    identity=NaturalKey(path=("label",), noun="environment variable"),
    hooks=Hooks(checks=value_rules, update_body=removed_environments),
)
