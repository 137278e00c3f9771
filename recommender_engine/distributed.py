"""Scoring and publishing on a Dask distributed cluster (``RECSYS_DASK_SCHEDULER``).

The engine trains on one node (LightFM is a shared-memory trainer), then hands the lists to the
cluster. The item side of the model (item vectors and biases, the EASE weights and what was derived
from the whole training set), the genre index and the pending version are scattered to every worker
once; each block of users then travels with its task (their ids, embeddings, biases, EASE history
and rated films), a few blocks per worker thread in flight, so neither the engine's messages nor a
worker ever hold every user at once. A task scores, masks and ranks its block (``lists.list_block``,
as in-process) and writes it (``lists.put_list_block``) into the pending version through the
worker's own store connection, opened from a picklable ``StoreOpener`` and resumed on the pending
version (``RecPublisher.resume``, whose writes replace a record written before, so a retried block
is idempotent). A failed task is retried ``retries`` times; the engine commits only after every
block succeeded, and otherwise raises ``DistributedPublishError`` (the cycle aborts the version and
the previous one keeps serving).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from distributed import Client, Future, as_completed

from recommender_engine.lists import list_block, put_list_block
from recommender_engine.model.hybrid import HybridModel, UserRows
from recommender_engine.ranking import GenreIndex
from recsys_common.ports.recstore import RecStore, VersionMeta, VersionWriter

log = logging.getLogger(__name__)

#: Builds the store on a worker; must pickle (e.g. ``functools.partial(rec_store, settings)``).
StoreOpener = Callable[[], RecStore]
#: Times a failed block is tried again before the cycle fails.
DEFAULT_RETRIES = 2
#: Blocks submitted ahead per worker thread: each travels with its users' rows, so the engine
#: holds only these in flight, never every user's at once.
IN_FLIGHT_PER_THREAD = 2
#: Seconds to wait for the scheduler when connecting.
CONNECT_TIMEOUT_S = 30.0


class DistributedPublishError(RuntimeError):
    """A block failed on every try (or the cluster could not be used): the version is not committed."""


@dataclass(frozen=True)
class ScoringJob:
    """What every block needs, scattered to every worker once per cycle: the item side of the model
    (item vectors and biases, the EASE part; no user), the genre index, the pending version and how
    to open the store."""

    version: VersionMeta  # the pending version (``VersionWriter.meta``)
    open_store: StoreOpener
    items: HybridModel
    genres: GenreIndex
    must_watch_len: int
    genre_len: int


@dataclass(frozen=True)
class UserBlock:
    """One task's users, sent with the task: their ids, user-side rows and rated films."""

    user_ids: list[str]
    rows: UserRows
    seen: sp.csr_matrix


class _WorkerStore:
    """The worker process's store connection and writer of the version being published: opened on
    the version's first block, reused by the next ones, closed when a new version begins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: str | None = None
        self._store: RecStore | None = None
        self._writer: VersionWriter | None = None

    def writer(self, job: ScoringJob) -> VersionWriter:
        with self._lock:
            if self._writer is None or self._version != job.version.version:
                self._close()
                self._store = job.open_store()
                self._writer = self._store.resume(job.version)
                self._version = job.version.version
            return self._writer

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = self._writer = self._version = None


_WORKER_STORE = _WorkerStore()


def score_and_put(block: UserBlock, job: ScoringJob) -> int:
    """On a worker: score, mask and rank the users of ``block`` and write their lists; returns how
    many users were written."""
    model = job.items.for_users(block.rows)
    users = np.arange(len(block.user_ids), dtype=np.int64)
    lists = list_block(
        model.score_block, block.seen, job.genres, users, job.must_watch_len, job.genre_len, model.reasons
    )
    put_list_block(_WORKER_STORE.writer(job), block.user_ids, lists)
    return len(block.user_ids)


class DaskPublisher:
    """Maps blocks of users onto the workers of the Dask scheduler at ``address``. Building it does
    not connect: each ``publish`` connects a client and closes it."""

    def __init__(
        self,
        address: str,
        open_store: StoreOpener,
        retries: int = DEFAULT_RETRIES,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.open_store = open_store
        self._retries = retries
        self._connect_timeout_s = connect_timeout_s

    def publish(
        self,
        version: VersionMeta,
        model: HybridModel,
        seen: sp.csr_matrix,
        genres: GenreIndex,
        user_ids: list[str],
        lengths: tuple[int, int],
        block_size: int,
    ) -> int:
        """Score every user (row of ``seen``, id ``user_ids[row]``) in blocks of ``block_size`` and write
        their lists (``lengths``: must-watch and per-genre) into the pending ``version``; returns the
        users written. DistributedPublishError when a block failed on every try or the scheduler is
        unreachable."""
        items = model.for_users(model.user_rows(np.zeros(0, dtype=np.int64)))
        job = ScoringJob(version, self.open_store, items, genres, *lengths)
        starts = iter(range(0, len(user_ids), block_size))
        try:
            client = Client(self.address, timeout=self._connect_timeout_s)
        except OSError as exc:
            raise DistributedPublishError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from exc
        with client:
            try:
                client.wait_for_workers(1, timeout=self._connect_timeout_s)
            except TimeoutError as exc:
                raise DistributedPublishError(f"the Dask scheduler at {self.address} has no worker") from exc
            scattered = client.scatter(job, broadcast=True, hash=False)

            def submit(start: int) -> Future[int]:
                stop = min(start + block_size, len(user_ids))
                block = UserBlock(user_ids[start:stop], model.user_rows(np.arange(start, stop)), seen[start:stop])
                key = f"score-{version.version}-{start}"
                return client.submit(score_and_put, block, job=scattered, key=key, retries=self._retries)

            window = IN_FLIGHT_PER_THREAD * sum(client.nthreads().values())
            submitted = [submit(start) for start in itertools.islice(starts, window)]
            running = as_completed(submitted)
            written = 0
            try:
                for future in running:
                    written += int(future.result())
                    for start in itertools.islice(starts, 1):  # the next block, if any
                        submitted.append(submit(start))
                        running.add(submitted[-1])
            except Exception as exc:
                # Blocks not started are dropped; one still running finds the version aborted
                # (a resumed writer writes only into a pending version) and fails harmlessly.
                client.cancel(submitted)
                raise DistributedPublishError(
                    f"a block of users failed {self._retries + 1} times on Dask: {type(exc).__name__}: {exc}"
                ) from exc
        log.info("%d users scored and written in %d blocks on %s", written, len(submitted), self.address)
        return written
