"""The Kind interface: what every engine needs to know about one kind of ElevenLabs resource.

A kind is data plus a few hooks. The engines (load, fetch, diff, plan, apply, pull, render, schemas) are
written once and loop over :data:`agentsync.kinds.KINDS`; nothing outside ``agentsync/kinds/`` names a
kind. This is Terraform's resource (schema + CRUD + import on one plan engine) and octoDNS's record
type, as values.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, Protocol

from agentsync.errors import Location
from agentsync.strategy import Path, Strategy, derive

__all__ = [
    "Api",
    "Definition",
    "Fields",
    "Hooks",
    "Identity",
    "Index",
    "JsonObject",
    "Kind",
    "Layout",
    "Match",
    "Path",
    "Ref",
    "Shower",
]

JsonObject = Mapping[str, Any]
# How a message shows a value at a path: quoted, or as its ${env.*} placeholder (never a secret).
Shower = Callable[[Path, Any], str]


class Ref(NamedTuple):
    """``${tool.lookup-order.id}`` is ``Ref("tool", "lookup-order")``: the remote id of a managed
    resource, resolved by the planner (or by apply, for a resource created in the same apply)."""

    kind: str
    key: str

    @property
    def text(self) -> str:
        return f"${{{self.kind}.{self.key}.id}}"


@dataclass(frozen=True)
class Definition:
    """What one file (or one list entry) declares, loaded and resolved; one type for every kind.

    ``config`` holds only the writable fields it declares, as plain JSON values; ``locations`` maps a
    path inside ``config`` to its place in a file (the empty path is the definition itself);
    ``secrets`` the paths whose value came from ``${env.*}`` (with the text written there);
    ``references`` the paths that still hold ``${KIND.KEY.id}``; ``origins`` the paths whose value came
    from an environment override (with the override's dotted path in agentsync.yaml).
    """

    kind: str
    key: str
    file: str
    config: Mapping[str, Any]
    id: str | None = None
    renamed_from: str | None = None
    locations: Mapping[Path, Location] = field(default_factory=dict)
    secrets: Mapping[Path, str] = field(default_factory=dict)
    references: Mapping[Path, str] = field(default_factory=dict)
    origins: Mapping[Path, str] = field(default_factory=dict)

    def location_of(self, path: Path) -> Location | None:
        """The location of ``path``, or of its nearest declared ancestor."""
        for end in range(len(path), -1, -1):
            found = self.locations.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    @property
    def where(self) -> str:
        """``file:line:col: `` of the definition, for messages."""
        return f"{self.location_of(()) or self.file}: "


@dataclass(frozen=True)
class Api:
    """Where the kind lives in the API and how its answers are checked."""

    collection: str  # the list path
    items_key: str  # the list page's array
    id_field: str  # the id in list items, GET bodies and create answers
    item: str  # GET / PATCH (or PUT) / DELETE path, with {id}
    create: str  # the create path
    check: Callable[[Any, str], JsonObject]  # the shape check of one full resource
    check_item: Callable[[Any, str], JsonObject]  # the shape check of one list item
    update_method: str = "PATCH"
    version_field: str | None = None  # a write may carry a note of what made it (agents)
    listings: tuple[Mapping[str, Any], ...] = ({},)  # agents: active and archived
    list_is_full: bool = True  # False: list items are summaries; GET each one in scope
    page_size: int | None = 100
    pagination: str = "has_more"  # "none": one answer holds the whole list (MCP servers)
    # The agents that use one object ({id}): a delete of one still in use is refused by the plan.
    dependents: str | None = None
    # The same, read from each object's own body instead (MCP servers list their dependent_agents).
    dependents_field: str | None = None
    # An update sends this top-level field's value as the whole body (MCP servers: PATCH takes the
    # config's fields at the top, not under ``config``); plans, diffs and read-backs keep the declared layout.
    update_root: str | None = None
    # Fixed fields every create / update request carries and no read shows (a secret's "type": "new").
    create_constants: Mapping[str, Any] = field(default_factory=dict)
    update_constants: Mapping[str, Any] = field(default_factory=dict)
    # Why a plan never creates or never deletes one (None: it does). A declared object that does not
    # exist is then an error, and an owned one no file declares is reported as kept, never deleted.
    no_create: str | None = None  # phone numbers: "agentsync never creates phone numbers: ..."
    no_delete: str | None = None  # environment variables: "the API cannot delete environment variables"


@dataclass(frozen=True)
class Fields:
    """The writable fields and how the server treats each path (mostly derived from the spec)."""

    writable: tuple[str, ...]
    create_body: str  # component names: the editor schema, the defaults, the strategy table
    response: str
    merge_roots: Mapping[Path, str] = field(default_factory=dict)
    strategies: Mapping[Path, Strategy] = field(default_factory=dict)  # what the schema cannot say
    read_only: tuple[Path, ...] = ()  # read back, never written, never diffed
    replace_on: tuple[Path, ...] = ()  # cannot be updated: a change means create, re-point, delete
    immutable: tuple[Path, ...] = ()  # fixed once created: a change is a plan error at its line
    write_only: tuple[Path, ...] = ()  # sent, never read back, never diffed (secret values)
    verbatim: frozenset[Path] = frozenset()  # stored exactly as sent: no default filling
    required: tuple[str, ...] = ()  # a create must carry these (with a default body when absent)
    whole_update: bool = False  # an update must carry every declared field, write-only ones included
    variants: tuple[str, ...] = ()  # a union tagged by ``type``: every create model (tests)

    @cached_property
    def table(self) -> Mapping[Path, Strategy]:
        return derive(self.merge_roots, self.strategies)

    @cached_property
    def unread(self) -> frozenset[Path]:
        """The paths never compared: read-only and write-only ones (looked up for every key of every
        managed view)."""
        return frozenset(self.read_only) | frozenset(self.write_only)

    def strategy(self, path: Path) -> Strategy:
        """The strategy at ``path``. A path the schema does not know is merged if it holds an object,
        since the server's merge is a plain recursive dict merge there."""
        found = self.table.get(path if type(path) is tuple else tuple(path))
        return found if found is not None else Strategy.MERGE


@dataclass(frozen=True)
class Layout:
    """Where a kind's definitions live in a project and how they are written."""

    where: str  # "agents/" (a file per key, the key is the path without .yaml) or "tags.yaml" (a list)
    schema_file: str  # written by the schema generator, named in every file's modeline
    key_path: Path = ()  # list layouts: the entry's natural key (a tag's ("title",))
    as_files: tuple[Path, ...] = ()  # long strings pull may put behind !file (agent prompts)
    allow_env: bool = True  # False: values are visible to the whole workspace, so no ${env.*}
    order: tuple[str, ...] = ()  # top-level order of a new file
    keep: frozenset[str] = frozenset()  # written by pull even when they equal the default
    # A map keyed by ElevenLabs environment names (an environment variable's values): with native
    # environments, its keys must be environments the project maps.
    environment_keys: Path | None = None
    # The server defaults pull leaves out of a new file (None: the defaults of ``Fields.response``).
    defaults: Callable[[], Mapping[str, Any]] | None = None
    # Where a file holds the id of another resource, and of which kind ("*" is any key or index):
    # pull writes such an id as ``${KIND.KEY.id}`` and warns about one that belongs to nothing known.
    id_paths: tuple[tuple[Path, str], ...] = ()

    @property
    def is_folder(self) -> bool:
        return self.where.endswith("/")


@dataclass(frozen=True)
class Index:
    """The remote objects of one kind, as identity sees them: ``keys`` maps a definition key (an
    ownership marker's key, or a natural key) to the ids that carry it, in list order."""

    items: Mapping[str, JsonObject]  # id -> list item
    keys: Mapping[str, tuple[str, ...]]
    conflicts: tuple[str, ...] = ()  # ids that carry two keys of this namespace


@dataclass(frozen=True)
class Match:
    """Which remote object a definition means: none (create), or an id and how it was found."""

    remote_id: str | None
    adopt: bool = False
    previous_key: str | None = None


class Identity(Protocol):
    """Which remote object a definition means, and what the project owns."""

    @property
    def marks(
        self,
    ) -> bool: ...  # True: a resource carries its owner's marker, so the kind is always looked at

    @property
    def marker_field(self) -> str | None: ...  # the list that carries the marker, if any

    def key_of(self, item: JsonObject, namespace: str) -> str | None: ...
    def lookup_key(self, definition: Definition) -> str: ...  # the index key a definition is found by
    def index(self, items: Sequence[JsonObject], id_field: str, namespace: str) -> Index: ...
    def match(
        self, definition: Definition, index: Index, bodies: Mapping[str, JsonObject], namespace: str
    ) -> Match: ...
    def owned(self, index: Index, authoritative: bool) -> Mapping[str, tuple[str, ...]]: ...
    def claim(
        self, body: Mapping[str, Any], key: str, namespace: str, current: JsonObject | None
    ) -> dict[str, Any]: ...
    def claims(self, body: Mapping[str, Any]) -> bool: ...
    def hide(self, view: Mapping[str, Any], namespace: str) -> dict[str, Any]: ...
    def holds(self, body: JsonObject, key: str, namespace: str) -> bool: ...
    def notes(self, action: str, key: str, previous_key: str | None, namespace: str) -> tuple[str, ...]: ...
    def warnings(self, creates: Collection[Definition], index: Index, namespace: str) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Hooks:
    """Optional per-kind rules that the schema cannot express.

    ``attached`` names what a delete would take along (an agent's phone numbers); ``checks`` are extra
    validation of one loaded document (path -> message pairs, as errors); ``update_body`` completes an
    update's body where the server's PATCH needs more than the changed fields.
    """

    attached: Callable[[JsonObject], tuple[str, ...]] = lambda body: ()
    checks: Callable[[Any, list[str], Shower], list[tuple[Path, str]]] = lambda value, namespaces, show: []
    # What an update body needs beyond the minimal diff, from the declared and the current managed views
    # (an environment variable's removed environments sent as null; a phone number's branch and
    # environment sent again with a new agent, which would clear them).
    update_body: Callable[[dict[str, Any], JsonObject, JsonObject], dict[str, Any]] = (
        lambda body, declared, current: body
    )


@dataclass(frozen=True)
class Testing:
    """A kind whose resources run attached tests against a configuration that is not saved yet."""

    run: str  # the run path, with {id}
    attached: Path  # the list of {test_id} entries in the resource
    override: tuple[str, ...]  # the parts of the resource sent as the configuration override


@dataclass(frozen=True)
class Kind:
    name: str  # "tool": the plan kind, the `tool:` target prefix, the ${tool.KEY.id} scope
    plural: str  # "tools": environments.ENV.overrides.tools.KEY, settings `tools: {authoritative}`
    noun: str  # "conversation tag": wording
    level: int  # creates/updates low to high, deletes high to low
    api: Api
    fields: Fields
    layout: Layout
    identity: Identity
    name_path: Path = ("name",)  # the human name shown beside the key
    bare_target: bool = False  # agents: `--target KEY` without a prefix
    hooks: Hooks = Hooks()
    testing: Testing | None = None

    def display_name(self, value: Mapping[str, Any]) -> str | None:
        node: Any = value
        for part in self.name_path:
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node if isinstance(node, str) else None
