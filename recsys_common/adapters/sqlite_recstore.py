"""RecStore in one SQLite file: the embedded default (no server).

Every row is scoped by version. ``versions`` holds one row per pending or committed version (its
film table, cold-start lists, metadata and timestamps), ``records`` one row per (version, user),
``overlays`` the online loop's per-user records of a committed version (read before ``records``),
``similar`` one row per (version, film index) with the film's similar films (``versions.encode_similar``),
``pointer`` the single ``current`` row. The file runs in WAL mode, so a reader in another process
(the API) sees a version as soon as the writer (the engine) commits it, and never blocks it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from recsys_common.adapters.sqlite_files import SqliteFile, immediate
from recsys_common.domain import ColdStartLists
from recsys_common.ports.recstore import Indices, StoreUnavailable, UnknownVersion, VersionMeta, VersionWriter
from recsys_common.versions import (
    Found,
    PendingVersion,
    RecordLists,
    cold_start_from_json,
    encode_overlay,
    meta_from_json,
    meta_to_json,
    newest_first,
    pending_meta,
    prunable,
)

#: How long a connection waits for another process's write lock before giving up.
DEFAULT_BUSY_TIMEOUT_S = 5.0
#: Page size of a new store file. A row of a WITHOUT ROWID table that holds more than about a quarter
#: of a page spills into an overflow page of its own: with 4 KiB pages, a 1,120-byte record (100
#: must-watch films with their reasons, 18 genres x 20) costs 4.7 KB per user instead of 1.2 KB.
PAGE_SIZE = 8192
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
CREATE TABLE IF NOT EXISTS similar (
    version  TEXT NOT NULL,
    film     INTEGER NOT NULL,
    films    BLOB NOT NULL,
    PRIMARY KEY (version, film)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pointer (
    name     TEXT PRIMARY KEY CHECK (name = '{CURRENT}'),
    version  TEXT NOT NULL
);
"""


class SqliteRecStore(RecordLists):
    """RecStore (every role) over a SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path | str, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self._file = SqliteFile(
            path, busy_timeout_s, lambda conn: conn.executescript(_SCHEMA), StoreUnavailable, PAGE_SIZE
        )

    def __repr__(self) -> str:
        return f"SqliteRecStore({str(self._file.path)!r})"

    # ----- connection -----
    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._file.locked() as conn:
            try:
                yield conn
            except sqlite3.Error as exc:
                if not _is_unavailable(exc):
                    raise
                raise StoreUnavailable(f"SQLite RecStore {self._file.path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its start (BEGIN IMMEDIATE)."""
        with self._read() as conn, immediate(conn):
            yield conn

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._file.close()

    # ----- publishing -----
    def begin(self, meta: VersionMeta, films: Sequence[str]) -> VersionWriter:
        with self._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO versions (version, state, started_at) VALUES (?, ?, ?)",
                    (meta.version, PENDING, time.time()),
                )
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"version {meta.version} already exists") from exc
            meta = pending_meta(meta, films)
            conn.execute("UPDATE versions SET films = ? WHERE version = ?", (json.dumps(list(films)), meta.version))
        return _SqliteVersionWriter(meta, self._write)

    def resume(self, meta: VersionMeta) -> VersionWriter:
        with self._read() as conn:
            if _state(conn, meta.version) != PENDING:
                raise ValueError(f"version {meta.version} is not pending")
        return _SqliteVersionWriter(meta, self._write, resumed=True)

    def put_overlay(
        self,
        meta: VersionMeta,
        user_id: str,
        must_watch: Indices,
        by_genre: Indices | None,
        reasons: Indices | None = None,
    ) -> None:
        record = encode_overlay(meta, must_watch, by_genre, reasons)
        with self._write() as conn:
            if _state(conn, meta.version) != COMMITTED:
                raise UnknownVersion(meta.version)
            conn.execute(
                "INSERT INTO overlays (version, user_id, record) VALUES (?, ?, ?) "
                "ON CONFLICT (version, user_id) DO UPDATE SET record = excluded.record",
                (meta.version, user_id, record),
            )

    # ----- lifecycle -----
    def activate(self, version: str) -> VersionMeta:
        with self._write() as conn:
            row = conn.execute(
                "SELECT meta FROM versions WHERE version = ? AND state = ?", (version, COMMITTED)
            ).fetchone()
            if row is None:
                raise UnknownVersion(version)
            _point_at(conn, version, time.time())
        return meta_from_json(row[0])

    def versions(self) -> list[VersionMeta]:
        with self._read() as conn:
            rows = conn.execute("SELECT meta FROM versions WHERE state = ?", (COMMITTED,)).fetchall()
        return newest_first(meta_from_json(text) for (text,) in rows)

    def pending(self) -> dict[str, float]:
        with self._read() as conn:
            rows = conn.execute("SELECT version, started_at FROM versions WHERE state = ?", (PENDING,)).fetchall()
        return {str(name): float(at) for name, at in rows}

    def drop_pending(self) -> list[str]:
        names = sorted(self.pending())
        with self._write() as conn:
            for name in names:
                _delete(conn, name)
        return names

    def prune(self, keep: int, grace_s: float, now: float | None = None) -> list[str]:
        with self._write() as conn:  # one transaction: the choice and the deletes see the same rows
            retired = conn.execute(
                "SELECT version, retired_at FROM versions WHERE state = ? AND retired_at IS NOT NULL", (COMMITTED,)
            ).fetchall()
            doomed = prunable(self.versions(), _current_in(conn), dict(retired), self.pending(), keep, grace_s, now)
            for name in doomed:
                _delete(conn, name)
        return doomed

    def clear(self) -> None:
        with self._write() as conn:  # one transaction: readers see everything or nothing
            for table in ("pointer", "overlays", "records", "similar", "versions"):
                conn.execute(f"DELETE FROM {table}")

    # ----- reading -----
    def current(self) -> VersionMeta | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT v.meta FROM pointer p JOIN versions v ON v.version = p.version WHERE p.name = ?", (CURRENT,)
            ).fetchone()
        return None if row is None else meta_from_json(row[0])

    def films(self, version: str) -> tuple[str, ...]:
        with self._read() as conn:
            row = conn.execute("SELECT films FROM versions WHERE version = ?", (version,)).fetchone()
        if row is None or row[0] is None:
            raise UnknownVersion(version)
        return tuple(json.loads(row[0]))

    def _record(self, version: str, user_id: str) -> Found | None:
        """The user's overlay when there is one, else their batch record, in one read."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT record, 1 FROM overlays WHERE version = ? AND user_id = ? "
                "UNION ALL SELECT record, 0 FROM records WHERE version = ? AND user_id = ? LIMIT 1",
                (version, user_id, version, user_id),
            ).fetchone()
        return None if row is None else (bytes(row[0]), bool(row[1]))

    def cold_start(self, version: str) -> ColdStartLists | None:
        with self._read() as conn:
            row = conn.execute("SELECT cold_start FROM versions WHERE version = ?", (version,)).fetchone()
        return None if row is None or row[0] is None else cold_start_from_json(row[0])

    def _similar_record(self, version: str, index: int) -> bytes | None:
        with self._read() as conn:
            row = conn.execute("SELECT films FROM similar WHERE version = ? AND film = ?", (version, index)).fetchone()
        return None if row is None else bytes(row[0])


class _SqliteVersionWriter(PendingVersion):
    """A pending version's rows, each step in a transaction of its own."""

    def __init__(
        self,
        meta: VersionMeta,
        transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
        resumed: bool = False,
    ) -> None:
        super().__init__(meta, resumed)
        self._transaction = transaction

    def _store_records(self, records: list[tuple[str, bytes]], replace: bool) -> None:
        version = self.meta.version
        insert = "INSERT OR REPLACE" if replace else "INSERT"
        with self._transaction() as conn:
            if replace and _state(conn, version) != PENDING:
                raise ValueError(f"version {version} is not pending (aborted, pruned or already committed)")
            for start in range(0, len(records), INSERT_CHUNK):
                try:
                    conn.executemany(
                        f"{insert} INTO records (version, user_id, record) VALUES (?, ?, ?)",
                        [(version, user_id, record) for user_id, record in records[start : start + INSERT_CHUNK]],
                    )
                except sqlite3.IntegrityError as exc:
                    raise ValueError(f"a user id appears twice in version {version}: {exc}") from exc

    def _store_cold_start(self, text: str) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE versions SET cold_start = ? WHERE version = ?", (text, self.meta.version))

    def _store_similar(self, records: list[bytes]) -> None:
        version = self.meta.version
        with self._transaction() as conn:
            conn.execute("DELETE FROM similar WHERE version = ?", (version,))
            for start in range(0, len(records), INSERT_CHUNK):
                conn.executemany(
                    "INSERT INTO similar (version, film, films) VALUES (?, ?, ?)",
                    [(version, start + i, record) for i, record in enumerate(records[start : start + INSERT_CHUNK])],
                )

    def _store_commit(self, meta: VersionMeta) -> None:
        with self._transaction() as conn:
            if _state(conn, meta.version) != PENDING:
                raise ValueError(f"version {meta.version} is not pending (aborted, pruned or already committed)")
            conn.execute(
                "UPDATE versions SET state = ?, meta = ?, retired_at = NULL WHERE version = ?",
                (COMMITTED, meta_to_json(meta), meta.version),
            )
            _point_at(conn, meta.version, time.time())

    def _store_drop(self) -> None:
        with self._transaction() as conn:
            _delete(conn, self.meta.version)


# ----- statements inside a transaction -----
def _state(conn: sqlite3.Connection, version: str) -> str | None:
    row = conn.execute("SELECT state FROM versions WHERE version = ?", (version,)).fetchone()
    return None if row is None else str(row[0])


def _current_in(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT version FROM pointer WHERE name = ?", (CURRENT,)).fetchone()
    return None if row is None else str(row[0])


def _point_at(conn: sqlite3.Connection, version: str, retired_at: float) -> None:
    """Retire the old current, un-retire ``version``, point at it."""
    conn.execute(
        "UPDATE versions SET retired_at = ? WHERE version = "
        "(SELECT version FROM pointer WHERE name = ?) AND version != ?",
        (retired_at, CURRENT, version),
    )
    conn.execute("UPDATE versions SET retired_at = NULL WHERE version = ?", (version,))
    conn.execute("INSERT OR REPLACE INTO pointer (name, version) VALUES (?, ?)", (CURRENT, version))


def _delete(conn: sqlite3.Connection, version: str) -> None:
    """Remove every row of the version (pending or committed, never current)."""
    if _current_in(conn) == version:
        raise ValueError(f"version {version} is current and cannot be deleted")
    for table in ("records", "overlays", "similar", "versions"):
        conn.execute(f"DELETE FROM {table} WHERE version = ?", (version,))


def _is_unavailable(exc: sqlite3.Error) -> bool:
    """Errors of the file or the lock (locked, I/O, not a database), not of our SQL or data."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError
