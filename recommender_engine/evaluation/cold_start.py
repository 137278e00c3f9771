"""The item-cold-start protocol: how well films nobody has rated yet are ranked.

A seeded ``holdout_fraction`` of the catalogue's films is held out entirely: every rating of them
leaves training (``split_films``). Each model is fitted on the remaining ratings over the full
catalogue, so the held-out films are columns without a single rating. Then, for every user who
rated at least one held-out film (and kept a training rating, so the models know the user), only
the held-out films are ranked (every other film is masked) and the held-out films the user rated
are the relevant ones, whatever the rating; metrics are those of ``metrics`` at ``k``, coverage
being the share of held-out films in at least one user's top-k.

Models: ``popularity_in_genre`` (non-personal: the mean over a film's genres of the number of
training ratings of that genre's films, ``baselines.genre_popularity``), ``genre_affinity``
(personal: the share of the user's training films sharing a genre with the film, ties broken by
popularity in genre, ``baselines.GenreAffinityModel``), ``random`` (seeded uniform scores) and the
engine (``HybridModel`` with the given ``ModelConfig``).

The same scores also rank the whole catalogue minus the user's training films (the personal list
the engine publishes), to show where the held-out films land among the rated ones
(``MixedRanking``): a model whose cold films score on another scale than the warm ones buries
them (or floods the list with them) even when it orders them well among themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from tqdm import tqdm

from recommender_engine.evaluation.baselines import GenreAffinityModel, GenrePopularityModel, RandomModel, Recommender
from recommender_engine.evaluation.metrics import MetricAccumulator, RankingMetrics
from recommender_engine.evaluation.runner import (
    ENGINE,
    MAP_DEFINITION,
    SCORE_BLOCK_USERS,
    ModelResult,
    aligned_table,
    fit_timed,
    metrics_table,
    result_dict,
)
from recommender_engine.model.dataset import Csr, Dataset, build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recommender_engine.ranking import mask_seen, select_top_k
from recsys_common.columns import Columns

COLD_MODEL_NAMES = ("popularity_in_genre", "genre_affinity", "random", ENGINE)
#: Lengths of the mixed (whole-catalogue) lists whose share of held-out films is reported: the
#: default k of the metrics and the engine's default must_watch length (``cycle.ListConfig``).
MIXED_LIST_LENGTHS = (10, 100)


@dataclass(frozen=True)
class MixedRanking:
    """Where held-out films land when a model ranks the whole catalogue minus the user's training
    films, averaged over the evaluated users.

    ``candidate_share``: held-out films among the candidates (what a neutral model puts in any
    list); ``top_share[n]``: held-out films among the top ``n``; ``best_rank_median``: median over
    users of the 1-based rank of the best-placed held-out film; ``percentile_mean``: mean rank
    percentile of the held-out films (0 = first, 1 = last, 0.5 = no bias); ``relevant_rank_median``:
    median 1-based rank of the held-out films the user rated, over every such (user, film) pair.
    """

    candidate_share: float
    top_share: dict[int, float]
    best_rank_median: float
    percentile_mean: float
    relevant_rank_median: float


@dataclass(frozen=True)
class ColdStartResult(ModelResult):
    mixed: MixedRanking


@dataclass(frozen=True)
class ColdStartReport:
    protocol: dict[str, Any]
    dataset: dict[str, int]
    results: tuple[ColdStartResult, ...]

    def to_table(self) -> str:
        """Two aligned text tables, one row per model: the held-out-only metrics, then the mixed
        ranking."""
        lengths = MIXED_LIST_LENGTHS
        mixed_header = (
            "mixed ranking",
            "cold share",
            *(f"in top-{n}" for n in lengths),
            "best cold rank",
            "cold pctile",
            "relevant rank",
        )
        mixed_rows = [
            (
                result.name,
                f"{result.mixed.candidate_share:.3f}",
                *(f"{result.mixed.top_share[n]:.3f}" for n in lengths),
                f"{result.mixed.best_rank_median:g}",
                f"{result.mixed.percentile_mean:.3f}",
                f"{result.mixed.relevant_rank_median:g}",
            )
            for result in self.results
        ]
        stats = self.dataset
        caption = (
            f"{stats['users']} users, {stats['films']} films of which {stats['held_out_films']} held out "
            f"(seed {self.protocol['seed']}); {stats['train_ratings']} train / {stats['held_out_ratings']} "
            f"held-out ratings; {stats['evaluated_users']} users evaluated on the held-out films only"
        )
        mixed_caption = "the same scores over the whole catalogue minus training films (medians and means over users)"
        return "\n".join(
            [
                caption,
                *metrics_table(self.protocol["k"], self.results),
                "",
                mixed_caption,
                *aligned_table(mixed_header, mixed_rows),
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: protocol, dataset stats and per-model metrics, mixed ranking, times and config."""
        return {
            "protocol": dict(self.protocol),
            "dataset": dict(self.dataset),
            "models": {
                result.name: {
                    **result_dict(result),
                    "mixed": {
                        **asdict(result.mixed),
                        "top_share": {str(n): share for n, share in result.mixed.top_share.items()},
                    },
                }
                for result in self.results
            },
        }


def split_films(
    ratings: pd.DataFrame, films: pd.DataFrame, holdout_fraction: float, seed: int, keep_first: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, npt.NDArray[np.str_]]:
    """Hold out ``round(n_films * holdout_fraction)`` films (at least one) drawn at random.

    Returns (training ratings, ratings of held-out films, held-out film ids sorted). The draw
    depends on the seed and the set of film ids only, not on the order of either frame. With
    ``keep_first`` > 0 each held-out film keeps its first ``keep_first`` ratings (by time, then
    user) in training: a new film that has just received its first ratings.
    """
    if keep_first < 0:
        raise ValueError(f"keep_first must not be negative, got {keep_first}")
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout fraction must be between 0 and 1 (exclusive), got {holdout_fraction}")
    film_ids = np.sort(films[Columns.Item].astype(str).unique()).astype(np.str_)
    n_held_out = max(1, round(len(film_ids) * holdout_fraction))
    if n_held_out >= len(film_ids):
        raise ValueError(f"holding out {n_held_out} of {len(film_ids)} films leaves none to train on")
    chosen = np.random.default_rng(seed).choice(len(film_ids), size=n_held_out, replace=False)
    held_out = np.sort(film_ids[chosen])
    is_held_out = ratings[Columns.Item].astype(str).isin(pd.Index(held_out)).to_numpy().copy()
    if keep_first:
        order = ratings.sort_values([Columns.Timestamp, Columns.User], kind="stable")
        first = order[order[Columns.Item].astype(str).isin(pd.Index(held_out))].groupby(Columns.Item).head(keep_first)
        is_held_out[ratings.index.get_indexer(first.index)] = False
    return ratings[~is_held_out].reset_index(drop=True), ratings[is_held_out].reset_index(drop=True), held_out


def _factories(engine_config: ModelConfig, seed: int) -> dict[str, tuple[Callable[[], Recommender], dict[str, Any]]]:
    return {
        "popularity_in_genre": (
            GenrePopularityModel,
            {"score": "mean over the film's genres of the genre's number of training ratings"},
        ),
        "genre_affinity": (
            GenreAffinityModel,
            {"score": "share of the user's training films sharing a genre with the film, then popularity_in_genre"},
        ),
        "random": (lambda: RandomModel(seed), {"score": "uniform random", "seed": seed}),
        ENGINE: (lambda: HybridModel(engine_config), engine_config.model_dump(mode="json")),
    }


class _MixedAccumulator:
    """Accumulates ``MixedRanking`` over blocks of users."""

    def __init__(self, held_out: npt.NDArray[np.int64], n_films: int) -> None:
        self._is_held_out = np.zeros(n_films, dtype=bool)
        self._is_held_out[held_out] = True
        self._candidate_share: list[float] = []
        self._top_share: dict[int, list[float]] = {n: [] for n in MIXED_LIST_LENGTHS}
        self._best_rank: list[int] = []
        self._percentile: list[float] = []
        self._relevant_rank: list[int] = []

    def add(self, scores: npt.NDArray[np.float32], seen: Csr, relevant: Csr) -> None:
        """``scores`` (n, n_films) are modified (training films masked); ``relevant`` (n, n_films)."""
        mask_seen(scores, seen)
        order = np.argsort(-scores, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
        candidates = np.isfinite(scores)
        for row in range(scores.shape[0]):
            cold = self._is_held_out & candidates[row]
            n_candidates = int(candidates[row].sum())
            if not cold.any():
                continue
            cold_ranks = ranks[row, cold]
            self._candidate_share.append(float(cold.sum()) / n_candidates)
            for n in MIXED_LIST_LENGTHS:
                self._top_share[n].append(float((cold_ranks <= n).sum()) / min(n, n_candidates))
            self._best_rank.append(int(cold_ranks.min()))
            self._percentile.append(float(((cold_ranks - 1) / max(n_candidates - 1, 1)).mean()))
            self._relevant_rank.extend(int(rank) for rank in ranks[row, relevant[row].indices])

    def result(self) -> MixedRanking:
        def mean(values: Sequence[float]) -> float:
            return float(np.mean(values)) if values else float("nan")

        def median(values: Sequence[float]) -> float:
            return float(np.median(values)) if values else float("nan")

        return MixedRanking(
            candidate_share=mean(self._candidate_share),
            top_share={n: mean(shares) for n, shares in self._top_share.items()},
            best_rank_median=median(self._best_rank),
            percentile_mean=mean(self._percentile),
            relevant_rank_median=median(self._relevant_rank),
        )


def _evaluate(
    model: Recommender, train: Dataset, test: Csr, users: npt.NDArray[np.int64], held_out: npt.NDArray[np.int64], k: int
) -> tuple[RankingMetrics, MixedRanking]:
    accumulator = MetricAccumulator(k=k, n_films=len(held_out))
    mixed = _MixedAccumulator(held_out, train.n_films)
    for start in range(0, len(users), SCORE_BLOCK_USERS):
        block = users[start : start + SCORE_BLOCK_USERS]
        scores = model.score_block(block)
        candidates = np.ascontiguousarray(scores[:, held_out])
        mask_seen(candidates, train.matrix[block][:, held_out])  # ratings kept with ``keep_first``
        top, _ = select_top_k(candidates, k)
        accumulator.add(top, test[block][:, held_out])
        mixed.add(scores, train.matrix[block], test[block])
    return accumulator.result(), mixed.result()


def run_item_cold_start(
    ratings: pd.DataFrame,
    films: pd.DataFrame,
    *,
    holdout_fraction: float = 0.1,
    seed: int = 42,
    k: int = 10,
    keep_first: int = 0,
    engine_config: ModelConfig | None = None,
    progress: bool = False,
) -> ColdStartReport:
    """Hold out films (``split_films``), fit every model of ``COLD_MODEL_NAMES`` on the other
    films' ratings and measure its top-``k`` among the held-out films against the users' ratings
    of them (module docstring)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    train_ratings, held_out_ratings, held_out_ids = split_films(ratings, films, holdout_fraction, seed, keep_first)
    train = build_dataset(train_ratings, films)
    if train.n_users == 0:
        raise ValueError("no training ratings left after holding out films")
    known = held_out_ratings[Columns.User].astype(str).isin(pd.Index(train.user_ids)).to_numpy()
    test = train.with_ratings(held_out_ratings[known])
    held_out = np.sort(np.flatnonzero(np.isin(train.film_ids, held_out_ids))).astype(np.int64)
    users = np.flatnonzero(np.diff(test.indptr) > 0).astype(np.int64)
    if users.size == 0:
        raise ValueError("no user with a training rating rated a held-out film")
    factories = _factories(engine_config if engine_config is not None else ModelConfig(), seed)

    results = []
    bar = tqdm(COLD_MODEL_NAMES, unit="model", disable=not progress)
    for name in bar:
        bar.set_description(name)
        factory, config = factories[name]
        model, fit_seconds = fit_timed(factory, train)
        started = time.perf_counter()
        metrics, mixed = _evaluate(model, train, test, users, held_out, k)
        score_seconds = time.perf_counter() - started
        results.append(ColdStartResult(name, metrics, fit_seconds, score_seconds, config, mixed))
    bar.close()

    protocol = {
        "split": "item cold start: a random share of the films held out with all their ratings"
        + (f" but their first {keep_first}" if keep_first else ""),
        "holdout_fraction": holdout_fraction,
        "keep_first": keep_first,
        "seed": seed,
        "k": k,
        "relevance": "every rating of a held-out film, whatever its value",
        "candidates": "the held-out films only",
        "users": "users with a training rating who rated at least one held-out film",
        "map": MAP_DEFINITION,
        "coverage": "share of the held-out films in at least one user's top-k",
        "mixed": "the same scores over the whole catalogue minus the user's training films",
        "score_seconds": "scoring, top-k and mixed-ranking statistics of every evaluated user, in blocks",
    }
    stats = {
        "users": train.n_users,
        "films": train.n_films,
        "held_out_films": len(held_out),
        "held_out_films_rated": int(np.unique(test.indices).size),
        "train_ratings": train.n_ratings,
        "held_out_ratings": int(test.nnz),
        "held_out_ratings_of_users_without_training": int((~known).sum()),
        "evaluated_users": int(users.size),
    }
    return ColdStartReport(protocol=protocol, dataset=stats, results=tuple(results))
