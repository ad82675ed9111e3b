"""``agentsync apply [PLAN_FILE]``: make the planned changes, verify each one, and report.

With a saved plan: refuse it if it is for another target or stale, then apply exactly it. Without one:
plan, show the plan, then apply. Either way nothing is written before every safety check has passed
and the user (or ``--auto-approve``) has said yes.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agentsync.cli.common import colour_option, complete_targets, use_colour
from agentsync.cli.early import early_read
from agentsync.cli.options import WorkspaceOptions, load, workspace_client, workspace_options
from agentsync.cli.plan import rotate_option, rotations, warm_up
from agentsync.cli.progress import clear, progress_options, showing
from agentsync.cli.test import gated, test_options
from agentsync.client import Client
from agentsync.errors import ExitCode, SafetyError, UsageError
from agentsync.plan import Action, Plan
from agentsync.project import Project
from agentsync.remote import RemoteState
from agentsync.render.terminal import guard

# agentsync.apply and agentsync.suites (and deepdiff under them) are imported where they are used,
# so that the workspace read starts before them (see agentsync.cli.early).
if TYPE_CHECKING:
    from agentsync.apply import ApplyReport
    from agentsync.prefetch import Prefetch
    from agentsync.suites import Refusal


@click.command("apply", help="Make the planned changes, verify each one, and report.")
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@workspace_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (for CI).")
@click.option("--dry-run", is_flag=True, help="Check everything and report, but write nothing.")
@click.option(
    "--prune", is_flag=True, help="Allow deleting owned resources that no longer have a definition."
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KEY",
    shell_complete=complete_targets,
    help="Plan and apply only this agent key (or tag:TITLE); repeatable. Not with a saved plan.",
)
@rotate_option
@click.option(
    "--force",
    is_flag=True,
    help="Allow a plan over the safety share, and deleting agents with phone numbers attached.",
)
@click.option(
    "-m",
    "--message",
    default=None,
    help="The version description for updates (default: the git commit and subject).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="How to print the report (markdown: for a CI job summary).",
)
@click.option(
    "--require-tests",
    is_flag=True,
    help="Write an agent only if its attached tests pass against the configuration this apply writes.",
)
@test_options
@colour_option
@progress_options
def command(
    workspace: WorkspaceOptions,
    plan_file: Path | None,
    auto_approve: bool,
    dry_run: bool,
    prune: bool,
    targets: tuple[str, ...],
    rotate: tuple[str, ...],
    force: bool,
    message: str | None,
    fmt: str,
    color: bool | None,
    require_tests: bool,
    repeat: int,
    timeout: float,
    quiet: bool,
    verbose: bool,
) -> int:
    if plan_file is not None and (targets or rotate):
        option = "--target cannot narrow" if targets else "--rotate-secret cannot change"
        raise UsageError(
            f"{option} a saved plan: it is applied exactly as it was reviewed",
            hint="make the plan with `agentsync plan --target KEY` (or `--rotate-secret NAME`) `--out FILE` instead",
        )
    fresh = plan_file is None
    # A fresh plan reads the workspace while the files load, as `agentsync plan` does.
    with showing(quiet, verbose), early_read(workspace, bodies=not targets, then=warm_up) as early:
        project = load(workspace, early.start if fresh else None)
        from agentsync.apply import ApplyOptions, apply_plan, check_fresh, snapshot_of, version_description

        with workspace_client(workspace, project, early.client) as client:
            plan, remote = _the_plan(
                client,
                project,
                plan_file,
                prune=prune,
                targets=targets,
                rotate=rotations(rotate),
                fmt=fmt,
                emulated=workspace.emulator,
                color=color,
                force=force,
                early=early.prefetch,
            )
            if not plan.has_changes:  # the plan was shown already, warnings and summary included
                return _no_changes(fmt, dry_run)
            _check_safety(plan, project, prune=prune, force=force)
            refused: tuple[Refusal, ...] = ()
            if require_tests:
                plan, refused, _ = gated(client, project, plan, remote, repeat=repeat, timeout=timeout)
                _print_refused(refused)
            # A saved plan is checked at once, so a stale one is refused before anyone is asked; a plan made
            # a moment ago from `remote` needs no second read unless a person now takes time to answer.
            snapshot = check_fresh(client, plan) if remote is None else snapshot_of(plan, remote)
            if not dry_run and _confirm(plan, auto_approve):
                snapshot = check_fresh(client, plan)
            options = ApplyOptions(
                dry_run=dry_run, version_description=version_description(project.root, message)
            )
            report = apply_plan(client, plan, options, snapshot=snapshot)
    _print_report(report, fmt)
    return max(report.exit_code, int(ExitCode.ERROR) if refused else 0)


def _print_refused(refused: tuple[Refusal, ...]) -> None:
    clear()
    for refusal in refused:
        click.echo(guard(f"refused: {refusal.kind} {refusal.key} is not written: {refusal.reason}"), err=True)


def _the_plan(
    client: Client,
    project: Project,
    plan_file: Path | None,
    *,
    prune: bool,
    targets: tuple[str, ...],
    rotate: tuple[str, ...] = (),
    fmt: str,
    emulated: bool,
    color: bool | None,
    force: bool = False,
    early: Prefetch | None = None,
) -> tuple[Plan, RemoteState | None]:
    """The saved plan (and no remote state), or a fresh plan and the remote state it was built from."""
    if plan_file is not None:
        from agentsync.plan import load as load_plan

        saved: Plan = load_plan(plan_file)
        env = project.environment.name if project.environment is not None else None
        # The in-process emulator listens on a new port each run, but its state is the project's own.
        base_url = saved.base_url if emulated else client.base_url
        from agentsync.apply import check_target

        check_target(saved, namespace=project.namespace, base_url=base_url, environment=env)
        # What is about to be applied is shown before anyone is asked, as for a fresh plan; what
        # --force overrides is no longer an error.
        _show(dataclasses.replace(saved, errors=()) if force else saved, fmt, color)
        return _with_secrets(saved, project, getattr(client, "digest_key", b"")), None
    from agentsync.cli.plan import prepare, with_checks, with_project_warnings
    from agentsync.planner import build_plan
    from agentsync.remote import fetch

    prepared = prepare(project, early)
    remote = fetch(client, project, targets=targets, early=early)
    made = build_plan(project, remote, prune=prune, targets=targets, rotate=rotate, prepared=prepared)
    plan: Plan = with_project_warnings(made, project) if force else with_checks(made, project)
    _show(plan, fmt, color)
    return plan, remote


def _show(plan: Plan, fmt: str, color: bool | None) -> None:
    from agentsync.render.terminal import guard
    from agentsync.render.text import render

    # With --format json or markdown stdout carries only the report, so the plan goes to stderr.
    to_err = fmt in ("json", "markdown")
    clear()
    colour = use_colour(color, sys.stderr if to_err else sys.stdout)
    click.echo(guard(render(plan, color=colour)), nl=False, err=to_err, color=colour)


def _with_secrets(saved: Plan, project: Project, digest_key: bytes) -> Plan:
    """A saved plan holds ``${env.*}`` templates, not values: resolve them again here, and refuse the
    plan (before any write) when one is unset or no longer what was planned."""
    import os

    from agentsync.plan import reveal
    from agentsync.variables import Context

    env = project.environment
    context = Context(env.variables if env else {}, os.environ, env.name if env else None)
    return reveal(saved, context, digest_key)


def _check_safety(plan: Plan, project: Project, *, prune: bool, force: bool) -> None:
    from agentsync.plan import check_safety

    deletes = plan.count(Action.DELETE)
    if deletes and not prune:
        raise SafetyError(
            f"the plan deletes {deletes} resource{'s' if deletes != 1 else ''}, and deletes need --prune",
            hint="run apply again with --prune if these deletions are intended",
        )
    check_safety(plan, project.settings.safety, force=force)


def _confirm(plan: Plan, auto_approve: bool) -> bool:
    """Ask on the terminal unless --auto-approve; True when a person was asked (and said yes)."""
    if auto_approve:
        return False
    if not _tty(sys.stdin):
        raise SafetyError(
            "apply needs confirmation, but there is no terminal to ask on; nothing was written",
            hint="pass --auto-approve to apply without asking (as CI does)",
        )
    count = len(plan.changes)
    clear()
    if not click.confirm(f"Apply {count} change{'s' if count != 1 else ''}?", default=False, err=True):
        raise SafetyError("apply was not confirmed; nothing was written")
    return True


def _tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _no_changes(fmt: str, dry_run: bool) -> int:
    if fmt in ("json", "markdown"):
        from agentsync.apply import ApplyReport

        _print_report(ApplyReport((), dry_run=dry_run), fmt)
    return 0


def _print_report(report: ApplyReport, fmt: str) -> None:
    from agentsync.render import report as render_report

    if fmt == "markdown":
        from agentsync.render import report_markdown

        text = report_markdown.render(report)
    else:
        text = render_report.render_json(report) if fmt == "json" else render_report.render_text(report)
    click.echo(text if fmt == "json" else guard(text), nl=False)
