"""Fresh PostgreSQL databases for the movies_db tests, on the development machine's server.

A session builds one template database (schema.sql + the test films); each test that changes a
database gets its own copy (or its own database loaded from the test films' standard dump), the
tests that change nothing share one, and every database is dropped at the end. Each DROP DATABASE
waits for a checkpoint (the fsyncs of every file written since the last one: seconds on a slow
disk): the drops run at once and share their checkpoints.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from movies_db.export import export_sql, export_standard_dump
from movies_db.ids import genre_ids_of
from movies_db.postgres import apply_sql
from recsys_common.columns import Columns
from recsys_common.domain import Film
from recsys_common.ids import film_id_for
from recsys_common.settings import CommonSettings
from recsys_datasets.frames import films_from_frame

#: The development machine's server (trust auth); RECSYS_POSTGRES_DSN overrides it.
DEFAULT_TEST_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_SQL = REPO_ROOT / "schema.sql"
N_FILMS = 12
GENRES = ("Comedy", "Drama", "Sci-Fi")
DIRECTORS = ("Ava Stone", "Ben Ortiz", "Cleo Park")
#: The film without directors.
NO_DIRECTOR = 7
#: When the rows of the test films' standard dump were created and last modified.
DUMP_TIME = datetime(2021, 6, 16, 20, 14, 9, tzinfo=UTC)
#: Databases dropped at once at the end of the session.
DROP_WORKERS = 16


def directors_of(i: int) -> tuple[str, ...]:
    """Film i's directors: none for NO_DIRECTOR, else DIRECTORS[i % 3] (+ the next one when i % 4 == 0)."""
    if i == NO_DIRECTOR:
        return ()
    first = DIRECTORS[i % 3]
    return (first, DIRECTORS[(i + 1) % 3]) if i % 4 == 0 else (first,)


def films_frame(n: int = N_FILMS) -> pd.DataFrame:
    """``n`` films with every column; film i has genres GENRES[i % 3] (+ Drama when i is even) and
    the directors ``directors_of(i)``."""
    sources = [f"pgtest:{i}" for i in range(n)]
    genres = [tuple(dict.fromkeys((GENRES[i % 3], "Drama") if i % 2 == 0 else (GENRES[i % 3],))) for i in range(n)]
    return pd.DataFrame(
        {
            Columns.Item: [film_id_for(s) for s in sources],
            Columns.SourceId: sources,
            Columns.Title: [f"Film number {i}" if i else "Schindler's List" for i in range(n)],
            Columns.Year: pd.array([None if i == 3 else 1950 + i for i in range(n)], dtype="Int64"),
            Columns.Genres: genres,
            Columns.ImdbRating: [np.nan if i == 5 else 5.0 + i / 4 for i in range(n)],
            Columns.ImdbVotes: [np.nan if i == 5 else 100.0 * (i + 1) for i in range(n)],
            Columns.RtRating: [np.nan if i % 3 else 10.0 * (i % 10) for i in range(n)],
            Columns.Description: [f"It's film {i}, about O'Brien" for i in range(n)],
            Columns.Directors: [directors_of(i) for i in range(n)],
        }
    )


@pytest.fixture(scope="session")
def pg_frame() -> pd.DataFrame:
    """The test films as a frame (what the seed builder provides); do not modify it."""
    return films_frame()


@pytest.fixture(scope="session")
def pg_films(pg_frame: pd.DataFrame) -> list[Film]:
    """The test films loaded into every ``movies_dsn`` database, in frame order."""
    return films_from_frame(pg_frame)


def read_back(film: Film, extras: bool = True) -> Film:
    """``film`` as PostgresFilmSource reads it once exported: genres by name with their ids, people by
    name; from a standard dump (``extras`` False) without IMDb votes nor Rotten Tomatoes rating."""
    genres = sorted(zip(film.genres, genre_ids_of(film), strict=True))
    return dataclasses.replace(
        film,
        genres=tuple(name for name, _ in genres),
        genre_ids=tuple(genre_id for _, genre_id in genres),
        directors=tuple(sorted(film.directors, key=lambda p: (p.full_name, p.person_id))),
        actors=tuple(sorted(film.actors, key=lambda p: (p.full_name, p.person_id))),
        writers=tuple(sorted(film.writers, key=lambda p: (p.full_name, p.person_id))),
        imdb_votes=film.imdb_votes if extras else None,
        rt_rating=film.rt_rating if extras else None,
    )


@pytest.fixture(scope="session")
def as_read() -> Callable[..., Film]:
    """``read_back``: what the ETL gives for an exported film."""
    return read_back


def _admin(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def admin_dsn() -> str:
    dsn = CommonSettings().postgres_dsn or DEFAULT_TEST_POSTGRES_DSN
    try:
        _admin(dsn).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"integration tests need PostgreSQL at {dsn} (set RECSYS_POSTGRES_DSN): {exc}")
    return dsn


@pytest.fixture(scope="session")
def create_database(admin_dsn: str) -> Iterator[Callable[..., str]]:
    """Creates uniquely named databases (optionally from a template); drops them all at the end."""
    created: list[str] = []

    def create(template: str | None = None) -> str:
        name = f"test_movies_{uuid.uuid4().hex[:12]}"
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template or "template0")
        )
        with _admin(admin_dsn) as conn:
            conn.execute(query)
        created.append(name)
        return make_conninfo(admin_dsn, dbname=name)

    yield create

    def drop(name: str) -> None:
        with _admin(admin_dsn) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    with ThreadPoolExecutor(max_workers=DROP_WORKERS) as pool:
        list(pool.map(drop, created))


@pytest.fixture(scope="session")
def template_db(create_database: Callable[..., str], pg_frame: pd.DataFrame) -> str:
    """Name of a database holding schema.sql and the test films (never connected to by tests)."""
    dsn = create_database()
    apply_sql(dsn, SCHEMA_SQL.read_text(encoding="utf-8"))
    apply_sql(dsn, export_sql(pg_frame))
    return db_name(dsn)


def db_name(dsn: str) -> str:
    """The database a DSN names."""
    return str(psycopg.conninfo.conninfo_to_dict(dsn)["dbname"])


@pytest.fixture(scope="session")
def standard_dump(pg_frame: pd.DataFrame) -> str:
    """The test films as a standard dump (what a user's ``movies-database.sql`` looks like)."""
    return export_standard_dump(pg_frame, DUMP_TIME)


@pytest.fixture
def dump_dsn(create_database: Callable[..., str], standard_dump: str) -> str:
    """A database of this test only, loaded from the test films' standard dump then schema.sql."""
    dsn = create_database()
    apply_sql(dsn, standard_dump)
    apply_sql(dsn, SCHEMA_SQL.read_text(encoding="utf-8"))
    return dsn


@pytest.fixture(scope="session")
def shared_movies_dsn(create_database: Callable[..., str], template_db: str) -> str:
    """A database with schema.sql and the test films, shared by the tests that change nothing."""
    return create_database(template_db)


@pytest.fixture
def movies_dsn(create_database: Callable[..., str], template_db: str) -> str:
    """A database of this test only with schema.sql and the test films loaded."""
    return create_database(template_db)


@pytest.fixture
def empty_dsn(create_database: Callable[..., str]) -> str:
    """An empty database of this test only."""
    return create_database()
