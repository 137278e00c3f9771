"""Re-tuning on a schedule: the growth trigger, the cron trigger, the winner picked up by the next
cycle (which trains although no rating is new), a failing tuning that does not stop the schedule,
and one job at a time."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from recommender_engine.cycle import CycleJournal, CycleResult, Engine, ListConfig
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recommender_engine.model.tuned import write_tuned
from recommender_engine.retune import Retuner, apply_tuned, growth_due, tuned_on
from recommender_engine.scheduler import TuneJob, make_trigger, make_tune_trigger, run_scheduled
from tests.datasets import synthetic_films, synthetic_ratings
from tests.fakes import FakeRatingStore, FakeRecStore

FILMS = synthetic_films(30)
#: A small, fast starting configuration (the search widens its ranges to hold it).
SMALL = ModelConfig(epochs=2, no_components=4, num_threads=1)
#: Re-tuning budgets small enough for a unit test.
TRIALS = 2
BUDGET_S = 30.0


def _store(n_users: int = 40, per_user: int = 8) -> FakeRatingStore:
    ratings = FakeRatingStore()
    ratings.append(synthetic_ratings(FILMS, n_users, per_user))
    return ratings


def _tuned_file(tmp_path: Path, ratings: int, watermark: int | None) -> Path:
    path = tmp_path / "tuned_model.json"
    data = None if watermark is None else {"ratings": ratings, "watermark": watermark}
    write_tuned(path, SMALL, {"best_ndcg": 0.5, "base_ndcg": 0.4}, "2026-11-30T00:00:00+00:00", data=data)
    return path


def _more(ratings: FakeRatingStore, rows: int, first_user: int) -> None:
    extra = synthetic_ratings(FILMS, rows, 1, seed=7).assign(user_id=[f"new-{first_user + i}" for i in range(rows)])
    ratings.append(extra)


def test_the_growth_trigger_fires_when_never_tuned_on_the_store(tmp_path):
    ratings = _store()
    assert growth_due(ratings, tmp_path / "tuned_model.json", 0.2) is not None, "no file at all"
    by_hand = _tuned_file(tmp_path, 100, watermark=None)  # `recsys tune` on a data set: no watermark
    assert growth_due(ratings, by_hand, 0.2) is not None


def test_the_growth_trigger_fires_only_once_the_ratings_grew_by_the_fraction(tmp_path):
    ratings = _store()
    path = _tuned_file(tmp_path, 100, watermark=ratings.watermark())
    assert growth_due(ratings, path, 0.2) is None, "nothing new"
    _more(ratings, 19, 0)
    assert growth_due(ratings, path, 0.2) is None, "19 % is not 20 %"
    _more(ratings, 1, 19)
    reason = growth_due(ratings, path, 0.2)
    assert reason is not None and "20 rating(s)" in reason


def test_the_tuning_cron_trigger_is_built_in_utc_and_a_bad_one_refused():
    trigger = make_tune_trigger("0 3 * * 0")
    assert isinstance(trigger, CronTrigger)
    assert str(trigger.timezone) == "UTC"
    monday = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, monday) == datetime(2026, 12, 6, 3, 0, tzinfo=UTC), "Sunday 03:00 UTC"
    assert make_tune_trigger(None) is None
    with pytest.raises(ValueError, match="bad tuning cron"):
        make_tune_trigger("every sunday")


@pytest.mark.parametrize(
    ("cron", "next_fire"),
    [
        ("0 3 * * 0", datetime(2026, 12, 6, 3, 0, tzinfo=UTC)),  # crontab: 0 and 7 are Sunday
        ("0 3 * * 7", datetime(2026, 12, 6, 3, 0, tzinfo=UTC)),
        ("0 3 * * 6", datetime(2026, 12, 5, 3, 0, tzinfo=UTC)),  # Saturday
        ("0 3 * * 2-4", datetime(2026, 12, 1, 3, 0, tzinfo=UTC)),  # Tuesday to Thursday
        ("30 1 * * */3", datetime(2026, 12, 2, 1, 30, tzinfo=UTC)),  # Sun, Wed, Sat
        ("*/30 * * * *", datetime(2026, 11, 30, 12, 30, tzinfo=UTC)),
    ],
)
def test_cron_expressions_keep_crontabs_weekday_numbers(cron, next_fire):
    monday_noon = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    for trigger in (make_trigger(cron, 3600), make_tune_trigger(cron)):
        assert trigger is not None
        assert trigger.get_next_fire_time(None, monday_noon + timedelta(seconds=1)) == next_fire


@pytest.mark.parametrize("cron", ["0 3 * * 8", "0 3 * * 5-1", "0 3 * *", "0 3 * * funday"])
def test_bad_weekdays_are_refused(cron):
    with pytest.raises(ValueError, match="bad cron"):
        make_trigger(cron, 3600)


def test_a_tuning_run_writes_the_winner_with_the_ratings_it_was_tuned_on(tmp_path):
    ratings = _store()
    retuner = Retuner(
        ratings, lambda: FILMS, lambda: SMALL, tmp_path / "tuned_model.json", trials=TRIALS, budget_s=BUDGET_S
    )
    result = retuner.run("test")
    payload = json.loads(retuner.tuned_file.read_text())
    assert payload["data"] == {"ratings": len(ratings.read_all()), "watermark": ratings.watermark()}
    assert payload["validation"]["trials"] == len(result.trials) == TRIALS
    assert tuned_on(retuner.tuned_file) is not None
    assert retuner.due() is None, "no growth trigger configured"


def _engine(tmp_path: Path, ratings: FakeRatingStore, built: list[ModelConfig] | None = None) -> Engine:
    """A small engine whose models record the configuration they were built with in ``built``."""

    def factory(config: ModelConfig) -> HybridModel:
        if built is not None:
            built.append(config)
        return HybridModel(config)

    return Engine(
        ratings=ratings,
        store=FakeRecStore(),
        films=lambda: FILMS,
        lists=ListConfig(must_watch_len=5, genre_len=2, cold_start_len=5),
        model=SMALL,
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
        model_factory=factory,
    )


def test_the_next_cycle_trains_with_the_tuning_winner_although_no_rating_is_new(tmp_path):
    ratings = _store()
    built: list[ModelConfig] = []
    engine = _engine(tmp_path, ratings, built)
    assert engine.run_cycle().status == "published"
    assert engine.run_cycle().status == "skipped", "nothing new"
    path = tmp_path / "tuned_model.json"
    retuner = Retuner(ratings, lambda: FILMS, lambda: engine.model, path, trials=TRIALS, budget_s=BUDGET_S, growth=0.2)
    explicit = ModelConfig(num_threads=1)  # as if RECSYS_MODEL__NUM_THREADS=1 were set
    built.clear()

    ran = run_scheduled(
        engine.run_cycle,
        IntervalTrigger(hours=1),
        max_cycles=1,
        tuning=TuneJob(run=retuner.run, due=retuner.due),
        before_cycle=lambda: apply_tuned(engine, explicit, path),
    )

    assert ran == 1
    assert path.exists(), "the growth trigger fired (never tuned on these ratings) and the winner was written"
    assert tuned_on(path) is not None
    last = engine.journal.entries()[-1]
    assert last["status"] == "published", "a new configuration trains although no rating is new"
    winner = json.loads(path.read_text())["model"]
    used = built[-1]
    assert {name: getattr(used, name) for name in winner} == winner, "the cycle used the tuned file's fields"
    assert used.num_threads == 1, "an explicit setting still wins over the tuned file"
    assert engine.run_cycle().status == "skipped", "then skips again while nothing is new"


def test_a_bad_tuned_file_is_logged_and_the_engine_keeps_its_model(tmp_path, caplog):
    engine = _engine(tmp_path, _store())
    path = tmp_path / "tuned_model.json"
    path.write_text("{not json")
    before = engine.model
    with caplog.at_level(logging.ERROR):
        apply_tuned(engine, ModelConfig(), path)
    assert engine.model == before
    assert "not applied" in caplog.text


def _cycle_result() -> CycleResult:
    return CycleResult("skipped", "v1")


def test_a_failing_tuning_is_logged_and_the_schedule_goes_on(caplog):
    cycles: list[float] = []

    def failing(reason: str) -> None:
        raise RuntimeError(f"search blew up ({reason})")

    def cycle() -> CycleResult:
        cycles.append(time.monotonic())
        return _cycle_result()

    with caplog.at_level(logging.INFO):
        ran = run_scheduled(
            cycle,
            IntervalTrigger(seconds=0.05),
            max_cycles=3,
            tuning=TuneJob(run=failing, due=lambda: "the ratings grew"),
        )
    assert ran == len(cycles) == 3
    assert caplog.text.count("tuning (the ratings grew) failed") == 3
    assert "search blew up" in caplog.text


def test_a_growth_check_that_cannot_read_skips_the_check_only(caplog):
    def unreadable() -> str | None:
        raise ConnectionError("rating store down")

    with caplog.at_level(logging.ERROR):
        ran = run_scheduled(
            _cycle_result, IntervalTrigger(hours=1), max_cycles=1, tuning=TuneJob(run=print, due=unreadable)
        )
    assert ran == 1
    assert "could not check whether a tuning is due" in caplog.text


def test_a_tuning_and_a_cycle_never_run_at_the_same_time():
    running: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    tunings: list[str] = []
    guard = threading.Lock()

    def busy(name: str) -> None:
        with guard:
            running.append(name)
            if len(running) > 1:
                overlaps.append(tuple(running))
        time.sleep(0.05)
        with guard:
            running.remove(name)

    def cycle() -> CycleResult:
        busy("cycle")
        return _cycle_result()

    def tuning(reason: str) -> None:
        tunings.append(reason)
        busy("tune")

    ran = run_scheduled(
        cycle,
        IntervalTrigger(seconds=0.03),
        max_cycles=6,
        tuning=TuneJob(run=tuning, due=lambda: None, trigger=IntervalTrigger(seconds=0.02)),
    )
    assert ran == 6
    assert tunings, "the tuning trigger fired"
    assert set(tunings) == {"scheduled"}
    assert overlaps == []
