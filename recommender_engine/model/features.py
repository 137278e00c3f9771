"""Item features of the hybrid model: identity, genres, IMDb and Rotten Tomatoes rating buckets,
IMDb vote buckets and decade.

Each film's row is normalised to sum 1 (as LightFM's own ``Dataset`` does), after the identity
feature is given weight 1 and every side feature ``side_weight``; a film without any feature keeps
an empty row only when the identity feature is off.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_common.columns import Columns

#: IMDb ratings (1..10) are bucketed by this width.
IMDB_BUCKET_WIDTH = 1.0
#: Rotten Tomatoes Tomatometer (0..100) is bucketed by this width.
RT_BUCKET_WIDTH = 20.0
#: IMDb votes are bucketed by powers of this base.
VOTES_LOG_BASE = 10.0
YEARS_PER_DECADE = 10
FEATURE_DTYPE = np.float32


@dataclass(frozen=True)
class FeatureFlags:
    """Which feature groups to build."""

    identity: bool = True
    genres: bool = True
    imdb_rating: bool = False
    imdb_votes: bool = False
    rt_rating: bool = False
    decade: bool = False
    side_weight: float = 1.0


@dataclass(frozen=True)
class ItemFeatures:
    """``matrix`` is (n_films, n_features) float32 CSR; ``names[k]`` names feature column ``k``."""

    matrix: Any
    names: tuple[str, ...]

    @property
    def n_features(self) -> int:
        return len(self.names)


def build_item_features(films: pd.DataFrame, flags: FeatureFlags) -> ItemFeatures:
    """Build the item feature matrix of ``films`` (aligned to its row order)."""
    n_films = len(films)
    side: list[list[str]] = [[] for _ in range(n_films)]
    groups: list[tuple[bool, str, Callable[[Any], str | None]]] = [
        (flags.imdb_rating, Columns.ImdbRating, _bucket("imdb", IMDB_BUCKET_WIDTH)),
        (flags.imdb_votes, Columns.ImdbVotes, _log_bucket("votes", VOTES_LOG_BASE)),
        (flags.rt_rating, Columns.RtRating, _bucket("rt", RT_BUCKET_WIDTH)),
        (flags.decade, Columns.Year, _bucket("decade", YEARS_PER_DECADE)),
    ]
    if flags.genres and Columns.Genres in films.columns:
        for row, genres in enumerate(films[Columns.Genres]):
            side[row].extend(f"genre:{genre}" for genre in _as_genres(genres))
    for enabled, column, name_of in groups:
        if enabled and column in films.columns:
            for row, value in enumerate(films[column]):
                name = name_of(value)
                if name is not None:
                    side[row].append(name)

    side_names = sorted({name for film_names in side for name in film_names})
    side_index = {name: n_films * flags.identity + k for k, name in enumerate(side_names)}
    rows: list[int] = []
    cols: list[int] = []
    weights: list[float] = []
    for row, film_names in enumerate(side):
        if flags.identity:
            rows.append(row)
            cols.append(row)
            weights.append(1.0)
        for name in sorted(set(film_names)):
            rows.append(row)
            cols.append(side_index[name])
            weights.append(flags.side_weight)
    identity_names = tuple(f"film:{film}" for film in films[Columns.Item]) if flags.identity else ()
    names = (*identity_names, *side_names)
    matrix = sp.csr_matrix(
        (np.asarray(weights, dtype=np.float64), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
        shape=(n_films, len(names)),
    )
    return ItemFeatures(matrix=_normalise_rows(matrix).astype(FEATURE_DTYPE), names=names)


def _normalise_rows(matrix: Any) -> Any:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.diags(scale) @ matrix


def _as_genres(value: Any) -> Iterable[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, str):
        return tuple(part for part in value.split("|") if part)
    return tuple(str(part) for part in value)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _bucket(prefix: str, width: float) -> Callable[[Any], str | None]:
    def name_of(value: Any) -> str | None:
        number = _number(value)
        if number is None:
            return None
        return f"{prefix}:{math.floor(number / width) * width:g}"

    return name_of


def _log_bucket(prefix: str, base: float) -> Callable[[Any], str | None]:
    def name_of(value: Any) -> str | None:
        number = _number(value)
        if number is None or number < 1:
            return None
        return f"{prefix}:{base:g}^{math.floor(math.log(number, base))}"

    return name_of
