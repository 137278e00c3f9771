"""One contract for both ExamStore adapters: a SQLite file and real Redis (a prefix of the test's own)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exam_api.state import ExamStore, ExamStoreUnavailable
from exam_api.state_redis import RedisExamStore
from exam_api.state_sqlite import SqliteExamStore

pytestmark = pytest.mark.integration

StoreMaker = Callable[[], ExamStore]


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreMaker]:
    """Builds stores over one storage (a second store sees what the first wrote)."""
    opened: list[ExamStore] = []
    if request.param == "sqlite":

        def make() -> ExamStore:
            store: ExamStore = SqliteExamStore(tmp_path / "exam.sqlite")
            opened.append(store)
            return store

    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")

        def make() -> ExamStore:
            store: ExamStore = RedisExamStore(url, prefix=f"{prefix}:state")
            opened.append(store)
            return store

    yield make
    for store in opened:
        store.close()


def test_a_new_store_is_empty(make_store: StoreMaker) -> None:
    store = make_store()
    store.ping()
    assert store.items() == {} and store.counts() == {} and store.cleared_at() is None
    record = store.user(1)
    assert record.shown == set() and record.interacted == set()


def test_items_users_and_counts_round_trip_and_another_store_sees_them(make_store: StoreMaker) -> None:
    store = make_store()
    store.put_items({1: ("Drama",), 2: ("Comedy", "Horror"), -3: ()})
    store.put_items({2: ("Sci-Fi",)})  # replaces the genres
    store.add_shown(7, [1, 2])
    store.add_shown(7, [2, -3])
    store.add_shown(8, [])
    store.add_interactions(7, [1])
    store.add_interactions(9, [1, 2])

    again = make_store()
    assert again.items() == {1: ("Drama",), 2: ("Sci-Fi",), -3: ()}
    assert again.user(7).shown == {1, 2, -3} and again.user(7).interacted == {1}
    assert again.user(9).interacted == {1, 2} and again.user(9).shown == set()
    assert again.counts() == {1: 2, 2: 1}


def test_clear_forgets_everything_and_records_when(make_store: StoreMaker) -> None:
    store = make_store()
    store.put_items({1: ("Drama",)})
    store.add_shown(7, [1])
    store.add_interactions(7, [1])
    store.clear(1_700_000_000.25)
    again = make_store()
    assert again.items() == {} and again.counts() == {}
    assert again.user(7).shown == set() and again.user(7).interacted == set()
    assert again.cleared_at() == 1_700_000_000.25
    store.put_items({4: ("Horror",)})
    assert again.items() == {4: ("Horror",)}


def test_redis_clear_leaves_other_prefixes_alone(redis_url: str, redis_prefix: str) -> None:
    mine = RedisExamStore(redis_url, prefix=f"{redis_prefix}:a")
    neighbour = RedisExamStore(redis_url, prefix=f"{redis_prefix}:ab")
    try:
        neighbour.put_items({1: ("Drama",)})
        mine.put_items({2: ("Drama",)})
        mine.clear(1.0)
        assert mine.items() == {} and neighbour.items() == {1: ("Drama",)}
    finally:
        mine.close()
        neighbour.close()


def test_unreachable_stores_raise_exam_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for store in (SqliteExamStore(blocker / "exam.sqlite"), RedisExamStore("redis://127.0.0.1:1/0", prefix="x")):
        with pytest.raises(ExamStoreUnavailable):
            store.ping()
        with pytest.raises(ExamStoreUnavailable):
            store.add_shown(1, [1])
        store.close()
