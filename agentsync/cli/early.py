"""Reading the workspace while the project loads (:mod:`agentsync.prefetch`), for plan and apply.

The read starts only once agentsync.yaml and the selected environment are valid, and goes where the
command's client would go: the endpoint is chosen from the
same options and environment (:func:`~agentsync.cli.options.connect_to`). When that choice fails (no API key, a refused host) nothing is started
and the same error is raised later, after the project's own problems, exactly as without this.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from agentsync.cli.options import WorkspaceOptions, connect_to
from agentsync.errors import AgentsyncError
from agentsync.project import Environment, Project, Settings

if TYPE_CHECKING:
    from agentsync.client import Client
    from agentsync.prefetch import Prefetch


class EarlyRead:
    """The client and the reads started from the settings; ``client`` is None when none started."""

    def __init__(self, workspace: WorkspaceOptions, *, bodies: bool, then: Callable[[], None]) -> None:
        self.workspace = workspace
        self.bodies = bodies
        self.then = then
        self.client: Client | None = None
        self.prefetch: Prefetch | None = None

    def start(self, settings: Settings, environment: Environment | None) -> None:
        """The loader's settings hook: connect, start the listings (and owned GETs), then ``then``."""
        try:
            self._start(settings, environment)
        finally:
            self.then()

    def _start(self, settings: Settings, environment: Environment | None) -> None:
        if self.workspace.emulator:
            return  # the in-process emulator starts with the command's own client
        from agentsync.kinds import KINDS
        from agentsync.prefetch import Prefetch

        shell = Project(self.workspace.project_dir, settings, {}, environment)
        try:
            client = connect_to(self.workspace, shell)
        except AgentsyncError:
            return
        kinds = [k for k in KINDS if k.identity.marks or k.plural in settings.authoritative]
        self.client = client
        self.prefetch = Prefetch(client, kinds, shell.namespace, bodies=self.bodies)

    def close(self) -> None:
        if self.prefetch is not None:
            self.prefetch.close()
        if self.client is not None:
            self.client.close()


@contextlib.contextmanager
def early_read(
    workspace: WorkspaceOptions, *, bodies: bool = True, then: Callable[[], None] = lambda: None
) -> Iterator[EarlyRead]:
    """An :class:`EarlyRead` closed on exit (``bodies`` False: listings only, as for ``--target``);
    ``then`` runs once the reads have started (work that should overlap them, not delay them)."""
    early = EarlyRead(workspace, bodies=bodies, then=then)
    try:
        yield early
    finally:
        early.close()
