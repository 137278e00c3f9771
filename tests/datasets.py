"""Small synthetic catalogues and ratings shared by unit, integration and end-to-end tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_common.columns import Columns
from recsys_common.ids import film_id_for

GENRES = ("Comedy", "Drama", "Horror")
BASE_TIMESTAMP = 1_700_000_000


def synthetic_films(n_films: int = 40, source: str = "test") -> pd.DataFrame:
    """A catalogue frame (``Columns.FILMS`` + description); every 7th film has two genres."""
    rng = np.random.default_rng(0)
    genres = [(GENRES[i % 3],) if i % 7 else (GENRES[i % 3], GENRES[(i + 1) % 3]) for i in range(n_films)]
    return pd.DataFrame(
        {
            Columns.Item: [film_id_for(f"{source}:{i}") for i in range(n_films)],
            Columns.SourceId: [f"{source}:{i}" for i in range(n_films)],
            Columns.Title: [f"Film {i}" for i in range(n_films)],
            Columns.Year: [1990 + i % 20 for i in range(n_films)],
            Columns.Genres: genres,
            Columns.ImdbRating: rng.uniform(5, 9, n_films),
            Columns.ImdbVotes: rng.integers(10, 100_000, n_films).astype(float),
            Columns.RtRating: rng.uniform(0, 100, n_films),
            Columns.Description: [""] * n_films,
        }
    )


def synthetic_ratings(films: pd.DataFrame, n_users: int, per_user: int, seed: int = 1) -> pd.DataFrame:
    """``per_user`` distinct films rated 1..10 by each of ``n_users`` users named ``user-<i>``."""
    rng = np.random.default_rng(seed)
    film_ids = films[Columns.Item].to_numpy()
    rows = [
        (f"user-{u}", film_ids[f], float(rng.integers(1, 11)), BASE_TIMESTAMP + u)
        for u in range(n_users)
        for f in rng.choice(len(film_ids), per_user, replace=False)
    ]
    return pd.DataFrame(rows, columns=list(Columns.RATINGS))
