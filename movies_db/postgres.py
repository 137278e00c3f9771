"""The movies database in PostgreSQL (``schema.sql``) as the ETL's film source."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg

from movies_db.etl import FilmBatch, FilmSource, SourceUnavailable
from movies_db.ids import genre_link_id_for
from recsys_common.domain import Film
from recsys_common.ids import genre_id_for
from recsys_common.ports.catalog import EtlState

#: Seconds to wait for a connection to the database.
CONNECT_TIMEOUT_S = 5
_BEFORE_ALL = EtlState(datetime(1, 1, 1, tzinfo=UTC), str(uuid.UUID(int=0)))

#: One page of films after a (modified, id) position, by the index on (modified, id); then their genres.
_CHANGED_FILMS = """
WITH page AS (
    SELECT id, title, description, year, imdb_rating, imdb_votes, rt_rating, modified
    FROM content.film_work
    WHERE (modified, id) > (%s, %s)
    ORDER BY modified, id
    LIMIT %s
)
SELECT p.id, p.title, p.description, p.year, p.imdb_rating, p.imdb_votes, p.rt_rating, p.modified,
       coalesce(
           (SELECT array_agg(g.name ORDER BY g.name)
            FROM content.genre_film_work gfw JOIN content.genre g ON g.id = gfw.genre_id
            WHERE gfw.film_work_id = p.id),
           '{}'
       ) AS genres
FROM page p
ORDER BY p.modified, p.id
"""


def _film(row: tuple[Any, ...]) -> tuple[Film, datetime]:
    film_id, title, description, year, imdb_rating, imdb_votes, rt_rating, modified, genres = row
    film = Film(
        film_id=str(film_id),
        title=title,
        year=year,
        genres=tuple(genres),
        imdb_rating=imdb_rating,
        imdb_votes=imdb_votes,
        rt_rating=rt_rating,
        description=description,
    )
    return film, modified


_UPSERT_FILM = """
INSERT INTO content.film_work (id, title, description, year, imdb_rating, imdb_votes, rt_rating)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
    title = excluded.title, description = excluded.description, year = excluded.year,
    imdb_rating = excluded.imdb_rating, imdb_votes = excluded.imdb_votes, rt_rating = excluded.rt_rating
"""


def save_film(dsn: str, film: Film) -> None:
    """Insert or update one film with its genres (creating genres it names), in one transaction."""
    film_id = uuid.UUID(film.film_id)
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S) as conn, conn.transaction():
            conn.execute(
                _UPSERT_FILM.encode(),
                (film_id, film.title, film.description, film.year, film.imdb_rating, film.imdb_votes, film.rt_rating),
            )
            genre_ids = [uuid.UUID(genre_id_for(name)) for name in film.genres]
            for genre_id, name in zip(genre_ids, film.genres, strict=True):
                conn.execute(
                    b"INSERT INTO content.genre (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (genre_id, name)
                )
            conn.execute(
                b"DELETE FROM content.genre_film_work WHERE film_work_id = %s AND NOT genre_id = ANY(%s)",
                (film_id, genre_ids),
            )
            for genre_id in genre_ids:
                conn.execute(
                    b"INSERT INTO content.genre_film_work (id, film_work_id, genre_id) VALUES (%s, %s, %s) "
                    b"ON CONFLICT DO NOTHING",
                    (uuid.UUID(genre_link_id_for(film.film_id, str(genre_id))), film_id, genre_id),
                )
    except psycopg.OperationalError as exc:
        raise SourceUnavailable(f"cannot reach the movies database: {exc}") from exc


def delete_film(dsn: str, film_id: str) -> bool:
    """Delete a film (its genre links go with it); False when there was no such film."""
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            deleted = conn.execute(b"DELETE FROM content.film_work WHERE id = %s", (uuid.UUID(film_id),)).rowcount
    except psycopg.OperationalError as exc:
        raise SourceUnavailable(f"cannot reach the movies database: {exc}") from exc
    return deleted > 0


def apply_sql(dsn: str, script: str) -> None:
    """Run a SQL script (several statements, no parameters) on the database, as one session."""
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute(script.encode())
    except psycopg.OperationalError as exc:
        raise SourceUnavailable(f"cannot reach the movies database: {exc}") from exc


class PostgresFilmSource(FilmSource):
    """Reads ``content.film_work`` with its genres; connects on first use."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def __repr__(self) -> str:
        return "PostgresFilmSource()"

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            try:
                conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
                # JIT compiling costs ~0.2 s a batch whenever the planner overestimates these small queries.
                conn.execute(b"SET jit = off")
                self._conn = conn
            except psycopg.OperationalError as exc:
                raise SourceUnavailable(f"cannot reach the movies database: {exc}") from exc
        return self._conn

    def _query(self, query: str | bytes, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._connection().execute(query if isinstance(query, bytes) else query.encode(), params).fetchall()
        except psycopg.OperationalError as exc:
            raise SourceUnavailable(f"cannot read the movies database: {exc}") from exc
        except psycopg.errors.UndefinedTable as exc:
            raise SourceUnavailable(f"the movies database has no schema.sql tables: {exc}") from exc

    def count(self) -> int:
        return int(self._query(b"SELECT count(*) FROM content.film_work")[0][0])

    def film_ids(self) -> set[str]:
        return {str(row[0]) for row in self._query(b"SELECT id FROM content.film_work")}

    def batches(self, after: EtlState | None, batch_size: int) -> Iterator[FilmBatch]:
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        position = after or _BEFORE_ALL
        while True:
            rows = self._query(_CHANGED_FILMS, (position.modified, uuid.UUID(position.last_id), batch_size))
            if not rows:
                return
            loaded = [_film(row) for row in rows]
            last, modified = loaded[-1]
            position = EtlState(modified, last.film_id)
            yield FilmBatch([film for film, _ in loaded], position)
            if len(rows) < batch_size:
                return

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
