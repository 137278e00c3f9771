"""The movies database in PostgreSQL (``schema.sql``, a superset of the standard movies schema) as the
ETL's film source, and the writes of ``add-film`` and ``delete-film``.

A film row becomes a Film: ``creation_date`` gives the year, ``rating`` the IMDb rating,
``imdb_votes`` and ``rt_rating`` (our columns) the rest; its genres come by name with the database's
genre ids, its directors, actors and writers by full name with the database's person ids. The
database may hold a standard dump's data that ``schema.sql``'s constraints could not be added over:
ratings and years outside the platform's ranges are read as unknown, duplicate links count once and
roles other than ``recsys_common.domain.ROLES`` are left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg

from movies_db.etl import FilmBatch, FilmSource, SourceUnavailable
from movies_db.export import release_date
from movies_db.ids import genre_link_id_for, person_link_id_for
from recsys_common.domain import ACTOR, DIRECTOR, RATING_MAX, RATING_MIN, ROLES, WRITER, Film, Person
from recsys_common.ids import genre_id_for
from recsys_common.ports.catalog import EtlState
from recsys_datasets.frames import YEAR_MAX, YEAR_MIN

#: Seconds to wait for a connection to the database.
CONNECT_TIMEOUT_S = 5
_BEFORE_ALL = EtlState(datetime(1, 1, 1, tzinfo=UTC), str(uuid.UUID(int=0)))

#: One page of films after a (modified, id) position, by the index on (modified, id); then, per film,
#: its genres as [id, name] by name and its people as [role, id, full name] by full name (JSON arrays).
_CHANGED_FILMS = """
WITH page AS (
    SELECT id, title, description, creation_date, rating, imdb_votes, rt_rating, modified
    FROM content.film_work
    WHERE (modified, id) > (%s, %s)
    ORDER BY modified, id
    LIMIT %s
)
SELECT p.id, p.title, coalesce(p.description, ''), extract(YEAR FROM p.creation_date)::integer,
       p.rating, p.imdb_votes, p.rt_rating, p.modified,
       coalesce(
           (SELECT json_agg(json_build_array(g.id, g.name) ORDER BY g.name, g.id)
            FROM content.genre g
            WHERE g.id IN (SELECT gfw.genre_id FROM content.genre_film_work gfw WHERE gfw.film_work_id = p.id)),
           '[]'
       ) AS genres,
       coalesce(
           (SELECT json_agg(json_build_array(c.role, pe.id, pe.full_name) ORDER BY pe.full_name, pe.id)
            FROM (SELECT DISTINCT pfw.person_id, pfw.role FROM content.person_film_work pfw
                  WHERE pfw.film_work_id = p.id) c
            JOIN content.person pe ON pe.id = c.person_id),
           '[]'
       ) AS persons
FROM page p
ORDER BY p.modified, p.id
"""


def _within(value: float | None, low: float, high: float) -> bool:
    return value is not None and low <= value <= high


def _film(row: tuple[Any, ...]) -> tuple[Film, datetime]:
    film_id, title, description, year, rating, imdb_votes, rt_rating, modified, genres, persons = row
    people: dict[str, list[Person]] = {role: [] for role in ROLES}
    for role, person_id, full_name in persons:
        if role in people:
            people[role].append(Person(str(person_id), full_name))
    film = Film(
        film_id=str(film_id),
        title=title,
        year=year if _within(year, YEAR_MIN, YEAR_MAX) else None,
        genres=tuple(name for _, name in genres),
        imdb_rating=rating if _within(rating, RATING_MIN, RATING_MAX) else None,
        imdb_votes=imdb_votes,
        rt_rating=rt_rating,
        description=description,
        directors=tuple(people[DIRECTOR]),
        actors=tuple(people[ACTOR]),
        writers=tuple(people[WRITER]),
        genre_ids=tuple(str(genre_id) for genre_id, _ in genres),
    )
    return film, modified


#: Insert or update a film; an update keeps the stored release date when its year is the film's year.
_UPSERT_FILM = """
INSERT INTO content.film_work AS f (id, title, description, creation_date, rating, imdb_votes, rt_rating)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET
    title = excluded.title, description = excluded.description,
    creation_date = CASE
        WHEN extract(YEAR FROM f.creation_date) = extract(YEAR FROM excluded.creation_date) THEN f.creation_date
        ELSE excluded.creation_date
    END,
    rating = excluded.rating, imdb_votes = excluded.imdb_votes, rt_rating = excluded.rt_rating
"""


def _genre_ids(conn: psycopg.Connection[Any], film: Film) -> list[uuid.UUID]:
    """The ids of the film's genres, creating the genres the database lacks: the film's own ids when it
    has them, else the id of the genre of that name in the database, else one derived from the name."""
    if film.genre_ids:
        for genre_id, name in zip(film.genre_ids, film.genres, strict=True):
            conn.execute(
                b"INSERT INTO content.genre (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
                (uuid.UUID(genre_id), name),
            )
        return [uuid.UUID(genre_id) for genre_id in film.genre_ids]
    ids = []
    for name in film.genres:
        found = conn.execute(b"SELECT id FROM content.genre WHERE name = %s ORDER BY id LIMIT 1", (name,)).fetchone()
        if found is None:
            found = (uuid.UUID(genre_id_for(name)),)
            conn.execute(
                b"INSERT INTO content.genre (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (found[0], name)
            )
        ids.append(found[0])
    return ids


def _save_genre_links(conn: psycopg.Connection[Any], film_id: uuid.UUID, genre_ids: list[uuid.UUID]) -> None:
    conn.execute(
        b"DELETE FROM content.genre_film_work WHERE film_work_id = %s AND NOT genre_id = ANY(%s)", (film_id, genre_ids)
    )
    for genre_id in genre_ids:
        conn.execute(
            b"INSERT INTO content.genre_film_work (id, genre_id, film_work_id) SELECT %s, %s, %s "
            b"WHERE NOT EXISTS (SELECT FROM content.genre_film_work WHERE film_work_id = %s AND genre_id = %s) "
            b"ON CONFLICT DO NOTHING",
            (uuid.UUID(genre_link_id_for(str(film_id), str(genre_id))), genre_id, film_id, film_id, genre_id),
        )


def _save_persons(conn: psycopg.Connection[Any], film: Film, film_id: uuid.UUID) -> None:
    """Create the film's people the database lacks (a known id keeps its stored name) and make its
    person links exactly the film's (person, role) pairs."""
    credits = [(uuid.UUID(p.person_id), p.full_name, role) for role in ROLES for p in film.persons(role)]
    for person_id, full_name, _ in credits:
        conn.execute(
            b"INSERT INTO content.person (id, full_name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
            (person_id, full_name),
        )
    conn.execute(
        b"DELETE FROM content.person_film_work WHERE film_work_id = %s "
        b"AND (person_id, role) NOT IN (SELECT * FROM unnest(%s::uuid[], %s::text[]))",
        (film_id, [c[0] for c in credits], [c[2] for c in credits]),
    )
    for person_id, _, role in credits:
        conn.execute(
            b"INSERT INTO content.person_film_work (id, person_id, film_work_id, role) SELECT %s, %s, %s, %s "
            b"WHERE NOT EXISTS (SELECT FROM content.person_film_work "
            b"                  WHERE film_work_id = %s AND person_id = %s AND role = %s) "
            b"ON CONFLICT DO NOTHING",
            (
                uuid.UUID(person_link_id_for(str(film_id), str(person_id), role)),
                person_id,
                film_id,
                role,
                film_id,
                person_id,
                role,
            ),
        )


def save_film(dsn: str, film: Film) -> None:
    """Insert or update one film with its genres and people (creating those the database lacks), in
    one transaction; its genre and person links become exactly the film's."""
    film_id = uuid.UUID(film.film_id)
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S) as conn, conn.transaction():
            conn.execute(
                _UPSERT_FILM.encode(),
                (
                    film_id,
                    film.title,
                    film.description or None,
                    release_date(film.year),
                    film.imdb_rating,
                    film.imdb_votes,
                    film.rt_rating,
                ),
            )
            _save_genre_links(conn, film_id, _genre_ids(conn, film))
            _save_persons(conn, film, film_id)
    except psycopg.OperationalError as exc:
        raise SourceUnavailable(f"cannot reach the movies database: {exc}") from exc


def delete_film(dsn: str, film_id: str) -> bool:
    """Delete a film and its genre and person links (also where a dump's foreign keys do not cascade);
    False when there was no such film."""
    key = uuid.UUID(film_id)
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S) as conn, conn.transaction():
            conn.execute(b"DELETE FROM content.genre_film_work WHERE film_work_id = %s", (key,))
            conn.execute(b"DELETE FROM content.person_film_work WHERE film_work_id = %s", (key,))
            deleted = conn.execute(b"DELETE FROM content.film_work WHERE id = %s", (key,)).rowcount
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
    """Reads ``content.film_work`` with its genres and people; connects on first use."""

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
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
            raise SourceUnavailable(
                f"the movies database lacks schema.sql's tables or columns (apply schema.sql; rebuild a "
                f"database made by an earlier schema.sql): {exc}"
            ) from exc

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
