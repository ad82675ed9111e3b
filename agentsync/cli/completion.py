"""Shell completion of values that come from the project: environment names for ``-e`` and resource keys
for ``--target``. click drives it (``_AGENTSYNC_COMPLETE=bash_source agentsync`` prints the script);
these callbacks read the project offline, as ``validate`` does, and never fail: a project that does not
load completes nothing rather than printing an error into the user's shell."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

from agentsync.cli.envvars import ENV_ENV, PROJECT_ENV

if TYPE_CHECKING:
    from agentsync.project import Project


def _project(ctx: click.Context, *, environment: bool) -> Project | None:
    from agentsync.load import assemble

    root = ctx.params.get("project_dir") or os.environ.get(PROJECT_ENV) or "."
    env = (ctx.params.get("env") or os.environ.get(ENV_ENV)) if environment else None
    try:
        project, _ = assemble(Path(root), env, None)
    except Exception:  # completion must never break the shell; a broken project completes nothing
        return None
    return project


def environments(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The environments agentsync.yaml declares."""
    project = _project(ctx, environment=False)
    if project is None:
        return []
    names = sorted(project.settings.environments)
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def _targets(ctx: click.Context, incomplete: str, *, bare_only: bool) -> list[CompletionItem]:
    from agentsync.kinds import KINDS
    from agentsync.targets import label

    project = _project(ctx, environment=True)
    if project is None:
        return []
    found = [
        CompletionItem(label(kind, key), help=kind.noun)
        for kind in KINDS
        if kind.bare_target or not bare_only
        for key in sorted(project.of(kind))
    ]
    return [item for item in found if item.value.startswith(incomplete)]


def targets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Every key the project declares, as ``--target`` takes it (``KIND:KEY``, or a bare key)."""
    return _targets(ctx, incomplete, bare_only=False)


def bare_targets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The keys of the kind that takes bare targets (for commands that only take those)."""
    return _targets(ctx, incomplete, bare_only=True)
