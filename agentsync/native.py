"""Native environments: one workspace serves every environment, and what differs between them is the
value of an environment variable for each ElevenLabs environment.

``environments.NAME.elevenlabs_environment`` maps an agentsync environment to an ElevenLabs
environment name. Then every environment must map one (a project runs one way or the other), none of
them sets a connection, a namespace, variables or overrides (one workspace holds one definition of
every resource), one of them maps ``production`` (calls without an environment use it), and a map
keyed by ElevenLabs environment names (an environment variable's ``values``) uses only the names the
project maps. Nothing here prints or reads files.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from agentsync.errors import Location, Problem
from agentsync.kinds import KINDS, Definition
from agentsync.loader import Document

PRODUCTION = "production"
# What a native environment may not set: the workspace and its contents are one for all of them.
PER_WORKSPACE = {
    "base_url": "the connection",
    "residency": "the connection",
    "api_key_env": "the connection",
    "namespace": "the namespace",
    "variables": "a variable",
    "overrides": "an override",
}


def settings_rules(document: Document) -> list[Problem]:
    """The rules of ``environments:`` with native environments (none when no environment maps one)."""
    known = document.value.get("environments")
    if not isinstance(known, dict):
        return []
    native = {n: e for n, e in known.items() if isinstance(e, dict) and "elevenlabs_environment" in e}
    if not native:
        return []
    problems = [_mixed(document, n) for n, e in known.items() if n not in native]
    for name, env in native.items():
        problems.extend(_single_workspace(document, name, env))
    problems.extend(_mapped_once(document, native))
    if "default_environment" in document.value:
        problems.append(
            Problem(
                document.location_of(("default_environment",)),
                "default_environment: native environments share one workspace, and plan and apply cover "
                "all of them at once; remove it",
            )
        )
    return problems


def _mixed(document: Document, name: str) -> Problem:
    return Problem(
        document.location_of(("environments", name)),
        f"environments.{name}: every environment maps an elevenlabs_environment once one does "
        "(native environments share one workspace); give it one, or run a workspace per environment "
        "and remove elevenlabs_environment from the others",
    )


def _single_workspace(document: Document, name: str, env: Mapping[str, Any]) -> list[Problem]:
    return [
        Problem(
            document.location_of(("environments", name, key)),
            f"environments.{name}.{key}: a native environment cannot set {what} of its own: one workspace "
            f"serves every environment; "
            + (
                "a value that differs per environment is an environment variable's value in "
                "environment-variables.yaml, and a shared one goes under the top-level variables:"
                if key in ("variables", "overrides")
                else "set it once for the project (ELEVENLABS_API_KEY, ELEVENLABS_BASE_URL, namespace:)"
            ),
        )
        for key, what in PER_WORKSPACE.items()
        if key in env
    ]


def _mapped_once(document: Document, native: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for name, env in native.items():
        target = env.get("elevenlabs_environment")
        if not isinstance(target, str):
            continue
        first = seen.setdefault(target, name)
        if first != name:
            problems.append(
                Problem(
                    document.location_of(("environments", name, "elevenlabs_environment"), value=True),
                    f"environments.{name}.elevenlabs_environment: '{target}' is already mapped by {first}",
                )
            )
    if seen and PRODUCTION not in seen:
        problems.append(
            Problem(
                document.location_of(("environments",)),
                "environments: one native environment must map elevenlabs_environment: production "
                "(calls that name no environment use it, and every environment variable needs its value)",
            )
        )
    return problems


def environment_key_rules(
    definitions: Mapping[str, Mapping[str, Definition]], mapped: Mapping[str, str]
) -> list[Problem]:
    """Each key of a map keyed by ElevenLabs environment names is one the project maps."""
    problems: list[Problem] = []
    for kind in KINDS:
        path = kind.layout.environment_keys
        if path is None:
            continue
        for definition in definitions.get(kind.name, {}).values():
            node: Any = definition.config
            for part in path:
                node = node.get(part) if isinstance(node, Mapping) else None
            for key in node if isinstance(node, Mapping) else ():
                if key not in mapped:
                    problems.append(_unmapped(definition, (*path, key), str(key), mapped))
    return problems


def _unmapped(
    definition: Definition, path: tuple[str | int, ...], key: str, mapped: Mapping[str, str]
) -> Problem:
    close = difflib.get_close_matches(key, list(mapped), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    where: Location | None = definition.location_of(path)
    known = ", ".join(sorted(mapped))
    return Problem(
        where,
        f"{'.'.join(str(p) for p in path)}: '{key}' is not an ElevenLabs environment this project maps "
        f"({known}){hint}",
    )
