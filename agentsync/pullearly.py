"""The bodies ``pull --all`` reads while it is still listing.

A kind with no file yet is only listed by the fetch, and pull reads every object it brings in. The
listing is a chain of pages, one after the other; waiting for the last before the first GET leaves the
network idle for the whole chain. :class:`EarlyBodies` lists those kinds itself and starts the GET of
each object the selection will take (pullselect's rule: not a later listing's object unless the project
owns it, not another project's unless ``--adopt-foreign``) as soon as the page naming it arrives. The
selection still decides what is written: a GET it does not use is only a wasted read, one it needs and
that did not start here is sent as before.

The bound on requests in flight stays the client's ``--concurrency``: the client lets no more than that
many be sent at once, from whichever threads. Nothing here is written.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from agentsync.kinds import Kind
from agentsync.kinds.base import JsonObject
from agentsync.pullselect import foreign
from agentsync.remote import get_one, list_items

if TYPE_CHECKING:
    from agentsync.client import Client


class EarlyBodies:
    """The listings of ``kinds`` and the GETs of what those of ``read`` list, started at once; what the
    fetcher takes as its ``Early``."""

    def __init__(
        self,
        client: Client,
        kinds: Sequence[Kind],
        read: Sequence[Kind],
        namespace: str,
        *,
        adopt_foreign: bool,
    ) -> None:
        self._client, self._namespace, self._adopt = client, namespace, adopt_foreign
        self._read = frozenset(kind.name for kind in read)
        self._pool = ThreadPoolExecutor(max_workers=client.concurrency, thread_name_prefix="pull-early")
        self._lock = threading.Lock()
        self._gets: dict[tuple[str, str], Future[JsonObject]] = {}
        self._closed = False
        self._listings = [
            (kind, first, self._pool.submit(self._listing, kind, params, first))
            for kind in kinds
            for first, params in ((i == 0, p) for i, p in enumerate(kind.api.listings))
        ]

    def result(self) -> tuple[dict[str, tuple[JsonObject, ...]], dict[tuple[str, str], Any]]:
        """Every listing, one object per id (the fetcher's order); no bodies: :meth:`body` gives those
        as they arrive. A failed listing is raised, and everything else stopped."""
        found: dict[str, dict[str, JsonObject]] = {kind.name: {} for kind, _, _ in self._listings}
        for kind, _, listing in self._listings:
            try:
                items = listing.result()
            except BaseException:
                self.close()
                raise
            for item in items:
                found[kind.name].setdefault(str(item[kind.api.id_field]), item)
        return {name: tuple(items.values()) for name, items in found.items()}, {}

    def body(self, kind: Kind, remote_id: str) -> JsonObject | None:
        """The body read for ``remote_id``, waiting for it; None when none was started (or it was
        cancelled). A failed GET raises as the GET would have."""
        with self._lock:
            future = self._gets.get((kind.name, remote_id))
        if future is None or future.cancelled():
            return None
        return future.result()

    def close(self) -> None:
        """Stop: nothing more is started and GETs not yet sent are dropped."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _listing(self, kind: Kind, params: Any, first: bool) -> list[JsonObject]:
        if kind.name not in self._read:
            return list_items(self._client, kind, params)
        return list_items(self._client, kind, params, seen=lambda item: self._seen(kind, item, first))

    def _taken(self, kind: Kind, item: JsonObject, first: bool) -> bool:
        """Whether pull's selection takes ``item`` (:func:`agentsync.pullselect.listed`)."""
        if not kind.identity.marks or kind.identity.key_of(item, self._namespace) is not None:
            return True
        return first and (self._adopt or not foreign(kind, item, self._namespace))

    def _seen(self, kind: Kind, item: JsonObject, first: bool) -> None:
        if not self._taken(kind, item, first):
            return
        job = (kind.name, str(item[kind.api.id_field]))
        with self._lock:
            if self._closed or job in self._gets:
                return
            self._gets[job] = self._pool.submit(get_one, self._client, kind, job[1])
