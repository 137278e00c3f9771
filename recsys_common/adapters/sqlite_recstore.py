"""RecStore in one SQLite file: the embedded default (no server).

Every row is scoped by version. ``versions`` holds one row per pending or committed version (its
film table, cold-start lists, metadata and timestamps), ``records`` one row per (version, user),
``overlays`` the online loop's per-user records of a committed version (read before ``records``),
``pointer`` the single ``current`` row. The file runs in WAL mode, so a reader in another process
(the API) sees a version as soon as the writer (the engine) commits it, and never blocks it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

from recsys_common.adapters.sqlite_files import open_wal
from recsys_common.ports.recstore import RecStore, StoreUnavailable, UnknownVersion, VersionMeta

#: How long a connection waits for another process's write lock before giving up.
DEFAULT_BUSY_TIMEOUT_S = 5.0
#: Records inserted per ``executemany`` call.
INSERT_CHUNK = 10_000

PENDING = "pending"
COMMITTED = "committed"
CURRENT = "current"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS versions (
    version     TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('{PENDING}', '{COMMITTED}')),
    started_at  REAL NOT NULL,
    retired_at  REAL,
    films       TEXT,
    cold_start  TEXT,
    meta        TEXT
);
CREATE TABLE IF NOT EXISTS records (
    version  TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    record   BLOB NOT NULL,
    PRIMARY KEY (version, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS overlays (
    version  TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    record   BLOB NOT NULL,
    PRIMARY KEY (version, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pointer (
    name     TEXT PRIMARY KEY CHECK (name = '{CURRENT}'),
    version  TEXT NOT NULL
);
"""


class SqliteRecStore(RecStore):
    """RecStore over a SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path | str, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self._path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SqliteRecStore({str(self._path)!r})"

    # ----- connection -----
    def _connection(self) -> sqlite3.Connection:
        """Open the file on first use (never in the constructor) and create the schema."""
        if self._conn is None:
            try:
                conn = open_wal(self._path, self._busy_timeout_s)
                try:
                    conn.executescript(_SCHEMA)
                except sqlite3.Error:
                    conn.close()
                    raise
            except (OSError, sqlite3.Error) as exc:
                raise StoreUnavailable(f"cannot open the SQLite RecStore {self._path}: {exc}") from exc
            self._conn = conn
        return self._conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.Error as exc:
                if not _is_unavailable(exc):
                    raise
                raise StoreUnavailable(f"SQLite RecStore {self._path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its start (BEGIN IMMEDIATE)."""
        with self._read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ----- primitives: writing -----
    def _start_pending(self, version: str, started_at: float) -> None:
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO versions (version, state, started_at) VALUES (?, ?, ?)",
                    (version, PENDING, started_at),
                )
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"version {version} already exists") from exc

    def _put_films(self, version: str, films: list[str]) -> None:
        with self._write() as conn:
            conn.execute("UPDATE versions SET films = ? WHERE version = ?", (json.dumps(films), version))

    def _put_records(self, version: str, records: Iterable[tuple[str, bytes]]) -> None:
        iterator = iter(records)
        with self._write() as conn:
            while chunk := list(islice(iterator, INSERT_CHUNK)):
                try:
                    conn.executemany(
                        "INSERT INTO records (version, user_id, record) VALUES (?, ?, ?)",
                        [(version, user_id, record) for user_id, record in chunk],
                    )
                except sqlite3.IntegrityError as exc:
                    raise ValueError(f"a user id appears twice in version {version}: {exc}") from exc

    def _put_cold_start(self, version: str, text: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE versions SET cold_start = ? WHERE version = ?", (text, version))

    def _commit(self, meta: VersionMeta) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT state FROM versions WHERE version = ?", (meta.version,)).fetchone()
            if row is None or row[0] != PENDING:
                raise ValueError(f"version {meta.version} is not pending (aborted, pruned or already committed)")
            conn.execute(
                "UPDATE versions SET state = ?, meta = ?, retired_at = NULL WHERE version = ?",
                (COMMITTED, meta.to_json(), meta.version),
            )
            self._point_at(conn, meta.version, time.time())

    def _set_current(self, version: str, retired_at: float) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT state FROM versions WHERE version = ?", (version,)).fetchone()
            if row is None or row[0] != COMMITTED:
                raise UnknownVersion(version)
            self._point_at(conn, version, retired_at)

    @staticmethod
    def _point_at(conn: sqlite3.Connection, version: str, retired_at: float) -> None:
        """Inside a write transaction: retire the old current, un-retire ``version``, point at it."""
        conn.execute(
            "UPDATE versions SET retired_at = ? WHERE version = "
            "(SELECT version FROM pointer WHERE name = ?) AND version != ?",
            (retired_at, CURRENT, version),
        )
        conn.execute("UPDATE versions SET retired_at = NULL WHERE version = ?", (version,))
        conn.execute("INSERT OR REPLACE INTO pointer (name, version) VALUES (?, ?)", (CURRENT, version))

    def _delete(self, version: str) -> None:
        with self._write() as conn:
            if self._current_in(conn) == version:
                raise ValueError(f"version {version} is current and cannot be deleted")
            conn.execute("DELETE FROM records WHERE version = ?", (version,))
            conn.execute("DELETE FROM overlays WHERE version = ?", (version,))
            conn.execute("DELETE FROM versions WHERE version = ?", (version,))

    def _clear(self) -> None:
        with self._write() as conn:  # one transaction: readers see everything or nothing
            for table in ("pointer", "overlays", "records", "versions"):
                conn.execute(f"DELETE FROM {table}")

    # ----- primitives: reading -----
    @staticmethod
    def _current_in(conn: sqlite3.Connection) -> str | None:
        row = conn.execute("SELECT version FROM pointer WHERE name = ?", (CURRENT,)).fetchone()
        return None if row is None else str(row[0])

    def _current_name(self) -> str | None:
        with self._read() as conn:
            return self._current_in(conn)

    def _meta(self, version: str) -> VersionMeta | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT meta FROM versions WHERE version = ? AND state = ?", (version, COMMITTED)
            ).fetchone()
        return None if row is None else VersionMeta.from_json(row[0])

    def _all_meta(self) -> list[VersionMeta]:
        with self._read() as conn:
            rows = conn.execute("SELECT meta FROM versions WHERE state = ?", (COMMITTED,)).fetchall()
        return [VersionMeta.from_json(text) for (text,) in rows]

    def _films(self, version: str) -> list[str]:
        with self._read() as conn:
            row = conn.execute("SELECT films FROM versions WHERE version = ?", (version,)).fetchone()
        if row is None or row[0] is None:
            raise UnknownVersion(version)
        films: list[str] = json.loads(row[0])
        return films

    def _user_record(self, version: str, user_id: str) -> tuple[bytes, bool] | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT record, 1 FROM overlays WHERE version = ? AND user_id = ? "
                "UNION ALL SELECT record, 0 FROM records WHERE version = ? AND user_id = ? LIMIT 1",
                (version, user_id, version, user_id),
            ).fetchone()
        return None if row is None else (bytes(row[0]), bool(row[1]))

    def _put_overlay(self, version: str, user_id: str, record: bytes) -> None:
        with self._write() as conn:
            known = conn.execute(
                "SELECT 1 FROM versions WHERE version = ? AND state = ?", (version, COMMITTED)
            ).fetchone()
            if known is None:
                raise UnknownVersion(version)
            conn.execute(
                "INSERT INTO overlays (version, user_id, record) VALUES (?, ?, ?) "
                "ON CONFLICT (version, user_id) DO UPDATE SET record = excluded.record",
                (version, user_id, record),
            )

    def _cold_start(self, version: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT cold_start FROM versions WHERE version = ?", (version,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def _retired(self) -> dict[str, float]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT version, retired_at FROM versions WHERE state = ? AND retired_at IS NOT NULL", (COMMITTED,)
            ).fetchall()
        return {str(name): float(at) for name, at in rows}

    def _pending(self) -> dict[str, float]:
        with self._read() as conn:
            rows = conn.execute("SELECT version, started_at FROM versions WHERE state = ?", (PENDING,)).fetchall()
        return {str(name): float(at) for name, at in rows}


def _is_unavailable(exc: sqlite3.Error) -> bool:
    """Errors of the file or the lock (locked, I/O, not a database), not of our SQL or data."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError
