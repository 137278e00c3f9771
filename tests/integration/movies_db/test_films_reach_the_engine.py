"""One film registry, through real parts: films added and deleted in Postgres reach the catalogue
through the ETL, and the engine's next cycle (which reads its films from that catalogue) sees them;
ratings of films the catalogue does not hold are left out and counted, never fatal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from movies_db.cli import added_film_id
from movies_db.etl import run_etl
from movies_db.postgres import PostgresFilmSource, delete_film, save_film
from recommender_engine.bootstrap import bootstrap
from recommender_engine.cycle import ListConfig
from recommender_engine.model.hybrid import ModelConfig
from recommender_engine.settings import EngineSettings
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.columns import Columns
from recsys_common.domain import Film
from recsys_common.ids import film_id_for
from tests.datasets import synthetic_ratings

pytestmark = pytest.mark.integration


def test_films_added_and_deleted_in_postgres_reach_the_engine(movies_dsn: str, pg_frame: pd.DataFrame, tmp_path: Path):
    settings = EngineSettings(
        data_dir=tmp_path,
        lists=ListConfig(must_watch_len=5, genre_len=3, cold_start_len=5),
        model=ModelConfig(epochs=2, no_components=8),
    )
    source = PostgresFilmSource(movies_dsn)
    catalog = SqliteCatalog(settings.catalog_db)
    engine_app = bootstrap(settings)
    try:
        run_etl(source, catalog)
        unknown = film_id_for("not-through-the-etl-yet:1")
        ratings = synthetic_ratings(pg_frame, n_users=8, per_user=4)
        stray = pd.DataFrame([["user-0", unknown, 7.0, 1_700_000_000]], columns=list(Columns.RATINGS))
        engine_app.ratings.append(pd.concat([ratings, stray], ignore_index=True))

        first = engine_app.engine.run_cycle()
        assert first.status == "published"
        assert first.left_out == {"unknown_film": 1}
        assert engine_app.engine.run_cycle().status == "skipped"

        heat = Film(added_film_id("Heat", 1995), "Heat", 1995, ("Drama",), 8.3, 700_000)
        save_film(movies_dsn, heat)
        assert engine_app.engine.run_cycle().status == "skipped"  # not in the catalogue until the ETL runs
        run_etl(source, catalog)
        added = engine_app.engine.run_cycle()
        assert added.status == "published"  # a catalogue change is new data
        meta = engine_app.store.current()
        assert meta is not None and heat.film_id in engine_app.store.films(meta.version)

        gone = str(pg_frame[Columns.Item].iloc[0])
        rated_gone = int((engine_app.ratings.read_all()[Columns.Item] == gone).sum())
        assert delete_film(movies_dsn, gone)
        run_etl(source, catalog)
        after = engine_app.engine.run_cycle()
        assert after.status == "published"
        assert after.left_out == {"unknown_film": 1 + rated_gone}
        meta = engine_app.store.current()
        assert meta is not None and gone not in engine_app.store.films(meta.version)
        for user in ratings[Columns.User].unique():
            lists = engine_app.store.user_lists(str(user), meta)
            assert lists is not None and gone not in lists.must_watch
    finally:
        engine_app.close()
        catalog.close()
        source.close()
