"""How every embedded adapter opens its SQLite file (one place for the connection settings)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_wal(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    """Open (creating the folder) a connection in autocommit mode with WAL journaling, so readers in
    other processes see a committed write at once and never block the writer. The connection may
    be used from several threads; callers serialise access with their own lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error:
        conn.close()
        raise
    return conn
