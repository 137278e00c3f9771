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

The DDL file is found relative to this module: ``<repo>/recsys_common/adapters/`` ->
``<repo>/clickhouse/ratings.sql`` (pass ``ddl_path`` when the package is installed elsewhere).
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


class ClickHouseRatingStore(RatingStore):
    """RatingStore over ClickHouse, configured by a URL like ``clickhouse://default:@host:9000/recsys``.

    Nothing connects before the first call. One object holds one connection, guarded by a lock.
    With ``create_schema``, the first call creates the database and the table when missing.
    """

    def __init__(
        self,
        url: str,
        *,
        ddl_path: Path = DEFAULT_DDL_PATH,
        clock: IngestClock | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        send_receive_timeout_s: float = SEND_RECEIVE_TIMEOUT_S,
        create_schema: bool = False,
    ) -> None:
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
        self._ddl_path = ddl_path
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
        """Create the database and the ``ratings`` table (``clickhouse/ratings.sql``) if missing."""
        statements = read_ddl(self._ddl_path)
        admin = Client(self._host, **{**self._options, "database": DEFAULT_DATABASE})
        try:
            admin.execute(f"CREATE DATABASE IF NOT EXISTS `{self._database}`")
        except _CLIENT_ERRORS as exc:
            raise RatingSourceError(f"ClickHouse {self._host}: cannot create database {self._database}: {exc}") from exc
        finally:
            admin.disconnect()
        for statement in statements:
            self._query(statement)
        self._schema_pending = False

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
            self._clock.observe(self.watermark())
            self._clock_synced = True
        columns: Sequence[npt.NDArray[Any]] = (
            rows.event_id,
            rows.user_id,
            rows.film_id,
            rows.rating,
            rows.timestamp.astype(np.uint32),
            self._clock.reserve(len(rows)),
        )
        self._execute(_INSERT, list(columns), columnar=True, settings={"use_numpy": True})
        return len(rows)

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
        """The greatest ``ingest_seq`` stored, or recorded by an earlier ``clear`` (never goes back)."""
        ((value,),) = self._execute(
            f"SELECT greatest((SELECT max(ingest_seq) FROM {TABLE}), (SELECT max(watermark) FROM {CLEARED_TABLE}))"
        )
        return int(value)

    def clear(self) -> None:
        """Record the current watermark, then drop every row (TRUNCATE); later rows continue above it."""
        floor = self.watermark()
        self._execute(f"INSERT INTO {CLEARED_TABLE} (watermark) VALUES", [(floor,)])
        self._clock.observe(floor)
        self._execute(f"TRUNCATE TABLE {TABLE}")


def _object_array(values: Sequence[str]) -> npt.NDArray[np.object_]:
    """A tuple of strings as an object array, without numpy guessing a fixed-width dtype."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
