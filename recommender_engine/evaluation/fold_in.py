"""The fold-in protocol: how close the online loop's lists are to a full retrain.

Each user's ratings are split at random (``split_per_user``, as in the random protocol). A seeded
``held_out_users`` share of the users is then held out of training entirely. Two models are fitted:
one on every user's training ratings (the full retrain), one on the other users' only; the held-out
users are folded into the second (``HybridModel.fold_in``, from their training ratings, no
retraining). Both rank the whole catalogue minus the user's training films for the held-out users,
and are measured against their test ratings at ``k``. The fold-in time per user is reported too.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from recommender_engine.evaluation.metrics import MetricAccumulator, RankingMetrics
from recommender_engine.evaluation.runner import SCORE_BLOCK_USERS, aligned_table
from recommender_engine.evaluation.split import split_per_user
from recommender_engine.model.dataset import build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recommender_engine.ranking import rank_block
from recsys_common.columns import Columns


@dataclass(frozen=True)
class FoldInReport:
    protocol: dict[str, Any]
    dataset: dict[str, int]
    retrained: RankingMetrics
    folded_in: RankingMetrics
    fit_seconds: dict[str, float]
    fold_in_ms_per_user: float

    @property
    def precision_ratio(self) -> float:
        """Folded-in P@k over retrained P@k (1 = as good as a retrain)."""
        return self.folded_in.precision / self.retrained.precision if self.retrained.precision else float("nan")

    def to_table(self) -> str:
        k = self.protocol["k"]
        header = ("held-out users", f"P@{k}", f"R@{k}", f"nDCG@{k}", f"MAP@{k}")
        rows = [
            (
                name,
                f"{m.precision:.4f}",
                f"{m.recall:.4f}",
                f"{m.ndcg:.4f}",
                f"{m.map:.4f}",
            )
            for name, m in (("full retrain", self.retrained), ("folded in", self.folded_in))
        ]
        stats = self.dataset
        caption = (
            f"{stats['held_out_users']} of {stats['users']} users held out of training and folded in "
            f"(seed {self.protocol['seed']}); folded-in / retrained P@{k} = {self.precision_ratio:.3f}; "
            f"fold-in {self.fold_in_ms_per_user:.2f} ms per user"
        )
        return "\n".join([caption, *aligned_table(header, rows)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": dict(self.protocol),
            "dataset": dict(self.dataset),
            "models": {"retrained": asdict(self.retrained), "folded_in": asdict(self.folded_in)},
            "precision_ratio": round(self.precision_ratio, 4),
            "fit_seconds": {name: round(seconds, 3) for name, seconds in self.fit_seconds.items()},
            "fold_in_ms_per_user": round(self.fold_in_ms_per_user, 3),
        }


def run_fold_in(
    ratings: pd.DataFrame,
    films: pd.DataFrame,
    *,
    test_fraction: float = 0.25,
    held_out_users: float = 0.1,
    seed: int = 42,
    k: int = 10,
    engine_config: ModelConfig | None = None,
) -> FoldInReport:
    """Compare folded-in users with the same users in a full retrain (module docstring)."""
    if not 0.0 < held_out_users < 1.0:
        raise ValueError(f"held-out user share must be between 0 and 1 (exclusive), got {held_out_users}")
    config = engine_config if engine_config is not None else ModelConfig()
    train_ratings, test_ratings = split_per_user(ratings, test_fraction, seed)
    users = np.sort(train_ratings[Columns.User].astype(str).unique())
    n_held = max(1, round(len(users) * held_out_users))
    held = set(np.random.default_rng(seed).choice(users, size=n_held, replace=False).tolist())

    full = build_dataset(train_ratings, films)
    test = full.with_ratings(test_ratings[test_ratings[Columns.User].astype(str).isin(pd.Index(full.user_ids))])
    held_rows = np.flatnonzero(np.isin(full.user_ids, list(held))).astype(np.int64)
    started = time.perf_counter()
    retrain = HybridModel(config).fit(full)
    fit_full = time.perf_counter() - started
    partial = build_dataset(train_ratings[~train_ratings[Columns.User].astype(str).isin(pd.Index(held))], films)
    started = time.perf_counter()
    others = HybridModel(config).fit(partial)
    fit_partial = time.perf_counter() - started

    retrained = MetricAccumulator(k=k, n_films=full.n_films)
    folded = MetricAccumulator(k=k, n_films=full.n_films)
    fold_seconds = 0.0
    for start in range(0, held_rows.size, SCORE_BLOCK_USERS):
        block = held_rows[start : start + SCORE_BLOCK_USERS]
        seen = full.matrix[block]
        top, _ = rank_block(retrain.score_block(block), seen, k)
        retrained.add(top, test[block])
        tick = time.perf_counter()
        scores = others.fold_in(seen, seed=seed)
        fold_seconds += time.perf_counter() - tick
        top, _ = rank_block(scores, seen, k)
        folded.add(top, test[block])
    protocol = {
        "split": "per-user random, then a share of the users held out of training and folded in",
        "test_fraction": test_fraction,
        "held_out_users": held_out_users,
        "seed": seed,
        "k": k,
        "relevance": "every test rating, whatever its value",
        "candidates": "the whole catalogue minus the user's training films",
        "fold_in": "HybridModel.fold_in from the user's training ratings, against the model fitted without them",
    }
    stats = {
        "users": full.n_users,
        "films": full.n_films,
        "held_out_users": int(held_rows.size),
        "train_ratings": full.n_ratings,
        "test_ratings": int(test.nnz),
    }
    return FoldInReport(
        protocol=protocol,
        dataset=stats,
        retrained=retrained.result(),
        folded_in=folded.result(),
        fit_seconds={"full_retrain": fit_full, "without_held_out_users": fit_partial},
        fold_in_ms_per_user=1000 * fold_seconds / max(held_rows.size, 1),
    )
