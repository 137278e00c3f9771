"""Small films frames for the unit tests of movies_db and recsys_datasets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recsys_common.columns import Columns
from recsys_common.ids import film_id_for

FrameFactory = Callable[..., pd.DataFrame]


def films_frame(n: int = 5, **overrides: list[Any]) -> pd.DataFrame:
    """``n`` films ``test:0``..``test:n-1`` with every column; ``overrides`` replace whole columns."""
    sources = [f"test:{i}" for i in range(n)]
    columns: dict[str, Any] = {
        Columns.Item: [film_id_for(s) for s in sources],
        Columns.SourceId: sources,
        Columns.Title: [f"Film {i}" for i in range(n)],
        Columns.Year: pd.array([1900 + i % 120 for i in range(n)], dtype="Int64"),
        Columns.Genres: [("Drama",) if i % 2 else ("Comedy", "Drama") for i in range(n)],
        Columns.ImdbRating: np.linspace(6.0, 9.0, n),
        Columns.ImdbVotes: np.arange(n, dtype=float) * 1000 + 10,
        Columns.RtRating: np.full(n, np.nan),
        Columns.Description: [f"Description {i}" for i in range(n)],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


@pytest.fixture
def make_frame() -> FrameFactory:
    return films_frame
