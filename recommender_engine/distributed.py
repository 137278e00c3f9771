"""Scoring and publishing on a Dask distributed cluster (``RECSYS_DASK_SCHEDULER``).

The engine trains on one node (LightFM is a shared-memory trainer), then hands the lists to the
cluster: what scoring needs (the model's user and item representations and EASE part, the seen
matrix, the genre index, the user ids) is scattered to every worker once; each task scores one
block of users, masks what they rated, ranks their lists (``lists.list_block``, as in-process) and
writes them (``lists.put_list_block``) into the pending version through the worker's own store
connection, opened from a picklable ``StoreOpener`` and resumed on the pending version
(``RecPublisher.resume``, whose writes replace a record written before, so a retried block is
idempotent). A failed task is retried ``retries`` times; the engine commits only after every block
succeeded, and otherwise raises ``DistributedPublishError`` (the cycle aborts the version and the
previous one keeps serving).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from distributed import Client, as_completed

from recommender_engine.lists import list_block, put_list_block
from recommender_engine.model.hybrid import HybridModel
from recommender_engine.ranking import GenreIndex
from recsys_common.ports.recstore import RecStore, VersionMeta, VersionWriter

log = logging.getLogger(__name__)

#: Builds the store on a worker; must pickle (e.g. ``functools.partial(rec_store, settings)``).
StoreOpener = Callable[[], RecStore]
#: Times a failed block is tried again before the cycle fails.
DEFAULT_RETRIES = 2
#: Seconds to wait for the scheduler when connecting.
CONNECT_TIMEOUT_S = 30.0


class DistributedPublishError(RuntimeError):
    """A block failed on every try (or the cluster could not be used): the version is not committed."""


@dataclass(frozen=True)
class ScoringJob:
    """Everything a worker needs to score and write any block of users: scattered once per cycle."""

    version: VersionMeta  # the pending version (``VersionWriter.meta``)
    open_store: StoreOpener
    model: HybridModel
    seen: sp.csr_matrix
    genres: GenreIndex
    user_ids: list[str]
    must_watch_len: int
    genre_len: int


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


def score_and_put(start: int, stop: int, job: ScoringJob) -> int:
    """On a worker: score, mask and rank users ``start``..``stop - 1`` and write their lists; returns
    how many users were written."""
    users = np.arange(start, stop, dtype=np.int64)
    block = list_block(job.model.score_block, job.seen, job.genres, users, job.must_watch_len, job.genre_len)
    put_list_block(_WORKER_STORE.writer(job), job.user_ids[start:stop], block)
    return int(users.size)


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
        job = ScoringJob(version, self.open_store, model, seen, genres, user_ids, *lengths)
        n_users = len(job.user_ids)
        starts = list(range(0, n_users, block_size))
        stops = [min(start + block_size, n_users) for start in starts]
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
            keys = [f"score-{job.version.version}-{start}" for start in starts]
            futures = client.map(score_and_put, starts, stops, job=scattered, key=keys, retries=self._retries)
            written = 0
            try:
                for future in as_completed(futures):
                    written += int(future.result())
            except Exception as exc:
                # Blocks not started are dropped; one still running finds the version aborted
                # (a resumed writer writes only into a pending version) and fails harmlessly.
                client.cancel(futures)
                raise DistributedPublishError(
                    f"a block of users failed {self._retries + 1} times on Dask: {type(exc).__name__}: {exc}"
                ) from exc
        log.info("%d users scored and written by %d blocks on %s", written, len(starts), self.address)
        return written
