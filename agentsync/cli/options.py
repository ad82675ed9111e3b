"""The options every workspace command shares (plan, apply, pull) and the one way they become a
loaded project and a connected :class:`~agentsync.client.Client`.

Where the API is: ``--emulator``, else ``--base-url``, else ``--residency``, else ``ELEVENLABS_BASE_URL``,
else the selected environment's ``base_url`` or ``residency`` in agentsync.yaml, else the global API.
The key comes only from the environment: ``ELEVENLABS_API_KEY``, or the environment's ``api_key_env``.

Project files are untrusted: what they declare about the connection is held to ElevenLabs hosts, loopback
and ``ELEVENLABS_*`` variables (``agentsync.hosts``), and an ``ELEVENLABS_BASE_URL`` that differs from
the URL the selected environment declares is refused unless ``--allow-base-url-override`` (or
``AGENTSYNC_ALLOW_BASE_URL_OVERRIDE=1``, set by the operator beside it) confirms it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from agentsync import hosts
from agentsync.cli.common import env_option, project_option
from agentsync.client import Client, RetryPolicy, connect, resolve_base_url
from agentsync.errors import UsageError
from agentsync.project import Environment, Project

if TYPE_CHECKING:
    from agentsync.load import SettingsHook

F = TypeVar("F", bound=Callable[..., Any])

BASE_URL_ENV = "ELEVENLABS_BASE_URL"
DEFAULT_KEY_ENV = "ELEVENLABS_API_KEY"
DEFAULT_CONCURRENCY = 8
EMULATOR_STATE = Path(".agentsync") / "emulator.json"
# The retry policy of every command's client; a module value so tests can make backoff instant.
RETRY = RetryPolicy()


@dataclass(frozen=True)
class WorkspaceOptions:
    project_dir: Path
    env: str | None
    base_url: str | None
    residency: str | None
    concurrency: int
    emulator: bool
    allow_base_url_override: bool = False


class Endpoint(NamedTuple):
    base_url: str
    api_key: str | None
    key_source: str


def workspace_options(fn: F) -> F:
    """Add -C/--project, -e/--env, --base-url, --residency, --concurrency and --emulator; the command
    receives them as one ``workspace: WorkspaceOptions`` argument."""
    decorators = [
        project_option(),
        env_option(),
        click.option("--base-url", default=None, help=f"The API root (overrides {BASE_URL_ENV})."),
        click.option(
            "--residency", default=None, help="global, us, eu-residency, in-residency or sg-residency."
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(1, 64),
            default=DEFAULT_CONCURRENCY,
            show_default=True,
            help="Requests in flight at once.",
        ),
        click.option(
            "--emulator",
            is_flag=True,
            help=(
                "Use an in-process emulator, no account needed (state in .agentsync/emulator.json;"
                " another environment than the default in .agentsync/emulator-ENV.json)."
            ),
        ),
        click.option(
            "--allow-base-url-override",
            is_flag=True,
            envvar="AGENTSYNC_ALLOW_BASE_URL_OVERRIDE",
            help=f"Use {BASE_URL_ENV} even where the environment declares another base_url or residency "
            "(or set AGENTSYNC_ALLOW_BASE_URL_OVERRIDE=1 beside it).",
        ),
    ]
    wrapped = _collect(fn)
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return wrapped  # type: ignore[return-value]


def _collect(fn: F) -> Callable[..., Any]:
    names = (
        "project_dir",
        "env",
        "base_url",
        "residency",
        "concurrency",
        "emulator",
        "allow_base_url_override",
    )

    # wraps() also carries over any click parameters already attached to fn.
    @functools.wraps(fn)
    def command(**kwargs: Any) -> Any:
        workspace = WorkspaceOptions(*(kwargs.pop(name) for name in names))
        return fn(workspace=workspace, **kwargs)

    return command


def load(workspace: WorkspaceOptions, on_settings: SettingsHook | None = None) -> Project:
    """The project at ``-C``, with ``-e`` selected; raises the loader's errors unchanged.
    ``on_settings``: see :func:`agentsync.load.load_project`."""
    from agentsync.load import load_project

    if not workspace.project_dir.is_dir():
        raise UsageError(f"the project directory {workspace.project_dir} does not exist")
    return load_project(workspace.project_dir, environment=workspace.env, on_settings=on_settings)


def endpoint(workspace: WorkspaceOptions, project: Project) -> Endpoint:
    """Where to send requests and with which key, following the precedence in the module docstring."""
    env = project.environment
    if env is not None:
        hosts.check_declared(env.name, env.base_url, env.api_key_env)
    key_source = env.api_key_env if env is not None else DEFAULT_KEY_ENV
    if workspace.base_url or workspace.residency:
        base_url = resolve_base_url(workspace.base_url, workspace.residency)
    elif os.environ.get(BASE_URL_ENV):
        base_url = resolve_base_url(os.environ[BASE_URL_ENV], None)
        if env is not None and not workspace.allow_base_url_override:
            _check_no_silent_override(base_url, env)
    else:
        base_url = resolve_base_url(env.base_url if env else None, env.residency if env else None)
    return Endpoint(base_url, os.environ.get(key_source), key_source)


def _check_no_silent_override(base_url: str, env: Environment) -> None:
    if env.base_url is None and env.residency is None:
        return
    declared = resolve_base_url(env.base_url, env.residency)
    if declared != base_url:
        raise UsageError(
            f"{BASE_URL_ENV} is {base_url} but environment {env.name} in agentsync.yaml declares {declared}, "
            "and agentsync will not choose between them silently",
            hint=f"pass --allow-base-url-override to use {BASE_URL_ENV}, or unset it to use {declared}",
        )


@contextlib.contextmanager
def workspace_client(
    workspace: WorkspaceOptions, project: Project, connected: Client | None = None
) -> Iterator[Client]:
    """A client for the project's workspace (or the in-process emulator), closed on exit; or
    ``connected``, a client its owner made for the same workspace and closes itself."""
    if connected is not None:
        _conceal_secrets(connected, project)
        yield connected
        return
    if workspace.emulator:
        with _emulated(workspace, project) as client:
            _conceal_secrets(client, project)
            yield client
        return
    with connect_to(workspace, project) as client:
        _conceal_secrets(client, project)
        yield client


def _conceal_secrets(client: Client, project: Project) -> None:
    """The client hides what the project's ``${env.*}`` resolved to from every error it reports."""
    from agentsync.kinds import KINDS

    holding = [d for kind in KINDS for d in project.of(kind).values() if d.secrets]
    if holding:
        from agentsync.reverse import secret_values

        client.conceal(secret_values(holding, os.environ))


def connect_to(workspace: WorkspaceOptions, project: Project) -> Client:
    """A new client for the project's workspace (never the in-process emulator); the caller closes it."""
    target = endpoint(workspace, project)
    return connect(
        target.base_url,
        api_key=target.api_key,
        key_source=target.key_source,
        concurrency=workspace.concurrency,
        retry=RETRY,
    )


def emulator_state(project: Project) -> Path:
    """Where ``--emulator`` keeps the workspace of the selected environment. With a workspace per
    environment each one is emulated apart, as they are in ElevenLabs (so dev and prod never share a
    tool); the default environment, and native environments (one workspace), use ``emulator.json``."""
    settings, env = project.settings, project.environment
    default = settings.default_environment or next(iter(settings.environments), None)
    if env is None or settings.native or env.name == default:
        return EMULATOR_STATE
    return EMULATOR_STATE.with_name(f"emulator-{env.name}.json")


@contextlib.contextmanager
def _emulated(workspace: WorkspaceOptions, project: Project) -> Iterator[Client]:
    from agentsync.emulator import Emulator
    from agentsync.emulator.config import ADMIN_KEY, EmulatorConfig

    if workspace.base_url or workspace.residency:
        raise UsageError("--emulator cannot be combined with --base-url or --residency")
    state = workspace.project_dir / emulator_state(project)
    state.parent.mkdir(parents=True, exist_ok=True)
    with Emulator(EmulatorConfig(state_file=state)) as emulator:
        click.echo(f"Using the in-process emulator at {emulator.url} (state in {state}).", err=True)
        with Client(emulator.url, ADMIN_KEY, concurrency=workspace.concurrency, retry=RETRY) as client:
            yield client
