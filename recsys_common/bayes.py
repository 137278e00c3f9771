"""The IMDb Bayesian weighted rating, used to rank films for cold start and fallbacks.

``WR = v / (v + m) * R + m / (v + m) * C``: a film's rating ``R`` over ``v`` votes is pulled
towards the catalogue mean ``C`` with the weight of ``m`` votes, so a film rated 9.5 by a handful
of viewers does not outrank one rated 9.2 by a hundred thousand.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: ``m`` is this quantile of the votes of the catalogue's rated films.
MIN_VOTES_QUANTILE = 0.9


def catalogue_prior(rating: FloatArray, votes: FloatArray, quantile: float = MIN_VOTES_QUANTILE) -> tuple[float, float]:
    """Return ``(m, C)``: the ``quantile`` of votes and the mean rating over films with both known.

    NaN marks an unknown rating or vote count. With no such film, returns ``(0.0, nan)``.
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be within 0..1, got {quantile}")
    r = np.asarray(rating, dtype=np.float64)
    v = np.asarray(votes, dtype=np.float64)
    if r.shape != v.shape:
        raise ValueError(f"rating has shape {r.shape} but votes has shape {v.shape}")
    known = np.isfinite(r) & np.isfinite(v)
    if not known.any():
        return 0.0, float("nan")
    return float(np.quantile(v[known], quantile)), float(r[known].mean())


def weighted_rating(rating: FloatArray, votes: FloatArray, min_votes: float, mean: float) -> FloatArray:
    """Return the weighted rating of every film (element-wise over ``rating`` and ``votes``).

    ``min_votes`` (m) is the weight of the prior and ``mean`` (C) the prior itself. NaN in
    ``rating`` or ``votes`` gives NaN; a film with no votes and ``m == 0`` gets ``mean``. Raises
    ValueError on negative votes or a negative ``min_votes``.
    """
    r = np.asarray(rating, dtype=np.float64)
    v = np.asarray(votes, dtype=np.float64)
    if r.shape != v.shape:
        raise ValueError(f"rating has shape {r.shape} but votes has shape {v.shape}")
    if min_votes < 0:
        raise ValueError(f"min_votes must not be negative, got {min_votes}")
    if np.any(v < 0):  # NaN compares False, so unknown counts pass through
        raise ValueError("votes must not be negative")
    total = v + min_votes
    safe_total = np.where(total > 0, total, 1.0)
    weighted = (v * r + min_votes * mean) / safe_total
    result = np.where(total == 0, mean, weighted)
    return np.where(np.isfinite(r) & np.isfinite(v), result, np.nan).astype(np.float64)
