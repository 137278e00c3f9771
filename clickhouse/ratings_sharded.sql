-- Ratings on a sharded ClickHouse cluster (RECSYS_CLICKHOUSE_CLUSTER names the cluster of the
-- servers' `remote_servers` config). ClickHouseRatingStore.ensure_schema runs this file on EVERY
-- server of the cluster, in the database of RECSYS_CLICKHOUSE_URL, after replacing {cluster} and
-- {database}: per-server DDL, so no ZooKeeper is needed (ON CLUSTER DDL needs one). Every server can
-- then be the entry point of clients. Same 18.16-compatible subset as ratings.sql.
--
-- * `ratings_local` holds the shard's rows: the same table as the single-node `ratings`
--   (ratings.sql explains `version` and the ReplacingMergeTree dedup key).
-- * `ratings` is the Distributed table every read and write goes through. The sharding key
--   cityHash64(user_id) sends all rows of one user to one shard, so all copies and ratings of one
--   (user, film) pair meet in one shard's table: FINAL and argMax stay exact per shard, and a read
--   through `ratings` is the union of disjoint, exact per-shard answers.
--   It lists the columns a client writes and reads; `version` is MATERIALIZED on each shard
--   (a Distributed table cannot forward a MATERIALIZED column).
-- * `ratings_positions(_local)`: the published watermark. A writer records the greatest
--   `ingest_seq` of each insert here only after the insert reached every shard
--   (insert_distributed_sync=1), and `clear` records the watermark before truncating. The watermark
--   is the greatest position recorded, so it only grows, and no row at or below it can still be on
--   its way to a shard (see clickhouse_ratings.py).
CREATE TABLE IF NOT EXISTS ratings_local
(
    event_id    String,
    user_id     String,
    film_id     String,
    rating      Float64,
    event_time  DateTime,
    ingest_seq  UInt64,
    ingested_at DateTime DEFAULT now(),
    version     UInt64 MATERIALIZED bitOr(bitShiftLeft(toUInt64(event_time), 32), bitAnd(cityHash64(event_id), 4294967295))
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (user_id, film_id);

CREATE TABLE IF NOT EXISTS ratings
(
    event_id    String,
    user_id     String,
    film_id     String,
    rating      Float64,
    event_time  DateTime,
    ingest_seq  UInt64,
    ingested_at DateTime DEFAULT now()
)
ENGINE = Distributed({cluster}, {database}, ratings_local, cityHash64(user_id));

-- One sorting key for all rows: background merges keep only the greatest position, so the table
-- stays a few rows per shard however many inserts were published (max() is exact before merges).
CREATE TABLE IF NOT EXISTS ratings_positions_local
(
    position    UInt64,
    recorded_at DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(position)
ORDER BY tuple();

CREATE TABLE IF NOT EXISTS ratings_positions
(
    position    UInt64,
    recorded_at DateTime DEFAULT now()
)
ENGINE = Distributed({cluster}, {database}, ratings_positions_local, rand())
