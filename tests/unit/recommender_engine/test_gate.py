"""The quality gate: a new model is promoted only when it predicts viewers' newest ratings at least as
well as the serving one; a broken model is refused and the serving version keeps serving."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from recommender_engine.cycle import CycleJournal, Engine, ListConfig
from recommender_engine.gate import GateConfig
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recommender_engine.status import engine_status
from recsys_common.columns import Columns
from tests.datasets import BASE_TIMESTAMP, GENRES, synthetic_films
from tests.fakes import FakeRatingStore, FakeRecStore

FILMS = synthetic_films(60)
USERS = 90
GATE = GateConfig(min_users=30)


def _taste(user: int, count: int, start: int, at: int) -> list[tuple[str, str, float, int]]:
    """The user's ``count`` films of their one genre, from position ``start`` of that genre."""
    genre = GENRES[user % len(GENRES)]
    films = FILMS[FILMS[Columns.Genres].map(lambda g: g == (genre,))][Columns.Item].tolist()
    picked = [films[(user + start + i) % len(films)] for i in range(count)]
    return [(f"user-{user}", film, 9.0, at + i) for i, film in enumerate(picked)]


def _frame(rows: list[tuple[str, str, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(Columns.RATINGS))


class BrokenModel(HybridModel):
    """Fits like the engine's model, then scores at random: a model nobody should promote."""

    def score_block(self, user_index: npt.NDArray[np.integer]) -> npt.NDArray[np.float32]:
        rng = np.random.default_rng(int(np.sum(user_index)))
        return rng.random((len(user_index), self.n_films), dtype=np.float32)


def _engine(tmp_path, ratings, store, factory=HybridModel, gate=GATE) -> Engine:
    return Engine(
        ratings=ratings,
        store=store,
        films=lambda: FILMS,
        lists=ListConfig(must_watch_len=10, genre_len=4, cold_start_len=5),
        model=ModelConfig(epochs=15, no_components=8, num_threads=1),
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
        gate=gate,
        model_factory=factory,
    )


@pytest.fixture
def serving(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(_frame([row for u in range(USERS) for row in _taste(u, 8, 0, BASE_TIMESTAMP)]))
    first = _engine(tmp_path, ratings, store).run_cycle()
    ratings.append(_frame([row for u in range(USERS) for row in _taste(u, 2, 8, BASE_TIMESTAMP + 1000)]))
    return ratings, store, first.version


def test_a_model_as_good_as_the_serving_one_is_promoted_with_its_figures(tmp_path, serving):
    ratings, store, first = serving
    result = _engine(tmp_path, ratings, store).run_cycle()
    assert result.status == "published" and result.version != first
    assert result.reason.startswith("gate: nDCG@10 of 90 users' newest ratings")
    meta = store.current()
    assert meta is not None and meta.metrics["gate_users"] == USERS
    assert meta.metrics["gate_candidate_ndcg"] > 0.2  # the users' newest films are found


def test_a_broken_model_is_refused_and_the_serving_version_keeps_serving(tmp_path, serving):
    ratings, store, first = serving
    engine = _engine(tmp_path, ratings, store, factory=BrokenModel)
    result = engine.run_cycle()
    assert result.status == "refused"
    assert result.version == first
    current = store.current()
    assert current is not None and current.version == first
    assert result.metrics["gate_candidate_ndcg"] < result.metrics["gate_serving_ndcg"]
    status = engine_status(store, engine.journal, "somewhere", pd.Timestamp.now(tz="UTC").to_pydatetime())
    assert status.healthy and status.last_cycle is not None and status.last_cycle["status"] == "refused"


def test_force_overrides_the_gate_saying_so(tmp_path, serving):
    ratings, store, first = serving
    result = _engine(tmp_path, ratings, store, factory=BrokenModel).run_cycle(force=True)
    assert result.status == "published" and result.version != first
    assert result.reason == "gate: overridden by --force"


def test_too_few_new_raters_are_not_judged(tmp_path, serving):
    ratings, store, _ = serving
    result = _engine(tmp_path, ratings, store, factory=BrokenModel, gate=GateConfig(min_users=USERS + 1)).run_cycle()
    assert result.status == "published"
    assert "not judged" in result.reason


def test_the_gate_can_be_turned_off(tmp_path, serving):
    ratings, store, _ = serving
    result = _engine(tmp_path, ratings, store, factory=BrokenModel, gate=GateConfig(enabled=False)).run_cycle()
    assert result.status == "published" and result.reason == "gate: off"
