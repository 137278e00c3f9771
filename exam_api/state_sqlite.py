"""ExamStore in one SQLite file (WAL mode): the embedded default."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from exam_api.state import ExamStore, ExamStoreUnavailable, UserRecord
from recsys_common.adapters.sqlite_files import SqliteFile, immediate

#: How long a connection waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 5.0
_CLEARED_AT = "cleared_at"
_TABLES = ("items", "shown", "interacted", "counts")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (item_id INTEGER PRIMARY KEY, genres TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shown (
    user_id INTEGER NOT NULL, item_id INTEGER NOT NULL, PRIMARY KEY (user_id, item_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS interacted (
    user_id INTEGER NOT NULL, item_id INTEGER NOT NULL, PRIMARY KEY (user_id, item_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counts (item_id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SqliteExamStore(ExamStore):
    """Two connections, each opened on first use and guarded by a lock: reads (the event loop) never
    wait for a write (the shown-items writer, ``/interact``'s worker threads) thanks to WAL."""

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._files = {
            write: SqliteFile(path, BUSY_TIMEOUT_S, lambda conn: conn.executescript(_SCHEMA), ExamStoreUnavailable)
            for write in (False, True)
        }

    def __repr__(self) -> str:
        return f"SqliteExamStore({str(self._path)!r})"

    @contextmanager
    def _use(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        with self._files[write].locked() as conn:
            try:
                if not write:
                    yield conn
                    return
                with immediate(conn):
                    yield conn
            except (sqlite3.Error, OSError) as exc:
                raise ExamStoreUnavailable(f"exam store {self._path}: {exc}") from exc

    def items(self) -> dict[int, tuple[str, ...]]:
        with self._use() as conn:
            rows = conn.execute("SELECT item_id, genres FROM items").fetchall()
        return {int(item): tuple(json.loads(genres)) for item, genres in rows}

    def put_items(self, items: Mapping[int, Sequence[str]]) -> None:
        rows = [(item, json.dumps(list(genres))) for item, genres in items.items()]
        with self._use(write=True) as conn:
            conn.executemany(
                "INSERT INTO items (item_id, genres) VALUES (?, ?) "
                "ON CONFLICT (item_id) DO UPDATE SET genres = excluded.genres",
                rows,
            )

    def user(self, user_id: int) -> UserRecord:
        with self._use() as conn:
            shown = conn.execute("SELECT item_id FROM shown WHERE user_id = ?", (user_id,)).fetchall()
            interacted = conn.execute("SELECT item_id FROM interacted WHERE user_id = ?", (user_id,)).fetchall()
        return UserRecord({int(i) for (i,) in shown}, {int(i) for (i,) in interacted})

    def add_shown(self, user_id: int, items: Sequence[int]) -> None:
        with self._use(write=True) as conn:
            conn.executemany("INSERT OR IGNORE INTO shown VALUES (?, ?)", [(user_id, item) for item in items])

    def add_interactions(self, user_id: int, items: Sequence[int]) -> None:
        with self._use(write=True) as conn:
            conn.executemany("INSERT OR IGNORE INTO interacted VALUES (?, ?)", [(user_id, item) for item in items])
            conn.executemany(
                "INSERT INTO counts (item_id, n) VALUES (?, 1) ON CONFLICT (item_id) DO UPDATE SET n = n + 1",
                [(item,) for item in items],
            )

    def counts(self) -> dict[int, int]:
        with self._use() as conn:
            return {int(item): int(n) for item, n in conn.execute("SELECT item_id, n FROM counts")}

    def cleared_at(self) -> float | None:
        with self._use() as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = ?", (_CLEARED_AT,)).fetchone()
        return None if row is None else float(row[0])

    def clear(self, at: float) -> None:
        with self._use(write=True) as conn:
            for table in _TABLES:
                conn.execute(f"DELETE FROM {table}")
            conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (_CLEARED_AT, repr(at)))

    def ping(self) -> None:
        with self._use() as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        for file in self._files.values():
            file.close()
