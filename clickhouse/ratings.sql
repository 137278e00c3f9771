-- Ratings of viewers, written by the UGC loader (Kafka -> ClickHouse) and by the seed loader.
--
-- Runs unchanged on Debian's clickhouse-server 18.16 and on current ClickHouse images, so it keeps
-- to the old subset: no DateTime64, TTL, CODEC, Map or JSON functions.
--
-- * One row per ingested event; the sorting key (user_id, film_id) is the dedup key of
--   ReplacingMergeTree: background merges keep, per pair, the row with the greatest `version`.
-- * `version` = event time in the high 32 bits, 32 bits of cityHash64(event_id) in the low bits:
--   the latest event wins, ties between events of the same second are broken by event id, and a
--   redelivered event (same event_id, same content) has the same version as its first copy, so
--   redelivery never changes the result. Readers use FINAL (or argMax over `version`) so results
--   are exact before merges too.
-- * A rating of 0 (RATING_REMOVED in recsys_common/domain.py) is a removal: it is stored like any
--   event and, as the latest row of its pair, hides the pair from readers of the latest ratings
--   (clickhouse_ratings.py filters it out after FINAL). A later rating brings the film back.
-- * `ingest_seq` is the watermark (RatingSource.watermark / read_since): a strictly increasing
--   per-writer position, microseconds since the epoch at insertion (see clickhouse_ratings.py).
-- * No PARTITION BY: rows of one (user, film) pair must meet in the same partition to be merged.
CREATE TABLE IF NOT EXISTS ratings
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

-- The watermark the table had each time it was cleared (ClickHouseRatingStore.clear truncates
-- `ratings`): the store's watermark is the greater of both maxima, so it never goes back.
CREATE TABLE IF NOT EXISTS ratings_cleared
(
    watermark  UInt64,
    cleared_at DateTime DEFAULT now()
)
ENGINE = TinyLog
