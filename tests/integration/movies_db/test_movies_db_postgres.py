"""schema.sql + the exported data on a real PostgreSQL, and the ETL from it into the catalogue."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from movies_db.etl import SourceUnavailable, run_etl
from movies_db.export import export_sql
from movies_db.ids import genre_link_id_for
from movies_db.postgres import PostgresFilmSource, apply_sql
from recsys_common.domain import Film, Person
from recsys_common.ids import film_id_for, genre_id_for
from recsys_common.ports.catalog import (
    Catalog,
    CatalogUnavailable,
    EtlState,
    FilmPage,
    GenreCount,
    PersonPage,
    SortOrder,
    stored_genre_ids,
)
from tests.catalogs import catalog_factory

pytestmark = pytest.mark.integration

#: schema.sql at the root of the repository.
SCHEMA_SQL = Path(__file__).resolve().parents[3] / "schema.sql"


def n_links(films: list[Film]) -> int:
    return sum(len(f.genres) for f in films)


def scalar(dsn: str, query: str, params: tuple[object, ...] = ()) -> object:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(query.encode(), params).fetchone()
    assert row is not None
    return row[0]


def modified_of(dsn: str, film_id: str) -> datetime:
    value = scalar(dsn, "SELECT modified FROM content.film_work WHERE id = %s", (uuid.UUID(film_id),))
    assert isinstance(value, datetime)
    return value


# ----- schema and data -----
def test_export_loads_every_film_genre_and_link(movies_dsn: str, pg_films: list[Film]) -> None:
    genres = {g for f in pg_films for g in f.genres}
    assert scalar(movies_dsn, "SELECT count(*) FROM content.film_work") == len(pg_films)
    assert scalar(movies_dsn, "SELECT count(*) FROM content.genre") == len(genres)
    assert scalar(movies_dsn, "SELECT count(*) FROM content.genre_film_work") == n_links(pg_films)
    film = pg_films[0]
    row = scalar(
        movies_dsn,
        "SELECT row(title, description, year, imdb_rating, imdb_votes, rt_rating)::text"
        " FROM content.film_work WHERE id = %s",
        (uuid.UUID(film.film_id),),
    )
    assert row == """("Schindler's List","It's film 0, about O'Brien",1950,5,100,0)"""
    assert scalar(movies_dsn, "SELECT id::text FROM content.genre WHERE name = 'Drama'") == genre_id_for("Drama")


def test_loading_schema_and_data_again_changes_nothing(
    movies_dsn: str, pg_frame: pd.DataFrame, pg_films: list[Film]
) -> None:
    apply_sql(movies_dsn, SCHEMA_SQL.read_text(encoding="utf-8"))
    apply_sql(movies_dsn, export_sql(pg_frame))
    assert scalar(movies_dsn, "SELECT count(*) FROM content.film_work") == len(pg_films)
    assert scalar(movies_dsn, "SELECT count(*) FROM content.genre_film_work") == n_links(pg_films)


Params = Callable[[Film], tuple[object, ...]]
BAD_STATEMENTS = [
    pytest.param(
        "INSERT INTO content.genre_film_work (id, film_work_id, genre_id) VALUES (%s, %s, %s)",
        lambda f: (uuid.uuid4(), uuid.uuid4(), uuid.UUID(genre_id_for(f.genres[0]))),
        psycopg.errors.ForeignKeyViolation,
        id="link-to-unknown-film",
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
        "UPDATE content.film_work SET imdb_rating = 10.5 WHERE id = %s",
        lambda f: (uuid.UUID(f.film_id),),
        psycopg.errors.CheckViolation,
        id="imdb-rating-above-10",
    ),
    pytest.param(
        "UPDATE content.film_work SET imdb_rating = 0.5 WHERE id = %s",
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
        "INSERT INTO content.film_work (id, title, year) VALUES (%s, 'Too old', 1700)",
        lambda f: (uuid.uuid4(),),
        psycopg.errors.CheckViolation,
        id="year-out-of-range",
    ),
]


@pytest.mark.parametrize(("statement", "params", "error"), BAD_STATEMENTS)
def test_constraints_reject_bad_rows(
    movies_dsn: str, pg_films: list[Film], statement: str, params: Params, error: type[Exception]
) -> None:
    with psycopg.connect(movies_dsn) as conn, pytest.raises(error):
        conn.execute(statement.encode(), params(pg_films[0]))


def test_deleting_a_film_deletes_its_genre_links(movies_dsn: str, pg_films: list[Film]) -> None:
    film = pg_films[0]
    with psycopg.connect(movies_dsn, autocommit=True) as conn:
        conn.execute(b"DELETE FROM content.film_work WHERE id = %s", (uuid.UUID(film.film_id),))
    assert scalar(movies_dsn, "SELECT count(*) FROM content.genre_film_work") == n_links(pg_films) - len(film.genres)


def test_changes_to_a_film_its_links_or_its_genre_names_bump_modified(movies_dsn: str, pg_films: list[Film]) -> None:
    film = next(f for f in pg_films if "Comedy" not in f.genres)
    other = next(f for f in pg_films if f.film_id != film.film_id)
    before = modified_of(movies_dsn, film.film_id)
    with psycopg.connect(movies_dsn, autocommit=True) as conn:
        conn.execute(b"UPDATE content.film_work SET title = 'New title' WHERE id = %s", (uuid.UUID(film.film_id),))
    after_title = modified_of(movies_dsn, film.film_id)
    assert after_title > before
    with psycopg.connect(movies_dsn, autocommit=True) as conn:
        comedy = uuid.UUID(genre_id_for("Comedy"))
        conn.execute(
            b"INSERT INTO content.genre_film_work (id, film_work_id, genre_id) VALUES (%s, %s, %s)",
            (uuid.UUID(genre_link_id_for(film.film_id, str(comedy))), uuid.UUID(film.film_id), comedy),
        )
    after_link = modified_of(movies_dsn, film.film_id)
    assert after_link > after_title
    other_before = modified_of(movies_dsn, other.film_id)
    with psycopg.connect(movies_dsn, autocommit=True) as conn:
        conn.execute(b"UPDATE content.genre SET name = 'Renamed Genre' WHERE name = %s", (other.genres[0],))
    assert modified_of(movies_dsn, other.film_id) > other_before


# ----- the ETL into the catalogue -----
@pytest.fixture(params=["sqlite", "elasticsearch"], name="catalog_factory")
def catalog_factory_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Catalog]]:
    with catalog_factory(request.param, tmp_path, "the ETL") as make:
        yield make


def sorted_genres(film: Film) -> Film:
    """The film as the catalogue holds it (genre ids derived where the source has none), genres by name."""
    pairs = sorted(zip(film.genres, stored_genre_ids(film), strict=True))
    return replace(film, genres=tuple(name for name, _ in pairs), genre_ids=tuple(i for _, i in pairs))


def test_etl_copies_every_film_then_only_what_changed(
    movies_dsn: str, pg_films: list[Film], catalog_factory: Callable[[], Catalog]
) -> None:
    catalog = catalog_factory()
    source = PostgresFilmSource(movies_dsn)
    first = run_etl(source, catalog, batch_size=5)
    assert (first.films, first.batches) == (len(pg_films), 3)
    loaded = catalog.get_many([f.film_id for f in pg_films])
    assert [sorted_genres(f) for f in loaded] == [sorted_genres(f) for f in pg_films]

    assert run_etl(source, catalog).films == 0  # nothing changed: nothing loaded

    changed = pg_films[4]
    with psycopg.connect(movies_dsn, autocommit=True) as conn:
        conn.execute(
            b"UPDATE content.film_work SET modified = now(), title = 'Retitled Picture' WHERE id = %s",
            (uuid.UUID(changed.film_id),),
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
    with psycopg.connect(movies_dsn, autocommit=True) as conn:
        conn.execute(
            b"INSERT INTO content.genre_film_work (id, film_work_id, genre_id) VALUES (%s, %s, %s)",
            (uuid.uuid4(), uuid.UUID(film.film_id), scifi),
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
    movies_dsn: str, pg_films: list[Film], catalog_factory: Callable[[], Catalog]
) -> None:
    source = PostgresFilmSource(movies_dsn)
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
    with pytest.raises(SourceUnavailable, match=r"no schema\.sql tables"):
        list(PostgresFilmSource(empty_dsn).batches(None, 10))


def test_film_ids_in_postgres_are_the_platform_ids(movies_dsn: str) -> None:
    found = scalar(movies_dsn, "SELECT id::text FROM content.film_work WHERE title = %s", ("Film number 7",))
    assert found == film_id_for("pgtest:7")
