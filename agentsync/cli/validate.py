"""``agentsync validate [DIR]``: check the project offline and report every problem at once."""

from __future__ import annotations

import json
from pathlib import Path

import click

from agentsync.errors import ExitCode, Location, Problem
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


def _text(problems: list[Problem]) -> str:
    lines = [p.render() for p in problems]
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
@click.argument("directory", default=".", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--environment", "-e", default=None, help="Validate for this environment of agentsync.yaml.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for annotations in GitHub Actions.",
)
def command(directory: str, environment: str | None, output_format: str) -> int:
    """Check the project files offline and report every problem, each at file:line:col."""
    found = validate_project(directory, environment=environment)
    problems = [Problem(_shown(directory, p.location), p.message, p.severity, p.source_line) for p in found]
    render = {"text": _text, "json": _json, "github": _github}[output_format]
    # Messages quote the files, which are untrusted: no control character in them reaches the terminal.
    click.echo(visible(render(problems), newlines=True))
    failed = any(p.is_error for p in problems)
    return int(ExitCode.ERROR if failed else ExitCode.OK)
