"""Tiny synthetic catalogues and ratings for the model tests."""

import numpy as np
import pandas as pd
import pytest

from recsys_common.columns import Columns
from recsys_common.ids import film_id_for


def make_films(n_films: int) -> pd.DataFrame:
    """Films 0..n/2-1 are Action, the rest Drama; IMDb fields known for even films only."""
    half = n_films // 2
    return pd.DataFrame(
        {
            Columns.Item: [film_id_for(f"test:{i}") for i in range(n_films)],
            Columns.SourceId: [f"test:{i}" for i in range(n_films)],
            Columns.Title: [f"Film {i}" for i in range(n_films)],
            Columns.Year: [1950 + 7 * i for i in range(n_films)],
            Columns.Genres: [("Action",) if i < half else ("Drama", "Romance") for i in range(n_films)],
            Columns.ImdbRating: [5.0 + (i % 5) if i % 2 == 0 else np.nan for i in range(n_films)],
            Columns.ImdbVotes: [10.0 ** (1 + i % 4) if i % 2 == 0 else np.nan for i in range(n_films)],
            Columns.RtRating: [float(i * 7 % 100) if i % 2 == 0 else np.nan for i in range(n_films)],
        }
    )


def make_taste_ratings(films: pd.DataFrame, n_users: int, per_user: int, seed: int) -> pd.DataFrame:
    """Users with an even number rate only Action films, the others only Drama films."""
    rng = np.random.default_rng(seed)
    half = len(films) // 2
    rows = []
    for user in range(n_users):
        pool = np.arange(half) if user % 2 == 0 else np.arange(half, len(films))
        for film in rng.choice(pool, size=per_user, replace=False):
            rows.append((f"u{user}", films[Columns.Item].iloc[film], float(rng.integers(1, 11)), 1_000 + user))
    return pd.DataFrame(rows, columns=list(Columns.RATINGS))


@pytest.fixture
def films() -> pd.DataFrame:
    return make_films(20)


@pytest.fixture
def taste_ratings(films: pd.DataFrame) -> pd.DataFrame:
    return make_taste_ratings(films, n_users=30, per_user=5, seed=7)
