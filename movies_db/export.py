"""Write films as SQL: INSERTs for ``schema.sql`` (the data of the Postgres image), or a standard dump.

``export_sql`` writes one transaction of multi-row INSERTs (genres, persons, films, links) that skip
rows already there, so loading it twice changes nothing, then an ANALYZE so the planner knows the
tables. ``export_standard_dump`` writes what a user's ``movies-database.sql`` looks like: its own
``CREATE SCHEMA``/``CREATE TABLE`` of the five standard tables (none of our columns) and plain INSERTs,
to load into an empty database before ``schema.sql``. Only plain SQL: both run under ``psql -f``
(what the Postgres image's ``/docker-entrypoint-initdb.d`` does) and through any driver.

Films are stored in the standard layout: the year as the release date January 1st
(``creation_date``), the IMDb rating as ``rating``, an empty description as NULL; genres with the
films' genre ids (derived from the names when a film has none), persons with their ids, and links
with the ids of ``movies_db.ids``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from movies_db.ids import genre_ids_of, genre_link_id_for, person_link_id_for
from recsys_common.domain import ROLES, Film
from recsys_datasets.frames import films_from_frame

#: Where ``python -m movies_db export-sql`` writes the data by default (``Dockerfile-with-data`` COPYs it).
DATA_SQL_PATH = Path("build/movies_db/movies_data.sql")
#: The name of a user's standard dump: ``Dockerfile-with-data`` loads it when the build context has it.
STANDARD_DUMP_NAME = "movies-database.sql"
#: Where ``python -m movies_db export-standard-dump`` writes by default.
STANDARD_DUMP_PATH = Path("build/movies_db") / STANDARD_DUMP_NAME
#: Rows per INSERT statement.
ROWS_PER_INSERT = 500
FILM_TYPE = "movie"
#: Month and day of the release date stored for a film of which only the year is known.
RELEASE_MONTH = 1
RELEASE_DAY = 1

SqlValue = str | int | float | date | None

#: The standard movies schema, as a standard dump creates it (``schema.sql`` is a superset of it).
STANDARD_DDL = """\
CREATE SCHEMA IF NOT EXISTS content;

CREATE TABLE IF NOT EXISTS content.film_work (
    id uuid PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT,
    creation_date DATE,
    rating FLOAT,
    type TEXT NOT NULL,
    created timestamp with time zone,
    modified timestamp with time zone
);

CREATE TABLE IF NOT EXISTS content.genre (
    id uuid PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    created timestamp with time zone,
    modified timestamp with time zone
);

CREATE TABLE IF NOT EXISTS content.genre_film_work (
    id uuid PRIMARY KEY,
    genre_id uuid NOT NULL,
    film_work_id uuid NOT NULL,
    created timestamp with time zone
);

CREATE TABLE IF NOT EXISTS content.person (
    id uuid PRIMARY KEY,
    full_name TEXT NOT NULL,
    created timestamp with time zone,
    modified timestamp with time zone
);

CREATE TABLE IF NOT EXISTS content.person_film_work (
    id uuid PRIMARY KEY,
    person_id uuid NOT NULL,
    film_work_id uuid NOT NULL,
    role TEXT NOT NULL,
    created timestamp with time zone
);

CREATE UNIQUE INDEX IF NOT EXISTS film_work_person_idx ON content.person_film_work (film_work_id, person_id, role);
"""


def sql_literal(value: SqlValue) -> str:
    """A SQL literal: NULL, a number, a quoted string or a quoted ISO date/time (standard_conforming_strings on)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        raise TypeError("booleans are not exported")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no SQL literal")
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"time {value.isoformat()} has no time zone")
        return f"'{value.isoformat()}'"
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    if "\x00" in value:
        raise ValueError(f"text {value[:60]!r} contains a NUL character, which PostgreSQL cannot store")
    return "'" + value.replace("'", "''") + "'"


def release_date(year: int | None) -> date | None:
    """The ``creation_date`` stored for a film released in ``year`` (January 1st; None when unknown)."""
    return None if year is None else date(year, RELEASE_MONTH, RELEASE_DAY)


def _inserts(
    table: str, columns: Sequence[str], rows: Iterable[Sequence[SqlValue]], skip_existing: bool = True
) -> list[str]:
    statements: list[str] = []
    batch: list[str] = []
    tail = "\nON CONFLICT DO NOTHING;" if skip_existing else ";"

    def flush() -> None:
        if batch:
            statements.append(f"INSERT INTO {table} ({', '.join(columns)}) VALUES\n" + ",\n".join(batch) + tail)
            batch.clear()

    for row in rows:
        batch.append("(" + ", ".join(sql_literal(v) for v in row) + ")")
        if len(batch) == ROWS_PER_INSERT:
            flush()
    flush()
    return statements


class _Rows:
    """The rows of the five standard tables for some films (genres and persons once each)."""

    def __init__(self, films: Sequence[Film]) -> None:
        for film in films:
            try:
                for text in (film.title, film.description, *(p.full_name for r in ROLES for p in film.persons(r))):
                    sql_literal(text)
            except ValueError as exc:
                raise ValueError(f"film {film.film_id}: {exc}") from exc
        self.films = films
        genre_names: dict[str, str] = {}
        genre_ids: dict[str, str] = {}
        self.persons: dict[str, str] = {}
        self.genre_links: dict[str, tuple[str, str]] = {}
        self.person_links: dict[str, tuple[str, str, str]] = {}
        for film in films:
            for genre_id, name in zip(genre_ids_of(film), film.genres, strict=True):
                if genre_names.setdefault(genre_id, name) != name or genre_ids.setdefault(name, genre_id) != genre_id:
                    raise ValueError(f"film {film.film_id}: genre {name!r} ({genre_id}) clashes with another film's")
                self.genre_links[genre_link_id_for(film.film_id, genre_id)] = (genre_id, film.film_id)
            for role in ROLES:
                for person in film.persons(role):
                    self.persons.setdefault(person.person_id, person.full_name)
                    link = person_link_id_for(film.film_id, person.person_id, role)
                    self.person_links[link] = (person.person_id, film.film_id, role)
        self.genres = sorted(genre_names.items(), key=lambda item: (item[1], item[0]))

    def film_row(self, film: Film) -> tuple[SqlValue, ...]:
        """id, title, description, creation_date, rating, type."""
        return (
            film.film_id,
            film.title,
            film.description or None,
            release_date(film.year),
            film.imdb_rating,
            FILM_TYPE,
        )


def films_sql(films: Sequence[Film]) -> str:
    """SQL inserting ``films``, their genres, persons and links into ``schema.sql``, skipping rows already there."""
    rows = _Rows(films)
    parts = [
        f"-- Generated by movies_db.export_sql: {len(films)} films, {len(rows.genres)} genres, "
        f"{len(rows.persons)} persons.",
        "BEGIN;",
        *_inserts("content.genre", ("id", "name"), rows.genres),
        *_inserts("content.person", ("id", "full_name"), rows.persons.items()),
        *_inserts(
            "content.film_work",
            ("id", "title", "description", "creation_date", "rating", "type", "imdb_votes", "rt_rating"),
            ((*rows.film_row(f), f.imdb_votes, f.rt_rating) for f in films),
        ),
        *_inserts(
            "content.genre_film_work",
            ("id", "genre_id", "film_work_id"),
            ((link, *pair) for link, pair in rows.genre_links.items()),
        ),
        *_inserts(
            "content.person_film_work",
            ("id", "person_id", "film_work_id", "role"),
            ((link, *triple) for link, triple in rows.person_links.items()),
        ),
        "COMMIT;",
        "ANALYZE content.genre, content.person, content.film_work, content.genre_film_work, content.person_film_work;",
    ]
    return "\n".join(parts) + "\n"


def standard_dump_sql(films: Sequence[Film], stamped: datetime) -> str:
    """A dump of ``films`` in the standard layout (DDL and plain INSERTs, none of our columns), every
    row created and modified at ``stamped`` (timezone-aware); load it into an empty database."""
    if stamped.tzinfo is None:
        raise ValueError(f"dump time {stamped.isoformat()} has no time zone")
    rows = _Rows(films)
    stamp = (stamped, stamped)
    parts = [
        f"-- {STANDARD_DUMP_NAME}: the standard movies schema with {len(films)} films, {len(rows.genres)} genres",
        f"-- and {len(rows.persons)} persons, written by `python -m movies_db export-standard-dump`.",
        "-- Load it into an empty database, then schema.sql.",
        "",
        STANDARD_DDL,
        "BEGIN;",
        *_inserts(
            "content.genre",
            ("id", "name", "description", "created", "modified"),
            ((genre_id, name, None, *stamp) for genre_id, name in rows.genres),
            skip_existing=False,
        ),
        *_inserts(
            "content.person",
            ("id", "full_name", "created", "modified"),
            ((person_id, name, *stamp) for person_id, name in rows.persons.items()),
            skip_existing=False,
        ),
        *_inserts(
            "content.film_work",
            ("id", "title", "description", "creation_date", "rating", "type", "created", "modified"),
            ((*rows.film_row(f), *stamp) for f in films),
            skip_existing=False,
        ),
        *_inserts(
            "content.genre_film_work",
            ("id", "genre_id", "film_work_id", "created"),
            ((link, *pair, stamped) for link, pair in rows.genre_links.items()),
            skip_existing=False,
        ),
        *_inserts(
            "content.person_film_work",
            ("id", "person_id", "film_work_id", "role", "created"),
            ((link, *triple, stamped) for link, triple in rows.person_links.items()),
            skip_existing=False,
        ),
        "COMMIT;",
    ]
    return "\n".join(parts) + "\n"


def export_sql(films: pd.DataFrame) -> str:
    """SQL inserting the films frame (``Columns.FILMS`` + description and directors) into ``schema.sql``.

    Raises ValueError (FilmFrameError) naming the row and column of a value the schema would reject.
    """
    return films_sql(films_from_frame(films))


def export_standard_dump(films: pd.DataFrame, stamped: datetime) -> str:
    """The films frame as a standard dump (``standard_dump_sql``); raises ValueError like ``export_sql``."""
    return standard_dump_sql(films_from_frame(films), stamped)
