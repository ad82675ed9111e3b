"""The second half of a replacement: deleting the object a new one stands in for.

A replacement (``Action.REPLACE``) is written as a create in its kind's stage; what references the
resource by ``${KIND.KEY.id}`` then moves to the new id in its own stage. Only in the delete stages,
and only when every one of those writes was applied, is the old object deleted: an object something
may still point at is never taken away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from agentsync.errors import AgentsyncError, ApiError
from agentsync.kinds import by_name
from agentsync.outcomes import Outcome, Result
from agentsync.plan import Plan
from agentsync.remote import ApiClient, item_path


def retire(client: ApiClient, plan: Plan, results: Mapping[int, Result], index: int) -> Result:
    """The result of replacement ``index`` once its old object is deleted (or why it was kept)."""
    change, created = plan.changes[index], results[index]
    if created.outcome is not Outcome.APPLIED or change.remote_id is None:
        return created  # nothing new to move to (or a dry run): the old object stays as it is
    waiting = [
        c.label
        for i, c in enumerate(plan.changes)
        if change.ref in c.depends_on and getattr(results.get(i), "outcome", None) is not Outcome.APPLIED
    ]
    old = change.remote_id
    if waiting:
        return _kept(created, old, f"{', '.join(waiting)} did not move to the new one")
    path = item_path(by_name(change.kind), old)
    try:
        _delete(client, path)
    except AgentsyncError as exc:
        return _kept(created, old, f"deleting it failed: {exc.message}")
    return created


def _delete(client: ApiClient, path: str) -> None:
    try:
        client.delete(path)
    except ApiError as exc:
        if exc.status != 404:  # already gone is what we wanted
            raise
    try:
        client.get(path)
    except ApiError as exc:
        if exc.status == 404:
            return
        raise
    raise AgentsyncError("it still exists after DELETE")


def _kept(created: Result, old: str, why: str) -> Result:
    reason = (
        f"created as {created.remote_id}, but the old one ({old}) was kept: {why}; "
        f"delete {old} once nothing uses it"
    )
    return replace(created, outcome=Outcome.FAILED, reason=reason)
