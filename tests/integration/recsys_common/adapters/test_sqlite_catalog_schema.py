"""A SQLite catalogue file of an older schema version: readers are told to rebuild it, writers rebuild it."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recsys_common.adapters.sqlite_catalog import SCHEMA_VERSION, SqliteCatalog
from recsys_common.domain import Film, Person
from recsys_common.ids import film_id_for, person_id_for
from recsys_common.ports.catalog import CatalogUnavailable, EtlState, PersonPage, stored_genre_ids

pytestmark = pytest.mark.integration

#: The catalogue file as version 1 wrote it (films and genre names only), with one film and an ETL state.
VERSION_1 = """
CREATE TABLE films (
    id INTEGER PRIMARY KEY, film_id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, year INTEGER,
    genres TEXT NOT NULL, imdb_rating REAL, imdb_votes INTEGER, rt_rating REAL, description TEXT NOT NULL
);
CREATE TABLE film_genres (
    genre TEXT NOT NULL COLLATE NOCASE, film INTEGER NOT NULL, PRIMARY KEY (genre, film)
) WITHOUT ROWID;
CREATE INDEX film_genres_film ON film_genres (film);
CREATE VIRTUAL TABLE films_fts USING fts5(
    title, description, content='films', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER films_fts_insert AFTER INSERT ON films BEGIN
    INSERT INTO films_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;
CREATE TABLE etl_state (name TEXT PRIMARY KEY CHECK (name = 'films'), state TEXT NOT NULL);
INSERT INTO films (film_id, title, year, genres, description)
    VALUES ('old-film', 'Old Film', 1950, '["Drama"]', 'From the old file.');
INSERT INTO film_genres (genre, film) VALUES ('Drama', 1);
INSERT INTO etl_state (name, state) VALUES ('films', '{"modified": "2026-01-01T00:00:00+00:00", "last_id": "x"}');
PRAGMA user_version = 1;
"""

FILM = Film(
    film_id_for("schema:1"),
    "New Film",
    genres=("Comedy",),
    description="Written after the rebuild.",
    directors=(Person(person_id_for("Nina Director"), "Nina Director"),),
)


def write_file(path: Path, script: str) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(script)


def scalar(path: Path, sql: str) -> object:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.sqlite"
    write_file(path, VERSION_1)
    return path


def test_a_reader_of_an_older_file_is_told_to_rebuild_it(old_file: Path) -> None:
    catalog = SqliteCatalog(old_file)
    for read in (
        catalog.search,
        lambda: catalog.get("old-film"),
        catalog.genres,
        lambda: list(catalog.films()),
        lambda: catalog.search_persons("nina"),
        catalog.ping,
        catalog.etl_state,
    ):
        with pytest.raises(CatalogUnavailable, match=r"older schema version 1 .*`recsys data`.*ETL"):
            read()
    catalog.close()
    assert scalar(old_file, "SELECT count(*) FROM films") == 1  # left as it was


def test_a_writer_rebuilds_an_older_file_and_readers_then_read_it(
    old_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reader = SqliteCatalog(old_file)
    with pytest.raises(CatalogUnavailable):
        reader.search()
    writer = SqliteCatalog(old_file)
    with caplog.at_level(logging.WARNING, logger="recsys_common.adapters.sqlite_catalog"):
        assert writer.upsert([FILM]) == 1
    assert "older schema version 1: rebuilding" in caplog.text
    assert writer.get("old-film") is None  # the old films are dropped (the seed step or the ETL refills)
    assert writer.etl_state() is None  # so the ETL loads everything again
    assert reader.search() == ((replace(FILM, genre_ids=stored_genre_ids(FILM)),), 1)
    assert reader.search_persons("nina director") == PersonPage(FILM.directors, 1)
    assert scalar(old_file, "PRAGMA user_version") == SCHEMA_VERSION
    reader.close()
    writer.close()


def test_a_delete_rebuilds_an_older_file_too(old_file: Path) -> None:
    catalog = SqliteCatalog(old_file)
    assert catalog.delete(["old-film"]) == 0  # the rebuilt tables hold no film
    assert catalog.search() == ((), 0)
    state = EtlState(datetime(2026, 11, 1, tzinfo=UTC), FILM.film_id)
    catalog.upsert([FILM], state)
    assert catalog.etl_state() == state
    catalog.close()


def test_a_newer_file_is_neither_read_nor_written(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    write_file(path, f"CREATE TABLE films (id INTEGER PRIMARY KEY); PRAGMA user_version = {SCHEMA_VERSION + 1};")
    catalog = SqliteCatalog(path)
    with pytest.raises(CatalogUnavailable, match="newer"):
        catalog.search()
    with pytest.raises(CatalogUnavailable, match="newer"):
        catalog.upsert([FILM])
    catalog.close()
