"""What every command shares without needing the network: ``-C/--project`` and ``-e/--env`` (with their
``AGENTSYNC_PROJECT`` / ``AGENTSYNC_ENV`` defaults), and one rule for colour: ``--color``/``--no-color``
when given, else colour only when the stream is a terminal and ``NO_COLOR`` is unset."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from agentsync.cli.envvars import ENV_ENV, PROJECT_ENV

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

F = TypeVar("F", bound=Callable[..., Any])


class Process:
    """Facts about this process that only the console entry point knows."""

    # True when the command line runs as its own process (agentsync.cli.main), not inside another
    # program or a test: process-wide shortcuts are taken only then.
    own = False


# Completion callbacks import the loader only when a shell asks, so that --help stays fast.
def complete_environments(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    from agentsync.cli import completion

    return completion.environments(ctx, param, incomplete)


def complete_targets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from agentsync.cli import completion

    return completion.targets(ctx, param, incomplete)


def complete_bare_targets(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    from agentsync.cli import completion

    return completion.bare_targets(ctx, param, incomplete)


def project_option(default: str | None = ".") -> Callable[[F], F]:
    return click.option(
        "-C",
        "--project",
        "project_dir",
        default=default,
        show_default=default is not None,
        type=click.Path(file_okay=False, path_type=Path),
        envvar=PROJECT_ENV,
        show_envvar=True,
        help="The project directory.",
    )


def env_option(*extra: str) -> Callable[[F], F]:
    return click.option(
        "-e",
        "--env",
        *extra,
        "env",
        default=None,
        envvar=ENV_ENV,
        show_envvar=True,
        shell_complete=complete_environments,
        help="The environment in agentsync.yaml to use.",
    )


def colour_option(fn: F) -> F:
    """Add ``--color/--no-color``; the command receives ``color: bool | None``."""
    option = click.option(
        "--color/--no-color",
        default=None,
        help="Colour the text output (default: only on a terminal and when NO_COLOR is unset).",
    )
    return option(fn)


def use_colour(flag: bool | None, stream: TextIO) -> bool:
    if flag is not None:
        return flag
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ


def paint(text: str, colour: str, enabled: bool) -> str:
    return click.style(text, fg=colour, bold=True) if enabled else text
