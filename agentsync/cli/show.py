"""``agentsync show PLAN_FILE``: render a saved plan as plan shows it, without touching the workspace.

The plan file keeps ``${env.*}`` templates, never their values, so showing it needs no secret and no key;
the renderers mask secret fields as they do for a fresh plan."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from agentsync.cli.common import colour_option, use_colour

FORMATS = ("text", "markdown", "json")


@click.command("show")
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--show-body", is_flag=True, help="Show the exact request body of every change.")
@colour_option
def command(plan_file: Path, fmt: str, show_body: bool, color: bool | None) -> int:
    """Show a plan saved with `agentsync plan --out FILE`, in the same formats as plan."""
    from agentsync.cli.plan import render
    from agentsync.plan import load

    plan = load(plan_file)
    colour = use_colour(color, sys.stdout) and fmt == "text"
    click.echo(render(plan, fmt, color=colour, show_body=show_body), nl=False, color=colour)
    return 0
