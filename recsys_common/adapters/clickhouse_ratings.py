"""Production rating store: the ``ratings`` table of ClickHouse (DDL in ``clickhouse/ratings.sql``).

Reads and writes are columnar (clickhouse-driver ``columnar=True``; inserts send numpy arrays), never
row by row. ``read_all`` uses ``FINAL`` so the latest rating per (user, film) is exact even before
ReplacingMergeTree's background merges; redelivered events (same ``event_id``) do not change it.

Watermark: every inserted row gets an ``ingest_seq`` from this object's ``IngestClock`` —
microseconds since the epoch, made strictly increasing per writer and never below the table's
current maximum when the writer starts. ``read_since(w)`` returns rows with ``ingest_seq > w``.
``clear`` truncates the table and records the watermark it had in ``ratings_cleared``, so the
watermark never goes back (``watermark`` is the greater of both tables' maxima).
Caveat with several concurrent writers (e.g. two loader processes): each one's sequence grows, but
their clocks interleave, so a reader that saw watermark ``w`` from a writer whose clock runs ahead
may miss rows a slower-clocked writer inserts later with a smaller ``ingest_seq``. Keep writer
clocks NTP-synchronised and treat ``read_since`` as a change detector; ``read_all`` is always exact.

Sharded (``cluster`` set, from ``RECSYS_CLICKHOUSE_CLUSTER``; DDL in ``clickhouse/ratings_sharded.sql``):
``ratings`` is a ``Distributed`` table over a ``ReplacingMergeTree`` ``ratings_local`` on every shard,
sharded by ``cityHash64(user_id)``, so all rows of one user, hence all copies of one (user, film)
pair, live on one shard and FINAL stays exact. ``ensure_schema`` asks the entry server for the
cluster's servers (``system.clusters``) and runs the DDL on each (no ZooKeeper needed; the URL's
user and password must work on every server). Inserts go through the Distributed table with
``insert_distributed_sync=1``: an acknowledged insert is on its shards. ``clear`` truncates every
shard's local table (TRUNCATE of a Distributed table does nothing on 18.16).

Watermark on a cluster: the greatest ``ingest_seq`` over the shards is not safe to publish while an
insert is half done (shard A already holds the batch's high positions, shard B not yet its low
ones), so a reader could skip rows that appear later below the watermark it saw. So the writer
publishes a global position: after an insert reached every shard, it records the insert's greatest
``ingest_seq`` in ``ratings_positions``, and ``watermark`` is the greatest position recorded there.
It only grows (positions are only added; ``clear`` records the floor too) and, for one writer,
``read_since`` misses nothing: every row at or below a published position is already on its shard.
``read_since`` may also return rows of an insert still under way (their position is published
later); it never loses them. The caveat of several concurrent writers above stays: positions of
different writers interleave, so a watermark published by one writer may pass a batch another
writer is still inserting, by at most that insert's duration plus the clocks' skew.

The DDL files are found relative to this module: ``<repo>/recsys_common/adapters/`` ->
``<repo>/clickhouse/ratings.sql`` and ``ratings_sharded.sql`` (pass ``ddl_path`` when the package is
installed elsewhere).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors
from clickhouse_driver.util.helpers import parse_url

from recsys_common.domain import RATING_REMOVED
from recsys_common.events import RatingRows, as_rating_rows, ratings_frame
from recsys_common.ports.ratings import RatingSourceError, RatingStore

TABLE = "ratings"
#: Watermarks of the table when it was cleared (see ``clear``).
CLEARED_TABLE = "ratings_cleared"
DEFAULT_DDL_PATH = Path(__file__).resolve().parents[2] / "clickhouse" / "ratings.sql"
SHARDED_DDL_PATH = DEFAULT_DDL_PATH.with_name("ratings_sharded.sql")
#: On a cluster: each shard's table behind the Distributed ``ratings`` table.
LOCAL_TABLE = "ratings_local"
#: On a cluster: the published watermarks (Distributed over ``ratings_positions_local``).
POSITIONS_TABLE = "ratings_positions"
DEFAULT_DATABASE = "default"
#: Seconds to wait for a TCP connection; short, so a loader notices an outage quickly.
CONNECT_TIMEOUT_S = 5.0
#: Seconds a single query may take to send or receive (reading millions of rows takes a while).
SEND_RECEIVE_TIMEOUT_S = 300.0
MICROS_PER_SECOND = 1_000_000

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COLUMNS = "user_id, film_id, rating, toInt64(event_time)"
#: The columns of the latest rows, and the condition that keeps pairs whose latest event is a rating.
_LATEST = "user_id, film_id, rating, event_time"
_RATED = f"rating != {RATING_REMOVED!r}"
_INSERT = f"INSERT INTO {TABLE} (event_id, user_id, film_id, rating, event_time, ingest_seq) VALUES"
#: Inserts into a Distributed table return once the rows are on their shards (not queued on the entry server).
_SYNC_INSERT = {"insert_distributed_sync": 1}
#: What a server outage looks like from clickhouse-driver.
_CLIENT_ERRORS: tuple[type[BaseException], ...] = (ch_errors.Error, OSError, EOFError)


def _now_micros() -> int:
    return time.time_ns() // 1000


class IngestClock:
    """Strictly increasing ingestion positions: microseconds since the epoch, never repeating."""

    def __init__(self, now_micros: Callable[[], int] = _now_micros) -> None:
        self._now = now_micros
        self._last = 0
        self._lock = threading.Lock()

    def observe(self, position: int) -> None:
        """Never hand out a position at or below ``position`` (e.g. the table's watermark)."""
        with self._lock:
            self._last = max(self._last, int(position))

    def reserve(self, count: int) -> npt.NDArray[np.uint64]:
        """``count`` consecutive positions, all greater than every position handed out before."""
        with self._lock:
            base = max(self._now(), self._last + 1)
            self._last = base + count - 1
        return np.arange(base, base + count, dtype=np.uint64)


def read_ddl(path: Path = DEFAULT_DDL_PATH) -> list[str]:
    """The statements of a DDL file (``--`` comments dropped, split on ``;``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RatingSourceError(f"cannot read the ClickHouse DDL {path}: {exc}") from exc
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def cluster_ddl(statements: Sequence[str], cluster: str, database: str) -> list[str]:
    """The sharded DDL's statements for ``cluster`` and ``database`` (both plain identifiers)."""
    for name in (cluster, database):
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"ClickHouse name {name!r} is not a plain identifier")
    return [statement.replace("{cluster}", cluster).replace("{database}", database) for statement in statements]


class ClickHouseRatingStore(RatingStore):
    """RatingStore over ClickHouse, configured by a URL like ``clickhouse://default:@host:9000/recsys``.

    Nothing connects before the first call. One object holds one connection, guarded by a lock.
    With ``create_schema``, the first call creates the database and the table when missing.
    With ``cluster``, the tables are sharded over that cluster of the server's ``remote_servers``.
    """

    def __init__(
        self,
        url: str,
        *,
        ddl_path: Path | None = None,
        clock: IngestClock | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        send_receive_timeout_s: float = SEND_RECEIVE_TIMEOUT_S,
        create_schema: bool = False,
        cluster: str | None = None,
    ) -> None:
        if cluster is not None and not _IDENTIFIER.fullmatch(cluster):
            raise ValueError(f"ClickHouse cluster name {cluster!r} is not a plain identifier")
        host, options = parse_url(url)
        options.setdefault("connect_timeout", connect_timeout_s)
        options.setdefault("send_receive_timeout", send_receive_timeout_s)
        database = str(options.get("database") or DEFAULT_DATABASE)
        if not _IDENTIFIER.fullmatch(database):
            raise ValueError(f"ClickHouse database name {database!r} in the URL is not a plain identifier")
        options["database"] = database
        self._host = host
        self._options: dict[str, Any] = options
        self._database = database
        self._cluster = cluster or None
        self._ddl_path = ddl_path or (SHARDED_DDL_PATH if self._cluster else DEFAULT_DDL_PATH)
        self._clock = clock or IngestClock()
        self._clock_synced = False
        self._client: Client | None = None
        self._lock = threading.Lock()
        self._schema_pending = create_schema

    @property
    def database(self) -> str:
        return self._database

    def _execute(self, query: str, params: Any = None, **kwargs: Any) -> Any:
        if self._schema_pending:
            self.ensure_schema()
        return self._query(query, params, **kwargs)

    def _query(self, query: str, params: Any = None, **kwargs: Any) -> Any:
        with self._lock:
            if self._client is None:
                self._client = Client(self._host, **self._options)
            try:
                return self._client.execute(query, params, **kwargs)
            except _CLIENT_ERRORS as exc:
                self._client.disconnect()
                raise RatingSourceError(f"ClickHouse {self._host}/{self._database}: {exc}") from exc

    # ----- schema -----
    def ensure_schema(self) -> None:
        """Create the database and the tables if missing: on this server (``clickhouse/ratings.sql``),
        or on every server of the cluster (``clickhouse/ratings_sharded.sql``)."""
        statements = read_ddl(self._ddl_path)
        if self._cluster is None:
            self._create_database(self._host, self._options)
            for statement in statements:
                self._query(statement)
        else:
            sharded = cluster_ddl(statements, self._cluster, self._database)
            for host, port in self.cluster_servers():
                options = {**self._options, "port": port}
                self._create_database(host, options)
                self._run_on(host, options, sharded)
        self._schema_pending = False

    def _create_database(self, host: str, options: dict[str, Any]) -> None:
        self._run_on(
            host, {**options, "database": DEFAULT_DATABASE}, [f"CREATE DATABASE IF NOT EXISTS `{self._database}`"]
        )

    @staticmethod
    def _run_on(host: str, options: dict[str, Any], statements: Sequence[str], params: Any = None) -> Any:
        """Run ``statements`` on one server over a connection of their own; the last one's result."""
        client = Client(host, **options)
        result: Any = None
        try:
            for statement in statements:
                result = client.execute(statement, params)
        except _CLIENT_ERRORS as exc:
            where = f"{host}:{options.get('port', '')}/{options.get('database')}"
            raise RatingSourceError(f"ClickHouse {where}: {exc}") from exc
        finally:
            client.disconnect()
        return result

    def cluster_servers(self) -> list[tuple[str, int]]:
        """(host, native port) of every server of the cluster, as the entry server's config names them."""
        rows = self._run_on(
            self._host,
            {**self._options, "database": DEFAULT_DATABASE},
            ["SELECT DISTINCT host_name, port FROM system.clusters WHERE cluster = %(cluster)s"],
            {"cluster": self._cluster},
        )
        if not rows:
            raise RatingSourceError(
                f"ClickHouse {self._host}: no cluster {self._cluster!r} in its remote_servers config "
                "(RECSYS_CLICKHOUSE_CLUSTER names one)"
            )
        return sorted((str(host), int(port)) for host, port in rows)

    def ping(self) -> None:
        """Raise RatingSourceError when the server or the table cannot be reached."""
        self._execute(f"SELECT count() FROM {TABLE} WHERE 0")

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.disconnect()
                self._client = None

    # ----- write side -----
    def append(self, ratings: pd.DataFrame | RatingRows) -> int:
        """Insert rows in one columnar INSERT (a frame's event ids derived when absent); returns rows
        sent; raise RatingSourceError on failure.

        Rows whose event id is already stored are sent too, and are harmless: they carry the same
        version, so reads (and merges) keep one of the identical copies.
        """
        rows = as_rating_rows(ratings)
        if not len(rows):
            return 0
        if not self._clock_synced:
            self._clock.observe(self._highest_position())
            self._clock_synced = True
        positions = self._clock.reserve(len(rows))
        columns: Sequence[npt.NDArray[Any]] = (
            rows.event_id,
            rows.user_id,
            rows.film_id,
            rows.rating,
            rows.timestamp.astype(np.uint32),
            positions,
        )
        if self._cluster is None:
            self._execute(_INSERT, list(columns), columnar=True, settings={"use_numpy": True})
        else:
            self._execute(_INSERT, list(columns), columnar=True, settings={"use_numpy": True, **_SYNC_INSERT})
            self._publish(int(positions[-1]))
        return len(rows)

    def _publish(self, position: int) -> None:
        """Cluster only: record ``position`` as reached (the rows up to it are on their shards)."""
        self._execute(f"INSERT INTO {POSITIONS_TABLE} (position) VALUES", [(position,)], settings=_SYNC_INSERT)

    def _highest_position(self) -> int:
        """The greatest position stored anywhere (on a cluster also of rows whose insert was never
        published): a writer's clock starts above it."""
        if self._cluster is None:
            return self.watermark()
        ((value,),) = self._execute(
            f"SELECT greatest((SELECT max(ingest_seq) FROM {TABLE}), (SELECT max(position) FROM {POSITIONS_TABLE}))"
        )
        return int(value)

    # ----- read side -----
    def _frame(self, query: str, params: dict[str, int | str] | None = None) -> pd.DataFrame:
        columns = self._execute(query, params, columnar=True)
        if not columns:
            return ratings_frame([], [], [], [])
        users, films, ratings, timestamps = columns
        return ratings_frame(_object_array(users), _object_array(films), ratings, timestamps)

    def read_all(self) -> pd.DataFrame:
        """The latest rating per (user, film) pair, exact before merges (``FINAL``); pairs whose latest
        event removed the rating are left out (after FINAL picked the latest row: a subquery)."""
        return self._frame(f"SELECT {_COLUMNS} FROM (SELECT {_LATEST} FROM {TABLE} FINAL) WHERE {_RATED}")

    def read_user(self, user_id: str) -> pd.DataFrame:
        """One user's latest rating per film (the sorting key starts with the user: a short range read)."""
        latest = f"SELECT {_LATEST} FROM {TABLE} FINAL WHERE user_id = %(user)s"
        return self._frame(f"SELECT {_COLUMNS} FROM ({latest}) WHERE {_RATED}", {"user": user_id})

    def read_since(self, watermark: int) -> pd.DataFrame:
        """Rows ingested after ``watermark``, in ingestion order (may repeat a pair or an event)."""
        query = f"SELECT {_COLUMNS} FROM {TABLE} WHERE ingest_seq > %(watermark)s ORDER BY ingest_seq"
        return self._frame(query, {"watermark": max(int(watermark), 0)})

    def watermark(self) -> int:
        """The greatest ``ingest_seq`` stored, or recorded by an earlier ``clear`` (never goes back);
        on a cluster, the greatest published position (see the module's docstring)."""
        if self._cluster is not None:
            ((value,),) = self._execute(f"SELECT max(position) FROM {POSITIONS_TABLE}")
            return int(value)
        ((value,),) = self._execute(
            f"SELECT greatest((SELECT max(ingest_seq) FROM {TABLE}), (SELECT max(watermark) FROM {CLEARED_TABLE}))"
        )
        return int(value)

    def clear(self) -> None:
        """Record the current watermark, then drop every row (TRUNCATE, on a cluster each shard's
        local table); later rows continue above it."""
        floor = self._highest_position()
        self._clock.observe(floor)
        if self._cluster is None:
            self._execute(f"INSERT INTO {CLEARED_TABLE} (watermark) VALUES", [(floor,)])
            self._execute(f"TRUNCATE TABLE {TABLE}")
            return
        self._publish(floor)
        for host, port in self.cluster_servers():
            self._run_on(host, {**self._options, "port": port}, [f"TRUNCATE TABLE {LOCAL_TABLE}"])


def _object_array(values: Sequence[str]) -> npt.NDArray[np.object_]:
    """A tuple of strings as an object array, without numpy guessing a fixed-width dtype."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
