"""``agentsync test``: run each agent's attached tests against its planned configuration, before apply."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from agentsync.cli.common import complete_bare_targets
from agentsync.cli.options import WorkspaceOptions, load, workspace_client, workspace_options
from agentsync.project import Project
from agentsync.render.terminal import guard

if TYPE_CHECKING:
    from agentsync.client import Client
    from agentsync.plan import Plan
    from agentsync.remote import RemoteState
    from agentsync.render import suites as render_suites
    from agentsync.suites import Refusal, Report

FORMATS = ("text", "markdown", "json")


def test_options(fn: click.decorators.FC) -> click.decorators.FC:
    """``--repeat`` and ``--timeout``, shared with ``plan --test`` and ``apply --require-tests``."""
    fn = click.option(
        "--repeat", type=click.IntRange(1, 50), default=1, show_default=True, help="Run every test N times."
    )(fn)
    return click.option(
        "--test-timeout",
        "timeout",
        type=click.FloatRange(1, 3600),
        default=300.0,
        show_default=True,
        help="Seconds to wait for the runs of one agent before reporting them as not run.",
    )(fn)


@click.command("test")
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KEY",
    shell_complete=complete_bare_targets,
    help="Test only this agent key; repeatable.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@test_options
@workspace_options
def command(
    workspace: WorkspaceOptions, targets: tuple[str, ...], fmt: str, repeat: int, timeout: float
) -> int:
    """Run each agent's attached tests against its planned configuration.

    The planned configuration is the live one with the plan's changes applied; nothing is written.
    Exit 0 when every test passed, 1 when any failed, 3 when none failed but some could not run
    (a new agent, a test or a tool that apply has yet to create, a timeout).
    """
    from agentsync.render import suites as render_suites

    project = load(workspace)
    report = run_tests(workspace, project, targets, repeat=repeat, timeout=timeout)
    shown = render_suites.render(report, fmt)
    click.echo(shown if fmt == "json" else guard(shown), nl=False)
    return render_suites.exit_code([report])


def run_tests(
    workspace: WorkspaceOptions, project: Project, targets: Sequence[str], *, repeat: int, timeout: float
) -> Report:
    from agentsync.planner import build_plan
    from agentsync.remote import fetch
    from agentsync.suites import run_suites, suites

    with workspace_client(workspace, project) as client:
        # The whole plan: a targeted agent's tests and tools may be planned under other keys.
        remote = fetch(client, project)
        plan = build_plan(project, remote)
        found = suites(project, remote, plan, targets)
        report = run_suites(client, found, repeat=repeat, timeout=timeout, progress=progress_line())
        return redacted(report, project)


def redacted(report: Report, project: Project) -> Report:
    """The report with every value an ``${env.*}`` of the project resolved to masked: a grader's
    rationale is the server's text and may quote the prompt or the condition it was given."""
    import dataclasses
    import os

    from agentsync.kinds import KINDS
    from agentsync.reverse import secret_values

    secrets = {v for k in KINDS for v in secret_values(project.of(k).values(), os.environ)}

    def clean(text: str) -> str:
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "(sensitive)")
        return text

    results = tuple(
        dataclasses.replace(r, reason=clean(r.reason), test=clean(r.test)) for r in report.results
    )
    return dataclasses.replace(report, results=results)


def progress_line() -> render_suites.Progress | None:
    """A progress line on stderr when it is a terminal; nothing on a pipe or in CI logs."""
    if not sys.stderr.isatty():
        return None

    def show(label: str, done: int, total: int) -> None:
        end = "\n" if done == total else ""
        click.echo(f"\r{guard(label)}: {done}/{total} runs finished", err=True, nl=False)
        click.echo(end, err=True, nl=False)

    return show


def gated(
    client: Client,
    project: Project,
    plan: Plan,
    remote: RemoteState | None,
    *,
    repeat: int,
    timeout: float,
) -> tuple[Plan, tuple[Refusal, ...], Report]:
    """``apply --require-tests``: run the tests of every tested resource the plan writes, against the
    configuration it writes, and take out the writes whose tests did not all pass."""
    from agentsync.remote import fetch
    from agentsync.suites import gate, run_suites, suites

    state = remote if remote is not None else fetch(client, project)
    found = [s for s in suites(project, state, plan) if any(c.ref == (s.kind, s.key) for c in plan.changes)]
    report = redacted(
        run_suites(client, found, repeat=repeat, timeout=timeout, progress=progress_line()), project
    )
    kept, refused = gate(plan, found, report)
    return kept, refused, report
