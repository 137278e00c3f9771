"""How every embedded adapter uses its SQLite file: one place for the connection settings, the lazily
opened shared connection and the write transaction."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def open_wal(path: Path, busy_timeout_s: float, page_size: int | None = None) -> sqlite3.Connection:
    """Open (creating the folder) a connection in autocommit mode with WAL journaling, so readers in
    other processes see a committed write at once and never block the writer. The connection may
    be used from several threads; callers serialise access with their own lock. ``page_size``
    applies to a file created now (an existing file keeps its own)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    try:
        if page_size is not None:
            conn.execute(f"PRAGMA page_size={int(page_size)}")  # before WAL fixes it
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction holding the file's write lock from its start (BEGIN IMMEDIATE): committed when
    the block ends, rolled back when it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SqliteFile:
    """One WAL connection to ``path``, opened on first use (never in the constructor) and shared by
    threads under a lock. ``setup`` runs once on the new connection (the adapter's schema); a
    failure to open or set up raises ``unavailable(message)``. ``page_size``: as ``open_wal``'s."""

    def __init__(
        self,
        path: Path | str,
        busy_timeout_s: float,
        setup: Callable[[sqlite3.Connection], object],
        unavailable: Callable[[str], Exception],
        page_size: int | None = None,
    ) -> None:
        self.path = Path(path)
        self._page_size = page_size
        self._busy_timeout_s = busy_timeout_s
        self._setup = setup
        self._unavailable = unavailable
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, for this thread alone until the block ends."""
        with self._lock:
            yield self._connection()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                conn = open_wal(self.path, self._busy_timeout_s, self._page_size)
                try:
                    self._setup(conn)
                except sqlite3.Error:
                    conn.close()
                    raise
            except (OSError, sqlite3.Error) as exc:
                raise self._unavailable(f"cannot open {self.path}: {exc}") from exc
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
