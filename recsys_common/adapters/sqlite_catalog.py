"""Catalog in one SQLite file with FTS5 indexes: the embedded default (no server).

``films`` holds one row per film; ``genres`` one row per genre id with its name, and ``film_genres``
links them (with the genre's position on the film) for the filter, the counts and the film's own
list; ``persons`` holds one row per person, ``film_persons`` their roles on films (in credit order).
``films_fts`` indexes titles and descriptions, ``persons_fts`` full names: external-content FTS5
indexes kept in step by triggers. ``etl_state`` keeps the ETL's saved state. A genre or a person
no film credits any more is removed with the film's last link. The file runs in WAL mode, so the
API reads while the ETL writes in another process.

The file records its schema version (``PRAGMA user_version``). The catalogue is a derived store:
a writer finding an older version rebuilds the tables (empty, for the seed step or the ETL to fill
again); a reader finding one answers CatalogUnavailable until then.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recsys_common.adapters.sqlite_files import SqliteFile, immediate
from recsys_common.domain import ACTOR, DIRECTOR, ROLES, WRITER, Film, Person
from recsys_common.ports.catalog import (
    DEFAULT_SORT,
    Catalog,
    CatalogUnavailable,
    EtlState,
    FilmPage,
    GenreCount,
    PersonPage,
    SortOrder,
    check_page,
    name_terms,
    search_terms,
    stored_genre_ids,
)

log = logging.getLogger(__name__)

#: How long a connection waits for another process's write lock before giving up.
DEFAULT_BUSY_TIMEOUT_S = 5.0
#: BM25 weights of the indexed columns (title, description): a title match counts ten times more.
TITLE_WEIGHT = 10.0
DESCRIPTION_WEIGHT = 1.0
#: Ids per ``IN (...)`` lookup (SQLite allows 32,766 parameters).
LOOKUP_CHUNK = 500
#: Bump when the schema changes incompatibly; a writer rebuilds the tables of an older file.
#: 1: films and genre names only; 2: genre ids, persons and their roles.
SCHEMA_VERSION = 2
#: What to run to fill a rebuilt catalogue (named by CatalogUnavailable).
REBUILD_HINT = "run `recsys data` (seed films) or the ETL (`python -m movies_db etl`) to rebuild it"
_STATE_NAME = "films"
#: The ``kind`` of a genre row in ``_LINKS`` (a person row's is their role): sorts before every role.
_GENRE_KIND = ""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS films (
    id          INTEGER PRIMARY KEY,
    film_id     TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    year        INTEGER,
    imdb_rating REAL,
    imdb_votes  INTEGER,
    rt_rating   REAL,
    description TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS genres (
    genre_id TEXT PRIMARY KEY,
    name     TEXT NOT NULL COLLATE NOCASE
) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS genres_name ON genres (name)",
    """CREATE TABLE IF NOT EXISTS film_genres (
    film     INTEGER NOT NULL,  -- films.id
    position INTEGER NOT NULL,  -- the genre's place in the film's list
    genre_id TEXT NOT NULL,     -- genres.genre_id
    PRIMARY KEY (film, position)
) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS film_genres_genre ON film_genres (genre_id, film)",
    """CREATE TABLE IF NOT EXISTS persons (
    id        INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS film_persons (
    film     INTEGER NOT NULL,  -- films.id
    role     TEXT NOT NULL,     -- one of recsys_common.domain.ROLES
    position INTEGER NOT NULL,  -- credit order within the role
    person   INTEGER NOT NULL,  -- persons.id
    PRIMARY KEY (film, role, position)
) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS film_persons_person ON film_persons (person, film)",
    """CREATE VIRTUAL TABLE IF NOT EXISTS films_fts USING fts5(
    title, description, content='films', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
)""",
    """CREATE TRIGGER IF NOT EXISTS films_fts_insert AFTER INSERT ON films BEGIN
    INSERT INTO films_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END""",
    """CREATE TRIGGER IF NOT EXISTS films_fts_delete AFTER DELETE ON films BEGIN
    INSERT INTO films_fts (films_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
END""",
    """CREATE TRIGGER IF NOT EXISTS films_fts_update AFTER UPDATE ON films BEGIN
    INSERT INTO films_fts (films_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO films_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END""",
    """CREATE VIRTUAL TABLE IF NOT EXISTS persons_fts USING fts5(
    full_name, content='persons', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
)""",
    """CREATE TRIGGER IF NOT EXISTS persons_fts_insert AFTER INSERT ON persons BEGIN
    INSERT INTO persons_fts (rowid, full_name) VALUES (new.id, new.full_name);
END""",
    """CREATE TRIGGER IF NOT EXISTS persons_fts_delete AFTER DELETE ON persons BEGIN
    INSERT INTO persons_fts (persons_fts, rowid, full_name) VALUES ('delete', old.id, old.full_name);
END""",
    """CREATE TRIGGER IF NOT EXISTS persons_fts_update AFTER UPDATE ON persons BEGIN
    INSERT INTO persons_fts (persons_fts, rowid, full_name) VALUES ('delete', old.id, old.full_name);
    INSERT INTO persons_fts (rowid, full_name) VALUES (new.id, new.full_name);
END""",
    f"""CREATE TABLE IF NOT EXISTS etl_state (
    name   TEXT PRIMARY KEY CHECK (name = '{_STATE_NAME}'),
    state  TEXT NOT NULL
)""",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

_FILM_COLUMNS = "f.id, f.film_id, f.title, f.year, f.imdb_rating, f.imdb_votes, f.rt_rating, f.description"

_ORDER_BY: dict[SortOrder, str] = {
    "-imdb_rating": "f.imdb_rating IS NULL, f.imdb_rating DESC, f.film_id",
    "imdb_rating": "f.imdb_rating IS NULL, f.imdb_rating ASC, f.film_id",
    "-year": "f.year IS NULL, f.year DESC, f.film_id",
    "year": "f.year IS NULL, f.year ASC, f.film_id",
}
_RELEVANCE = f"bm25(films_fts, {TITLE_WEIGHT}, {DESCRIPTION_WEIGHT}), f.film_id"

_UPSERT_FILM = """
INSERT INTO films (film_id, title, year, imdb_rating, imdb_votes, rt_rating, description)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (film_id) DO UPDATE SET
    title = excluded.title, year = excluded.year, imdb_rating = excluded.imdb_rating,
    imdb_votes = excluded.imdb_votes, rt_rating = excluded.rt_rating, description = excluded.description
RETURNING id
"""
_UPSERT_GENRE = """
INSERT INTO genres (genre_id, name) VALUES (?, ?) ON CONFLICT (genre_id) DO UPDATE SET name = excluded.name
"""
_UPSERT_PERSON = """
INSERT INTO persons (person_id, full_name) VALUES (?, ?)
ON CONFLICT (person_id) DO UPDATE SET full_name = excluded.full_name WHERE full_name IS NOT excluded.full_name
"""
#: The genres and credits of some films (``{marks}``: one ``?`` per film row id), in the film's order.
_LINKS = """
SELECT fg.film, '' AS kind, fg.position, g.genre_id, g.name
FROM film_genres fg JOIN genres g ON g.genre_id = fg.genre_id WHERE fg.film IN ({marks})
UNION ALL
SELECT fp.film, fp.role, fp.position, p.person_id, p.full_name
FROM film_persons fp JOIN persons p ON p.id = fp.person WHERE fp.film IN ({marks})
ORDER BY 1, 2, 3
"""


def _fts_query(terms: Sequence[str]) -> str:
    """An FTS5 query requiring every term: each one quoted, so no word is read as an operator."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


@dataclass
class _Links:
    """What a film's rows in the link tables say: genres (id, name) and people by role, in order."""

    genres: list[tuple[str, str]] = field(default_factory=list)
    persons: dict[str, list[Person]] = field(default_factory=dict)


def _film(row: Sequence[Any], links: _Links) -> Film:
    _rowid, film_id, title, year, imdb_rating, imdb_votes, rt_rating, description = row
    return Film(
        film_id=film_id,
        title=title,
        year=year,
        genres=tuple(name for _, name in links.genres),
        imdb_rating=imdb_rating,
        imdb_votes=imdb_votes,
        rt_rating=rt_rating,
        description=description,
        directors=tuple(links.persons.get(DIRECTOR, ())),
        actors=tuple(links.persons.get(ACTOR, ())),
        writers=tuple(links.persons.get(WRITER, ())),
        genre_ids=tuple(genre_id for genre_id, _ in links.genres),
    )


def _films(conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> list[Film]:
    """Films of ``films`` rows (selected as ``_FILM_COLUMNS``), with their genres and people."""
    links: dict[int, _Links] = {}
    rowids = [row[0] for row in rows]
    for start in range(0, len(rowids), LOOKUP_CHUNK):
        chunk = rowids[start : start + LOOKUP_CHUNK]
        marks = ", ".join("?" * len(chunk))
        for rowid, kind, _position, item_id, name in conn.execute(_LINKS.format(marks=marks), [*chunk, *chunk]):
            film_links = links.setdefault(rowid, _Links())
            if kind == _GENRE_KIND:
                film_links.genres.append((item_id, name))
            else:
                film_links.persons.setdefault(kind, []).append(Person(item_id, name))
    return [_film(row, links.get(row[0], _Links())) for row in rows]


def _drop_tables(conn: sqlite3.Connection) -> None:
    """Drop every table of the file (FTS5 tables first: they take their shadow tables along)."""
    for virtual in (True, False):
        names = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND (sql LIKE 'CREATE VIRTUAL TABLE%') = ?",
                (virtual,),
            )
        ]
        for name in names:
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')


class SqliteCatalog(Catalog):
    """Catalog over a SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path | str, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self._file = SqliteFile(path, busy_timeout_s, self._create_if_new, CatalogUnavailable)
        self._path = self._file.path

    def __repr__(self) -> str:
        return f"SqliteCatalog({str(self._path)!r})"

    # ----- connection -----
    @classmethod
    def _create_if_new(cls, conn: sqlite3.Connection) -> None:
        """Create the schema in a new file (once the file is opened, never in the constructor)."""
        if cls._version(conn) == 0:
            with immediate(conn):
                if cls._version(conn) == 0:  # no other process created it meanwhile
                    cls._create(conn)

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        """Create the tables inside the caller's transaction (``executescript`` would commit it)."""
        for statement in _SCHEMA:
            conn.execute(statement)

    def _check_version(self, conn: sqlite3.Connection, writing: bool) -> None:
        """Inside a transaction: pass on the current schema; rebuild an older one for a writer;
        raise CatalogUnavailable otherwise."""
        found = self._version(conn)
        if found == SCHEMA_VERSION:
            return
        if found > SCHEMA_VERSION:
            raise CatalogUnavailable(
                f"the catalogue {self._path} has schema version {found}, newer than this program's "
                f"{SCHEMA_VERSION}: run a newer version"
            )
        if not writing:
            raise CatalogUnavailable(
                f"the catalogue {self._path} has the older schema version {found} (expected {SCHEMA_VERSION}): "
                f"{REBUILD_HINT}"
            )
        log.warning(
            "catalogue %s has the older schema version %d: rebuilding its tables as version %d "
            "(the films written before are dropped; %s)",
            self._path,
            found,
            SCHEMA_VERSION,
            REBUILD_HINT,
        )
        _drop_tables(conn)
        self._create(conn)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same snapshot."""
        with self._file.locked() as conn:
            try:
                conn.execute("BEGIN")
                try:
                    self._check_version(conn, writing=False)
                    yield conn
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise CatalogUnavailable(f"catalogue {self._path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._file.locked() as conn:
            try:
                with immediate(conn):
                    self._check_version(conn, writing=True)
                    yield conn
            except sqlite3.Error as exc:
                raise CatalogUnavailable(f"catalogue {self._path}: {exc}") from exc

    def close(self) -> None:
        self._file.close()

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
            where.append(
                "f.id IN (SELECT fg.film FROM film_genres fg JOIN genres g ON g.genre_id = fg.genre_id "
                "WHERE g.name = ?)"
            )
            params.append(genre)
        order = _RELEVANCE if sort is None and terms is not None else _ORDER_BY[sort or DEFAULT_SORT]
        body = f"FROM films f {joins} {'WHERE ' + ' AND '.join(where) if where else ''}"
        with self._read() as conn:
            total = conn.execute(f"SELECT count(*) {body}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT {_FILM_COLUMNS} {body} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, size, (page - 1) * size],
            ).fetchall()
            films = _films(conn, rows)
        return FilmPage(tuple(films), int(total))

    def get(self, film_id: str) -> Film | None:
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_FILM_COLUMNS} FROM films f WHERE f.film_id = ?", (film_id,)).fetchall()
            films = _films(conn, rows)
        return films[0] if films else None

    def get_many(self, film_ids: Sequence[str]) -> list[Film]:
        wanted = list(dict.fromkeys(film_ids))
        found: dict[str, Film] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows = conn.execute(f"SELECT {_FILM_COLUMNS} FROM films f WHERE f.film_id IN ({marks})", chunk)
                found.update((film.film_id, film) for film in _films(conn, rows.fetchall()))
        return [found[i] for i in film_ids if i in found]

    def genres(self) -> list[GenreCount]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT g.genre_id, g.name, count(DISTINCT fg.film) "
                "FROM genres g JOIN film_genres fg ON fg.genre_id = g.genre_id GROUP BY g.genre_id"
            ).fetchall()
        counts = (GenreCount(genre_id, name, int(count)) for genre_id, name, count in rows)
        return sorted(counts, key=lambda g: (g.name, g.genre_id))

    def films(self) -> Iterator[Film]:
        """Every film by film id, read in chunks (each chunk its own short read transaction)."""
        after = ""
        while True:
            with self._read() as conn:
                rows = conn.execute(
                    f"SELECT {_FILM_COLUMNS} FROM films f WHERE f.film_id > ? ORDER BY f.film_id LIMIT ?",
                    (after, LOOKUP_CHUNK),
                ).fetchall()
                films = _films(conn, rows)
            yield from films
            if len(rows) < LOOKUP_CHUNK:
                return
            after = rows[-1][1]

    def ping(self) -> None:
        with self._read() as conn:
            count = conn.execute("SELECT count(*) FROM films").fetchone()[0]
        if count == 0:
            raise CatalogUnavailable(f"the catalogue {self._path} holds no film yet: run the ETL")

    # ----- people -----
    def search_persons(self, query: str, page: int = 1, size: int = 20) -> PersonPage:
        check_page(page, size)
        terms = name_terms(query)
        if not terms:
            return PersonPage((), 0)
        body = "FROM persons_fts JOIN persons p ON p.id = persons_fts.rowid WHERE persons_fts MATCH ?"
        with self._read() as conn:
            total = conn.execute(f"SELECT count(*) {body}", (_fts_query(terms),)).fetchone()[0]
            rows = conn.execute(
                f"SELECT p.person_id, p.full_name {body} ORDER BY bm25(persons_fts), p.person_id LIMIT ? OFFSET ?",
                (_fts_query(terms), size, (page - 1) * size),
            ).fetchall()
        return PersonPage(tuple(Person(person_id, name) for person_id, name in rows), int(total))

    def person(self, person_id: str) -> Person | None:
        with self._read() as conn:
            row = conn.execute("SELECT person_id, full_name FROM persons WHERE person_id = ?", (person_id,)).fetchone()
        return None if row is None else Person(row[0], row[1])

    def person_films(self, person_id: str) -> list[Film]:
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_FILM_COLUMNS} FROM films f WHERE f.id IN ("
                "SELECT fp.film FROM film_persons fp JOIN persons p ON p.id = fp.person WHERE p.person_id = ?"
                f") ORDER BY {_ORDER_BY['-imdb_rating']}",
                (person_id,),
            ).fetchall()
            return _films(conn, rows)

    # ----- writer side -----
    def upsert(self, films: Iterable[Film], state: EtlState | None = None) -> int:
        written = 0
        with self._write() as conn:
            orphans = _Orphans()
            for film in films:
                (rowid,) = conn.execute(
                    _UPSERT_FILM,
                    (
                        film.film_id,
                        film.title,
                        film.year,
                        film.imdb_rating,
                        film.imdb_votes,
                        film.rt_rating,
                        film.description,
                    ),
                ).fetchone()
                orphans.unlink(conn, [rowid])
                self._link(conn, rowid, film)
                written += 1
            orphans.remove(conn)
            if state is not None:
                conn.execute(
                    "INSERT INTO etl_state (name, state) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET state = excluded.state",
                    (_STATE_NAME, state.to_json()),
                )
        return written

    @staticmethod
    def _link(conn: sqlite3.Connection, rowid: int, film: Film) -> None:
        """Record the film's genres and people (their rows created or renamed) and its links to them."""
        for position, (genre_id, name) in enumerate(zip(stored_genre_ids(film), film.genres, strict=True)):
            conn.execute(_UPSERT_GENRE, (genre_id, name))
            conn.execute(
                "INSERT INTO film_genres (film, position, genre_id) VALUES (?, ?, ?)", (rowid, position, genre_id)
            )
        for role in ROLES:
            for position, person in enumerate(film.persons(role)):
                conn.execute(_UPSERT_PERSON, (person.person_id, person.full_name))
                conn.execute(
                    "INSERT INTO film_persons (film, role, position, person) "
                    "SELECT ?, ?, ?, id FROM persons WHERE person_id = ?",
                    (rowid, role, position, person.person_id),
                )

    def delete(self, film_ids: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(film_ids))
        removed = 0
        with self._write() as conn:
            orphans = _Orphans()
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                marks = ", ".join("?" * len(chunk))
                rowids = [r for (r,) in conn.execute(f"SELECT id FROM films WHERE film_id IN ({marks})", chunk)]
                orphans.unlink(conn, rowids)
                removed += conn.execute(f"DELETE FROM films WHERE film_id IN ({marks})", chunk).rowcount
            orphans.remove(conn)
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


@dataclass
class _Orphans:
    """The genres and people whose links a write removed: those left without a film are dropped."""

    genre_ids: set[str] = field(default_factory=set)
    persons: set[int] = field(default_factory=set)

    def unlink(self, conn: sqlite3.Connection, rowids: Sequence[int]) -> None:
        """Remove the links of films (by row id), remembering what they linked to."""
        if not rowids:
            return
        marks = ", ".join("?" * len(rowids))
        self.genre_ids.update(
            g for (g,) in conn.execute(f"SELECT genre_id FROM film_genres WHERE film IN ({marks})", rowids)
        )
        self.persons.update(
            p for (p,) in conn.execute(f"SELECT person FROM film_persons WHERE film IN ({marks})", rowids)
        )
        conn.execute(f"DELETE FROM film_genres WHERE film IN ({marks})", rowids)
        conn.execute(f"DELETE FROM film_persons WHERE film IN ({marks})", rowids)

    def remove(self, conn: sqlite3.Connection) -> None:
        """Drop the remembered genres and people that no film links to any more."""
        genre_ids, persons = sorted(self.genre_ids), sorted(self.persons)
        for start in range(0, len(genre_ids), LOOKUP_CHUNK):
            chunk = genre_ids[start : start + LOOKUP_CHUNK]
            conn.execute(
                f"DELETE FROM genres WHERE genre_id IN ({', '.join('?' * len(chunk))}) "
                "AND NOT EXISTS (SELECT 1 FROM film_genres fg WHERE fg.genre_id = genres.genre_id)",
                chunk,
            )
        for start in range(0, len(persons), LOOKUP_CHUNK):
            chunk_ids = persons[start : start + LOOKUP_CHUNK]
            conn.execute(
                f"DELETE FROM persons WHERE id IN ({', '.join('?' * len(chunk_ids))}) "
                "AND NOT EXISTS (SELECT 1 FROM film_persons fp WHERE fp.person = persons.id)",
                chunk_ids,
            )
        self.genre_ids.clear()
        self.persons.clear()
