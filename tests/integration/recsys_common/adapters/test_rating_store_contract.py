"""One contract for every RatingStore: each test runs against a SQLite file, a real ClickHouse, a
two-shard ClickHouse cluster (``test_clickhouse_sharded.py`` has its own checks) and the unit tests' fake.

Adapter-specific behaviour (ClickHouse dedup internals, outages, SQLite file errors) follows below.
"""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from recsys_common.adapters.clickhouse_ratings import (
    CLEARED_TABLE,
    DEFAULT_DDL_PATH,
    TABLE,
    ClickHouseRatingStore,
    IngestClock,
    read_ddl,
)
from recsys_common.adapters.sqlite_ratings import BULK_LOAD_MIN_ROWS, SqliteRatingStore
from recsys_common.columns import Columns
from recsys_common.domain import RATING_REMOVED
from recsys_common.events import InvalidEvent, event_id_for
from recsys_common.ids import film_id_for
from recsys_common.ports.ratings import RatingSourceError, RatingStore
from tests.fakes import FakeRatingStore

if TYPE_CHECKING:
    from tests.integration.conftest import ClickHouseCluster

pytestmark = pytest.mark.integration

FILMS = [film_id_for(f"contract:{i}") for i in range(20)]
T0 = 1_700_000_000


def frame(rows: list[tuple[str, str, float, int]], event_ids: list[str] | None = None) -> pd.DataFrame:
    data = pd.DataFrame(rows, columns=list(Columns.RATINGS))
    if event_ids is not None:
        data[Columns.EventId] = event_ids
    return data


def as_set(ratings: pd.DataFrame) -> set[tuple[str, str, float, int]]:
    """The rows as a set; fails when the frame holds a row twice (a read must not duplicate)."""
    rows = {
        (str(u), str(f), float(r), int(t))
        for u, f, r, t in ratings[list(Columns.RATINGS)].itertuples(index=False, name=None)
    }
    assert len(rows) == len(ratings), f"{len(ratings) - len(rows)} duplicate row(s)"
    return rows


StoreMaker = Callable[[], RatingStore]


@pytest.fixture(params=["sqlite", "clickhouse", "clickhouse-sharded", "fake"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreMaker]:
    """Builds stores over one storage (a second store sees what the first wrote)."""
    opened: list[RatingStore] = []
    if request.param == "sqlite":
        path = tmp_path / "ratings.sqlite"

        def make() -> RatingStore:
            store = SqliteRatingStore(path)
            opened.append(store)
            return store

    elif request.param == "fake":
        fake = FakeRatingStore()  # its storage is the object: a "second store" is the same one

        def make() -> RatingStore:
            return fake

    elif request.param == "clickhouse-sharded":
        cluster: ClickHouseCluster = request.getfixturevalue("clickhouse_cluster")
        database = request.getfixturevalue("clickhouse_cluster_database")

        def make() -> RatingStore:
            store = ClickHouseRatingStore(cluster.url(database), cluster=cluster.name)
            store.ensure_schema()
            opened.append(store)
            return store

    else:
        url = request.getfixturevalue("clickhouse_url")

        def make() -> RatingStore:
            store = ClickHouseRatingStore(url)
            store.ensure_schema()
            opened.append(store)
            return store

    yield make
    for store in opened:
        if isinstance(store, ClickHouseRatingStore):
            store.close()


@pytest.fixture
def rating_store(make_store: StoreMaker) -> RatingStore:
    return make_store()


# ----- the contract ----------------------------------------------------------------------------


def test_empty_store_reads_typed_empty_frames(rating_store: RatingStore) -> None:
    for ratings in (rating_store.read_all(), rating_store.read_since(0)):
        assert list(ratings.columns) == list(Columns.RATINGS)
        assert ratings.empty
        assert pd.api.types.is_string_dtype(ratings[Columns.User])
        assert ratings[Columns.Rating].dtype == np.float64
        assert ratings[Columns.Timestamp].dtype == np.int64
    assert rating_store.watermark() == 0


def test_append_then_read_all_round_trips_values_and_dtypes(rating_store: RatingStore) -> None:
    rows = [("alice", FILMS[0], 7.5, T0), ("alice", FILMS[1], 1.0, T0 + 1), ("bob", FILMS[0], 10.0, T0 + 2)]
    assert rating_store.append(frame(rows)) == len(rows)

    ratings = rating_store.read_all()

    assert as_set(ratings) == set(rows)
    assert list(ratings.columns) == list(Columns.RATINGS)
    assert pd.api.types.is_string_dtype(ratings[Columns.User])
    assert pd.api.types.is_string_dtype(ratings[Columns.Item])
    assert ratings[Columns.Rating].dtype == np.float64
    assert ratings[Columns.Timestamp].dtype == np.int64


def test_read_all_keeps_the_latest_rating_per_pair_by_event_time(rating_store: RatingStore) -> None:
    rating_store.append(frame([("alice", FILMS[0], 3.0, T0 + 10), ("bob", FILMS[0], 4.0, T0)]))
    # Arrives later but happened earlier: must not replace the newer rating.
    rating_store.append(frame([("alice", FILMS[0], 9.0, T0 + 5)]))
    rating_store.append(frame([("bob", FILMS[0], 8.0, T0 + 1)]))

    assert as_set(rating_store.read_all()) == {("alice", FILMS[0], 3.0, T0 + 10), ("bob", FILMS[0], 8.0, T0 + 1)}


def test_read_user_gives_one_users_latest_rating_per_film(rating_store: RatingStore) -> None:
    rating_store.append(frame([("alice", FILMS[0], 3.0, T0 + 10), ("bob", FILMS[0], 4.0, T0)]))
    rating_store.append(frame([("alice", FILMS[0], 9.0, T0 + 5), ("alice", FILMS[1], 6.0, T0 + 6)]))
    assert as_set(rating_store.read_user("alice")) == {
        ("alice", FILMS[0], 3.0, T0 + 10),
        ("alice", FILMS[1], 6.0, T0 + 6),
    }
    assert rating_store.read_user("nobody").empty
    assert list(rating_store.read_user("nobody").columns) == list(Columns.RATINGS)


def test_same_event_id_is_counted_once(rating_store: RatingStore) -> None:
    event = str(uuid.uuid4())
    other = str(uuid.uuid4())
    rows = [("alice", FILMS[2], 6.0, T0), ("alice", FILMS[2], 6.0, T0)]
    rating_store.append(frame(rows, [event, event]))
    rating_store.append(frame([rows[0]], [event]))  # redelivery
    rating_store.append(frame([("alice", FILMS[3], 2.0, T0)], [other]))

    ratings = rating_store.read_all()

    assert len(ratings) == 2
    assert as_set(ratings) == {("alice", FILMS[2], 6.0, T0), ("alice", FILMS[3], 2.0, T0)}


def test_reloading_a_seed_without_event_ids_is_idempotent(rating_store: RatingStore) -> None:
    seed = frame([(f"user{i}", FILMS[i % len(FILMS)], float(1 + i % 10), T0 + i) for i in range(200)])
    rating_store.append(seed)
    first = rating_store.read_all()

    rating_store.append(seed)

    assert len(first) == len(seed)
    assert as_set(rating_store.read_all()) == as_set(first)


def test_watermark_grows_and_read_since_returns_only_newer_rows(rating_store: RatingStore) -> None:
    rating_store.append(frame([("alice", FILMS[0], 5.0, T0), ("bob", FILMS[1], 6.0, T0)]))
    first = rating_store.watermark()
    later = [("carol", FILMS[2], 7.0, T0 + 1), ("carol", FILMS[2], 8.0, T0 + 2)]
    rating_store.append(frame(later))
    second = rating_store.watermark()

    assert 0 < first < second
    assert len(rating_store.read_since(0)) == len(later) + 2
    since_first = rating_store.read_since(first)
    # Several ratings of one pair are all there, in ingestion order.
    assert list(since_first.itertuples(index=False, name=None)) == later
    assert rating_store.read_since(second).empty


def test_clear_drops_every_rating_and_the_watermark_never_goes_back(make_store: StoreMaker) -> None:
    store = make_store()
    store.append(frame([("alice", FILMS[0], 5.0, T0), ("bob", FILMS[1], 6.0, T0)]))
    before = store.watermark()

    store.clear()

    again = make_store()  # another process's view of the same storage
    for reader in (store, again):
        assert reader.read_all().empty
        assert reader.read_user("alice").empty
        assert reader.read_since(0).empty
        assert reader.watermark() >= before
    store.append(frame([("carol", FILMS[2], 7.0, T0 + 5)]))
    assert again.watermark() > before
    assert as_set(again.read_since(before)) == {("carol", FILMS[2], 7.0, T0 + 5)}
    assert as_set(again.read_all()) == {("carol", FILMS[2], 7.0, T0 + 5)}


def test_clearing_an_empty_store_keeps_it_empty(rating_store: RatingStore) -> None:
    rating_store.clear()
    assert rating_store.read_all().empty
    assert rating_store.watermark() == 0


def test_a_second_store_over_the_same_storage_sees_the_rows(make_store: StoreMaker) -> None:
    make_store().append(frame([("alice", FILMS[4], 4.0, T0)]))

    again = make_store()

    assert as_set(again.read_all()) == {("alice", FILMS[4], 4.0, T0)}
    assert again.watermark() > 0


def test_film_ids_are_stored_in_canonical_form(rating_store: RatingStore) -> None:
    rating_store.append(frame([("alice", FILMS[5].upper(), 5.0, T0)]))

    assert rating_store.read_all()[Columns.Item].tolist() == [FILMS[5]]


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (("alice", FILMS[0], 11.0, T0), "rating"),
        (("alice", FILMS[0], 0.5, T0), "rating"),
        (("alice", "not-a-uuid", 5.0, T0), "not a UUID"),
        (("", FILMS[0], 5.0, T0), "must not be empty"),
        (("alice", FILMS[0], 5.0, -1), "timestamp"),
    ],
)
def test_bad_rows_are_rejected_naming_the_row_and_nothing_is_written(
    rating_store: RatingStore, bad_row: tuple[str, str, float, int], expected: str
) -> None:
    rows = [("bob", FILMS[1], 5.0, T0), bad_row]

    with pytest.raises(InvalidEvent, match=expected) as caught:
        rating_store.append(frame(rows))

    assert "row 1" in str(caught.value)
    assert rating_store.watermark() == 0
    assert rating_store.read_all().empty


def test_a_frame_without_rating_columns_is_rejected(rating_store: RatingStore) -> None:
    with pytest.raises(InvalidEvent, match=Columns.Timestamp):
        rating_store.append(pd.DataFrame({Columns.User: ["a"], Columns.Item: [FILMS[0]], Columns.Rating: [5.0]}))


def test_many_rows_match_a_reference_latest_per_pair(rating_store: RatingStore) -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    seed = pd.DataFrame(
        {
            Columns.User: [f"u{i}" for i in rng.integers(0, 300, n)],
            Columns.Item: [FILMS[i] for i in rng.integers(0, len(FILMS), n)],
            Columns.Rating: rng.integers(1, 11, n).astype(float),
            Columns.Timestamp: T0 + rng.permutation(n),  # distinct times: one latest per pair
        }
    )
    rating_store.append(seed)

    expected = seed.sort_values(Columns.Timestamp).drop_duplicates([Columns.User, Columns.Item], keep="last")
    assert as_set(rating_store.read_all()) == as_set(expected)
    assert len(rating_store.read_since(0)) == n


# ----- ClickHouse only -------------------------------------------------------------------------


@pytest.fixture
def clickhouse_store(clickhouse_url: str) -> Iterator[ClickHouseRatingStore]:
    store = ClickHouseRatingStore(clickhouse_url)
    store.ensure_schema()
    yield store
    store.close()


def test_clickhouse_ddl_file_holds_the_ratings_table_and_the_clear_record() -> None:
    statements = read_ddl(DEFAULT_DDL_PATH)
    assert len(statements) == 2
    assert statements[0].startswith(f"CREATE TABLE IF NOT EXISTS {TABLE}\n")
    assert statements[1].startswith(f"CREATE TABLE IF NOT EXISTS {CLEARED_TABLE}\n")


def test_clickhouse_ensure_schema_is_idempotent_and_creates_the_database(clickhouse_url: str) -> None:
    store = ClickHouseRatingStore(clickhouse_url)
    try:
        store.ensure_schema()
        store.ensure_schema()
        store.ping()
        assert store.watermark() == 0
    finally:
        store.close()


def test_clickhouse_redelivered_copies_stay_exact_before_and_after_merges(
    clickhouse_store: ClickHouseRatingStore,
) -> None:
    rows = frame([("alice", FILMS[0], 6.0, T0), ("bob", FILMS[1], 7.0, T0)], [str(uuid.uuid4()), str(uuid.uuid4())])
    for _ in range(3):
        clickhouse_store.append(rows)
    expected = as_set(rows)

    stored_rows = f"SELECT count() FROM {TABLE}"  # before deduplication: redelivered copies included
    assert clickhouse_store._execute(stored_rows)[0][0] >= len(rows)  # copies may be physically present
    assert as_set(clickhouse_store.read_all()) == expected
    clickhouse_store._execute(f"OPTIMIZE TABLE {TABLE} FINAL")
    assert clickhouse_store._execute(stored_rows)[0][0] == len(rows)
    assert as_set(clickhouse_store.read_all()) == expected


def test_clickhouse_ties_in_event_time_resolve_the_same_way_in_every_order(clickhouse_url: str) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    a = frame([("alice", FILMS[0], 2.0, T0)], [first])
    b = frame([("alice", FILMS[0], 9.0, T0)], [second])
    winners = []
    for order in ((a, b), (b, a), (a, b, a)):
        store = ClickHouseRatingStore(clickhouse_url)
        store.ensure_schema()
        store._execute(f"TRUNCATE TABLE {TABLE}")
        for part in order:
            store.append(part)
        winners.append(as_set(store.read_all()))
        store.close()
    assert winners[0] == winners[1] == winners[2]
    assert len(winners[0]) == 1


@contextmanager
def closed_port() -> Iterator[int]:
    """A local TCP port with nothing listening on it (bound but never listening, while in use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_clickhouse_unreachable_server_raises_rating_source_error() -> None:
    with closed_port() as port:
        store = ClickHouseRatingStore(f"clickhouse://default:@127.0.0.1:{port}/recsys", connect_timeout_s=1)
        with pytest.raises(RatingSourceError, match=str(port)):
            store.read_all()
        with pytest.raises(RatingSourceError):
            store.ensure_schema()


def test_clickhouse_rejects_a_database_name_that_is_not_an_identifier() -> None:
    with pytest.raises(ValueError, match="identifier"):
        ClickHouseRatingStore("clickhouse://default:@127.0.0.1:9000/bad;name")


def test_ingest_clock_never_repeats_even_when_the_clock_goes_back() -> None:
    times = iter([1_000, 1_000, 500, 2_000])
    clock = IngestClock(lambda: next(times))
    clock.observe(900)
    first = clock.reserve(3)
    second = clock.reserve(2)
    third = clock.reserve(1)  # wall clock went back to 500
    fourth = clock.reserve(1)
    positions = np.concatenate([first, second, third, fourth]).tolist()
    assert positions == sorted(set(positions))
    assert positions[0] == 1_000
    assert positions[-1] == 2_000


def test_clickhouse_watermark_continues_above_rows_of_an_earlier_writer(clickhouse_url: str) -> None:
    future = 10**17  # an earlier writer whose clock ran far ahead
    early = ClickHouseRatingStore(clickhouse_url, clock=IngestClock(lambda: future))
    early.ensure_schema()
    early.append(frame([("alice", FILMS[0], 5.0, T0)]))
    early.close()

    later = ClickHouseRatingStore(clickhouse_url)
    later.append(frame([("bob", FILMS[0], 5.0, T0)]))

    assert later.watermark() > future
    assert len(later.read_since(future)) == 1
    later.close()


# ----- SQLite only -----------------------------------------------------------------------------


def test_sqlite_unusable_path_raises_rating_source_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    store = SqliteRatingStore(blocker / "ratings.sqlite")
    with pytest.raises(RatingSourceError, match="a-file"):
        store.read_all()


def test_sqlite_uses_write_ahead_logging(tmp_path: Path) -> None:
    path = tmp_path / "ratings.sqlite"
    SqliteRatingStore(path).append(frame([("alice", FILMS[0], 5.0, T0)]))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_ties_in_event_time_keep_the_last_inserted(tmp_path: Path) -> None:
    store = SqliteRatingStore(tmp_path / "ratings.sqlite")
    store.append(frame([("alice", FILMS[0], 2.0, T0)], [event_id_for("alice", FILMS[0], T0)]))
    store.append(frame([("alice", FILMS[0], 9.0, T0)], [str(uuid.uuid4())]))
    assert as_set(store.read_all()) == {("alice", FILMS[0], 9.0, T0)}


def test_sqlite_bulk_load_into_an_empty_store_still_ignores_repeated_event_ids(tmp_path: Path) -> None:
    n = BULK_LOAD_MIN_ROWS + 10
    event_ids = [f"bulk-{i}" for i in range(n - 10)] + [f"bulk-{i}" for i in range(10)]  # 10 repeats
    rows = [(f"user{i}", FILMS[i % len(FILMS)], 5.0, T0 + i) for i in range(n)]
    store = SqliteRatingStore(tmp_path / "ratings.sqlite")

    assert store.append(frame(rows, event_ids)) == n - 10
    assert store.append(frame(rows[:20], event_ids[:20])) == 0  # the index is back after the bulk load
    assert len(store.read_all()) == n - 10


def test_a_removal_hides_the_pair_from_the_latest_ratings_until_it_is_rated_again(make_store: StoreMaker) -> None:
    store = make_store()
    store.append(frame([("alice", FILMS[0], 9.0, T0), ("alice", FILMS[1], 6.0, T0), ("bob", FILMS[0], 7.0, T0)]))
    before = store.watermark()
    store.append(frame([("alice", FILMS[0], RATING_REMOVED, T0 + 5)]))
    assert store.watermark() > before  # the engine sees something new
    other = make_store()  # another connection reads the same
    for reader in (store, other):
        assert as_set(reader.read_all()) == {("alice", FILMS[1], 6.0, T0), ("bob", FILMS[0], 7.0, T0)}
        assert as_set(reader.read_user("alice")) == {("alice", FILMS[1], 6.0, T0)}
    removal = store.read_since(before)  # the feed still carries the removal itself
    assert as_set(removal) == {("alice", FILMS[0], RATING_REMOVED, T0 + 5)}
    # an older rating arriving late does not undo the removal; a newer one brings the film back
    store.append(frame([("alice", FILMS[0], 4.0, T0 + 1)]))
    assert FILMS[0] not in set(store.read_user("alice")[Columns.Item])
    store.append(frame([("alice", FILMS[0], 8.0, T0 + 9)]))
    assert ("alice", FILMS[0], 8.0, T0 + 9) in as_set(store.read_user("alice"))
    store.append(frame([("alice", FILMS[5], RATING_REMOVED, T0 + 9)]))  # removing an unrated film: nothing
    assert len(store.read_user("alice")) == 2
