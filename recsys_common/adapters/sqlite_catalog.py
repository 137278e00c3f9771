"""Catalog in one SQLite file with an FTS5 index: the embedded default (no server).

``films`` holds one row per film (genres as a JSON list, in their order), ``film_genres`` one row
per (genre, film row id) for the filter and the counts, ``films_fts`` is an external-content FTS5 index
over title and description kept in step by triggers, ``etl_state`` the ETL's saved state. The file
runs in WAL mode, so the API reads while the ETL writes in another process.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recsys_common.adapters.sqlite_files import open_wal
from recsys_common.domain import Film
from recsys_common.ports.catalog import (
    DEFAULT_SORT,
    Catalog,
    CatalogUnavailable,
    EtlState,
    FilmPage,
    GenreCount,
    SortOrder,
    check_page,
    search_terms,
)

#: How long a connection waits for another process's write lock before giving up.
DEFAULT_BUSY_TIMEOUT_S = 5.0
#: BM25 weights of the indexed columns (title, description): a title match counts ten times more.
TITLE_WEIGHT = 10.0
DESCRIPTION_WEIGHT = 1.0
#: Film ids per ``IN (...)`` lookup (SQLite allows 32,766 parameters).
LOOKUP_CHUNK = 500
#: Bump when the schema changes incompatibly; an older file is rebuilt by the ETL.
SCHEMA_VERSION = 1
_STATE_NAME = "films"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS films (
    id          INTEGER PRIMARY KEY,
    film_id     TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    year        INTEGER,
    genres      TEXT NOT NULL,
    imdb_rating REAL,
    imdb_votes  INTEGER,
    rt_rating   REAL,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS film_genres (
    genre  TEXT NOT NULL COLLATE NOCASE,
    film   INTEGER NOT NULL,  -- films.id
    PRIMARY KEY (genre, film)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS film_genres_film ON film_genres (film);
CREATE VIRTUAL TABLE IF NOT EXISTS films_fts USING fts5(
    title, description, content='films', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS films_fts_insert AFTER INSERT ON films BEGIN
    INSERT INTO films_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;
CREATE TRIGGER IF NOT EXISTS films_fts_delete AFTER DELETE ON films BEGIN
    INSERT INTO films_fts (films_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER IF NOT EXISTS films_fts_update AFTER UPDATE ON films BEGIN
    INSERT INTO films_fts (films_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO films_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;
CREATE TABLE IF NOT EXISTS etl_state (
    name   TEXT PRIMARY KEY CHECK (name = '{_STATE_NAME}'),
    state  TEXT NOT NULL
);
PRAGMA user_version = {SCHEMA_VERSION};
"""

_FILM_COLUMNS = "f.film_id, f.title, f.year, f.genres, f.imdb_rating, f.imdb_votes, f.rt_rating, f.description"

_ORDER_BY: dict[SortOrder, str] = {
    "-imdb_rating": "f.imdb_rating IS NULL, f.imdb_rating DESC, f.film_id",
    "imdb_rating": "f.imdb_rating IS NULL, f.imdb_rating ASC, f.film_id",
    "-year": "f.year IS NULL, f.year DESC, f.film_id",
    "year": "f.year IS NULL, f.year ASC, f.film_id",
}
_RELEVANCE = f"bm25(films_fts, {TITLE_WEIGHT}, {DESCRIPTION_WEIGHT}), f.film_id"

_UPSERT = """
INSERT INTO films (film_id, title, year, genres, imdb_rating, imdb_votes, rt_rating, description)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (film_id) DO UPDATE SET
    title = excluded.title, year = excluded.year, genres = excluded.genres,
    imdb_rating = excluded.imdb_rating, imdb_votes = excluded.imdb_votes,
    rt_rating = excluded.rt_rating, description = excluded.description
RETURNING id
"""


def _fts_query(terms: Sequence[str]) -> str:
    """An FTS5 query requiring every term: each one quoted, so no word is read as an operator."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _film(row: sqlite3.Row | tuple[Any, ...]) -> Film:
    film_id, title, year, genres, imdb_rating, imdb_votes, rt_rating, description = row
    return Film(
        film_id=film_id,
        title=title,
        year=year,
        genres=tuple(json.loads(genres)),
        imdb_rating=imdb_rating,
        imdb_votes=imdb_votes,
        rt_rating=rt_rating,
        description=description,
    )


class SqliteCatalog(Catalog):
    """Catalog over a SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path | str, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self._path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SqliteCatalog({str(self._path)!r})"

    # ----- connection -----
    def _connection(self) -> sqlite3.Connection:
        """Open the file on first use (never in the constructor) and create the schema."""
        if self._conn is None:
            try:
                conn = open_wal(self._path, self._busy_timeout_s)
                try:
                    found = conn.execute("PRAGMA user_version").fetchone()[0]
                    if found not in (0, SCHEMA_VERSION):
                        raise CatalogUnavailable(
                            f"{self._path} has catalogue schema version {found}, expected {SCHEMA_VERSION}: "
                            "delete the file and run the ETL again"
                        )
                    conn.executescript(_SCHEMA)
                except (sqlite3.Error, CatalogUnavailable):
                    conn.close()
                    raise
            except (sqlite3.Error, OSError) as exc:
                raise CatalogUnavailable(f"cannot open the catalogue {self._path}: {exc}") from exc
            self._conn = conn
        return self._conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same snapshot."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise CatalogUnavailable(f"catalogue {self._path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise CatalogUnavailable(f"catalogue {self._path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ----- reader side -----
    def search(
        self,
        query: str | None = None,
        genre: str | None = None,
        sort: SortOrder | None = None,
        page: int = 1,
        size: int = 20,
    ) -> FilmPage:
        check_page(page, size)
        terms = search_terms(query)
        if terms is not None and not terms:
            return FilmPage((), 0)
        joins, where, params = "", [], []
        if terms is not None:
            joins = "JOIN films_fts ON films_fts.rowid = f.id"
            where.append("films_fts MATCH ?")
            params.append(_fts_query(terms))
        if genre is not None:
            where.append("f.id IN (SELECT film FROM film_genres WHERE genre = ?)")
            params.append(genre)
        order = _RELEVANCE if sort is None and terms is not None else _ORDER_BY[sort or DEFAULT_SORT]
        body = f"FROM films f {joins} {'WHERE ' + ' AND '.join(where) if where else ''}"
        with self._read() as conn:
            total = conn.execute(f"SELECT count(*) {body}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT {_FILM_COLUMNS} {body} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, size, (page - 1) * size],
            ).fetchall()
        return FilmPage(tuple(_film(row) for row in rows), int(total))

    def get(self, film_id: str) -> Film | None:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_FILM_COLUMNS} FROM films f WHERE f.film_id = ?", (film_id,)).fetchone()
        return None if row is None else _film(row)

    def get_many(self, film_ids: Sequence[str]) -> list[Film]:
        wanted = list(dict.fromkeys(film_ids))
        found: dict[str, Film] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows = conn.execute(f"SELECT {_FILM_COLUMNS} FROM films f WHERE f.film_id IN ({marks})", chunk)
                found.update((film.film_id, film) for film in map(_film, rows))
        return [found[i] for i in film_ids if i in found]

    def genres(self) -> list[GenreCount]:
        with self._read() as conn:
            rows = conn.execute("SELECT genre, count(*) FROM film_genres GROUP BY genre").fetchall()
        return sorted(GenreCount(name, int(count)) for name, count in rows)

    def films(self) -> Iterator[Film]:
        """Every film by film id, read in chunks (each chunk its own short read transaction)."""
        after = ""
        while True:
            with self._read() as conn:
                rows = conn.execute(
                    f"SELECT {_FILM_COLUMNS} FROM films f WHERE f.film_id > ? ORDER BY f.film_id LIMIT ?",
                    (after, LOOKUP_CHUNK),
                ).fetchall()
            yield from map(_film, rows)
            if len(rows) < LOOKUP_CHUNK:
                return
            after = rows[-1][0]

    def ping(self) -> None:
        with self._read() as conn:
            count = conn.execute("SELECT count(*) FROM films").fetchone()[0]
        if count == 0:
            raise CatalogUnavailable(f"the catalogue {self._path} holds no film yet: run the ETL")

    # ----- writer side -----
    def upsert(self, films: Iterable[Film], state: EtlState | None = None) -> int:
        written = 0
        with self._write() as conn:
            for film in films:
                (rowid,) = conn.execute(
                    _UPSERT,
                    (
                        film.film_id,
                        film.title,
                        film.year,
                        json.dumps(list(film.genres)),
                        film.imdb_rating,
                        film.imdb_votes,
                        film.rt_rating,
                        film.description,
                    ),
                ).fetchone()
                conn.execute("DELETE FROM film_genres WHERE film = ?", (rowid,))
                conn.executemany(
                    "INSERT OR IGNORE INTO film_genres (genre, film) VALUES (?, ?)", ((g, rowid) for g in film.genres)
                )
                written += 1
            if state is not None:
                conn.execute(
                    "INSERT INTO etl_state (name, state) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET state = excluded.state",
                    (_STATE_NAME, state.to_json()),
                )
        return written

    def delete(self, film_ids: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(film_ids))
        removed = 0
        with self._write() as conn:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                marks = ", ".join("?" * len(chunk))
                conn.execute(
                    f"DELETE FROM film_genres WHERE film IN (SELECT id FROM films WHERE film_id IN ({marks}))", chunk
                )
                removed += conn.execute(f"DELETE FROM films WHERE film_id IN ({marks})", chunk).rowcount
        return removed

    def etl_state(self) -> EtlState | None:
        with self._read() as conn:
            row = conn.execute("SELECT state FROM etl_state WHERE name = ?", (_STATE_NAME,)).fetchone()
        if row is None:
            return None
        try:
            return EtlState.from_json(row[0])
        except ValueError as exc:
            raise CatalogUnavailable(f"catalogue {self._path}: {exc}") from exc
