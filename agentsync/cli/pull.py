"""``agentsync pull``: write agent files and tags.yaml from the live workspace."""

from __future__ import annotations

import click

from agentsync.cli.options import WorkspaceOptions, load, workspace_client, workspace_options
from agentsync.errors import ExitCode, UsageError
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
    help="Pull every agent in the workspace; unowned ones get a new key and an id: to adopt.",
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
) -> int:
    """Write agent files and tags.yaml from the live workspace.

    With KEYs, pull those managed agents; with --all, every agent; with --search, the agents whose
    name matches; with nothing, every agent the project has a file for, and the conversation tags.
    """
    options = PullOptions(keys, all_agents, search, full, prompts_as_files, adopt_foreign)
    _check(options)
    project = load(workspace)
    with workspace_client(workspace, project) as client:
        result = pull(client, project, options, dry_run=dry_run)
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
        f"note: {key} is not managed yet; its id: makes the next apply adopt it" for key in result.adopted
    )
    lines.extend(f"note: {key} is not in the workspace yet; apply creates it" for key in result.skipped)
    lines.extend(f"note: {text}" for text in result.notes)
    if result.dry_run and result.changed:
        lines.append("Dry run: nothing was written.")
    return "\n".join(lines) + "\n"


def _summary(result: PullResult) -> str:
    agents = f"{len(result.agents)} agent{'' if len(result.agents) == 1 else 's'}"
    tags = "" if result.tags is None else f" and {result.tags} tag{'' if result.tags == 1 else 's'}"
    unchanged = len(result.files) - len(result.changed)
    changed = len(result.changed)
    would = "would change" if result.dry_run else "changed"
    return (
        f"Pulled {agents}{tags}: {changed} file{'' if changed == 1 else 's'} {would}, {unchanged} unchanged."
    )
