"""``agentsync plan``: fetch the workspace, diff it against the project, show (and maybe save) the plan."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agentsync.cli.common import colour_option, complete_targets, use_colour
from agentsync.cli.early import EarlyRead, early_read
from agentsync.cli.options import WorkspaceOptions, load, workspace_client, workspace_options
from agentsync.cli.progress import progress_options, showing
from agentsync.cli.test import run_tests, test_options
from agentsync.errors import ExitCode
from agentsync.plan import Plan, save
from agentsync.project import Project
from agentsync.render.terminal import guard

if TYPE_CHECKING:
    from agentsync.planner import Prepared
    from agentsync.prefetch import Prefetch
    from agentsync.suites import Report

FORMATS = ("text", "markdown", "json")


rotate_option = click.option(
    "--rotate-secret",
    "rotate",
    multiple=True,
    metavar="NAME",
    help="Send this existing secret's value again (values are never read back to compare); repeatable.",
)


def rotations(names: tuple[str, ...]) -> tuple[str, ...]:
    """``--rotate-secret NAME`` values as the planner's ``KIND:KEY`` targets."""
    from agentsync.kinds.secret import SECRET
    from agentsync.targets import label

    return tuple(label(SECRET, name) for name in names)


@click.command("plan")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan to FILE for `agentsync apply FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are, 1 on error.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KEY",
    shell_complete=complete_targets,
    help="Plan only this agent key (or tag:TITLE); repeatable.",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Also plan deleting owned agents (and authoritative tags) that no longer have a definition.",
)
@rotate_option
@click.option("--show-body", is_flag=True, help="Show the exact request body of every change.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--test",
    "with_tests",
    is_flag=True,
    help="Then run each agent's attached tests against its planned configuration (see `agentsync test`).",
)
@test_options
@colour_option
@progress_options
@workspace_options
def command(
    workspace: WorkspaceOptions,
    out: Path | None,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    prune: bool,
    rotate: tuple[str, ...],
    show_body: bool,
    fmt: str,
    color: bool | None,
    with_tests: bool,
    repeat: int,
    timeout: float,
    quiet: bool,
    verbose: bool,
) -> int:
    """Show what apply would change in the workspace, field by field."""
    # The listings and the owned agents' GETs start as soon as agentsync.yaml is read, and the
    # planner is imported meanwhile: neither waits for the last file to be loaded.
    with showing(quiet, verbose), early_read(workspace, bodies=not targets, then=warm_up) as early:
        project = load(workspace, early.start)
        made = make_plan(
            workspace, project, targets=targets, prune=prune, rotate=rotations(rotate), early=early
        )
    plan = with_checks(made, project)
    colour = use_colour(color, sys.stdout)
    # color= stops click from stripping the escapes when --color is forced on a pipe.
    text = render(plan, fmt, color=colour, show_body=show_body)
    report = run_tests(workspace, project, targets, repeat=repeat, timeout=timeout) if with_tests else None
    if report is not None:
        text = with_report(text, report, fmt)
    # The last guard for text and Markdown (JSON escapes every control character itself).
    click.echo(text if fmt == "json" else guard(text), nl=False, color=colour)
    if out is not None:
        save(plan, out)
        click.echo(
            f"Saved the plan to {out}; run `agentsync apply {out}` to apply exactly this plan.", err=True
        )
    # Only a test that ran and failed fails the plan: one that cannot run before apply (the agent or
    # what it uses is new) is shown as not run, and the plan keeps its own exit status.
    # What apply would refuse is an error now, at review, not after the merge.
    if (report is not None and report.failed) or plan.errors:
        return int(ExitCode.ERROR)
    if detailed_exitcode and plan.has_changes:
        return int(ExitCode.CHANGES)
    return int(ExitCode.OK)


def with_report(text: str, report: Report, fmt: str) -> str:
    """The plan's output with the test results after it; in JSON, as the plan document's ``tests``."""
    from agentsync.render import suites as render_suites  # imported only when tests ran

    if fmt == "json":
        document = json.loads(text)
        document["tests"] = render_suites.as_json(report)
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return text + "\n" + render_suites.render(report, fmt)


def make_plan(
    workspace: WorkspaceOptions,
    project: Project,
    *,
    targets: tuple[str, ...],
    prune: bool,
    rotate: tuple[str, ...] = (),
    early: EarlyRead | None = None,
) -> Plan:
    from agentsync.planner import build_plan
    from agentsync.remote import fetch

    connected = early.client if early is not None else None
    prefetch = early.prefetch if early is not None else None
    with workspace_client(workspace, project, connected) as client:
        prepared = prepare(project, prefetch)
        remote = fetch(client, project, targets=targets, early=prefetch)
    return build_plan(project, remote, prune=prune, targets=targets, rotate=rotate, prepared=prepared)


def prepare(project: Project, prefetch: Prefetch | None) -> Prepared | None:
    """Plan each owned body as its GET returns, while the others are on their way, so that the plan
    left to build after the last answer is small (see :class:`agentsync.planner.Prepared`)."""
    if prefetch is None:
        return None
    from agentsync.kinds import by_name
    from agentsync.planner import Prepared

    prepared = Prepared(project)
    for kind, remote_id, body in prefetch.arrived():
        prepared.add(by_name(kind), remote_id, body)
    return prepared


def warm_up() -> None:
    """Import the planner and the renderers in a background thread: start-up that otherwise runs after
    the last GET. A daemon, so a failing command never waits for it. deepdiff is not among them: a plan
    with nothing to change never compares with it, and one with changes imports it on the first change
    it prepares, while the other answers are still on their way."""
    threading.Thread(target=_import_planner, name="warm-up", daemon=True).start()


def _import_planner() -> None:
    import agentsync.planner
    import agentsync.render.text  # noqa: F401


def render(plan: Plan, fmt: str, *, color: bool, show_body: bool) -> str:
    if fmt == "json":
        from agentsync.render import json as render_json

        return render_json.render(plan)
    if fmt == "markdown":
        from agentsync.render import markdown

        return markdown.render(plan, show_body=show_body)
    from agentsync.render import text

    return text.render(plan, color=color, show_body=show_body)


def with_checks(plan: Plan, project: Project) -> Plan:
    """The plan with the loader's warnings and the safety findings apply would refuse it for."""
    from agentsync.plan import with_safety

    return with_safety(with_project_warnings(plan, project), project.settings.safety)


def with_project_warnings(plan: Plan, project: Project) -> Plan:
    """The plan with the loader's warnings (an LLM outside the spec's list, ...) in front of its own, so
    that every format shows them: they never block a plan, but they are always seen."""
    found = tuple(f"{p.location}: {p.message}" if p.location else p.message for p in project.warnings)
    # One line per cause: the loader has grouped its own; the same sentence twice is said once.
    return dataclasses.replace(plan, warnings=tuple(dict.fromkeys(found + plan.warnings)))
