"""The engine's Prometheus metrics, read from the journal and the serving version at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from recommender_engine.cycle import CycleJournal
from recommender_engine.metrics import EngineCollector
from tests.datasets import synthetic_films, synthetic_ratings
from tests.engines import small_engine
from tests.fakes import FakeRatingStore, FakeRecStore


def _scrape(store: FakeRecStore, journal: CycleJournal) -> str:
    registry = CollectorRegistry()
    registry.register(EngineCollector(store, journal))
    return generate_latest(registry).decode()


def test_cycles_steps_and_the_serving_version_are_exported(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(synthetic_ratings(synthetic_films(), 10, 5))
    journal = CycleJournal(tmp_path / "cycles.jsonl")
    engine = small_engine(tmp_path, ratings, store, journal=journal)
    empty = _scrape(store, journal)
    assert 'recsys_engine_cycles_total{status="published"} 0.0' in empty
    assert "recsys_engine_serving_age_seconds" not in empty
    engine.run_cycle()
    engine.run_cycle()  # skipped
    text = _scrape(store, journal)
    assert 'recsys_engine_cycles_total{status="published"} 1.0' in text
    assert 'recsys_engine_cycles_total{status="skipped"} 1.0' in text
    assert 'recsys_engine_step_seconds{step="fit"}' in text
    assert "recsys_engine_users 10.0" in text
    assert "recsys_engine_ratings_used 50.0" in text
    assert "recsys_engine_last_cycle_failed 0.0" in text
    assert "recsys_engine_store_up 1.0" in text
    store.down = True
    assert "recsys_engine_store_up 0.0" in _scrape(store, journal)
