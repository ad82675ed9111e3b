"""``--target``: ``KIND:KEY`` for any kind (``tag:vip``, ``tool:lookup``), a bare key for the kind
that takes bare targets (agents). Parsed once; each kind checks its own keys."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping, Sequence

from agentsync.errors import UsageError
from agentsync.kinds import BY_NAME, KINDS, Kind

Selection = Mapping[str, frozenset[str]] | None  # kind name -> keys; None: no limit


def parse(targets: Sequence[str]) -> Selection:
    """Which keys of which kind ``targets`` select (None when there are no targets)."""
    if not targets:
        return None
    bare = next((k.name for k in KINDS if k.bare_target), None)
    chosen: dict[str, set[str]] = {k.name: set() for k in KINDS}
    for target in targets:
        prefix, sep, rest = target.partition(":")
        if sep and prefix in BY_NAME:
            chosen[prefix].add(rest)
        elif bare is not None:
            chosen[bare].add(target)
        else:  # pragma: no cover - a registry without a bare kind
            raise UsageError(f"unknown target '{target}': write KIND:KEY")
    return {k: frozenset(v) for k, v in chosen.items()}


def of(selection: Selection, kind: Kind, known: Collection[str]) -> frozenset[str] | None:
    """The keys of ``kind`` the selection names (None: all); an unknown key is a UsageError."""
    if selection is None:
        return None
    keys = selection.get(kind.name, frozenset())
    unknown = sorted(keys - set(known))
    if unknown:
        raise unknown_target(kind, unknown[0], known)
    return keys


def label(kind: Kind, key: str) -> str:
    return key if kind.bare_target else f"{kind.name}:{key}"


def unknown_target(kind: Kind, key: str, known: Collection[str]) -> UsageError:
    close = difflib.get_close_matches(key, list(known), n=1)
    article = "an" if kind.noun[0] in "aeiou" else "a"
    hint = (
        f"did you mean '{label(kind, close[0])}'?"
        if close
        else f"a target names {article} {kind.noun} the project declares or owns"
    )
    return UsageError(
        f"unknown target '{label(kind, key)}': no {kind.noun} with that name in the project or the workspace",
        hint=hint,
    )
