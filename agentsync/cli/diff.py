"""``agentsync diff -e A -e B``: what differs between two environments, for a promotion review.

Offline (the default) it compares the two environments' resolved definitions, as ``validate`` reads
them: no key and no secret is needed, and ``${env.*}`` stays a placeholder. ``--live`` compares what the
two workspaces hold for the fields either environment declares, each read with its own environment's
key and URL (``--emulator``: both from the in-process emulator); ids of managed resources are shown as
``${KIND.KEY.id}`` and secret fields as their placeholders, so no secret value is shown or compared.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from agentsync.cli.common import colour_option, complete_environments, project_option, use_colour
from agentsync.cli.options import DEFAULT_CONCURRENCY, WorkspaceOptions, workspace_client
from agentsync.envdiff import EnvDiff, Side, compare, live_side, offline_side, shapes
from agentsync.errors import ExitCode, UsageError, ValidationFailed
from agentsync.project import Project
from agentsync.render.terminal import guard

FORMATS = ("text", "markdown", "json")


@click.command("diff")
@project_option()
@click.option(
    "-e",
    "--env",
    "envs",
    multiple=True,
    metavar="NAME",
    shell_complete=complete_environments,
    help="An environment of agentsync.yaml; give exactly two (the first is the left side).",
)
@click.option("--live", is_flag=True, help="Compare the two workspaces instead of the definitions.")
@click.option("--emulator", is_flag=True, help="With --live: read both from the in-process emulator.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="With --live: requests in flight at once.",
)
@click.option(
    "--allow-base-url-override",
    is_flag=True,
    envvar="AGENTSYNC_ALLOW_BASE_URL_OVERRIDE",
    help="With --live: use ELEVENLABS_BASE_URL even where an environment declares another URL.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 when the two are the same, 2 when they differ."
)
@colour_option
def command(
    project_dir: Path,
    envs: tuple[str, ...],
    live: bool,
    emulator: bool,
    concurrency: int,
    allow_base_url_override: bool,
    fmt: str,
    detailed_exitcode: bool,
    color: bool | None,
) -> int:
    """Show what differs between two environments' definitions (or, with --live, their workspaces)."""
    left, right = _two(envs)
    if emulator and not live:
        raise UsageError("--emulator reads workspaces, so it needs --live")
    projects = (_load(project_dir, left), _load(project_dir, right))
    if live:
        options = [
            WorkspaceOptions(
                project_dir,
                p.environment.name if p.environment else None,
                None,
                None,
                concurrency,
                emulator,
                allow_base_url_override,
            )
            for p in projects
        ]
        wanted = shapes(*projects)
        sides = tuple(_live(o, p, wanted) for o, p in zip(options, projects, strict=True))
    else:
        sides = tuple(offline_side(p) for p in projects)
    diff = compare(sides[0], sides[1], live=live)
    colour = use_colour(color, sys.stdout) and fmt == "text"
    click.echo(_render(diff, fmt, colour), nl=False, color=colour)
    return int(ExitCode.CHANGES) if detailed_exitcode and diff.has_differences else int(ExitCode.OK)


def _two(envs: tuple[str, ...]) -> tuple[str, str]:
    if len(envs) != 2:
        raise UsageError(
            f"diff compares two environments; {len(envs)} given",
            hint="name them with -e: agentsync diff -e dev -e prod",
        )
    if envs[0] == envs[1]:
        raise UsageError(f"diff compares two environments; both are {envs[0]}")
    return envs[0], envs[1]


def _load(root: Path, environment: str) -> Project:
    """The project in one environment, read as validate reads it: offline, ``${env.*}`` by syntax only."""
    from agentsync.load import assemble

    if not root.is_dir():
        raise UsageError(f"the project directory {root} does not exist")
    project, problems = assemble(root, environment, None)
    if project is None or any(p.is_error for p in problems):
        raise ValidationFailed(problems)
    return project


def _live(
    options: WorkspaceOptions, project: Project, wanted: dict[tuple[str, str], dict[str, object]]
) -> Side:
    from agentsync.remote import fetch

    with workspace_client(options, project) as client:
        remote = fetch(client, project)
    return live_side(project, remote, wanted)


def _render(diff: EnvDiff, fmt: str, colour: bool) -> str:
    from agentsync.render import envdiff

    if fmt == "json":
        return envdiff.as_json(diff)
    if fmt == "markdown":
        return guard(envdiff.markdown(diff))
    return guard(envdiff.text(diff, color=colour))
