"""The remote state: what the workspace holds for the kinds and keys in scope."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentsync.errors import ApiError
from agentsync.ids import item_path
from agentsync.resources.agent import agents_in_scope
from agentsync.responses import check_agent, check_summary, check_tag

if TYPE_CHECKING:
    from agentsync.client import Client
    from agentsync.project import Project

AGENTS_PATH = "/v1/convai/agents"
TAGS_PATH = "/v1/convai/tags"
PAGE_SIZE = 100


@dataclass(frozen=True)
class RemoteState:
    """``agent_summaries`` is every summary the list endpoint returned (archived ones included);
    ``agents`` maps agent id to the full GET body, only for the agents in scope; ``tags`` is the whole
    conversation-tag list, or None when tags were not fetched (the project does not manage them)."""

    agent_summaries: tuple[Mapping[str, Any], ...]
    agents: Mapping[str, Mapping[str, Any]]
    tags: tuple[Mapping[str, Any], ...] | None
    base_url: str = ""
    stats: dict[str, int] = field(default_factory=dict)


def manages_tags(project: Project) -> bool:
    return project.tags is not None or project.settings.tags_authoritative


def fetch(client: Client, project: Project, *, targets: Sequence[str] = ()) -> RemoteState:
    """Read exactly what the plan needs: the agent list pages (active and archived), one GET per agent
    in scope, and the tag list when the project manages tags. Any failure raises; nothing that failed
    to load is ever reported as absent."""
    summaries, tags = _lists(client, manages_tags(project))
    ids = agents_in_scope(project.agents, summaries, project.namespace, targets=tuple(targets))
    declared = {d.id for d in project.agents.values() if d.id}
    agents = _get_agents(client, ids, declared)
    return RemoteState(tuple(summaries), agents, tags, client.base_url, stats=client.stats)


def list_summaries(client: Client, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every page of one agent listing, each item checked to be a summary before anything reads it
    (a summary without its tags would hide an owned agent's marker)."""
    items = list(client.paginate(AGENTS_PATH, "agents", {"page_size": PAGE_SIZE, **params}))
    _check_all(check_summary, items, client.base_url + AGENTS_PATH)
    return items


def list_tags(client: Client) -> list[dict[str, Any]]:
    """Every conversation tag, each checked to be one."""
    items = list(client.paginate(TAGS_PATH, "conversation_tags", {"page_size": PAGE_SIZE}))
    _check_all(check_tag, items, client.base_url + TAGS_PATH)
    return items


def get_agent(client: Client, agent_id: str) -> Mapping[str, Any]:
    """One full agent, checked to have the API's shape."""
    path = item_path(AGENTS_PATH, agent_id)
    return check_agent(client.get(path), f"{client.base_url}{path}")


def list_all_agents(client: Client) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The active and the archived agent summaries, read side by side. The list excludes archived
    agents by default; an owned archived agent must not look absent (and be created again)."""
    jobs: list[Mapping[str, Any]] = [{"archived": False}, {"archived": True}]
    active, archived = _all_or_raise(client.map(lambda params: list_summaries(client, params), jobs))
    return active, archived


def _lists(client: Client, with_tags: bool) -> tuple[list[dict[str, Any]], tuple[dict[str, Any], ...] | None]:
    jobs: list[Callable[[], list[dict[str, Any]]]] = [
        lambda: list_summaries(client, {"archived": False}),
        lambda: list_summaries(client, {"archived": True}),
    ]
    if with_tags:
        jobs.append(lambda: list_tags(client))
    pages = _all_or_raise(client.map(lambda job: job(), jobs))
    summaries = _unique(pages[0] + pages[1], "agent_id")
    return summaries, (tuple(pages[2]) if with_tags else None)


def _check_all(check: Callable[[Any, str], object], items: list[Any], url: str) -> None:
    for item in items:
        check(item, url)


def _unique(items: list[dict[str, Any]], id_key: str) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(str(item.get(id_key)), item)
    return list(seen.values())


def _get_agents(client: Client, ids: list[str], declared: set[str]) -> dict[str, Mapping[str, Any]]:
    bodies = client.map(lambda agent_id: get_agent(client, agent_id), ids)
    found: dict[str, Mapping[str, Any]] = {}
    for agent_id, body in zip(ids, bodies, strict=True):
        if isinstance(body, ApiError) and body.status == 404 and agent_id in declared:
            continue  # a declared id: that does not exist; the planner reports it
        found[agent_id] = _all_or_raise([body])[0]
    return found


def _all_or_raise(results: list[Any]) -> list[Any]:
    """The results, or the first failure raised: a partial read must never pass for the whole."""
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
