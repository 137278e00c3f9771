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
