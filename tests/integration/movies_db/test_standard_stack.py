"""Bring your own movies database: a dump in the standard layout (persons included) goes Postgres ->
schema.sql -> ETL -> catalogue -> engine cycle -> Movies API, with its own ids kept all the way."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app
from movies_api.settings import MoviesApiSettings
from movies_db.etl import run_etl
from movies_db.postgres import PostgresFilmSource
from recommender_engine.bootstrap import bootstrap
from recommender_engine.cycle import ListConfig
from recommender_engine.model.hybrid import ModelConfig
from recommender_engine.settings import EngineSettings
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.columns import Columns
from tests.datasets import synthetic_ratings

pytestmark = pytest.mark.integration

SECRET = "integration-test-secret-32-bytes-long!"
#: An actor and a writer the dump credits (the seed knows directors only), with ids of the dump's own.
ACTOR_ID = "6d1f9a52-0c3e-4b7a-9e8d-2f4a6b8c0d1e"
WRITER_ID = "7e2a0b63-1d4f-4c8b-8f9e-3a5b7c9d1e2f"


def credit(dsn: str, person_id: str, name: str, film_id: str, role: str) -> None:
    """What a standard dump holds for a person credited on a film."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            b"INSERT INTO content.person (id, full_name, created, modified) VALUES (%s, %s, now(), now()) "
            b"ON CONFLICT DO NOTHING",
            (uuid.UUID(person_id), name),
        )
        conn.execute(
            b"INSERT INTO content.person_film_work (id, person_id, film_work_id, role, created) "
            b"VALUES (%s, %s, %s, %s, now())",
            (uuid.uuid4(), uuid.UUID(person_id), uuid.UUID(film_id), role),
        )


def test_a_standard_dump_reaches_the_engine_and_the_movies_api(dump_dsn: str, pg_frame: pd.DataFrame, tmp_path: Path):
    film = str(pg_frame[Columns.Item].iloc[2])
    credit(dump_dsn, ACTOR_ID, "Dana Reyes", film, "actor")
    credit(dump_dsn, WRITER_ID, "Eli Moreau", film, "writer")
    settings = EngineSettings(
        data_dir=tmp_path,
        lists=ListConfig(must_watch_len=5, genre_len=3, cold_start_len=5),
        model=ModelConfig(epochs=2, no_components=8),
    )
    source = PostgresFilmSource(dump_dsn)
    catalog = SqliteCatalog(settings.catalog_db)
    try:
        assert run_etl(source, catalog).films == len(pg_frame)
    finally:
        source.close()
        catalog.close()

    engine_app = bootstrap(settings)
    try:
        engine_app.ratings.append(synthetic_ratings(pg_frame, n_users=8, per_user=4))
        result = engine_app.engine.run_cycle()
        assert result.status == "published" and result.left_out == {}
        assert result.metrics["films"] == len(pg_frame)
    finally:
        engine_app.close()

    with TestClient(create_app(MoviesApiSettings(data_dir=tmp_path, jwt_secret=SECRET))) as api:
        card = api.get(f"/api/v1/films/{film}").json()
        assert card["actors"] == [{"id": ACTOR_ID, "name": "Dana Reyes"}]
        assert card["writers"] == [{"id": WRITER_ID, "name": "Eli Moreau"}]
        assert card["directors"], "the dump's directors"
        with psycopg.connect(dump_dsn) as conn:
            dump_genre_ids = {str(r[0]) for r in conn.execute(b"SELECT id FROM content.genre").fetchall()}
        assert set(card["genre_ids"]) <= dump_genre_ids  # the dump's own ids, not derived ones
        genres = api.get("/api/v1/genres").json()
        assert {g["id"] for g in genres} == dump_genre_ids
        drama = next(g for g in genres if g["name"] == "Drama")
        by_id = api.get("/api/v1/films", params={"filter[genre]": drama["id"], "page[size]": 50}).json()
        assert by_id["total"] == drama["film_count"]
        found = api.get("/api/v1/persons/search", params={"query": "reyes"}).json()
        assert [(p["id"], p["films"][0]["roles"]) for p in found["persons"]] == [(ACTOR_ID, ["actor"])]
        assert [c["film_id"] for c in api.get(f"/api/v1/persons/{WRITER_ID}/film").json()] == [film]
