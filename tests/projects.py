"""Writing small throw-away projects for end-to-end tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_project(
    root: Path,
    agents: Mapping[str, Mapping[str, Any]],
    *,
    tags: list[dict[str, Any]] | None = None,
    settings: str = "namespace: t\n",
) -> Path:
    """``root`` as a project with exactly these agents (JSON is YAML), ``tags.yaml`` when given, and
    ``settings`` as agentsync.yaml; agent files from an earlier call are removed."""
    (root / "agents").mkdir(parents=True, exist_ok=True)
    (root / "agentsync.yaml").write_text(settings)
    for old in (root / "agents").glob("*.yaml"):
        old.unlink()
    for key, config in agents.items():
        (root / "agents" / f"{key}.yaml").write_text(json.dumps(config))
    if tags is not None:
        (root / "tags.yaml").write_text(json.dumps(tags))
    return root
