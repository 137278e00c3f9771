"""Scoring and publishing on a Dask cluster (two worker processes): the same lists as in-process, on
real Redis and SQLite; a block that fails is retried; a cycle whose block always fails publishes
nothing and the previous version keeps serving."""

from __future__ import annotations

import functools
import socket
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from distributed import LocalCluster

from recommender_engine.cycle import CycleError, CycleJournal, Engine, ListConfig
from recommender_engine.distributed import DaskPublisher, StoreOpener
from recommender_engine.model.hybrid import ModelConfig
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.columns import Columns
from recsys_common.domain import UserLists
from recsys_common.ports.recstore import RecStore, VersionMeta
from tests.datasets import synthetic_films, synthetic_ratings
from tests.fakes import FakeRatingStore
from tests.flaky_stores import FlakySqliteRecStore

pytestmark = pytest.mark.integration

FILMS = synthetic_films(60, source="dasktest")
N_USERS = 50
#: Blocks of 8 users: 7 blocks over the two workers.
LISTS = ListConfig(must_watch_len=10, genre_len=3, cold_start_len=5, block_size=8)
#: One training thread: the fit is reproducible, so two engines train the same model.
MODEL = ModelConfig(epochs=2, no_components=8, num_threads=1)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0", host="127.0.0.1"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def ratings() -> FakeRatingStore:
    store = FakeRatingStore()
    store.append(synthetic_ratings(FILMS, n_users=N_USERS, per_user=12))
    return store


def engine(tmp_path: Path, ratings: FakeRatingStore, store: RecStore, dask: DaskPublisher | None) -> Engine:
    return Engine(
        ratings=ratings,
        store=store,
        films=lambda: FILMS,
        lists=LISTS,
        model=MODEL,
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
        dask=dask,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def published(store: RecStore) -> tuple[VersionMeta, dict[str, UserLists | None]]:
    meta = store.current()
    assert meta is not None
    users = sorted({str(u) for u in synthetic_ratings(FILMS, n_users=N_USERS, per_user=12)[Columns.User]})
    return meta, {user: store.user_lists(user, meta) for user in users}


def opener(kind: str, tmp_path: Path, name: str, redis_url: str, prefix: str) -> StoreOpener:
    if kind == "sqlite":
        return functools.partial(SqliteRecStore, tmp_path / f"{name}.sqlite")
    return functools.partial(RedisRecStore, redis_url, prefix=f"{prefix}:{name}")


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_lists_published_on_dask_equal_the_in_process_ones(
    kind: str, scheduler: str, ratings: FakeRatingStore, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    local_store = opener(kind, tmp_path, "local", redis_url, redis_prefix)()
    dask_opener = opener(kind, tmp_path, "dask", redis_url, redis_prefix)
    dask_store = dask_opener()
    try:
        engine(tmp_path / "local", ratings, local_store, None).run_cycle()
        result = engine(tmp_path / "dask", ratings, dask_store, DaskPublisher(scheduler, dask_opener)).run_cycle()

        assert result.status == "published"
        local_meta, local_lists = published(local_store)
        dask_meta, dask_lists = published(dask_store)
        assert dask_meta.n_users == local_meta.n_users == N_USERS
        assert None not in dask_lists.values()
        assert all(lists is not None and lists.reasons for lists in dask_lists.values())
        assert dask_lists == local_lists
        assert dask_store.cold_start(dask_meta.version) == local_store.cold_start(local_meta.version)
        assert dask_store.pending() == {}
    finally:
        local_store.close()
        dask_store.close()


def test_a_block_that_fails_once_is_retried_and_the_version_commits(
    scheduler: str, ratings: FakeRatingStore, tmp_path: Path
) -> None:
    path = tmp_path / "recstore.sqlite"
    flaky = functools.partial(FlakySqliteRecStore, path, user="user-17", failures=1)
    store = flaky()
    try:
        result = engine(tmp_path, ratings, store, DaskPublisher(scheduler, flaky, retries=1)).run_cycle()

        assert result.status == "published"
        assert store.failed() == 1
        meta, lists = published(store)
        assert meta.n_users == N_USERS
        assert None not in lists.values()
    finally:
        store.close()


def test_a_block_that_always_fails_fails_the_cycle_and_the_previous_version_serves(
    scheduler: str, ratings: FakeRatingStore, tmp_path: Path
) -> None:
    path = tmp_path / "recstore.sqlite"
    store = SqliteRecStore(path)
    broken = functools.partial(FlakySqliteRecStore, path, user="user-17", failures=None)
    flaky = broken()
    try:
        engine(tmp_path, ratings, store, None).run_cycle()
        serving = store.current()
        new_rating = pd.DataFrame(
            {Columns.User: ["user-1"], Columns.Item: [FILMS[Columns.Item].iloc[-1]], Columns.Rating: [7]}
        )
        ratings.append(new_rating.assign(**{Columns.Timestamp: 2_000_000_000}))

        with pytest.raises(CycleError, match="injected failure"):
            engine(tmp_path, ratings, flaky, DaskPublisher(scheduler, broken, retries=1)).run_cycle()

        assert flaky.failed() == 2  # the first try and one retry
        assert store.current() == serving
        assert store.pending() == {}
    finally:
        store.close()
        flaky.close()


def test_an_unreachable_scheduler_fails_the_cycle_and_the_previous_version_serves(
    ratings: FakeRatingStore, tmp_path: Path
) -> None:
    store = SqliteRecStore(tmp_path / "recstore.sqlite")
    try:
        engine(tmp_path, ratings, store, None).run_cycle()
        serving = store.current()
        nowhere = DaskPublisher(f"tcp://127.0.0.1:{free_port()}", lambda: store, connect_timeout_s=1.0)

        with pytest.raises(CycleError, match="cannot reach the Dask scheduler"):
            engine(tmp_path, ratings, store, nowhere).run_cycle(force=True)

        assert (store.current(), store.pending()) == (serving, {})
    finally:
        store.close()


def test_a_scheduler_without_workers_fails_the_cycle_instead_of_waiting(
    ratings: FakeRatingStore, tmp_path: Path
) -> None:
    store = SqliteRecStore(tmp_path / "recstore.sqlite")
    try:
        with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:  # type: ignore[no-untyped-call]
            idle = DaskPublisher(empty.scheduler_address, lambda: store, connect_timeout_s=1.0)
            with pytest.raises(CycleError, match="has no worker"):
                engine(tmp_path, ratings, store, idle).run_cycle()
        assert (store.current(), store.pending()) == (None, {})
    finally:
        store.close()
