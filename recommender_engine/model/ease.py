"""EASE (Steck, 2019): a closed-form item-item model, B = I - P / diag(P), P = (X^T X + λI)^-1.

Used as a baseline (on the binary matrix) and as the second scorer of the hybrid's blend (on the
rating-weighted matrix, ``ease_history``). Its weight matrix is n_films x n_films (fit: O(n_films^3)
time, 4 n_films^2 bytes), so it is only fitted on up to ``EASE_MAX_FILMS`` films; the hybrid fits it
on its ``ease_max_films`` most-rated films (``hybrid.fit_ease``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommender_engine.model.dataset import Csr
from recsys_common.domain import RATING_MAX

#: Largest catalogue whose dense n x n weight matrix (float32: 4 n^2 bytes, 1.6 GB at 20,000) is built.
EASE_MAX_FILMS = 20_000
#: Default L2 regularisation of EASE on MovieLens-100K.
EASE_DEFAULT_LAMBDA = 500.0


def ease_history(ratings: Csr, rating_weighted: bool) -> Csr:
    """The float32 users x films CSR that EASE is fitted on and scores: 1 per rating, or
    rating / RATING_MAX when ``rating_weighted``."""
    history = sp.csr_matrix(ratings, dtype=np.float32, copy=True)
    if rating_weighted:
        history.data /= np.float32(RATING_MAX)
    else:
        history.data[:] = 1.0
    return history


def scaled_lambda(history: Csr, regularisation: float) -> float:
    """``regularisation`` times the mean squared entry of ``history``.

    The Gram matrix's diagonal grows with the square of the entries, so this keeps a λ tuned on the
    binary matrix (where it is returned unchanged) equally strong on a rating-weighted one.
    """
    if history.nnz == 0:
        return regularisation
    data = np.asarray(history.data, dtype=np.float64)
    return regularisation * float(np.mean(data * data))


def ease_weights(binary: Csr, regularisation: float) -> npt.NDArray[np.float32]:
    """Fit EASE on a binary users x films CSR matrix; return the (n_films, n_films) weights."""
    n_films = binary.shape[1]
    if n_films > EASE_MAX_FILMS:
        raise ValueError(f"EASE needs a dense {n_films} x {n_films} matrix; the limit is {EASE_MAX_FILMS} films")
    if regularisation <= 0:
        raise ValueError(f"EASE regularisation must be positive, got {regularisation}")
    gram = np.asarray((binary.T @ binary).toarray(), dtype=np.float64)
    gram[np.diag_indices(n_films)] += regularisation
    precision = np.linalg.inv(gram)
    weights = -precision / np.diag(precision)[None, :]
    weights[np.diag_indices(n_films)] = 0.0
    return weights.astype(np.float32)
