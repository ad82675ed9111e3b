"""The phone-number endpoints: list, get, and the PATCH that routes a number.

The spec's document has no import operation, so numbers enter the emulator through
``POST /_emulator/phone-numbers`` (``{phone_number, label, provider}``) or :meth:`PhoneNumberApi.add`.

Decisions where the reference is silent:
- The list is a plain array, oldest first, unpaginated; ``provider``, ``agent_id`` and ``branch_id``
  filter it (the last two on ``assigned_agent``).
- PATCH is partial. ``label`` given with a value replaces it. ``agent_id`` routes the number to an agent
  (an unknown one is **404** ``agent_not_found``); ``agent_id: null`` unassigns it, and takes its branch
  and environment along. ``branch_id`` and ``environment`` apply to the assigned agent (given without
  one, they are **400** ``no_agent_assigned``); a branch must be one of the agent's (the emulator knows
  only its main branch: **404** ``branch_not_found`` otherwise); ``null`` clears either (the main branch,
  the ``production`` environment at call time). Routing to another agent clears the branch and the
  environment, unless the same PATCH gives them. Keys left out are kept. Trunk, LiveKit and SIP-message settings are accepted and
  ignored: only SIP-trunk numbers have them, and the emulator holds Twilio and Exotel numbers.
- ``assigned_agent`` is ``{agent_id, agent_name, environment, branch_id}`` or ``null``.
"""

from __future__ import annotations

from typing import Any

from agentsync import spec
from agentsync.emulator import ids
from agentsync.emulator.problems import HttpProblem, detail_problem, not_found
from agentsync.emulator.routing import Request, Response, json_response
from agentsync.emulator.store import Store
from agentsync.emulator.validation import strip_unknown

TABLE = "phone_numbers"
PROVIDERS = ("twilio", "exotel")


class PhoneNumberApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, phone_number: str, label: str = "", provider: str = "twilio") -> dict[str, Any]:
        """Import a number as the dashboard would: unassigned, with a new id."""
        if provider not in PROVIDERS:
            raise detail_problem(
                400, "validation_error", "invalid_provider", f"Unknown provider {provider!r}."
            )
        number: dict[str, Any] = {
            "phone_number_id": ids.phone_number_id(),
            "phone_number": phone_number,
            "label": label or phone_number,
            "provider": provider,
            "supports_inbound": True,
            "supports_outbound": True,
            "routing": None,
        }
        self.store.put(TABLE, str(number["phone_number_id"]), number, "user_admin")
        return self._shown(number)

    def list(self, request: Request) -> Response:
        shown = [self._shown(r.body) for r in self.store.records(TABLE)]
        return json_response([n for n in shown if _listed(n, request.query)])

    def get(self, request: Request) -> Response:
        return json_response(self._shown(self._existing(request.params["phone_number_id"])))

    def patch(self, request: Request) -> Response:
        body = strip_unknown(request.body, spec.schema(spec.PHONE_NUMBER_PATCH_BODY))
        with self.store.lock:
            number = self._existing(request.params["phone_number_id"])
            if body.get("label") is not None:
                number["label"] = body["label"]
            number["routing"] = self._routed(number["routing"], body)
            self.store.put(TABLE, number["phone_number_id"], number, request.caller.user_id)
        return json_response(self._shown(number), wrote=True)

    def _routed(self, current: dict[str, Any] | None, body: dict[str, Any]) -> dict[str, Any] | None:
        routing = dict(current) if current else None
        if "agent_id" in body:
            if body["agent_id"] is None:
                return None
            agent = self.store.get_agent(body["agent_id"])
            if agent is None:
                raise not_found("agent", body["agent_id"])
            if routing is None or routing["agent_id"] != body["agent_id"]:
                routing = {"agent_id": body["agent_id"], "branch_id": None, "environment": None}
        for key in ("branch_id", "environment"):
            if key in body:
                if routing is None:
                    raise _no_agent(key)
                if key == "branch_id" and body[key] is not None:
                    self._check_branch(routing["agent_id"], body[key])
                routing[key] = body[key]
        return routing

    def _check_branch(self, agent_id: str, branch_id: str) -> None:
        agent = self.store.get_agent(agent_id) or {}
        if branch_id not in {agent.get("main_branch_id"), agent.get("branch_id")}:
            raise detail_problem(
                404,
                "not_found",
                "branch_not_found",
                f"Branch with id {branch_id} was not found on agent {agent_id}.",
            )

    def _shown(self, number: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in number.items() if k != "routing"}
        routing = number.get("routing")
        agent = self.store.get_agent(routing["agent_id"]) if routing else None
        shown["assigned_agent"] = (
            None if routing is None or agent is None else {**routing, "agent_name": agent.get("name") or ""}
        )
        return shown

    def _existing(self, phone_number_id: str) -> dict[str, Any]:
        found = self.store.get(TABLE, phone_number_id)
        if found is None:
            raise not_found("phone_number", phone_number_id)
        return found


def _listed(number: dict[str, Any], query: dict[str, Any]) -> bool:
    if query.get("provider") is not None and number["provider"] != query["provider"]:
        return False
    assigned = number["assigned_agent"] or {}
    return all(query.get(key) is None or assigned.get(key) == query[key] for key in ("agent_id", "branch_id"))


def _no_agent(key: str) -> HttpProblem:
    return detail_problem(
        400,
        "validation_error",
        "no_agent_assigned",
        f"The phone number has no agent assigned, so {key} cannot be set; give agent_id as well.",
        param=key,
    )
