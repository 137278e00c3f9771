"""A small synthetic catalogue with two taste groups, for the evaluation tests."""

import numpy as np
import pandas as pd
import pytest

from recsys_common.columns import Columns
from recsys_common.ids import film_id_for

N_FILMS = 40
N_USERS = 60
PER_USER = 12


@pytest.fixture
def films() -> pd.DataFrame:
    """Films 0..19 are Action, 20..39 Drama; IMDb rating rises with the index, votes are known."""
    return pd.DataFrame(
        {
            Columns.Item: [film_id_for(f"eval:{i}") for i in range(N_FILMS)],
            Columns.SourceId: [f"eval:{i}" for i in range(N_FILMS)],
            Columns.Title: [f"Film {i}" for i in range(N_FILMS)],
            Columns.Year: [1990 + i % 20 for i in range(N_FILMS)],
            Columns.Genres: [("Action",) if i < N_FILMS // 2 else ("Drama",) for i in range(N_FILMS)],
            Columns.ImdbRating: [1.0 + 8.0 * i / N_FILMS for i in range(N_FILMS)],
            Columns.ImdbVotes: [1000.0] * N_FILMS,
            Columns.RtRating: [np.nan] * N_FILMS,
        }
    )


@pytest.fixture
def ratings(films: pd.DataFrame) -> pd.DataFrame:
    """Even users rate Action films, odd users Drama films; low indices are rated more often."""
    rng = np.random.default_rng(11)
    half = N_FILMS // 2
    weights = 1.0 / np.arange(1, half + 1)
    rows = []
    for user in range(N_USERS):
        offset = 0 if user % 2 == 0 else half
        chosen = rng.choice(half, size=PER_USER, replace=False, p=weights / weights.sum()) + offset
        for film in chosen:
            rows.append((f"user-{user}", films[Columns.Item][film], float(rng.integers(1, 11)), 100 + int(film)))
    return pd.DataFrame(rows, columns=list(Columns.RATINGS))
