"""The hyper-parameter search: it finds a better model when the starting one is wrong, never
returns one worse than the starting one on validation, and stops at its time budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender_engine.model.hybrid import ModelConfig
from recommender_engine.tuning import searched, tune
from recsys_common.columns import Columns
from tests.datasets import BASE_TIMESTAMP, synthetic_films

N_FILMS = 40
N_USERS = 80
PER_USER = 12
GROUPS = 4
#: Deliberately wrong: LightFM alone, one epoch at a tiny learning rate, barely trained.
WRONG = ModelConfig(blend_weight=0.0, epochs=1, learning_rate=0.001, no_components=4, num_threads=1)


@pytest.fixture(scope="module")
def films() -> pd.DataFrame:
    return synthetic_films(N_FILMS)


@pytest.fixture(scope="module")
def ratings(films: pd.DataFrame) -> pd.DataFrame:
    return taste_groups(films)


def taste_groups(films: pd.DataFrame) -> pd.DataFrame:
    """Four taste groups, each rating films of its own quarter of the catalogue, at random times."""
    rng = np.random.default_rng(5)
    size = N_FILMS // GROUPS
    ids = films[Columns.Item].to_numpy()
    rows = [
        (f"user-{user}", ids[(user % GROUPS) * size + film], 8.0, BASE_TIMESTAMP + int(rng.integers(0, 10_000)))
        for user in range(N_USERS)
        for film in rng.choice(size, size=min(PER_USER, size), replace=False)
    ]
    return pd.DataFrame(rows, columns=list(Columns.RATINGS))


def test_the_search_beats_a_wrong_starting_config(ratings, films):
    result = tune(ratings, films, WRONG, budget_s=120, trials=6, seed=3)

    assert result.best_trial.ndcg > result.base_trial.ndcg + 0.3
    assert result.best != WRONG
    assert result.best.num_threads == 1, "fields outside the search keep the starting config's values"


def test_the_starting_config_is_trial_0_and_the_winner_is_never_worse(ratings, films):
    base = ModelConfig(num_threads=1, epochs=10, no_components=16)
    result = tune(ratings, films, base, budget_s=120, trials=3, seed=1)

    assert result.trials[0].number == 0
    assert result.trials[0].params == searched(base)
    assert result.best_trial.ndcg >= result.base_trial.ndcg
    assert result.best_trial.ndcg == max(trial.ndcg for trial in result.trials)


def test_the_search_stops_at_its_time_budget(ratings, films):
    result = tune(ratings, films, WRONG, budget_s=0.01, trials=50, seed=1)

    assert 1 <= len(result.trials) < 50


def test_a_starting_value_outside_the_search_range_is_still_evaluated(ratings, films):
    result = tune(ratings, films, WRONG, budget_s=60, trials=1)

    assert result.trials[0].params["epochs"] == 1
    assert result.best == WRONG


def test_at_least_one_trial_is_needed(ratings, films):
    with pytest.raises(ValueError, match="at least one trial"):
        tune(ratings, films, WRONG, budget_s=60, trials=0)
