"""The sharded ClickHouse rating store on a real two-shard cluster (two clickhouse-server processes).

The RatingStore contract runs against it in ``test_rating_store_contract.py``; here: where rows live
(one user, one shard), exact deduplication per shard, and the published watermark across shards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from recsys_common.adapters.clickhouse_ratings import (
    LOCAL_TABLE,
    SHARDED_DDL_PATH,
    ClickHouseRatingStore,
    cluster_ddl,
    read_ddl,
)
from recsys_common.columns import Columns
from recsys_common.ids import film_id_for
from recsys_common.ports.ratings import RatingSourceError

if TYPE_CHECKING:
    from tests.integration.conftest import ClickHouseCluster

pytestmark = pytest.mark.integration

FILMS = [film_id_for(f"sharded:{i}") for i in range(10)]
T0 = 1_700_000_000
USERS = 40


def frame(rows: list[tuple[str, str, float, int]], event_ids: list[str] | None = None) -> pd.DataFrame:
    data = pd.DataFrame(rows, columns=list(Columns.RATINGS))
    if event_ids is not None:
        data[Columns.EventId] = event_ids
    return data


def as_set(ratings: pd.DataFrame) -> set[tuple[str, str, float, int]]:
    rows = {
        (str(u), str(f), float(r), int(t))
        for u, f, r, t in ratings[list(Columns.RATINGS)].itertuples(index=False, name=None)
    }
    assert len(rows) == len(ratings), f"{len(ratings) - len(rows)} duplicate row(s)"
    return rows


def on_each_shard(cluster: ClickHouseCluster, database: str, query: str) -> list[Any]:
    """``query``'s rows on every shard's own server (not through the Distributed table)."""
    results = []
    for server in cluster.servers:
        client = server.client(database)
        try:
            results.append(client.execute(query))
        finally:
            client.disconnect()
    return results


@pytest.fixture
def store(clickhouse_cluster: ClickHouseCluster, clickhouse_cluster_database: str) -> Iterator[ClickHouseRatingStore]:
    created = ClickHouseRatingStore(
        clickhouse_cluster.url(clickhouse_cluster_database), cluster=clickhouse_cluster.name, create_schema=True
    )
    yield created
    created.close()


def test_the_schema_is_created_on_every_shard(
    clickhouse_cluster: ClickHouseCluster, clickhouse_cluster_database: str, store: ClickHouseRatingStore
) -> None:
    store.ensure_schema()
    store.ensure_schema()  # idempotent

    tables = on_each_shard(
        clickhouse_cluster,
        clickhouse_cluster_database,
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name",
    )
    expected = [
        ("ratings", "Distributed"),
        ("ratings_local", "ReplacingMergeTree"),
        ("ratings_positions", "Distributed"),
        ("ratings_positions_local", "ReplacingMergeTree"),
    ]
    assert tables == [expected] * len(clickhouse_cluster.servers)
    assert store.cluster_servers() == sorted(("127.0.0.1", s.tcp_port) for s in clickhouse_cluster.servers)


def test_each_users_ratings_live_on_exactly_one_shard(
    clickhouse_cluster: ClickHouseCluster, clickhouse_cluster_database: str, store: ClickHouseRatingStore
) -> None:
    rows = [(f"user{u}", FILMS[f], float(1 + (u + f) % 10), T0 + u * 100 + f) for u in range(USERS) for f in range(5)]
    store.append(frame(rows))

    per_shard = on_each_shard(
        clickhouse_cluster, clickhouse_cluster_database, f"SELECT user_id, count() FROM {LOCAL_TABLE} GROUP BY user_id"
    )
    users_on = [{str(user) for user, _ in shard} for shard in per_shard]
    assert all(users_on), f"a shard holds no user: {[len(u) for u in users_on]}"
    assert set.intersection(*users_on) == set()  # no user is split over two shards
    assert set.union(*users_on) == {f"user{u}" for u in range(USERS)}
    assert all(count == 5 for shard in per_shard for _, count in shard)
    assert as_set(store.read_all()) == set(rows)
    # One user's read reaches the one shard that has them, through the Distributed table.
    assert as_set(store.read_user("user7")) == {row for row in rows if row[0] == "user7"}


def test_duplicates_of_one_pair_collapse_exactly_on_their_shard(
    clickhouse_cluster: ClickHouseCluster, clickhouse_cluster_database: str, store: ClickHouseRatingStore
) -> None:
    rng = np.random.default_rng(3)
    events = [
        (str(uuid.uuid4()), f"user{u}", FILMS[int(rng.integers(0, len(FILMS)))], float(rng.integers(1, 11)), T0 + i)
        for i, u in enumerate(rng.integers(0, USERS, 2_000))
    ]
    batch = frame([row[1:] for row in events], [row[0] for row in events])
    for _ in range(3):  # redelivered twice
        store.append(batch)
    expected = batch.sort_values(Columns.Timestamp).drop_duplicates([Columns.User, Columns.Item], keep="last")

    assert as_set(store.read_all()) == as_set(expected)  # FINAL through the Distributed table
    on_each_shard(clickhouse_cluster, clickhouse_cluster_database, f"OPTIMIZE TABLE {LOCAL_TABLE} FINAL")
    counts = on_each_shard(clickhouse_cluster, clickhouse_cluster_database, f"SELECT count() FROM {LOCAL_TABLE}")
    # After merging, each shard keeps exactly one row per pair it holds: nothing left to collapse.
    assert sum(shard[0][0] for shard in counts) == len(expected)
    assert all(shard[0][0] > 0 for shard in counts)
    assert as_set(store.read_all()) == as_set(expected)


def test_the_watermark_grows_across_shards_and_read_since_misses_nothing(
    clickhouse_cluster: ClickHouseCluster, clickhouse_cluster_database: str, store: ClickHouseRatingStore
) -> None:
    other_entry = ClickHouseRatingStore(
        clickhouse_cluster.servers[1].url(clickhouse_cluster_database), cluster=clickhouse_cluster.name
    )
    seen: list[tuple[str, str, float, int]] = []
    marks = [store.watermark()]
    for step in range(5):
        batch = [(f"user{u}", FILMS[step], float(1 + step), T0 + step) for u in range(USERS)]  # every shard
        store.append(frame(batch))
        marks.append(store.watermark())
        assert other_entry.watermark() == marks[-1]  # the same position through either server
        since = store.read_since(marks[-2])
        assert as_set(since) == set(batch)
        seen += list(since.itertuples(index=False, name=None))
    assert marks == sorted(set(marks))  # strictly growing
    assert as_set(store.read_since(0)) == set(seen)
    assert store.read_since(marks[-1]).empty
    # The published positions collapse to one row per shard when merged; the watermark stays.
    on_each_shard(clickhouse_cluster, clickhouse_cluster_database, "OPTIMIZE TABLE ratings_positions_local FINAL")
    rows = on_each_shard(clickhouse_cluster, clickhouse_cluster_database, "SELECT count() FROM ratings_positions_local")
    assert sum(shard[0][0] for shard in rows) <= len(clickhouse_cluster.servers)
    assert store.watermark() == marks[-1]
    other_entry.close()


def test_rows_of_an_unfinished_insert_are_not_covered_by_the_watermark(
    clickhouse_cluster: ClickHouseCluster, clickhouse_cluster_database: str, store: ClickHouseRatingStore
) -> None:
    store.append(frame([("alice", FILMS[0], 5.0, T0)]))
    published = store.watermark()
    # An insert that reached one shard only (its writer has not published its position yet): the
    # greatest ingest_seq over the shards would already pass positions still on their way elsewhere.
    half_done = published + 1_000_000
    shard = clickhouse_cluster.servers[0].client(clickhouse_cluster_database)
    shard.execute(
        f"INSERT INTO {LOCAL_TABLE} (event_id, user_id, film_id, rating, event_time, ingest_seq) VALUES",
        [("half", "bob", FILMS[1], 6.0, T0 + 1, half_done)],
        types_check=True,
    )
    shard.disconnect()

    assert store.watermark() == published  # not published: the watermark did not move past it
    assert len(store.read_since(published)) == 1  # and the row is not lost to readers
    later = ClickHouseRatingStore(clickhouse_cluster.url(clickhouse_cluster_database), cluster=clickhouse_cluster.name)
    later.append(frame([("carol", FILMS[2], 7.0, T0 + 2)]))
    assert later.watermark() > half_done  # a new writer starts above every stored position
    later.close()


def test_clear_empties_every_shard_and_keeps_the_watermark(
    clickhouse_cluster: ClickHouseCluster, clickhouse_cluster_database: str, store: ClickHouseRatingStore
) -> None:
    store.append(frame([(f"user{u}", FILMS[0], 5.0, T0) for u in range(USERS)]))
    before = store.watermark()

    store.clear()

    counts = on_each_shard(clickhouse_cluster, clickhouse_cluster_database, f"SELECT count() FROM {LOCAL_TABLE}")
    assert counts == [[(0,)]] * len(clickhouse_cluster.servers)
    assert store.watermark() >= before


def test_an_unknown_cluster_is_named_in_the_error(
    clickhouse_cluster: ClickHouseCluster, clickhouse_cluster_database: str
) -> None:
    store = ClickHouseRatingStore(clickhouse_cluster.url(clickhouse_cluster_database), cluster="no_such_cluster")
    with pytest.raises(RatingSourceError, match="no_such_cluster"):
        store.ensure_schema()


def test_cluster_and_database_names_must_be_plain_identifiers() -> None:
    statements = read_ddl(SHARDED_DDL_PATH)
    assert any("Distributed(recsys, db, ratings_local" in s for s in cluster_ddl(statements, "recsys", "db"))
    with pytest.raises(ValueError, match="identifier"):
        cluster_ddl(statements, "a;b", "db")
    with pytest.raises(ValueError, match="identifier"):
        ClickHouseRatingStore("clickhouse://default:@127.0.0.1:9000/recsys", cluster="bad name")
