"""Baselines scored and ranked exactly like the engine's model (``fit`` then ``score_block``).

- popularity: how many training users rated the film (log scale; same order);
- IMDb-top: the IMDb Bayesian weighted rating (``recsys_common.bayes``), the cold-start list;
- plain LightFM: WARP on the interactions alone (no item features);
- implicit ALS (``implicit.cpu.als``) on the binary matrix;
- EASE (λ = 500) on the binary matrix.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from recommender_engine.model.dataset import Dataset
from recommender_engine.model.ease import EASE_DEFAULT_LAMBDA, ease_weights
from recommender_engine.model.hybrid import ModelConfig, NotFittedError
from recsys_common.bayes import catalogue_prior, weighted_rating
from recsys_common.columns import Columns

FloatArray = npt.NDArray[np.float32]
SCORE_DTYPE = np.float32

#: Plain LightFM: identity features only, LightFM's usual WARP settings, no blend.
PLAIN_LIGHTFM_CONFIG = ModelConfig(genre_features=False, max_sampled=10, blend_weight=0.0)
#: ALS settings chosen on the validation split of MovieLens-100K (16 factors beat 32, 64, 128).
ALS_FACTORS = 16
ALS_REGULARISATION = 1.0
ALS_ALPHA = 5.0
ALS_ITERATIONS = 15


class Recommender(Protocol):
    """What the evaluation needs of a model."""

    def fit(self, dataset: Dataset) -> Recommender: ...

    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray: ...


def _binary(matrix: Any) -> Any:
    binary = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    binary.data[:] = 1.0
    return binary


class _ItemScoreModel:
    """A model whose score is the same row vector for every user."""

    def __init__(self) -> None:
        self._scores: FloatArray | None = None

    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray:
        if self._scores is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted")
        return np.tile(self._scores, (len(user_index), 1))


class PopularityModel(_ItemScoreModel):
    """Scores each film by the number of training users who rated it."""

    def fit(self, dataset: Dataset) -> PopularityModel:
        counts = np.diff(sp.csc_matrix(dataset.matrix).indptr)
        self._scores = np.log1p(counts).astype(SCORE_DTYPE)
        return self


class ImdbTopModel(_ItemScoreModel):
    """Scores each film by its IMDb Bayesian weighted rating; films without one rank last."""

    def fit(self, dataset: Dataset) -> ImdbTopModel:
        films = dataset.films
        if Columns.ImdbRating not in films.columns or Columns.ImdbVotes not in films.columns:
            raise ValueError(f"IMDb-top needs the film columns {Columns.ImdbRating} and {Columns.ImdbVotes}")
        rating = films[Columns.ImdbRating].to_numpy(dtype=np.float64)
        votes = films[Columns.ImdbVotes].to_numpy(dtype=np.float64)
        min_votes, mean = catalogue_prior(rating, votes)
        scores = weighted_rating(rating, votes, min_votes, mean)
        known = np.isfinite(scores)
        floor = float(scores[known].min()) - 1.0 if known.any() else 0.0
        self._scores = np.where(known, scores, floor).astype(SCORE_DTYPE)
        return self


class AlsModel:
    """implicit's ALS on the binary interactions; scores are user factors x item factors."""

    def __init__(self, num_threads: int = 2, random_state: int = 42) -> None:
        self.num_threads = num_threads
        self.random_state = random_state
        self._users: FloatArray | None = None
        self._items: FloatArray | None = None

    def config(self) -> dict[str, Any]:
        return {
            "factors": ALS_FACTORS,
            "regularization": ALS_REGULARISATION,
            "alpha": ALS_ALPHA,
            "iterations": ALS_ITERATIONS,
        }

    def fit(self, dataset: Dataset) -> AlsModel:
        with threadpool_limits(1, "blas"):  # implicit parallelises itself; BLAS threads only contend
            model = AlternatingLeastSquares(
                factors=ALS_FACTORS,
                regularization=ALS_REGULARISATION,
                alpha=ALS_ALPHA,
                iterations=ALS_ITERATIONS,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )
            model.fit(_binary(dataset.matrix), show_progress=False)
        self._users = np.asarray(model.user_factors, dtype=SCORE_DTYPE)
        self._items = np.asarray(model.item_factors, dtype=SCORE_DTYPE)
        return self

    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray:
        if self._users is None or self._items is None:
            raise NotFittedError("AlsModel is not fitted")
        return np.asarray(self._users[np.asarray(user_index)] @ self._items.T, dtype=SCORE_DTYPE)


class EaseModel:
    """EASE on the binary interactions: scores are the user's history x the item-item weights."""

    def __init__(self, regularisation: float = EASE_DEFAULT_LAMBDA) -> None:
        self.regularisation = regularisation
        self._history: Any = None
        self._weights: FloatArray | None = None

    def config(self) -> dict[str, Any]:
        return {"lambda": self.regularisation}

    def fit(self, dataset: Dataset) -> EaseModel:
        self._history = _binary(dataset.matrix)
        self._weights = ease_weights(self._history, self.regularisation)
        return self

    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray:
        if self._weights is None:
            raise NotFittedError("EaseModel is not fitted")
        return np.asarray(self._history[np.asarray(user_index)] @ self._weights, dtype=SCORE_DTYPE)
