"""``agentsync validate``: check the project offline and report every problem at once.

The project is ``-C/--project`` like every other command; a positional DIR is still accepted, with a
deprecation warning, as is ``--environment`` for ``-e/--env``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from agentsync.cli.common import colour_option, env_option, paint, project_option, use_colour
from agentsync.errors import ExitCode, Location, Problem, Severity, UsageError
from agentsync.load import validate_project
from agentsync.render.terminal import visible

FORMATS = ("text", "json", "github")


def _shown(root: str, location: Location | None) -> Location | None:
    """The location with its file relative to where the command runs, so that editors and CI find it."""
    if location is None or root in (".", ""):
        return location
    return location._replace(file=(Path(root) / location.file).as_posix())


def _summary(problems: list[Problem]) -> str:
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    if not problems:
        return "the project is valid"
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def _painted(problem: Problem, colour: bool) -> str:
    text = problem.render()
    if not colour:
        return text
    label = f"{problem.severity.value}:"
    hue = "red" if problem.severity is Severity.ERROR else "yellow"
    return text.replace(label, paint(label, hue, True), 1)


def _text(problems: list[Problem], colour: bool = False) -> str:
    lines = [_painted(p, colour) for p in problems]
    return "\n".join([*lines, _summary(problems)])


def _json(problems: list[Problem]) -> str:
    errors = sum(1 for p in problems if p.is_error)
    items = [
        {
            "file": p.location.file if p.location else None,
            "line": p.location.line if p.location else None,
            "col": p.location.col if p.location else None,
            "severity": p.severity.value,
            "message": p.message,
        }
        for p in problems
    ]
    body = {
        "version": 1,
        "valid": errors == 0,
        "errors": errors,
        "warnings": len(problems) - errors,
        "problems": items,
    }
    return json.dumps(body, indent=2)


def _escape(text: str, *, prop: bool = False) -> str:
    # GitHub workflow-command escaping: data escapes % CR LF; properties also , and :.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def _github(problems: list[Problem]) -> str:
    lines = []
    for p in problems:
        level = "error" if p.is_error else "warning"
        where = ""
        if p.location is not None:
            loc = p.location
            where = f" file={_escape(loc.file, prop=True)},line={loc.line},col={loc.col}"
        lines.append(f"::{level}{where}::{_escape(p.message)}")
    return "\n".join([*lines, _summary(problems)])


@click.command("validate")
@click.argument("directory", required=False, metavar="[DIR]", type=click.Path(file_okay=True, dir_okay=True))
@project_option(default=None)
@env_option("--environment")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for annotations in GitHub Actions.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@colour_option
def command(
    directory: str | None,
    project_dir: Path | None,
    env: str | None,
    output_format: str,
    strict: bool,
    color: bool | None,
) -> int:
    """Check the project files offline and report every problem, each at file:line:col.

    DIR is a deprecated spelling of -C/--project DIR."""
    root = _root(directory, project_dir)
    found = validate_project(root, environment=env)
    problems = [Problem(_shown(root, p.location), p.message, p.severity, p.source_line) for p in found]
    if output_format == "text":
        colour = use_colour(color, sys.stdout)
        # Messages quote the files, which are untrusted: no control character in them reaches the terminal.
        click.echo(
            visible(_text(problems, colour), newlines=True) if not colour else _text(problems, colour),
            color=colour,
        )
    else:
        click.echo(visible({"json": _json, "github": _github}[output_format](problems), newlines=True))
    failed = any(p.is_error or strict for p in problems)
    return int(ExitCode.ERROR if failed else ExitCode.OK)


def _root(directory: str | None, project_dir: Path | None) -> str:
    """The project directory from -C (or AGENTSYNC_PROJECT), or from the deprecated positional DIR."""
    if directory is None:
        return project_dir.as_posix() if project_dir is not None else "."
    if project_dir is not None and Path(directory) != project_dir:
        raise UsageError(
            f"two project directories were given: {directory} and -C {project_dir.as_posix()}",
            hint="give only -C DIR",
        )
    click.echo(
        f"warning: `agentsync validate DIR` is deprecated; use `agentsync validate -C {directory}`", err=True
    )
    return directory
