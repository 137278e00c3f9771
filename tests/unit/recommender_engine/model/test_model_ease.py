import numpy as np
import pytest
import scipy.sparse as sp

import recommender_engine.model.ease as ease
from recommender_engine.model.ease import ease_weights


def _binary(seed: int = 0, shape: tuple[int, int] = (12, 6)) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random(shape) < 0.4).astype(np.float32))


def test_matches_the_closed_form():
    x = _binary()
    lam = 2.0
    p = np.linalg.inv(x.toarray().T @ x.toarray() + lam * np.eye(6))
    expected = np.eye(6) - p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    got = ease_weights(x, lam)
    assert got.dtype == np.float32
    assert np.allclose(got, expected, atol=1e-5)
    assert np.all(np.diag(got) == 0)


def test_refuses_a_too_large_catalogue_or_bad_lambda(monkeypatch):
    with pytest.raises(ValueError, match="positive"):
        ease_weights(_binary(), 0.0)
    monkeypatch.setattr(ease, "EASE_MAX_FILMS", 5)
    with pytest.raises(ValueError, match="limit is 5 films"):
        ease_weights(_binary(), 1.0)


def test_history_is_binary_or_rating_weighted():
    ratings = sp.csr_matrix(np.array([[2.0, 0.0, 10.0], [0.0, 5.0, 0.0]], dtype=np.float32))
    binary = ease.ease_history(ratings, rating_weighted=False)
    weighted = ease.ease_history(ratings, rating_weighted=True)
    assert np.array_equal(binary.toarray(), [[1, 0, 1], [0, 1, 0]])
    assert np.allclose(weighted.toarray(), [[0.2, 0, 1.0], [0, 0.5, 0]])
    assert weighted.dtype == np.float32
    assert ratings[0, 0] == 2.0  # the input is not modified


def test_lambda_is_scaled_by_the_mean_squared_entry():
    weighted = sp.csr_matrix(np.array([[0.5, 0.0], [0.0, 1.0]], dtype=np.float32))
    assert ease.scaled_lambda(weighted, 100.0) == pytest.approx(100.0 * (0.25 + 1.0) / 2)
    assert ease.scaled_lambda(_binary(), 100.0) == 100.0
    assert ease.scaled_lambda(sp.csr_matrix(np.zeros((3, 3), dtype=np.float32)), 100.0) == 100.0
