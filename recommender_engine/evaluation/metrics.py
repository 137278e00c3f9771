"""Top-k ranking metrics with binary relevance.

For a user with relevant set R (|R| > 0) and a top-k list t_1..t_k (padding -1 never hits):
- precision@k = hits / k;  recall@k = hits / |R|;
- nDCG@k = sum_{i: t_i in R} 1/log2(i+1) / sum_{i=1..min(k,|R|)} 1/log2(i+1);
- AP@k = sum_{i: t_i in R} precision@i / min(k, |R|)  (MAP@k is its mean);
means are over users with at least one relevant film. Catalogue coverage is the share of the
catalogue's films that appear in at least one user's top-k.

With ``curve_depth`` set, the same top lists (ranked that deep) also give precision@j and nDCG@j
for every j = 1..curve_depth (``curves``), in the same pass; the metrics at ``k`` use the first
``k`` columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from recommender_engine.model.dataset import Csr

IntArray = npt.NDArray[np.integer]


@dataclass(frozen=True)
class RankingMetrics:
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float
    n_users: int


@dataclass
class MetricAccumulator:
    """Accumulates metrics over blocks of users (top-k lists and their relevant sets)."""

    k: int
    n_films: int
    curve_depth: int = 0
    _sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("precision", "recall", "ndcg", "map"), 0.0))
    _users: int = 0
    _recommended: set[int] = field(default_factory=set)
    _curve_sums: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        """Columns the top lists passed to ``add`` must have: ``max(k, curve_depth)``."""
        return max(self.k, self.curve_depth)

    def add(self, top: IntArray, relevant: Csr) -> None:
        """``top`` is (n, depth) film indices (-1 padded; fewer columns are padded); ``relevant`` the
        (n, n_films) CSR of test films."""
        if top.shape[0] != relevant.shape[0]:
            raise ValueError(f"{top.shape[0]} top-k rows for {relevant.shape[0]} relevance rows")
        if top.shape[1] > self.depth:
            raise ValueError(f"top-k lists have {top.shape[1]} columns, expected {self.depth}")
        if top.shape[1] < self.depth:  # a catalogue smaller than the depth: the missing slots never hit
            top = np.pad(top, ((0, 0), (0, self.depth - top.shape[1])), constant_values=-1)
        self._recommended.update(int(i) for i in np.unique(top[:, : self.k][top[:, : self.k] >= 0]))
        n_relevant = np.diff(relevant.indptr)
        keep = n_relevant > 0
        if not keep.any():
            return
        top = top[keep]
        n_relevant = n_relevant[keep]
        dense = relevant[np.flatnonzero(keep)].toarray() > 0
        valid = top >= 0
        deep_hits = np.take_along_axis(dense, np.where(valid, top, 0), axis=1) & valid
        all_ranks = np.arange(1, self.depth + 1)
        all_discounts = 1.0 / np.log2(all_ranks + 1)
        ideal_at = np.cumsum(all_discounts)
        if self.curve_depth:
            depth = self.curve_depth
            curve_hits = deep_hits[:, :depth]
            ideal = ideal_at[np.minimum(n_relevant[:, None], all_ranks[None, :depth]) - 1]
            dcg = np.cumsum(curve_hits * all_discounts[:depth], axis=1)
            precision_curve = (np.cumsum(curve_hits, axis=1) / all_ranks[:depth]).sum(axis=0)
            ndcg_curve = (dcg / ideal).sum(axis=0)
            for name, values in (("precision", precision_curve), ("ndcg", ndcg_curve)):
                self._curve_sums[name] = self._curve_sums.get(name, np.zeros(depth)) + values
        hits = deep_hits[:, : self.k]
        ranks = all_ranks[: self.k]
        discounts = all_discounts[: self.k]
        ideal = ideal_at[np.minimum(n_relevant, self.k) - 1]
        n_hits = hits.sum(axis=1)
        precision_at = np.cumsum(hits, axis=1) / ranks
        self._sums["precision"] += float((n_hits / self.k).sum())
        self._sums["recall"] += float((n_hits / n_relevant).sum())
        self._sums["ndcg"] += float(((hits * discounts).sum(axis=1) / ideal).sum())
        self._sums["map"] += float(((precision_at * hits).sum(axis=1) / np.minimum(n_relevant, self.k)).sum())
        self._users += int(keep.sum())

    def result(self) -> RankingMetrics:
        users = max(self._users, 1)
        return RankingMetrics(
            precision=self._sums["precision"] / users,
            recall=self._sums["recall"] / users,
            ndcg=self._sums["ndcg"] / users,
            map=self._sums["map"] / users,
            coverage=len(self._recommended) / self.n_films if self.n_films else 0.0,
            n_users=self._users,
        )

    def curves(self) -> dict[str, list[float]]:
        """``{"k": [1..curve_depth], "precision": [...], "ndcg": [...]}``, means over the users with a
        relevant film (empty lists without ``curve_depth``)."""
        users = max(self._users, 1)
        depth = self.curve_depth
        return {
            "k": list(range(1, depth + 1)),
            **{
                name: [float(v) / users for v in self._curve_sums.get(name, np.zeros(depth))]
                for name in ("precision", "ndcg")
            },
        }
