"""A loaded project: settings from ``agentsync.yaml`` plus the definitions of every kind.

The types here are what every later stage consumes; ``agentsync.loader`` builds them from files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsync.errors import Problem
from agentsync.kinds import KINDS, Definition, Kind

PROJECT_FILE = "agentsync.yaml"
DEFAULT_NAMESPACE = "agentsync"

RESIDENCIES: dict[str, str] = {
    "global": "https://api.elevenlabs.io",
    "us": "https://api.us.elevenlabs.io",
    "eu-residency": "https://api.eu.residency.elevenlabs.io",
    "in-residency": "https://api.in.residency.elevenlabs.io",
    "sg-residency": "https://api.sg.residency.elevenlabs.io",
}


@dataclass(frozen=True)
class SafetySettings:
    """octoDNS's rule: a plan touching more than ``max_change_share`` of the managed resources needs
    --force, once there are at least ``min_managed`` of them."""

    max_change_share: float = 0.30
    min_managed: int = 10
    # Plan fingerprints reviewed and allowed over these limits (``safety: {allow: [...]}``): the
    # override lives in git, next to the change it allows, and allows that exact plan only.
    allow: tuple[str, ...] = ()


@dataclass(frozen=True)
class Environment:
    name: str
    base_url: str | None = None
    residency: str | None = None
    api_key_env: str = "ELEVENLABS_API_KEY"
    namespace: str | None = None
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    namespace: str = DEFAULT_NAMESPACE
    # The kinds (by plural) whose remote objects the project owns whole, for prune: `tags: {authoritative: true}`.
    authoritative: frozenset[str] = frozenset()
    safety: SafetySettings = field(default_factory=SafetySettings)
    environments: dict[str, Environment] = field(default_factory=dict)
    default_environment: str | None = None


@dataclass
class Project:
    """Everything the planner needs from disk. ``definitions`` maps a kind's name to its definitions by
    key; a kind is missing when its layout (a folder or a file) does not exist in the project."""

    root: Path
    settings: Settings
    definitions: dict[str, dict[str, Definition]]
    environment: Environment | None = None
    warnings: list[Problem] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        if self.environment is not None and self.environment.namespace:
            return self.environment.namespace
        return self.settings.namespace

    def of(self, kind: Kind) -> dict[str, Definition]:
        return self.definitions.get(kind.name, {})

    def authoritative(self, kind: Kind) -> bool:
        return kind.plural in self.settings.authoritative and kind.name in self.definitions

    def manages(self, kind: Kind) -> bool:
        """Whether the plan looks at this kind at all: it has a layout in the project, the settings
        own it, or its resources say themselves who owns them (a marker)."""
        return (
            kind.name in self.definitions or kind.plural in self.settings.authoritative or kind.identity.marks
        )


# ---------------------------------------------------------------------------------------------- loading
# ``agentsync.loader`` parses and validates agentsync.yaml; these turn the validated plain values into
# the settings types, so that every default lives next to the type that has it.


def environment_from(name: str, value: Mapping[str, Any]) -> Environment:
    variables = {str(k): _text(v) for k, v in (value.get("variables") or {}).items()}
    return Environment(
        name=name,
        base_url=value.get("base_url"),
        residency=value.get("residency"),
        api_key_env=value.get("api_key_env", Environment.api_key_env),
        namespace=value.get("namespace"),
        variables=variables,
    )


def _text(value: Any) -> str:
    # YAML reads `8080` and `true` as a number and a boolean; variables are substituted into text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def settings_from(value: Mapping[str, Any]) -> Settings:
    """Settings from the (already validated) contents of agentsync.yaml; absent keys take defaults."""
    safety = value.get("safety") or {}
    environments = value.get("environments") or {}
    return Settings(
        namespace=value.get("namespace", DEFAULT_NAMESPACE),
        authoritative=frozenset(k.plural for k in KINDS if _owned_whole(value.get(k.plural))),
        safety=SafetySettings(
            max_change_share=float(safety.get("max_change_share", SafetySettings.max_change_share)),
            min_managed=int(safety.get("min_managed", SafetySettings.min_managed)),
            allow=tuple(str(f) for f in safety.get("allow") or ()),
        ),
        environments={name: environment_from(name, env) for name, env in environments.items()},
        default_environment=value.get("default_environment"),
    )


def _owned_whole(entry: Any) -> bool:
    return isinstance(entry, Mapping) and entry.get("authoritative") is True


def namespaces(settings: Settings) -> list[str]:
    """Every ownership namespace the project can use, across its environments."""
    found = [settings.namespace]
    found.extend(e.namespace for e in settings.environments.values() if e.namespace)
    return sorted(set(found))
