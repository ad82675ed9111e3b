"""Which agents and tags pull writes: the selection over the agent list's summaries (owned, declared, or
listed with --all/--search), new keys from names, and the tag list merged entry by entry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsync.errors import UsageError
from agentsync.kinds import Definition
from agentsync.kinds.agent import AGENT
from agentsync.kinds.base import Index
from agentsync.kinds.identity import Marker, marker_key
from agentsync.kinds.tag import TAG
from agentsync.pullview import PullError
from agentsync.remote import get_one, index_of, list_items
from agentsync.values import same
from agentsync.yamlwrite import Editor, dump, yaml_engine

if TYPE_CHECKING:
    from agentsync.client import Client

AgentDef = Definition
TagDef = Definition


def summary_tags(summary: Mapping[str, Any]) -> list[str]:
    return [t for t in summary.get("tags") or [] if isinstance(t, str)]


def owned_keys(tags: Sequence[str], namespace: str) -> list[str]:
    return [k for k in (marker_key(t, namespace) for t in tags) if k is not None]


def agent_owners(summaries: Sequence[Mapping[str, Any]], namespace: str) -> dict[str, list[str]]:
    return {k: list(v) for k, v in index_of(AGENT, summaries, namespace).keys.items()}


def only_owner(key: str, ids: Sequence[str], namespace: str) -> str | None:
    return Marker(noun=AGENT.noun).only(key, Index({}, {key: tuple(ids)}), namespace)


def list_tags(client: Client) -> list[dict[str, Any]]:
    return [dict(t) for t in list_items(client, TAG)]


def list_summaries(client: Client, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(s) for s in list_items(client, AGENT, params)]


def list_all_agents(client: Client) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return list_summaries(client, {"archived": False}), list_summaries(client, {"archived": True})


def get_agent(client: Client, agent_id: str) -> Mapping[str, Any]:
    return get_one(client, AGENT, agent_id)


# --------------------------------------------------------------------------------------------------
# tags.yaml: the conversation-tag list, merged into an existing file entry by entry.


def tag_entry(tag: Mapping[str, Any]) -> dict[str, Any]:
    entry = {"title": tag["title"]}
    if tag.get("description") is not None:
        entry["description"] = tag["description"]
    return entry


def _check_titles(tags: Sequence[Mapping[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for tag in tags:
        if tag["title"] in seen:
            raise PullError(
                f"two conversation tags are titled {tag['title']!r} "
                f"({seen[tag['title']]} and {tag['tag_id']}); tags.yaml matches tags by title",
                hint="rename or delete one of them in the workspace, then pull again",
            )
        seen[tag["title"]] = str(tag["tag_id"])


def render_tags(path: Path, tags: Sequence[Mapping[str, Any]]) -> str:
    """tags.yaml for the workspace's tags, oldest first; an existing file keeps its order, comments and
    ``id:`` entries, loses the tags that are gone, and gains the new ones at the end."""
    from ruamel.yaml.comments import CommentedSeq

    _check_titles(tags)
    ordered = sorted(tags, key=lambda t: (t.get("created_at_unix_secs") or 0, t["title"]))
    document = _load_tags(path)
    if not isinstance(document, CommentedSeq):
        document = CommentedSeq()
    editor = Editor(path.parent)
    remaining = list(ordered)
    for entry in list(document):
        match = _match_tag(entry, remaining)
        if match is None:
            document.remove(entry)
            continue
        remaining.remove(match)
        keep = ("id",) if "id" in entry else ()
        editor.update_map(entry, tag_entry(match) | ({"id": match["tag_id"]} if keep else {}), keep)
    document.extend(editor.new(tag_entry(t)) for t in remaining)
    return dump(document, top_level_list=True)


def tags_match(declared: Sequence[TagDef], tags: Sequence[Mapping[str, Any]]) -> bool:
    """Whether tags.yaml already says what the workspace holds: one entry per tag, same text."""
    if len(declared) != len(tags):
        return False
    remaining = list(tags)
    for definition in declared:
        match = _match_tag(
            {**definition.config, **({"id": definition.id} if definition.id else {})}, remaining
        )
        if match is None or not same(definition.config, tag_entry(match)):
            return False
        remaining.remove(match)
    return True


def _load_tags(path: Path) -> Any:
    if not path.is_file():
        return None
    from ruamel.yaml.error import YAMLError

    try:
        return yaml_engine(top_level_list=True).load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        raise PullError(
            f"cannot merge into {path}: it is not valid YAML ({exc.__class__.__name__})",
            hint="fix or delete the file and pull again",
        ) from exc


def _match_tag(entry: Any, tags: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not isinstance(entry, Mapping):
        return None
    for tag in tags:
        if ("id" in entry and tag["tag_id"] == entry["id"]) or (
            "id" not in entry and tag["title"] == entry.get("title")
        ):
            return tag
    return None


# --------------------------------------------------------------------------------------------------
# Which agents: selection over the list endpoint's summaries.

SLUG_INVALID = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """A file-system safe key from an agent name: lower case ASCII letters, digits and dashes."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return SLUG_INVALID.sub("-", ascii_name.lower()).strip("-")[:60].strip("-") or "agent"


def unique_key(name: str, taken: set[str]) -> str:
    base = slug(name)
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


@dataclass(frozen=True)
class Selected:
    key: str
    agent_id: str
    owned: bool


def _owned(summary: Mapping[str, Any], namespace: str) -> str | None:
    return next(iter(owned_keys(summary_tags(summary), namespace)), None)


def _sole_owner(key: str, owners: Mapping[str, list[str]], namespace: str) -> str:
    found = only_owner(key, owners[key], namespace)
    assert found is not None, "owners lists only keys that some agent carries"
    return found


def select_by_keys(
    keys: Iterable[str],
    owners: Mapping[str, list[str]],
    declared_ids: Mapping[str, str],
    namespace: str,
    *,
    strict: bool,
) -> tuple[list[Selected], list[str]]:
    """The agents for these keys: by marker, else by the file's ``id:``. A key with neither is an error
    when asked for by name (``strict``) and skipped otherwise (apply has not created it yet)."""
    chosen: list[Selected] = []
    skipped: list[str] = []
    for key in keys:
        if key in owners:
            chosen.append(Selected(key, _sole_owner(key, owners, namespace), True))
        elif key in declared_ids:
            chosen.append(Selected(key, declared_ids[key], False))
        elif strict:
            raise UsageError(
                f"no agent in the workspace carries the marker {namespace}:{key}",
                hint="use --all or --search to pull agents agentsync does not manage yet",
            )
        else:
            skipped.append(key)
    return chosen, skipped


def select_listed(
    summaries: Iterable[Mapping[str, Any]],
    owners: Mapping[str, list[str]],
    declared_ids: Mapping[str, str],
    namespace: str,
    taken: set[str],
) -> list[Selected]:
    """Every listed agent: owned ones under their key, adopted-by-file ones under that file's key,
    the rest under a new key made from the name."""
    by_id = {agent_id: key for key, agent_id in declared_ids.items()}
    chosen: list[Selected] = []
    for summary in summaries:
        agent_id = str(summary["agent_id"])
        key = _owned(summary, namespace)
        if key is not None:
            chosen.append(Selected(key, _sole_owner(key, owners, namespace), True))
        elif agent_id in by_id:
            chosen.append(Selected(by_id[agent_id], agent_id, False))
        else:
            chosen.append(Selected(unique_key(str(summary.get("name") or ""), taken), agent_id, False))
    return _dedupe(chosen)


def _dedupe(chosen: list[Selected]) -> list[Selected]:
    unique: dict[str, Selected] = {}
    for item in chosen:
        unique.setdefault(item.agent_id, item)
    return list(unique.values())
