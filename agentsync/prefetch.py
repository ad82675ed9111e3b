"""Reading the workspace while the project is still being loaded.

Once agentsync.yaml is read, the settings alone say where the workspace is, which namespace is the
project's and which kinds every plan lists (those whose objects carry the project's marker, and those
the settings declare authoritative). :class:`Prefetch` starts those listings then, and, for a kind whose
list holds summaries, the GET of every object that carries this namespace's marker as soon as the page
naming it arrives: every plan reads those, whatever the files say. The definitions are read and
validated meanwhile, and :func:`agentsync.remote.fetch` takes what was read and reads only the rest.

The bound on requests in flight is the client's. Listings run on a pool of that many workers; the GETs
are sent and read by one thread (:class:`~agentsync.multiplex.Multiplexer`), which hands a GET that
needs another try to the same pool. A listing never waits on a GET, so the pool cannot deadlock.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from agentsync import progress
from agentsync.kinds import Kind
from agentsync.kinds.base import JsonObject
from agentsync.multiplex import Multiplexer
from agentsync.remote import item_path, list_items

if TYPE_CHECKING:
    from agentsync.client import Client


class Prefetch:
    """The listings of ``kinds`` and (with ``bodies``) the GETs of owned objects, started at once."""

    def __init__(self, client: Client, kinds: Sequence[Kind], namespace: str, *, bodies: bool = True) -> None:
        self._client = client
        self._namespace = namespace
        self._bodies = bodies
        self._pool = ThreadPoolExecutor(max_workers=client.concurrency, thread_name_prefix="prefetch")
        self._lock = threading.Lock()
        # A GET in flight is its future; a finished one only its answer: a future keeps a condition
        # and a waiters' queue (about 1.5 kB), thousands of times over while the files load.
        self._gets: dict[tuple[str, str], Future[JsonObject] | _Done] = {}
        self._closed = False
        self._done = 0
        self._multiplexer: Multiplexer | None = None  # started with the first GET
        # What has finished, in the order it finished, for :meth:`arrived`: a GET's job and answer,
        # or None for a listing that ended (a wake-up to look again whether everything has).
        self._finished_queue: queue.SimpleQueue[tuple[tuple[str, str], Any] | None] = queue.SimpleQueue()
        self._listings = [
            (kind, self._pool.submit(self._listing, kind, params))
            for kind in kinds
            for params in kind.api.listings
        ]
        for _, listing in self._listings:
            listing.add_done_callback(lambda _: self._finished_queue.put(None))

    @property
    def kinds(self) -> frozenset[str]:
        """The names of the kinds whose listings this read."""
        return frozenset(kind.name for kind, _ in self._listings)

    def result(self) -> tuple[dict[str, tuple[JsonObject, ...]], dict[tuple[str, str], Any]]:
        """Every listing, one object per id, in the order :func:`agentsync.remote.list_kinds` gives; and
        the GET answers by ``(kind, id)``, each a body or the exception it raised. A failed listing is
        raised: a partial read must never pass for the whole."""
        found: dict[str, dict[str, JsonObject]] = {kind.name: {} for kind, _ in self._listings}
        failure: BaseException | None = None
        for kind, listing in self._listings:
            try:
                items = listing.result()
            except Exception as exc:
                failure = failure or exc
                continue
            for item in items:
                found[kind.name].setdefault(str(item[kind.api.id_field]), item)
        if failure is not None:
            self.close()
            raise failure
        with self._lock:
            gets = dict(self._gets)
        answers = {job: _answer(future) for job, future in gets.items()}
        self.close()
        return {name: tuple(items.values()) for name, items in found.items()}, answers

    def arrived(self) -> Iterator[tuple[str, str, JsonObject]]:
        """``(kind, id, body)`` of each GET as it finishes, until every listing has ended and every GET
        it started has been answered, or a listing has failed; failed GETs are left out (:meth:`result`
        has them, and raises a failed listing). For work that can start on one body while the others are
        on their way; call it from one thread only."""
        seen = 0
        while True:
            with self._lock:
                everything = len(self._gets)
            ended = [listing for _, listing in self._listings if listing.done()]
            if any(listing.exception() is not None for listing in ended if not listing.cancelled()):
                return  # the read has failed: :meth:`result` raises it, with nothing more to wait for
            if seen == everything and len(ended) == len(self._listings):
                return
            item = self._finished_queue.get()
            if item is None:
                continue
            seen += 1
            (kind, remote_id), answer = item
            if not isinstance(answer, BaseException):
                yield kind, remote_id, answer

    def close(self) -> None:
        """Stop: nothing more is started; GETs not yet answered are cancelled, and other requests in
        flight end on their own deadline."""
        with self._lock:
            self._closed = True
            multiplexer = self._multiplexer
        if multiplexer is not None:
            multiplexer.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _listing(self, kind: Kind, params: Any) -> list[JsonObject]:
        owned = kind.identity.marks and not kind.api.list_is_full and self._bodies
        return list_items(
            self._client, kind, params, seen=(lambda item: self._owned(kind, item)) if owned else None
        )

    def _owned(self, kind: Kind, item: JsonObject) -> None:
        # The fetcher's own rule (remote.in_scope): what the identity owns of an index of this item.
        index = kind.identity.index([item], kind.api.id_field, self._namespace)
        if not kind.identity.owned(index, False):
            return
        job = (kind.name, str(item[kind.api.id_field]))
        path = item_path(kind, job[1])
        url = self._client.base_url + path
        with self._lock:
            if self._closed or job in self._gets:
                return
            if self._multiplexer is None:
                self._multiplexer = Multiplexer(self._client, self._pool)
            # What get_one makes of the body: checked to have the API's shape.
            future = self._multiplexer.submit(path, lambda body: kind.api.check(body, url))
            self._gets[job] = future
        future.add_done_callback(lambda done: self._finished(job, done))

    def _finished(self, job: tuple[str, str], future: Future[JsonObject]) -> None:
        answer = _Done(_answer(future))
        with self._lock:
            self._gets[job] = answer
            # The total grows while the listings still run; it is whole when the last page is in.
            self._done += 1
            done, total = self._done, len(self._gets)
        progress.emit(progress.Fetched(done, total))
        self._finished_queue.put((job, answer.value))


class _Done:
    """The answer of a finished GET: its body, or the exception it raised."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _answer(future: Future[JsonObject] | _Done) -> Any:
    if isinstance(future, _Done):
        return future.value
    try:
        return future.result()
    except Exception as exc:  # a cancelled GET is read again by the fetcher
        return exc
