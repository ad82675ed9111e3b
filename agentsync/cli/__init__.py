"""The command line: the only place that prints to the terminal or exits.

Each command lives in its own module (``agentsync/cli/<name>.py``, exposing ``command``) and is imported
only when it runs, so ``agentsync --version`` and ``--help`` stay fast.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import traceback
from typing import Any

import click

from agentsync import __version__
from agentsync.cli.common import Process
from agentsync.errors import AgentsyncError, ExitCode

# name -> (module, one-line help). The help is here so that ``--help`` imports no command module.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("agentsync.cli.init", "Create a new project with one agent, a prompt file and tags."),
    "validate": ("agentsync.cli.validate", "Check the project files offline and report every problem."),
    "plan": ("agentsync.cli.plan", "Show what apply would change in the workspace, field by field."),
    "apply": ("agentsync.cli.apply", "Make the planned changes, verify each one, and report."),
    "test": ("agentsync.cli.test", "Run each agent's attached tests against its planned configuration."),
    "show": ("agentsync.cli.show", "Show a saved plan file as text, Markdown or JSON."),
    "diff": ("agentsync.cli.diff", "Show what differs between two environments, for a promotion review."),
    "pull": ("agentsync.cli.pull", "Write agent files and tags.yaml from the live workspace."),
    "emulator": ("agentsync.cli.emulator", "Run the local ElevenLabs API emulator in the foreground."),
}


# Collector thresholds for one CLI run: a young collection every million net allocations of containers
# instead of 700, and a full collection practically never (Python's defaults are 700, 10, 10). What a run
# keeps (the files, thousands of API bodies) is acyclic, and a young collection must still walk all of
# it: at 50,000 a plan of 3,000 agents ran ten of them (90 ms) and together they found 24 objects to free.
# A run of thousands of writes does leave cycles (about 25 objects a write), which this still frees once
# a run is large enough to matter.
SHORT_RUN_GC = (1_000_000, 20, 1_000)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="agentsync", message="%(prog)s %(version)s")
@click.option(
    "--debug", is_flag=True, help="Show the full traceback of an error (accepted anywhere on the line)."
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """GitOps for ElevenLabs Agents: agent and conversation-tag definitions as YAML in git.

    Typical use: `agentsync validate`, then `agentsync plan` on every pull request and
    `agentsync apply` on merge.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the command and turn every outcome into one exit code.

    Only here, in a process that is about to end, the collector is tuned for a short-lived run and the
    heap is not torn down: what the process read (thousands of API bodies) is acyclic and lives to the
    end, so full collections over it (over a second at 3,000 agents) and freeing it object by object on
    exit are pure cost. Young collections still run, so cyclic garbage from the HTTP stack is reclaimed.
    """
    gc.set_threshold(*SHORT_RUN_GC)
    Process.own = True
    # deepdiff imports pydantic, when it is installed, only to recognise pydantic models in what it
    # compares; plans compare JSON values, never models, and the import is 0.1 s of CPU. A None in
    # sys.modules makes that import fail, and deepdiff then goes without. Only here: nothing agentsync
    # runs uses pydantic, while another program calling ``run`` might.
    sys.modules.setdefault("pydantic", None)  # type: ignore[arg-type]
    code = run(list(sys.argv[1:] if argv is None else argv))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: the exit code still stands
        code = code or int(ExitCode.ERROR)
    os._exit(code)


def run(args: list[str], **extra: Any) -> int:
    """Run the command line in-process and return its exit code (used by ``main`` and by tests)."""
    # --debug is taken anywhere on the line, so `agentsync plan --debug` works as users type it.
    debug = "--debug" in args
    args = ["--debug", *[a for a in args if a != "--debug"]] if debug else args
    try:
        result = cli.main(args=args, prog_name="agentsync", standalone_mode=False, **extra)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        # Usage errors exit 1, never 2: 2 means "the plan has changes" under --detailed-exitcode.
        exc.show()
        return int(ExitCode.ERROR)
    except click.Abort:
        click.echo("Aborted.", err=True)
        return int(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return int(ExitCode.INTERRUPTED)
    except AgentsyncError as exc:
        if debug:
            traceback.print_exc()
        click.echo(_shown(exc.render()), err=True)
        return int(exc.exit_code)
    except Exception as exc:  # a bug: one sentence unless --debug
        if debug:
            traceback.print_exc()
        else:
            click.echo(_shown(f"error: unexpected {type(exc).__name__}: {exc}"), err=True)
            click.echo("hint: run again with --debug for the traceback, and please report it", err=True)
        return int(ExitCode.ERROR)
    return int(result) if isinstance(result, int) else int(ExitCode.OK)


def _shown(message: str) -> str:
    """An error message as it may reach a terminal: it quotes file contents and server answers, so
    every control character in it is shown rather than obeyed."""
    from agentsync.render.terminal import visible

    return visible(message, newlines=True)
