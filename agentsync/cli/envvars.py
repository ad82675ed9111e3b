"""The process variables that stand in for ``-C/--project`` and ``-e/--env``, so a CI job sets them once
for every step (read by the options and by shell completion)."""

from __future__ import annotations

PROJECT_ENV = "AGENTSYNC_PROJECT"
ENV_ENV = "AGENTSYNC_ENV"
