"""Embedded rating store: one SQLite file (WAL mode), no server.

The watermark is the row's ``seq`` (INTEGER PRIMARY KEY AUTOINCREMENT), so it only grows even
after deletes; ``clear`` records the watermark it had in ``ratings_cleared`` before deleting every
row, and ``watermark`` is the greater of both maxima, so it never goes back. ``event_id`` has a
unique index: appending an event twice stores it once. The latest rating of a (user, film) pair is
the one with the greatest event time, then the one inserted last.

Every operation opens its own short connection, so one store object may be shared by threads
(the Movies API's request workers) and several processes may use the same file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_common.columns import Columns
from recsys_common.events import RatingRows, as_rating_rows, ratings_frame, without_removed
from recsys_common.ports.ratings import RatingSourceError, RatingStore

#: Seconds a writer waits for another writer's lock before failing.
BUSY_TIMEOUT_S = 10.0

#: Appends of at least this many rows into an empty store build the event-id index afterwards.
BULK_LOAD_MIN_ROWS = 10_000

_CREATE_EVENT_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS ratings_event_id ON ratings (event_id)"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS ratings (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT    NOT NULL,
    user_id  TEXT    NOT NULL,
    film_id  TEXT    NOT NULL,
    rating   REAL    NOT NULL,
    ts       INTEGER NOT NULL
);
{_CREATE_EVENT_INDEX};
CREATE INDEX IF NOT EXISTS ratings_user ON ratings (user_id, seq);
CREATE TABLE IF NOT EXISTS ratings_cleared (watermark INTEGER NOT NULL);
"""
_INSERT = "INSERT OR IGNORE INTO ratings (event_id, user_id, film_id, rating, ts) VALUES (?, ?, ?, ?, ?)"
_SELECT = "SELECT user_id, film_id, rating, ts FROM ratings"
_WATERMARK = (
    "SELECT MAX(COALESCE((SELECT MAX(seq) FROM ratings), 0), COALESCE((SELECT MAX(watermark) FROM ratings_cleared), 0))"
)


class SqliteRatingStore(RatingStore):
    """RatingStore over a SQLite file; the file and its directory are created on first use."""

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._ready = False

    @property
    def path(self) -> Path:
        return self._path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            if not self._ready:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_S)) as conn:
                if not self._ready:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(_SCHEMA)
                    self._ready = True
                with conn:  # one transaction: commit on success, roll back on error
                    yield conn
        except (sqlite3.Error, OSError) as exc:
            raise RatingSourceError(f"rating store {self._path}: {exc}") from exc

    # ----- write side -----
    def append(self, ratings: pd.DataFrame | RatingRows) -> int:
        """Append rows in one transaction; duplicates of a stored event id are ignored. Returns rows added."""
        rows = as_rating_rows(ratings)
        if not len(rows):
            return 0
        first_copies = ~pd.Index(rows.event_id).duplicated(keep="first")
        columns = (
            rows.event_id[first_copies].tolist(),
            rows.user_id[first_copies].tolist(),
            rows.film_id[first_copies].tolist(),
            rows.rating[first_copies].tolist(),
            rows.timestamp[first_copies].tolist(),
        )
        return self._insert(list(zip(*columns, strict=True)))

    def _insert(self, rows: list[tuple[str, str, str, float, int]]) -> int:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # the emptiness check and the insert see the same table
            before = conn.total_changes
            (empty,) = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM ratings)").fetchone()
            if empty and len(rows) >= BULK_LOAD_MIN_ROWS and len({row[0] for row in rows}) == len(rows):
                # Loading a seed: filling the table first and indexing once is about twice as fast
                # as keeping a random-order unique index up to date row by row.
                conn.execute("DROP INDEX ratings_event_id")
                conn.executemany(_INSERT, rows)
                conn.execute(_CREATE_EVENT_INDEX)
            else:
                conn.executemany(_INSERT, rows)
            return conn.total_changes - before

    # ----- read side -----
    def _frame(self, query: str, params: tuple[int | str, ...] = ()) -> pd.DataFrame:
        with self._connect() as conn:
            rows = conn.execute(query, params).fetchall()
        if not rows:
            return ratings_frame([], [], [], [])
        users, films, ratings, timestamps = zip(*rows, strict=True)
        return ratings_frame(users, films, ratings, timestamps)

    def read_all(self) -> pd.DataFrame:
        """The latest rating per (user, film): greatest event time, then last inserted."""
        return without_removed(_latest(self._frame(f"{_SELECT} ORDER BY seq")))

    def read_user(self, user_id: str) -> pd.DataFrame:
        return without_removed(_latest(self._frame(f"{_SELECT} WHERE user_id = ? ORDER BY seq", (user_id,))))

    def read_since(self, watermark: int) -> pd.DataFrame:
        return self._frame(f"{_SELECT} WHERE seq > ? ORDER BY seq", (int(watermark),))

    def watermark(self) -> int:
        """The greatest ``seq`` stored, or recorded by an earlier ``clear``."""
        with self._connect() as conn:
            (value,) = conn.execute(_WATERMARK).fetchone()
        return int(value)

    def clear(self) -> None:
        """Delete every row; the next rows continue above the old watermark."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"INSERT INTO ratings_cleared (watermark) {_WATERMARK}")
            conn.execute("DELETE FROM ratings")

    def ping(self) -> None:
        """Raise RatingSourceError when the file cannot be opened or read."""
        with self._connect() as conn:
            conn.execute("SELECT 1 FROM ratings LIMIT 1").fetchall()


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows in insertion order, one per (user, film): the greatest event time, then the last inserted."""
    if frame.empty:
        return frame
    # Stable sort by event time keeps insertion order among equal times; keep the last.
    order = np.argsort(frame[Columns.Timestamp].to_numpy(), kind="stable")
    latest = frame.iloc[order].drop_duplicates([Columns.User, Columns.Item], keep="last")
    return latest.sort_index().reset_index(drop=True)
