"""Phone-number routing: ``phone-numbers.yaml``, a list of ``{phone_number, agent_id, branch_id,
environment}`` matched by the E.164 number.

Adopt-only: a number is bought or imported in the dashboard, and a plan never creates or deletes one
(a declared number the workspace does not have is an error; prune never touches a number). A project
declares which agent (``${agent.KEY.id}``), branch and ElevenLabs environment a number routes to, and
plan and apply manage exactly those fields. The API shows the routing as ``assigned_agent``; the shape
check lifts its fields to the top level, where the PATCH body names them, so that one managed view
serves the diff and the read-back. Routing a number to another agent clears its branch and
environment on the server, so an update that changes the agent sends the declared branch and
environment again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agentsync import spec
from agentsync.kinds.base import Api, Fields, Hooks, JsonObject, Kind, Layout, Path, Shower
from agentsync.kinds.identity import NaturalKey
from agentsync.responses import check_phone_number

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
ROUTING = ("agent_id", "branch_id", "environment")


def routed(item: Any, url: str) -> JsonObject:
    """A checked phone number with its ``assigned_agent`` as top-level ``agent_id``, ``branch_id`` and
    ``environment`` (null when the number routes nowhere)."""
    number = check_phone_number(item, url)
    assigned = number.get("assigned_agent")
    routing: Mapping[str, Any] = assigned if isinstance(assigned, Mapping) else {}
    return {**number, **{key: routing.get(key) for key in ROUTING}}


def number_rules(value: Any, namespaces: list[str], show: Shower) -> list[tuple[Path, str]]:
    """Every entry names its number in E.164 form (``+`` and up to 15 digits)."""
    found: list[tuple[Path, str]] = []
    for index, entry in enumerate(value if isinstance(value, list) else []):
        if not isinstance(entry, dict):
            continue
        number = entry.get("phone_number")
        if number is None:
            found.append(
                ((index,), f"[{index}]: phone_number is required (the E.164 number, such as +14155550100)")
            )
        elif isinstance(number, str) and not E164.fullmatch(number):
            found.append(
                (
                    (index, "phone_number"),
                    f"[{index}].phone_number: {show((index, 'phone_number'), number)} is not an E.164 number "
                    "(+, the country code and the number, digits only)",
                )
            )
    return found


def with_routing(body: dict[str, Any], declared: JsonObject, current: JsonObject) -> dict[str, Any]:
    """A new agent clears the branch and the environment, so send the declared ones again."""
    if "agent_id" not in body:
        return body
    return {**body, **{k: declared[k] for k in ("branch_id", "environment") if k in declared}}


PHONE_NUMBER = Kind(
    name="phone-number",
    plural="phone_numbers",
    noun="phone number",
    # Numbers route to agents, so they are written after agents (and nothing deletes them).
    level=25,
    name_path=("phone_number",),
    api=Api(
        collection="/v1/convai/phone-numbers",
        items_key="",  # the list answer is the array itself
        id_field="phone_number_id",
        item="/v1/convai/phone-numbers/{id}",
        create="/v1/convai/phone-numbers",
        check=routed,
        check_item=routed,
        page_size=None,
        pagination="none",
        no_create="agentsync never creates phone numbers: buy or import the number in the ElevenLabs dashboard first",
        no_delete="agentsync never deletes phone numbers",
    ),
    fields=Fields(
        writable=("phone_number", *ROUTING),
        create_body=spec.PHONE_NUMBER_PATCH_BODY,
        # The PATCH body, and the number itself as the response describes it.
        variants=(spec.PHONE_NUMBER_PATCH_BODY, spec.PHONE_NUMBER_RESPONSES["twilio"]),
        response=spec.PHONE_NUMBER_RESPONSES["twilio"],
        verbatim=frozenset({("phone_number",), *((k,) for k in ROUTING)}),
        immutable=(("phone_number",),),
    ),
    layout=Layout(
        where="phone-numbers.yaml",
        schema_file="phone-numbers.schema.json",
        key_path=("phone_number",),
        allow_env=False,
        order=("phone_number", *ROUTING),
        id_paths=((("agent_id",), "agent"),),
    ),
    identity=NaturalKey(path=("phone_number",), noun="phone number"),
    hooks=Hooks(checks=number_rules, update_body=with_routing),
)
