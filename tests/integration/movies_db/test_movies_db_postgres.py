"""schema.sql, the exported data and standard dumps on a real PostgreSQL, and the ETL from it."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from movies_db.etl import SourceUnavailable, run_etl
from movies_db.export import STANDARD_DDL, export_sql, standard_dump_sql
from movies_db.ids import genre_link_id_for, person_link_id_for
from movies_db.postgres import PostgresFilmSource, apply_sql, delete_film, save_film
from recsys_common.domain import ACTOR, DIRECTOR, WRITER, Film, Person
from recsys_common.ids import film_id_for, genre_id_for, person_id_for
from recsys_common.ports.catalog import (
    Catalog,
    CatalogUnavailable,
    EtlState,
    FilmPage,
    GenreCount,
    PersonPage,
    SortOrder,
)
from tests.catalogs import catalog_factory

pytestmark = pytest.mark.integration

#: schema.sql at the root of the repository.
SCHEMA_SQL = Path(__file__).resolve().parents[3] / "schema.sql"
#: The standard schema's tables and columns with their types (information_schema's names).
STANDARD_COLUMNS = {
    ("film_work", "id", "uuid"),
    ("film_work", "title", "text"),
    ("film_work", "description", "text"),
    ("film_work", "creation_date", "date"),
    ("film_work", "rating", "double precision"),
    ("film_work", "type", "text"),
    ("film_work", "created", "timestamp with time zone"),
    ("film_work", "modified", "timestamp with time zone"),
    ("genre", "id", "uuid"),
    ("genre", "name", "text"),
    ("genre", "description", "text"),
    ("genre", "created", "timestamp with time zone"),
    ("genre", "modified", "timestamp with time zone"),
    ("genre_film_work", "id", "uuid"),
    ("genre_film_work", "genre_id", "uuid"),
    ("genre_film_work", "film_work_id", "uuid"),
    ("genre_film_work", "created", "timestamp with time zone"),
    ("person", "id", "uuid"),
    ("person", "full_name", "text"),
    ("person", "created", "timestamp with time zone"),
    ("person", "modified", "timestamp with time zone"),
    ("person_film_work", "id", "uuid"),
    ("person_film_work", "person_id", "uuid"),
    ("person_film_work", "film_work_id", "uuid"),
    ("person_film_work", "role", "text"),
    ("person_film_work", "created", "timestamp with time zone"),
}
OUR_COLUMNS = {("film_work", "imdb_votes", "integer"), ("film_work", "rt_rating", "double precision")}
TABLES = ("film_work", "genre", "genre_film_work", "person", "person_film_work")
#: The structure of schema "content": columns, constraints, indexes, triggers and functions.
STRUCTURE = """
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
       || ' ' || coalesce(column_default, '')
FROM information_schema.columns WHERE table_schema = 'content'
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || convalidated || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'content'::regnamespace
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'content'
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger
WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'content'::regnamespace)
UNION ALL
SELECT 'function ' || oid::regprocedure || ' ' || md5(prosrc) FROM pg_proc WHERE pronamespace = 'content'::regnamespace
ORDER BY 1
"""
#: Ids a standard dump gives its genres and persons: not the ones our code derives from names.
DUMP_NAMESPACE = uuid.UUID("6c1b7f0e-2d4a-4e8b-9f3c-5a7d1e2b4c60")


def n_links(films: list[Film]) -> int:
    return sum(len(f.genres) for f in films)


def n_person_links(films: list[Film]) -> int:
    return sum(len(f.directors) + len(f.actors) + len(f.writers) for f in films)


def scalar(dsn: str, query: str, params: tuple[object, ...] = ()) -> Any:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query.encode(), params).fetchone()
    assert row is not None
    return row[0]


def rows(dsn: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query.encode(), params).fetchall()


def execute(dsn: str, *statements: str | tuple[str, tuple[object, ...]]) -> None:
    """Run statements in one transaction (a statement with parameters as a (query, params) pair)."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        for statement in statements:
            query, params = statement if isinstance(statement, tuple) else (statement, ())
            conn.execute(query.encode(), params)


def modified_of(dsn: str, film_id: str) -> datetime:
    value = scalar(dsn, "SELECT modified FROM content.film_work WHERE id = %s", (uuid.UUID(film_id),))
    assert isinstance(value, datetime)
    return value


def schema_sql() -> str:
    return SCHEMA_SQL.read_text(encoding="utf-8")


def apply_schema(dsn: str) -> list[str]:
    """Apply schema.sql as one session; return its own NOTICEs (of constraints it could not add)."""
    notices: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: notices.append(str(diag.message_primary)))
        conn.execute(schema_sql().encode())
    return [notice for notice in notices if notice.startswith("schema.sql:")]


def structure(dsn: str) -> list[str]:
    return [row[0] for row in rows(dsn, STRUCTURE)]


def data(dsn: str, standard_only: bool = False) -> dict[str, list[str]]:
    """Every row of every table as text (timestamps included), by id; only the standard columns when asked."""
    found = {}
    for table in TABLES:
        if standard_only:
            names = sorted(c for t, c, _ in STANDARD_COLUMNS if t == table)
            query = f"SELECT row({', '.join(names)})::text FROM content.{table} ORDER BY id"
        else:
            query = f"SELECT t::text FROM content.{table} t ORDER BY id"
        found[table] = [r[0] for r in rows(dsn, query)]
    return found


def columns(dsn: str) -> set[tuple[str, str, str]]:
    found = rows(
        dsn,
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'content'",
    )
    return {(t, c, d) for t, c, d in found}


def read_all(dsn: str, after: EtlState | None = None) -> tuple[list[Film], EtlState | None]:
    """Every film the source yields after ``after``, and the position of the last one."""
    source = PostgresFilmSource(dsn)
    try:
        films: list[Film] = []
        for batch in source.batches(after, 5):
            films.extend(batch.films)
            after = batch.state
        return films, after
    finally:
        source.close()


def by_id(films: Iterable[Film]) -> dict[str, Film]:
    return {f.film_id: f for f in films}


def dump_ids(film: Film) -> Film:
    """The film as a dump holds it: genres and persons with ids of the dump's own (not derived)."""

    def own(people: tuple[Person, ...]) -> tuple[Person, ...]:
        return tuple(Person(str(uuid.uuid5(DUMP_NAMESPACE, p.full_name)), p.full_name) for p in people)

    return dataclasses.replace(
        film,
        genre_ids=tuple(str(uuid.uuid5(DUMP_NAMESPACE, g)) for g in film.genres),
        directors=own(film.directors),
        actors=own(film.actors),
        writers=own(film.writers),
    )


@pytest.fixture
def foreign_dump(pg_films: list[Film]) -> list[Film]:
    """The test films as a dump of someone else's holds them (``dump_ids``)."""
    return [dump_ids(f) for f in pg_films]


# ----- schema.sql and our data -----
def test_export_loads_every_film_genre_person_and_link(shared_movies_dsn: str, pg_films: list[Film]) -> None:
    genres = {g for f in pg_films for g in f.genres}
    persons = {p.person_id for f in pg_films for p in f.directors}
    assert scalar(shared_movies_dsn, "SELECT count(*) FROM content.film_work") == len(pg_films)
    assert scalar(shared_movies_dsn, "SELECT count(*) FROM content.genre") == len(genres)
    assert scalar(shared_movies_dsn, "SELECT count(*) FROM content.genre_film_work") == n_links(pg_films)
    assert scalar(shared_movies_dsn, "SELECT count(*) FROM content.person") == len(persons)
    assert scalar(shared_movies_dsn, "SELECT count(*) FROM content.person_film_work") == n_person_links(pg_films)
    film = pg_films[0]
    row = scalar(
        shared_movies_dsn,
        "SELECT row(title, description, creation_date, rating, type, imdb_votes, rt_rating)::text"
        " FROM content.film_work WHERE id = %s",
        (uuid.UUID(film.film_id),),
    )
    assert row == """("Schindler's List","It's film 0, about O'Brien",1950-01-01,5,movie,100,0)"""
    assert scalar(shared_movies_dsn, "SELECT id::text FROM content.genre WHERE name = 'Drama'") == genre_id_for("Drama")
    assert scalar(
        shared_movies_dsn, "SELECT id::text FROM content.person WHERE full_name = 'Ava Stone'"
    ) == person_id_for("Ava Stone")
    roles = rows(shared_movies_dsn, "SELECT DISTINCT role FROM content.person_film_work")
    assert roles == [(DIRECTOR,)]


def test_loading_schema_and_data_again_changes_nothing(
    movies_dsn: str, pg_frame: pd.DataFrame, pg_films: list[Film]
) -> None:
    shape, rows_before = structure(movies_dsn), data(movies_dsn)
    apply_sql(movies_dsn, schema_sql())
    apply_sql(movies_dsn, export_sql(pg_frame))
    assert structure(movies_dsn) == shape
    assert data(movies_dsn) == rows_before  # modified included: the ETL reloads nothing


def test_schema_is_a_superset_of_the_standard_schema(empty_dsn: str, shared_movies_dsn: str) -> None:
    apply_sql(empty_dsn, STANDARD_DDL)
    assert columns(empty_dsn) == STANDARD_COLUMNS  # the test's layout is the standard one
    assert columns(shared_movies_dsn) == STANDARD_COLUMNS | OUR_COLUMNS  # schema.sql on an empty database


def test_schema_on_a_standard_dump_completes_it_and_a_second_run_changes_nothing(
    empty_dsn: str, standard_dump: str, movies_dsn: str
) -> None:
    apply_sql(empty_dsn, standard_dump)
    dumped = data(empty_dsn, standard_only=True)
    apply_schema(empty_dsn)
    assert data(empty_dsn, standard_only=True) == dumped  # the dump's rows as they were (no NULL to fill)
    shape, completed = structure(empty_dsn), data(empty_dsn)
    assert apply_schema(empty_dsn) == []
    assert (structure(empty_dsn), data(empty_dsn)) == (shape, completed)

    # the dump's unique index stands for ours; otherwise what schema.sql builds from scratch
    theirs = (
        "CREATE UNIQUE INDEX film_work_person_idx ON content.person_film_work"
        " USING btree (film_work_id, person_id, role)"
    )
    assert f"index {theirs}" in shape
    built = structure(movies_dsn)
    assert [s for s in shape if s != f"index {theirs}"] == [s for s in built if " person_film_work_unique " not in s]


def test_null_created_and_modified_of_a_dump_are_filled(empty_dsn: str, standard_dump: str) -> None:
    apply_sql(empty_dsn, standard_dump)
    execute(
        empty_dsn,
        *(f"UPDATE content.{t} SET created = NULL" for t in TABLES),
        *(f"UPDATE content.{t} SET modified = NULL" for t in ("film_work", "genre", "person")),
    )
    started = scalar(empty_dsn, "SELECT now()")
    apply_schema(empty_dsn)
    for table in TABLES:
        assert scalar(empty_dsn, f"SELECT count(*) FROM content.{table} WHERE created IS NULL") == 0, table
        assert scalar(empty_dsn, f"SELECT min(created) FROM content.{table}") >= started, table
    assert scalar(empty_dsn, "SELECT count(*) FROM content.film_work WHERE modified < %s", (started,)) == 0
    assert (
        scalar(
            empty_dsn,
            "SELECT is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'content' AND table_name = 'film_work' AND column_name = 'modified'",
        )
        == "NO"
    )

    # rows inserted later with NULL times, as a second dump's may be, get them too
    film_id = uuid.uuid4()
    execute(
        empty_dsn,
        (
            "INSERT INTO content.film_work (id, title, type, created, modified)"
            " VALUES (%s, 'Late', 'movie', NULL, NULL)",
            (film_id,),
        ),
    )
    assert scalar(
        empty_dsn,
        "SELECT created IS NOT NULL AND modified IS NOT NULL FROM content.film_work WHERE id = %s",
        (film_id,),
    )
    films, _ = read_all(empty_dsn)
    assert str(film_id) in by_id(films)


def test_constraints_the_rows_of_a_dump_violate_are_left_out_then_added_once_fixed(
    empty_dsn: str, standard_dump: str, pg_films: list[Film]
) -> None:
    apply_sql(empty_dsn, standard_dump)
    film_0, film_1 = (uuid.UUID(f.film_id) for f in pg_films[:2])
    drama = uuid.UUID(genre_id_for("Drama"))
    dup_link, orphan, producer, drama_twice = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    execute(
        empty_dsn,
        ("UPDATE content.film_work SET rating = 0 WHERE id = %s", (film_0,)),
        ("INSERT INTO content.genre (id, name) VALUES (%s, 'Drama')", (drama_twice,)),
        (
            "INSERT INTO content.genre_film_work (id, genre_id, film_work_id) VALUES (%s, %s, %s)",
            (orphan, drama, uuid.uuid4()),
        ),
        (
            "INSERT INTO content.genre_film_work (id, genre_id, film_work_id) VALUES (%s, %s, %s)",
            (dup_link, drama, film_0),
        ),
        (
            "INSERT INTO content.person_film_work (id, person_id, film_work_id, role) VALUES (%s, %s, %s, 'producer')",
            (producer, uuid.UUID(person_id_for("Ava Stone")), film_1),
        ),
    )
    left_out = {
        "film_work_rating_range",
        "genre_name_unique",
        "genre_film_work_film_fk",
        "genre_film_work_pair_unique",
        "person_film_work_role_known",
    }

    notices = apply_schema(empty_dsn)

    assert {name for name in left_out if any(f"constraint {name} " in n for n in notices)} == left_out
    added = {
        r[0] for r in rows(empty_dsn, "SELECT conname FROM pg_constraint WHERE connamespace = 'content'::regnamespace")
    }
    assert not added & left_out
    assert {"film_work_title_not_blank", "genre_film_work_genre_fk", "person_film_work_person_fk"} <= added
    # without the pair's unique index, the links of a film still have an index
    assert scalar(empty_dsn, "SELECT count(*) FROM pg_indexes WHERE indexname = 'genre_film_work_film_idx'") == 1

    # the rows stay writable (the triggers' updates of a film rated 0 pass) and read sensibly
    execute(
        empty_dsn,
        (
            "INSERT INTO content.genre_film_work (id, genre_id, film_work_id) VALUES (%s, %s, %s)",
            (uuid.uuid4(), uuid.UUID(genre_id_for("Sci-Fi")), film_0),
        ),
    )
    films = by_id(read_all(empty_dsn)[0])
    assert films[str(film_0)].imdb_rating is None  # 0 is off the IMDb scale: unknown
    assert films[str(film_0)].genres == ("Comedy", "Drama", "Sci-Fi")  # the duplicate link counts once
    assert films[str(film_1)].directors == pg_films[1].directors  # a producer is no director, actor nor writer
    assert (films[str(film_1)].actors, films[str(film_1)].writers) == ((), ())

    execute(
        empty_dsn,
        ("UPDATE content.film_work SET rating = 5 WHERE id = %s", (film_0,)),
        ("DELETE FROM content.genre WHERE id = %s", (drama_twice,)),
        ("DELETE FROM content.genre_film_work WHERE id IN (%s, %s)", (orphan, dup_link)),
        ("DELETE FROM content.person_film_work WHERE id = %s", (producer,)),
    )
    assert apply_schema(empty_dsn) == []
    added = {
        r[0] for r in rows(empty_dsn, "SELECT conname FROM pg_constraint WHERE connamespace = 'content'::regnamespace")
    }
    assert left_out <= added


Params = Callable[[Film], tuple[object, ...]]
BAD_STATEMENTS = [
    pytest.param(
        "INSERT INTO content.genre_film_work (id, film_work_id, genre_id) VALUES (%s, %s, %s)",
        lambda f: (uuid.uuid4(), uuid.uuid4(), uuid.UUID(genre_id_for(f.genres[0]))),
        psycopg.errors.ForeignKeyViolation,
        id="genre-link-to-unknown-film",
    ),
    pytest.param(
        "INSERT INTO content.genre_film_work (id, film_work_id, genre_id) VALUES (%s, %s, %s)",
        lambda f: (uuid.uuid4(), uuid.UUID(f.film_id), uuid.uuid4()),
        psycopg.errors.ForeignKeyViolation,
        id="link-to-unknown-genre",
    ),
    pytest.param(
        "INSERT INTO content.genre_film_work (id, film_work_id, genre_id) VALUES (%s, %s, %s)",
        lambda f: (uuid.uuid4(), uuid.UUID(f.film_id), uuid.UUID(genre_id_for(f.genres[0]))),
        psycopg.errors.UniqueViolation,
        id="same-film-genre-pair-twice",
    ),
    pytest.param(
        "INSERT INTO content.genre (id, name) VALUES (%s, %s)",
        lambda f: (uuid.uuid4(), f.genres[0]),
        psycopg.errors.UniqueViolation,
        id="same-genre-name-twice",
    ),
    pytest.param(
        "INSERT INTO content.person_film_work (id, person_id, film_work_id, role) VALUES (%s, %s, %s, 'director')",
        lambda f: (uuid.uuid4(), uuid.uuid4(), uuid.UUID(f.film_id)),
        psycopg.errors.ForeignKeyViolation,
        id="link-to-unknown-person",
    ),
    pytest.param(
        "INSERT INTO content.person_film_work (id, person_id, film_work_id, role) VALUES (%s, %s, %s, 'director')",
        lambda f: (uuid.uuid4(), uuid.UUID(f.directors[0].person_id), uuid.UUID(f.film_id)),
        psycopg.errors.UniqueViolation,
        id="same-person-role-twice",
    ),
    pytest.param(
        "INSERT INTO content.person_film_work (id, person_id, film_work_id, role) VALUES (%s, %s, %s, 'producer')",
        lambda f: (uuid.uuid4(), uuid.UUID(f.directors[0].person_id), uuid.UUID(f.film_id)),
        psycopg.errors.CheckViolation,
        id="unknown-role",
    ),
    pytest.param(
        "UPDATE content.person SET full_name = ' ' WHERE id = %s",
        lambda f: (uuid.UUID(f.directors[0].person_id),),
        psycopg.errors.CheckViolation,
        id="blank-person-name",
    ),
    pytest.param(
        "UPDATE content.film_work SET rating = 10.5 WHERE id = %s",
        lambda f: (uuid.UUID(f.film_id),),
        psycopg.errors.CheckViolation,
        id="imdb-rating-above-10",
    ),
    pytest.param(
        "UPDATE content.film_work SET rating = 0.5 WHERE id = %s",
        lambda f: (uuid.UUID(f.film_id),),
        psycopg.errors.CheckViolation,
        id="imdb-rating-below-1",
    ),
    pytest.param(
        "UPDATE content.film_work SET rt_rating = 100.5 WHERE id = %s",
        lambda f: (uuid.UUID(f.film_id),),
        psycopg.errors.CheckViolation,
        id="rt-rating-above-100",
    ),
    pytest.param(
        "UPDATE content.film_work SET imdb_votes = -1 WHERE id = %s",
        lambda f: (uuid.UUID(f.film_id),),
        psycopg.errors.CheckViolation,
        id="negative-votes",
    ),
    pytest.param(
        "UPDATE content.film_work SET title = '  ' WHERE id = %s",
        lambda f: (uuid.UUID(f.film_id),),
        psycopg.errors.CheckViolation,
        id="blank-title",
    ),
    pytest.param(
        "UPDATE content.film_work SET type = 'podcast' WHERE id = %s",
        lambda f: (uuid.UUID(f.film_id),),
        psycopg.errors.CheckViolation,
        id="unknown-type",
    ),
    pytest.param(
        "INSERT INTO content.film_work (id, title, creation_date) VALUES (%s, 'Too old', '1700-01-01')",
        lambda f: (uuid.uuid4(),),
        psycopg.errors.CheckViolation,
        id="release-date-out-of-range",
    ),
]


@pytest.mark.parametrize(("statement", "params", "error"), BAD_STATEMENTS)
def test_constraints_reject_bad_rows(
    shared_movies_dsn: str, pg_films: list[Film], statement: str, params: Params, error: type[Exception]
) -> None:
    with psycopg.connect(shared_movies_dsn) as conn, pytest.raises(error):
        conn.execute(statement.encode(), params(pg_films[0]))


def test_deleting_a_film_deletes_its_links(movies_dsn: str, pg_films: list[Film]) -> None:
    film = pg_films[0]
    execute(movies_dsn, ("DELETE FROM content.film_work WHERE id = %s", (uuid.UUID(film.film_id),)))
    assert scalar(movies_dsn, "SELECT count(*) FROM content.genre_film_work") == n_links(pg_films) - len(film.genres)
    assert scalar(movies_dsn, "SELECT count(*) FROM content.person_film_work") == n_person_links(pg_films) - len(
        film.directors
    )


def test_changes_to_a_film_its_links_or_its_genre_and_person_names_bump_modified(
    movies_dsn: str, pg_films: list[Film]
) -> None:
    film = next(f for f in pg_films if "Comedy" not in f.genres and f.directors)
    key, dan = uuid.UUID(film.film_id), uuid.UUID(person_id_for("Dan Reyes"))
    steps: list[list[tuple[str, tuple[object, ...]]]] = [
        [("UPDATE content.film_work SET title = 'New title' WHERE id = %s", (key,))],
        [
            (
                "INSERT INTO content.genre_film_work (id, film_work_id, genre_id) VALUES (%s, %s, %s)",
                (uuid.uuid4(), key, uuid.UUID(genre_id_for("Comedy"))),
            )
        ],
        [
            ("INSERT INTO content.person (id, full_name) VALUES (%s, 'Dan Reyes')", (dan,)),
            (
                "INSERT INTO content.person_film_work (id, person_id, film_work_id, role) VALUES (%s, %s, %s, 'actor')",
                (uuid.uuid4(), dan, key),
            ),
        ],
        [("UPDATE content.genre SET name = 'Renamed Genre' WHERE name = %s", (film.genres[0],))],
        [("UPDATE content.person SET full_name = 'Renamed Person' WHERE id = %s", (dan,))],
        [("DELETE FROM content.person_film_work WHERE film_work_id = %s AND role = 'director'", (key,))],
        # an update given an older modified still gets its transaction's time
        [("UPDATE content.film_work SET modified = '2001-01-01' WHERE id = %s", (key,))],
    ]
    for statements in steps:
        before = modified_of(movies_dsn, film.film_id)
        execute(movies_dsn, *statements)
        assert modified_of(movies_dsn, film.film_id) > before, statements


def test_a_rename_bumps_only_the_films_of_that_genre_or_person(movies_dsn: str, pg_films: list[Film]) -> None:
    before = {f.film_id: modified_of(movies_dsn, f.film_id) for f in pg_films}
    execute(movies_dsn, ("UPDATE content.person SET full_name = 'Ava Stone-Park' WHERE full_name = 'Ava Stone'", ()))
    bumped = {f.film_id for f in pg_films if modified_of(movies_dsn, f.film_id) > before[f.film_id]}
    assert bumped == {f.film_id for f in pg_films if any(p.full_name == "Ava Stone" for p in f.directors)}


# ----- the ETL's source -----
def test_source_yields_films_with_years_genre_ids_and_persons(
    shared_movies_dsn: str, pg_films: list[Film], as_read: Callable[..., Film]
) -> None:
    films, state = read_all(shared_movies_dsn)
    assert by_id(films) == {f.film_id: as_read(f) for f in pg_films}
    assert len(films) == len(pg_films)  # each once
    assert state is not None and state.last_id == films[-1].film_id
    eight = by_id(films)[pg_films[8].film_id]  # directed by Cleo Park and Ava Stone: by name
    assert [p.full_name for p in eight.directors] == ["Ava Stone", "Cleo Park"]


def test_etl_from_a_standard_dump_yields_its_own_ids_years_and_persons(
    empty_dsn: str, foreign_dump: list[Film], as_read: Callable[..., Film]
) -> None:
    apply_sql(empty_dsn, standard_dump_sql(foreign_dump, datetime(2021, 6, 16).astimezone()))
    apply_sql(empty_dsn, schema_sql())
    execute(  # a dump knows release days
        empty_dsn,
        (
            "UPDATE content.film_work SET creation_date = '1951-09-23' WHERE id = %s",
            (uuid.UUID(foreign_dump[1].film_id),),
        ),
    )
    films = by_id(read_all(empty_dsn)[0])
    assert films == {f.film_id: as_read(f, extras=False) for f in foreign_dump}
    assert films[foreign_dump[1].film_id].year == 1951
    drama = scalar(empty_dsn, "SELECT id::text FROM content.genre WHERE name = 'Drama'")
    assert drama != genre_id_for("Drama")
    assert drama in films[foreign_dump[0].film_id].genre_ids


def test_a_person_rename_and_a_new_person_link_reach_the_incremental_etl(dump_dsn: str, pg_films: list[Film]) -> None:
    _, state = read_all(dump_dsn)
    assert read_all(dump_dsn, state)[0] == []  # nothing changed: nothing read

    execute(dump_dsn, ("UPDATE content.person SET full_name = 'Ava Stone-Park' WHERE full_name = 'Ava Stone'", ()))
    renamed, state = read_all(dump_dsn, state)
    assert {f.film_id for f in renamed} == {
        f.film_id for f in pg_films if any(p.full_name == "Ava Stone" for p in f.directors)
    }
    assert all(Person(person_id_for("Ava Stone"), "Ava Stone-Park") in f.directors for f in renamed)

    film = next(f for f in pg_films if f.directors and f.film_id not in by_id(renamed))
    dan = Person(person_id_for("Dan Reyes"), "Dan Reyes")
    execute(
        dump_dsn,
        ("INSERT INTO content.person (id, full_name) VALUES (%s, %s)", (uuid.UUID(dan.person_id), dan.full_name)),
        (
            "INSERT INTO content.person_film_work (id, person_id, film_work_id, role) VALUES (%s, %s, %s, %s)",
            (
                uuid.UUID(person_link_id_for(film.film_id, dan.person_id, WRITER)),
                uuid.UUID(dan.person_id),
                uuid.UUID(film.film_id),
                WRITER,
            ),
        ),
    )
    linked, _ = read_all(dump_dsn, state)
    assert [(f.film_id, f.writers, f.directors) for f in linked] == [(film.film_id, (dan,), film.directors)]


# ----- add-film and delete-film -----
def test_save_film_writes_genres_and_persons_then_replaces_them(movies_dsn: str, as_read: Callable[..., Film]) -> None:
    ann, bob = Person(person_id_for("Ann Lee"), "Ann Lee"), Person(person_id_for("Bob Hale"), "Bob Hale")
    heat = Film(
        film_id_for("added:heat"),
        "Heat",
        1995,
        ("Thriller", "Crime"),
        8.3,
        700_000,
        87.0,
        "Cops and robbers.",
        directors=(bob,),
        actors=(bob, ann),
        writers=(ann,),
    )
    save_film(movies_dsn, heat)
    assert by_id(read_all(movies_dsn)[0])[heat.film_id] == as_read(heat)

    changed = dataclasses.replace(heat, genres=("Crime",), actors=(ann,), writers=(), directors=(bob,))
    save_film(movies_dsn, changed)
    assert by_id(read_all(movies_dsn)[0])[heat.film_id] == as_read(changed)
    assert (
        scalar(
            movies_dsn,
            "SELECT count(*) FROM content.person_film_work WHERE film_work_id = %s",
            (uuid.UUID(heat.film_id),),
        )
        == 2
    )


def test_save_film_on_a_dump_uses_its_genres_by_name_and_keeps_the_release_day(
    empty_dsn: str, foreign_dump: list[Film], as_read: Callable[..., Film]
) -> None:
    apply_sql(empty_dsn, standard_dump_sql(foreign_dump, datetime(2021, 6, 16).astimezone()))
    apply_sql(empty_dsn, schema_sql())
    film = foreign_dump[0]
    execute(
        empty_dsn,
        ("UPDATE content.film_work SET creation_date = '1950-05-17' WHERE id = %s", (uuid.UUID(film.film_id),)),
    )
    genres = scalar(empty_dsn, "SELECT count(*) FROM content.genre")

    # as add-film makes it: genres by name only
    save_film(empty_dsn, dataclasses.replace(film, title="Retitled", genre_ids=()))
    assert scalar(empty_dsn, "SELECT count(*) FROM content.genre") == genres
    read = by_id(read_all(empty_dsn)[0])[film.film_id]
    assert (read.title, read.genre_ids) == ("Retitled", as_read(film).genre_ids)
    assert scalar(
        empty_dsn, "SELECT creation_date FROM content.film_work WHERE id = %s", (uuid.UUID(film.film_id),)
    ) == date(1950, 5, 17)
    save_film(empty_dsn, dataclasses.replace(film, year=1951, genre_ids=()))
    assert scalar(
        empty_dsn, "SELECT creation_date FROM content.film_work WHERE id = %s", (uuid.UUID(film.film_id),)
    ) == date(1951, 1, 1)


def test_delete_film_deletes_links_where_a_dumps_foreign_keys_do_not_cascade(
    empty_dsn: str, standard_dump: str, pg_films: list[Film]
) -> None:
    apply_sql(empty_dsn, standard_dump)
    execute(
        empty_dsn,
        "ALTER TABLE content.genre_film_work ADD CONSTRAINT dump_film_fk"
        " FOREIGN KEY (film_work_id) REFERENCES content.film_work (id)",
        "ALTER TABLE content.person_film_work ADD CONSTRAINT dump_film_fk"
        " FOREIGN KEY (film_work_id) REFERENCES content.film_work (id)",
    )
    apply_sql(empty_dsn, schema_sql())
    fks = rows(
        empty_dsn, "SELECT conname FROM pg_constraint WHERE confrelid = 'content.film_work'::regclass ORDER BY 1"
    )
    assert fks == [("dump_film_fk",), ("dump_film_fk",)]  # equivalent to ours: ours not added
    film = pg_films[0]
    assert delete_film(empty_dsn, film.film_id)
    assert not delete_film(empty_dsn, film.film_id)
    assert scalar(empty_dsn, "SELECT count(*) FROM content.genre_film_work") == n_links(pg_films) - len(film.genres)
    assert scalar(empty_dsn, "SELECT count(*) FROM content.person_film_work") == n_person_links(pg_films) - len(
        film.directors
    )


# ----- the ETL into the catalogue -----
@pytest.fixture(params=["sqlite", "elasticsearch"], name="catalog_factory")
def catalog_factory_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Catalog]]:
    with catalog_factory(request.param, tmp_path, "the ETL") as make:
        yield make


def test_etl_copies_every_film_then_only_what_changed(
    movies_dsn: str, pg_films: list[Film], catalog_factory: Callable[[], Catalog], as_read: Callable[..., Film]
) -> None:
    catalog = catalog_factory()
    source = PostgresFilmSource(movies_dsn)
    first = run_etl(source, catalog, batch_size=5)
    assert (first.films, first.batches) == (len(pg_films), 3)
    loaded = catalog.get_many([f.film_id for f in pg_films])
    assert loaded == [as_read(f) for f in pg_films]  # people and genre ids included

    assert run_etl(source, catalog).films == 0  # nothing changed: nothing loaded

    changed = pg_films[4]
    execute(
        movies_dsn,
        ("UPDATE content.film_work SET title = 'Retitled Picture' WHERE id = %s", (uuid.UUID(changed.film_id),)),
    )
    second = run_etl(source, catalog)
    assert second.films == 1
    assert second.state == EtlState(modified_of(movies_dsn, changed.film_id), changed.film_id)
    assert [f.film_id for f in catalog.search("retitled picture").films] == [changed.film_id]
    assert catalog.search(size=50).total == len(pg_films)
    source.close()


def test_etl_follows_genre_links(movies_dsn: str, pg_films: list[Film], catalog_factory: Callable[[], Catalog]) -> None:
    catalog = catalog_factory()
    source = PostgresFilmSource(movies_dsn)
    run_etl(source, catalog)
    film = next(f for f in pg_films if "Sci-Fi" not in f.genres)
    scifi = uuid.UUID(genre_id_for("Sci-Fi"))
    execute(
        movies_dsn,
        (
            "INSERT INTO content.genre_film_work (id, film_work_id, genre_id) VALUES (%s, %s, %s)",
            (uuid.UUID(genre_link_id_for(film.film_id, str(scifi))), uuid.UUID(film.film_id), scifi),
        ),
    )
    assert run_etl(source, catalog).films == 1
    reloaded = catalog.get(film.film_id)
    assert reloaded is not None
    assert "Sci-Fi" in reloaded.genres
    assert film.film_id in {f.film_id for f in catalog.search(genre="sci-fi", size=50).films}
    source.close()


class DyingCatalog(Catalog):
    """Wraps a catalogue and dies on the upsert after ``survive`` successful ones."""

    def __init__(self, inner: Catalog, survive: int) -> None:
        self.inner = inner
        self.left = survive

    def upsert(self, films: Iterable[Film], state: EtlState | None = None) -> int:
        if self.left == 0:
            raise CatalogUnavailable("killed halfway")
        self.left -= 1
        return self.inner.upsert(films, state)

    def delete(self, film_ids: Iterable[str]) -> int:
        return self.inner.delete(film_ids)

    def etl_state(self) -> EtlState | None:
        return self.inner.etl_state()

    def search(
        self,
        query: str | None = None,
        genre: str | None = None,
        sort: SortOrder | None = None,
        page: int = 1,
        size: int = 20,
    ) -> FilmPage:
        return self.inner.search(query, genre, sort, page, size)

    def get(self, film_id: str) -> Film | None:
        return self.inner.get(film_id)

    def get_many(self, film_ids: Sequence[str]) -> list[Film]:
        return self.inner.get_many(film_ids)

    def genres(self) -> list[GenreCount]:
        return self.inner.genres()

    def films(self) -> Iterator[Film]:
        return self.inner.films()

    def search_persons(self, query: str, page: int = 1, size: int = 20) -> PersonPage:
        return self.inner.search_persons(query, page, size)

    def person(self, person_id: str) -> Person | None:
        return self.inner.person(person_id)

    def person_films(self, person_id: str) -> list[Film]:
        return self.inner.person_films(person_id)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()


def test_killed_etl_resumes_after_the_last_saved_batch(
    shared_movies_dsn: str, pg_films: list[Film], catalog_factory: Callable[[], Catalog]
) -> None:
    source = PostgresFilmSource(shared_movies_dsn)
    with pytest.raises(CatalogUnavailable, match="killed"):
        run_etl(source, DyingCatalog(catalog_factory(), survive=2), batch_size=4)
    resumed = run_etl(source, catalog_factory(), batch_size=4)
    assert resumed.films == len(pg_films) - 8
    assert catalog_factory().search(size=50).total == len(pg_films)
    source.close()


def test_unreachable_database_raises_source_unavailable() -> None:
    source = PostgresFilmSource("postgresql://postgres@127.0.0.1:9/movies?connect_timeout=2")
    with pytest.raises(SourceUnavailable, match="cannot reach"):
        list(source.batches(None, 10))


def test_database_without_the_schema_raises_source_unavailable(empty_dsn: str) -> None:
    with pytest.raises(SourceUnavailable, match=r"lacks schema\.sql's tables or columns"):
        list(PostgresFilmSource(empty_dsn).batches(None, 10))


def test_standard_dump_without_schema_sql_raises_source_unavailable(empty_dsn: str, standard_dump: str) -> None:
    apply_sql(empty_dsn, standard_dump)
    with pytest.raises(SourceUnavailable, match=r"apply schema\.sql"):
        list(PostgresFilmSource(empty_dsn).batches(None, 10))


def test_film_ids_in_postgres_are_the_platform_ids(shared_movies_dsn: str) -> None:
    found = scalar(shared_movies_dsn, "SELECT id::text FROM content.film_work WHERE title = %s", ("Film number 7",))
    assert found == film_id_for("pgtest:7")


def test_every_role_reaches_its_own_tuple(movies_dsn: str) -> None:
    film = Film(film_id_for("added:roles"), "Roles", 2000, ("Drama",))
    ann = Person(person_id_for("Ann Lee"), "Ann Lee")
    save_film(movies_dsn, film)
    for role in (DIRECTOR, ACTOR, WRITER):
        execute(
            movies_dsn,
            (
                "INSERT INTO content.person (id, full_name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (uuid.UUID(ann.person_id), ann.full_name),
            ),
            (
                "INSERT INTO content.person_film_work (id, person_id, film_work_id, role) VALUES (%s, %s, %s, %s)",
                (uuid.uuid4(), uuid.UUID(ann.person_id), uuid.UUID(film.film_id), role),
            ),
        )
        read = by_id(read_all(movies_dsn)[0])[film.film_id]
        assert read.roles_of(ann.person_id)[-1] == role
    assert read.roles_of(ann.person_id) == (DIRECTOR, ACTOR, WRITER)
