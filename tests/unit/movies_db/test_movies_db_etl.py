"""The ETL from a film source into the embedded (SQLite) catalogue: batches, restarts, deletions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from movies_db.etl import run_etl
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.columns import Columns
from recsys_common.domain import Film
from recsys_common.ports.catalog import CatalogUnavailable, EtlState
from tests.fakes import FakeFilmSource

SEED_TIME = datetime(2026, 11, 1, tzinfo=UTC)


class DyingCatalog(SqliteCatalog):
    """Dies on the upsert after ``survive`` successful ones: an ETL killed halfway."""

    def __init__(self, path, survive: int) -> None:
        super().__init__(path)
        self.left = survive

    def upsert(self, films: Iterable[Film], state: EtlState | None = None) -> int:
        if self.left == 0:
            raise CatalogUnavailable("killed")
        self.left -= 1
        return super().upsert(films, state)


@pytest.fixture
def catalog(tmp_path):
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    yield catalog
    catalog.close()


def test_first_run_loads_every_film_in_batches(catalog, make_frame) -> None:
    report = run_etl(FakeFilmSource(make_frame(7), SEED_TIME), catalog, batch_size=3)
    assert (report.films, report.batches) == (7, 3)
    assert catalog.search(size=10).total == 7
    assert catalog.etl_state() == report.state
    assert report.state is not None
    assert report.state.modified == SEED_TIME


def test_rerun_of_the_same_seed_loads_nothing_and_a_newer_seed_reloads(catalog, make_frame) -> None:
    frame = make_frame(4)
    run_etl(FakeFilmSource(frame, SEED_TIME), catalog)
    assert run_etl(FakeFilmSource(frame, SEED_TIME), catalog).films == 0
    frame.loc[0, Columns.Title] = "Renamed Film"
    report = run_etl(FakeFilmSource(frame, SEED_TIME + timedelta(hours=1)), catalog)
    assert report.films == 4
    assert [f.title for f in catalog.search("renamed").films] == ["Renamed Film"]
    assert catalog.search(size=10).total == 4  # replaced by id, not added


def test_killed_run_resumes_after_the_last_saved_batch(tmp_path, make_frame) -> None:
    source = FakeFilmSource(make_frame(10), SEED_TIME)
    dying = DyingCatalog(tmp_path / "catalog.sqlite", survive=2)
    with pytest.raises(CatalogUnavailable, match="killed"):
        run_etl(source, dying, batch_size=3)
    dying.close()
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    report = run_etl(source, catalog, batch_size=3)
    assert report.films == 4  # the 6 films of the two saved batches are not loaded again
    assert catalog.search(size=20).total == 10
    catalog.close()


def test_full_run_ignores_the_saved_state(catalog, make_frame) -> None:
    source = FakeFilmSource(make_frame(3), SEED_TIME)
    run_etl(source, catalog)
    assert run_etl(source, catalog, full=True).films == 3


def test_films_deleted_from_the_source_are_deleted_from_the_catalogue(catalog, make_frame) -> None:
    frame = make_frame(6)
    run_etl(FakeFilmSource(frame, SEED_TIME), catalog)
    gone = set(frame[Columns.Item].iloc[[1, 4]])
    report = run_etl(FakeFilmSource(frame.drop(index=[1, 4]), SEED_TIME), catalog)
    assert (report.films, report.deleted) == (0, 2)
    assert {f.film_id for f in catalog.films()} == set(frame[Columns.Item]) - gone
    assert run_etl(FakeFilmSource(frame.drop(index=[1, 4]), SEED_TIME), catalog).deleted == 0


def test_a_film_added_while_another_is_deleted_both_reach_the_catalogue(catalog, make_frame) -> None:
    frame = make_frame(5)
    run_etl(FakeFilmSource(frame.iloc[:4], SEED_TIME), catalog)
    swapped = frame.drop(index=[0])  # film 0 deleted, film 4 added: the source's count is unchanged
    report = run_etl(FakeFilmSource(swapped, SEED_TIME + timedelta(hours=1)), catalog)
    # once the addition is loaded the catalogue holds one film more than the source: the deletion shows
    assert (report.films, report.deleted) == (4, 1)
    assert {f.film_id for f in catalog.films()} == set(swapped[Columns.Item])


def test_fake_source_needs_an_aware_time_and_a_positive_batch(make_frame) -> None:
    with pytest.raises(ValueError, match="time zone"):
        FakeFilmSource(make_frame(1), datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="batch size"):
        list(FakeFilmSource(make_frame(1), SEED_TIME).batches(None, 0))
