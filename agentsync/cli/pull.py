"""``agentsync pull``: write the project's files (every kind's layout) from the live workspace."""

from __future__ import annotations

import json
from typing import Any

import click

from agentsync.cli.options import WorkspaceOptions, load, workspace_client, workspace_options
from agentsync.errors import ExitCode, UsageError
from agentsync.kinds import by_name
from agentsync.pull import FileAction, PullOptions, PullResult, pull
from agentsync.render.terminal import visible

VERBS = {
    FileAction.CREATE: ("create", "created"),
    FileAction.UPDATE: ("update", "updated"),
    FileAction.REMOVE: ("remove", "removed"),
}


@click.command("pull")
@click.argument("keys", nargs=-1, metavar="[KEY]...")
@click.option(
    "--all",
    "all_agents",
    is_flag=True,
    help="Pull every resource of every kind in the workspace; unowned agents get a new key and an id: to adopt.",
)
@click.option("--search", metavar="TEXT", help="Pull the agents whose name matches TEXT.")
@click.option(
    "--full",
    is_flag=True,
    help="Write every writable field, not only those that differ from the server default.",
)
@click.option(
    "--prompts-as-files", is_flag=True, help="Keep each prompt in agents/prompts/<key>.md behind !file."
)
@click.option(
    "--adopt-foreign",
    is_flag=True,
    help="With --all or --search, also take agents that carry another project's ownership marker.",
)
@click.option("--dry-run", is_flag=True, help="List the files that would change and write nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="json: a machine-readable report of every file and resource.",
)
@workspace_options
def command(
    workspace: WorkspaceOptions,
    keys: tuple[str, ...],
    all_agents: bool,
    search: str | None,
    full: bool,
    prompts_as_files: bool,
    adopt_foreign: bool,
    dry_run: bool,
    fmt: str,
) -> int:
    """Write the project's files from the live workspace.

    With nothing, refresh every kind the project has files for (agents, tools, tags.yaml,
    secrets.yaml, ...); with --all, every resource of every kind; with KEYs, those managed agents;
    with --search, the agents whose name matches.
    """
    options = PullOptions(keys, all_agents, search, full, prompts_as_files, adopt_foreign)
    _check(options)
    project = load(workspace)
    with workspace_client(workspace, project) as client:
        result = pull(client, project, options, dry_run=dry_run)
    if fmt == "json":
        click.echo(json.dumps(as_json(result), indent=2, ensure_ascii=True))
    else:
        click.echo(visible(report(result), newlines=True), nl=False)
    return int(ExitCode.OK)


def _check(options: PullOptions) -> None:
    chosen = sum([bool(options.keys), options.all, options.search is not None])
    if chosen > 1:
        raise UsageError(
            "choose one of KEY arguments, --all and --search",
            hint="run `agentsync pull --help` for what each one selects",
        )
    if options.search is not None and not options.search.strip():
        raise UsageError("--search needs some text to match agent names against")


def report(result: PullResult) -> str:
    """One line per file that changes (or would), then a summary and what the user should know."""
    verb = 0 if result.dry_run else 1
    lines = [f"  {VERBS[f.action][verb]:<8} {f.path.as_posix()}" for f in result.changed]
    lines.append(_summary(result))
    lines.extend(
        f"note: {r.key} is not managed yet; its id: makes the next apply adopt it"
        for r in result.resources
        if r.adopted
    )
    lines.extend(f"note: {r.key} is not in the workspace yet; apply creates it" for r in result.skipped)
    lines.extend(f"note: {text}" for text in result.notes)
    if result.dry_run and result.changed:
        lines.append("Dry run: nothing was written.")
    return "\n".join(lines) + "\n"


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _summary(result: PullResult) -> str:
    # Kinds with something pulled, or with a file the project already has.
    shown = [n for n in result.kinds if result.count(n) or any(f.kind == n for f in result.files)]
    counts = [_counted(result.count(name), by_name(name).noun) for name in shown]
    pulled = (
        ", ".join(counts[:-1]) + f" and {counts[-1]}" if len(counts) > 1 else "".join(counts) or "nothing"
    )
    unchanged = len(result.files) - len(result.changed)
    changed = len(result.changed)
    would = "would change" if result.dry_run else "changed"
    return f"Pulled {pulled}: {_counted(changed, 'file')} {would}, {unchanged} unchanged."


JSON_VERSION = 1
ACTIONS = {
    FileAction.CREATE: "created",
    FileAction.UPDATE: "changed",
    FileAction.UNCHANGED: "unchanged",
    FileAction.REMOVE: "removed",
}


def as_json(result: PullResult) -> dict[str, Any]:
    """The pull report for machines: every file with what happened to it (or would, with --dry-run)
    and the kind and key it holds, every resource, and the counts per kind."""
    files = [
        {"path": f.path.as_posix(), "action": ACTIONS[f.action], "kind": f.kind, "key": f.key}
        for f in result.files
    ]
    resources = [
        {"kind": r.kind, "key": r.key, "id": r.remote_id, "file": r.file, "adopted": r.adopted}
        for r in result.resources
    ]
    summary = {name: 0 for name in ACTIONS.values()}
    for f in result.files:
        summary[ACTIONS[f.action]] += 1
    by_kind: dict[str, dict[str, int]] = {}
    for name in result.kinds:
        mine = [f for f in result.files if f.kind == name]
        counts = {label: sum(1 for f in mine if ACTIONS[f.action] == label) for label in ACTIONS.values()}
        by_kind[name] = {"resources": result.count(name), **counts}
    return {
        "version": JSON_VERSION,
        "dry_run": result.dry_run,
        "files": files,
        "resources": resources,
        "kinds": by_kind,
        "summary": summary,
        "skipped": [{"kind": r.kind, "key": r.key} for r in result.skipped],
        "notes": list(result.notes),
    }
