"""``recsys status``'s report: healthy only with a published version and a last cycle that did not fail."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from recommender_engine.cycle import CycleError, CycleJournal, Engine
from recommender_engine.status import engine_status, parse_time
from recsys_common.domain import ColdStartLists
from recsys_common.ports.catalog import CatalogUnavailable
from tests.datasets import synthetic_films, synthetic_ratings
from tests.engines import small_engine
from tests.fakes import FakeRatingStore, FakeRecStore


def _a_second_later() -> datetime:
    """The status is asked for a second after the cycles the test ran (never before them)."""
    return datetime.now(UTC) + timedelta(seconds=1)


def _engine(tmp_path, store, films) -> Engine:
    ratings = FakeRatingStore()
    ratings.append(synthetic_ratings(synthetic_films(), 10, 5))
    return small_engine(tmp_path, ratings, store, films)


def test_nothing_published_is_unhealthy_and_says_what_to_run(tmp_path):
    status = engine_status(FakeRecStore(), CycleJournal(tmp_path / "none.jsonl"), "somewhere", _a_second_later())
    assert not status.healthy
    assert status.problem is not None and "recsys run" in status.problem
    assert status.to_dict()["serving"] is None


def test_published_version_is_healthy_with_its_age_and_counts(tmp_path):
    store = FakeRecStore()
    engine = _engine(tmp_path, store, synthetic_films)
    engine.run_cycle()
    status = engine_status(store, engine.journal, "somewhere", _a_second_later())
    assert status.healthy and status.problem is None
    body = status.to_dict()
    assert body["serving"]["users"] == 10
    assert body["serving"]["metrics"]["ratings_left_out"] == 0
    assert body["serving"]["age_seconds"] > 0
    assert body["last_cycle"]["status"] == "published"


def test_failing_cycles_are_unhealthy_since_the_first_failure_and_the_old_version_keeps_serving(tmp_path):
    store = FakeRecStore()
    catalogue = {"up": True}

    def films():
        if not catalogue["up"]:
            raise CatalogUnavailable("Elasticsearch is down")
        return synthetic_films()

    engine = _engine(tmp_path, store, films)
    published = engine.run_cycle().version
    catalogue["up"] = False
    for _ in range(2):
        with pytest.raises(CycleError):
            engine.run_cycle(force=True)
    status = engine_status(store, engine.journal, "somewhere", _a_second_later())
    assert not status.healthy
    assert status.failed_cycles == 2
    entries = engine.journal.entries()
    assert status.failing_since == entries[-2]["at"]
    assert status.problem is not None
    assert "Elasticsearch is down" in status.problem and f"version {published} keeps serving" in status.problem
    catalogue["up"] = True
    engine.run_cycle()  # skipped: nothing new, but the cycle ran
    assert engine_status(store, engine.journal, "somewhere", _a_second_later()).healthy


def test_times_in_both_journal_formats_parse_as_utc():
    assert parse_time("2026-11-30T08:00:00Z") == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert parse_time("20261130T080000Z") == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert parse_time("yesterday") is None


def test_a_publish_that_died_is_shown_pending_and_removed_by_the_next_cycle(tmp_path):
    store = FakeRecStore()
    engine = _engine(tmp_path, store, synthetic_films)
    engine.run_cycle()
    serving = store.current()
    assert serving is not None
    killed = store.begin(replace(serving, version="killed-publish"), list(store.films(serving.version)))
    killed.put_cold_start(ColdStartLists(overall=()))  # and the process died: no commit, no abort
    status = engine_status(store, engine.journal, "somewhere", _a_second_later())
    assert [p["version"] for p in status.to_dict()["pending"]] == ["killed-publish"]
    engine.run_cycle()  # skipped (nothing new), but it cleans up first
    assert store.pending() == {}
    assert engine_status(store, engine.journal, "somewhere", _a_second_later()).to_dict()["pending"] == []
