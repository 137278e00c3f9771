"""``HybridModel.reasons``: the rated film behind each recommendation, checked against a plain
per-user loop over the definition."""

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

import recommender_engine.model.hybrid as hybrid
from recommender_engine.model.dataset import Dataset, build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig, rating_counts
from recsys_common.domain import LIKED_RATING

FAST = {"no_components": 8, "epochs": 10, "num_threads": 1, "random_state": 3}


@pytest.fixture
def dataset(taste_ratings, films) -> Dataset:
    return build_dataset(taste_ratings, films)


def _fit(dataset: Dataset, **overrides: Any) -> HybridModel:
    return HybridModel(ModelConfig(**{**FAST, **overrides})).fit(dataset)


def _expected(model: HybridModel, ratings: sp.csr_matrix, recommended: np.ndarray) -> np.ndarray:
    """The definition, one (user, recommended film) at a time."""
    params = model.params
    vectors = np.asarray(params.item_features.matrix @ params.feature_embeddings)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    covered: dict[int, int] = {}
    ease = params.ease
    if ease is not None and params.history is not None:
        films = range(params.n_films) if params.ease_films is None else params.ease_films.tolist()
        too_few = rating_counts(params.history) < model.config.identity_min_ratings
        covered = {int(f): p for p, f in enumerate(films) if not too_few[f]}
    out = np.full(recommended.shape, -1)
    for user in range(recommended.shape[0]):
        row = ratings[user]
        rated, values = row.indices, row.data
        liked = rated[values >= LIKED_RATING] if (values >= LIKED_RATING).any() else rated
        for slot, film in enumerate(recommended[user]):
            if film < 0 or liked.size == 0:
                continue
            weights = [
                ease[covered[j], covered[film]] if ease is not None and j in covered and film in covered else -np.inf
                for j in liked
            ]
            if ease is not None and max(weights) > 0:
                out[user, slot] = liked[int(np.argmax(weights))]
            else:
                out[user, slot] = liked[int(np.argmax(unit[liked] @ unit[film]))]
    return out


def _top(model: HybridModel, dataset: Dataset, k: int = 6) -> np.ndarray:
    scores = model.score_block(np.arange(dataset.n_users))
    scores[dataset.matrix.nonzero()] = -np.inf
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("overrides", [{}, {"blend_weight": 0.0}, {"ease_max_films": 12}])
def test_reasons_follow_the_definition(dataset, overrides):
    model = _fit(dataset, **overrides)
    recommended = _top(model, dataset)
    recommended[0, -2:] = -1  # padding has no reason
    reasons = model.reasons(dataset.matrix, recommended)
    np.testing.assert_array_equal(reasons, _expected(model, dataset.matrix, recommended))
    assert (reasons[0, -2:] == -1).all()
    assert (reasons[recommended >= 0] >= 0).all()


def test_a_reason_is_a_film_the_user_liked_or_any_they_rated_when_they_liked_none(dataset):
    model = _fit(dataset)
    recommended = _top(model, dataset)
    ratings = dataset.matrix.copy()
    ratings.data[ratings.indptr[1] : ratings.indptr[2]] = LIKED_RATING - 1  # user 1 liked nothing
    reasons = model.reasons(ratings, recommended)
    for user in range(dataset.n_users):
        row = ratings[user]
        liked = set(row.indices[row.data >= LIKED_RATING]) or set(row.indices)
        assert set(reasons[user].tolist()) <= liked
    assert set(reasons[1].tolist()) <= set(ratings[1].indices)


def test_users_without_ratings_get_no_reason_and_chunks_agree(dataset, monkeypatch):
    model = _fit(dataset)
    recommended = _top(model, dataset)
    whole = model.reasons(dataset.matrix, recommended)
    monkeypatch.setattr(hybrid, "REASON_CHUNK_PAIRS", 1)  # one user per chunk
    np.testing.assert_array_equal(model.reasons(dataset.matrix, recommended), whole)
    empty = sp.csr_matrix(np.zeros((2, dataset.n_films), dtype=np.float32))
    assert (model.reasons(empty, recommended[:2]) == -1).all()
    assert model.reasons(dataset.matrix[:0], recommended[:0]).shape == (0, recommended.shape[1])


def test_fold_in_users_get_reasons_from_their_new_ratings(dataset):
    model = _fit(dataset)
    row = sp.csr_matrix(dataset.matrix[3])
    scores = model.fold_in(row)
    scores[0, row.indices] = -np.inf
    recommended = np.argsort(-scores, axis=1)[:, :5]
    reasons = model.reasons(row, recommended)
    np.testing.assert_array_equal(reasons, _expected(model, row, recommended))
