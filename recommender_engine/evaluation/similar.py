"""The ``similar`` protocol: are a film's similar films the films its viewers go on to watch?

Each user's ratings are split at random (``split_per_user``, as in the random protocol, 75 / 25).
Every method computes, from the training part only, the ``k`` (20) most similar films of every film.
A user's *training films* are all their training ratings (the other protocols count every rating
as relevant, whatever its value); their *test films* are their test ratings. Over the users with
test films:

- ``user_hit_rate``: the share of users for whom at least one test film is among ``k`` candidates
  drawn from the similar lists of their training films. Candidates are capped: each training film's
  list gives its film at rank r (0-based) ``k - r`` points, the points are summed per film, the
  user's training films are left out, and the ``k`` films with the most points (ties: the lower
  film index) are the candidates.
- ``pair_hit_rate``: over (user, training film) pairs, the share whose ``k`` similar films hold at
  least one of the user's test films (a film page that shows the viewer something they watch next).
- ``precision``: over the same pairs, the similar films that are test films of the user over the
  similar films shown (hits / shown).

Methods: the engine's similarity (``recommender_engine.similar``) at several EASE weights (0 is
the embeddings alone), and baselines in the same run: genre overlap (Jaccard of the genre sets,
ties by the number of training ratings), co-occurrence (films rated by the same users: cosine of
the films' binary rating columns) and random films.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from recommender_engine.evaluation.runner import aligned_table
from recommender_engine.evaluation.split import split_per_user
from recommender_engine.model.dataset import Dataset, build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig, rating_counts
from recommender_engine.ranking import IndexArray, select_top_k
from recommender_engine.similar import DEFAULT_BLOCK_ROWS, DEFAULT_EASE_WEIGHT, NORM_FLOOR, SimilarityModel
from recsys_common.columns import Columns
from recsys_common.ports.recstore import SIMILAR_MAX

#: EASE weights of the engine's similarity that the protocol compares (0: embeddings alone).
EASE_WEIGHTS = (0.0, 0.3, 1.0, 3.0, 100.0)
ENGINE = "engine"
#: The figures the CLI plots: (SimilarMetrics field, label).
SIMILAR_PLOT_METRICS = (
    ("user_hit_rate", "user hit rate"),
    ("pair_hit_rate", "pair hit rate"),
    ("precision", "precision"),
)
#: Popularity breaks genre-overlap ties: it moves a Jaccard value by less than this.
TIE_BREAK = 1e-3


@dataclass(frozen=True)
class SimilarMetrics:
    user_hit_rate: float
    pair_hit_rate: float
    precision: float
    #: Films that appear in some film's list, over all films.
    coverage: float


@dataclass(frozen=True)
class SimilarResult:
    name: str
    metrics: SimilarMetrics
    seconds: float
    config: dict[str, Any]


@dataclass(frozen=True)
class SimilarReport:
    protocol: dict[str, Any]
    dataset: dict[str, int]
    results: tuple[SimilarResult, ...]
    fit_seconds: float

    def to_table(self) -> str:
        k = self.protocol["k"]
        header = ("method", f"user hit@{k}", f"pair hit@{k}", f"precision@{k}", "coverage", "seconds")
        rows = [
            (
                r.name,
                f"{r.metrics.user_hit_rate:.4f}",
                f"{r.metrics.pair_hit_rate:.4f}",
                f"{r.metrics.precision:.4f}",
                f"{r.metrics.coverage:.3f}",
                f"{r.seconds:.2f}",
            )
            for r in self.results
        ]
        stats = self.dataset
        caption = (
            f"{stats['test_users']} test users, {stats['films']} films, {stats['pairs']} (user, training film) "
            f"pairs; similar lists of {k}; model fitted in {self.fit_seconds:.1f} s"
        )
        return "\n".join([caption, *aligned_table(header, rows)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": dict(self.protocol),
            "dataset": dict(self.dataset),
            "fit_seconds": round(self.fit_seconds, 3),
            "results": {
                r.name: {
                    **{name: round(value, 4) for name, value in asdict(r.metrics).items()},
                    "seconds": round(r.seconds, 3),
                    "config": r.config,
                }
                for r in self.results
            },
        }


def similarity_metrics(top: IndexArray, train: sp.csr_matrix, test: sp.csr_matrix, k: int) -> SimilarMetrics:
    """The protocol's figures (module docstring) of the similar lists ``top`` (n_films, <=k) for users'
    ``train`` and ``test`` films (users x films)."""
    n_films = top.shape[0]
    top = top[:, :k]
    points = np.where(top >= 0, k - np.arange(top.shape[1])[None, :], 0).astype(np.float64)
    users = user_hits = pairs = pair_hits = shown = hits = 0
    for user in np.flatnonzero(test.getnnz(axis=1)):
        seen = train.indices[train.indptr[user] : train.indptr[user + 1]]
        if not seen.size:
            continue
        wanted = np.zeros(n_films + 1, dtype=bool)  # the last slot stands for padding (-1)
        wanted[test.indices[test.indptr[user] : test.indptr[user + 1]]] = True
        lists = top[seen]
        found = wanted[lists].sum(axis=1)
        pairs += seen.size
        pair_hits += int(np.count_nonzero(found))
        hits += int(found.sum())
        shown += int(np.count_nonzero(lists >= 0))
        votes = np.bincount(np.maximum(lists, 0).ravel(), weights=points[seen].ravel(), minlength=n_films)
        votes[seen] = 0.0
        scores = np.where(votes > 0, votes, -np.inf).astype(np.float32)[None, :]
        candidates, _ = select_top_k(scores, k)
        users += 1
        user_hits += int(wanted[candidates[0]].any())
    coverage = np.unique(top[top >= 0]).size / max(n_films, 1)
    return SimilarMetrics(
        user_hit_rate=user_hits / max(users, 1),
        pair_hit_rate=pair_hits / max(pairs, 1),
        precision=hits / max(shown, 1),
        coverage=float(coverage),
    )


def cosine_top(vectors: sp.csr_matrix, k: int, block_rows: int = DEFAULT_BLOCK_ROWS) -> IndexArray:
    """Every row's ``k`` nearest rows by the cosine of ``vectors`` (one row per film), itself left out."""
    matrix = sp.csr_matrix(vectors, dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1), dtype=np.float64)).ravel()
    unit = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, NORM_FLOOR)) @ matrix, dtype=np.float32)
    return _blockwise(lambda rows: np.asarray((unit[rows] @ unit.T).toarray(), dtype=np.float32), unit.shape[0], k)


def genre_overlap_top(dataset: Dataset, k: int) -> IndexArray:
    """Every film's ``k`` films with the most similar genre sets (Jaccard), ties by training ratings."""
    genres = dataset.films[Columns.Genres]
    names = sorted({g for film_genres in genres for g in film_genres})
    column = {name: i for i, name in enumerate(names)}
    rows = np.repeat(np.arange(len(genres)), [len(g) for g in genres])
    cols = [column[g] for film_genres in genres for g in film_genres]
    member = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(genres), len(names)))
    sizes = np.asarray(member.sum(axis=1), dtype=np.float32).ravel()
    counts = rating_counts(dataset.matrix).astype(np.float32)
    tie = np.float32(TIE_BREAK) * counts / max(float(counts.max(initial=0.0)), 1.0)

    def scores(block: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        shared = np.asarray((member[block] @ member.T).toarray(), dtype=np.float32)
        union = sizes[block][:, None] + sizes[None, :] - shared
        return np.asarray(shared / np.maximum(union, 1.0) + tie[None, :], dtype=np.float32)

    return _blockwise(scores, dataset.n_films, k)


def random_top(n_films: int, k: int, seed: int) -> IndexArray:
    """``k`` films drawn at random for every film (itself never)."""
    rng = np.random.default_rng(seed)
    return _blockwise(lambda rows: rng.random((rows.size, n_films), dtype=np.float32), n_films, k)


def _blockwise(
    scores: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]],
    n_films: int,
    k: int,
    block_rows: int = DEFAULT_BLOCK_ROWS,
) -> IndexArray:
    """Top ``k`` of ``scores(rows)`` (a block of rows x every film) for every film, the film itself masked."""
    width = max(0, min(k, n_films - 1))
    top = np.full((n_films, width), -1, dtype=np.int32)
    for start in range(0, n_films, block_rows):
        rows = np.arange(start, min(start + block_rows, n_films))
        block = scores(rows)
        block[np.arange(rows.size), rows] = -np.inf
        top[rows], _ = select_top_k(block, width)
    return top


def run_similar(
    ratings: pd.DataFrame,
    films: pd.DataFrame,
    *,
    test_fraction: float = 0.25,
    seed: int = 42,
    k: int = SIMILAR_MAX,
    engine_config: ModelConfig | None = None,
    ease_weights: tuple[float, ...] = EASE_WEIGHTS,
) -> SimilarReport:
    """Run the protocol (module docstring) with the engine's model configuration."""
    config = engine_config if engine_config is not None else ModelConfig()
    train_ratings, test_ratings = split_per_user(ratings, test_fraction, seed)
    dataset = build_dataset(train_ratings, films)
    known = test_ratings[test_ratings[Columns.User].astype(str).isin(pd.Index(dataset.user_ids))]
    train, test = dataset.matrix, dataset.with_ratings(known)
    started = time.perf_counter()
    model = HybridModel(config).fit(dataset)
    fit_seconds = time.perf_counter() - started

    results = []

    def measure(name: str, compute: Any, method_config: dict[str, Any]) -> None:
        tick = time.perf_counter()
        top = compute()
        seconds = time.perf_counter() - tick
        results.append(SimilarResult(name, similarity_metrics(top, train, test, k), seconds, method_config))

    weights = sorted({*ease_weights, DEFAULT_EASE_WEIGHT}) if model.params.blended else [0.0]
    for weight in weights:
        name = ENGINE if weight == DEFAULT_EASE_WEIGHT or not model.params.blended else f"engine_ease_{weight:g}"
        measure(name, lambda w=weight: SimilarityModel.of(model, w).top(k), {"ease_weight": weight})
    binary = sp.csr_matrix(train, dtype=np.float32, copy=True)
    binary.data[:] = 1.0
    measure("genre_overlap", lambda: genre_overlap_top(dataset, k), {"ties": "training ratings"})
    measure("co_occurrence", lambda: cosine_top(sp.csr_matrix(binary.T), k), {"similarity": "cosine"})
    measure("random", lambda: random_top(dataset.n_films, k, seed), {"seed": seed})

    test_users = int(np.count_nonzero((test.getnnz(axis=1) > 0) & (train.getnnz(axis=1) > 0)))
    protocol = {
        "split": "per-user random",
        "test_fraction": test_fraction,
        "seed": seed,
        "k": k,
        "training_films": "every training rating, whatever its value (as the other protocols' relevance)",
        "user_hit_rate": "share of test users with a test film among k candidates: the films of their training "
        "films' similar lists, k - rank points per list, summed, their training films left out",
        "pair_hit_rate": "share of (user, training film) pairs whose similar list holds a test film of the user",
        "precision": "similar films that are test films of the user over similar films shown, over all pairs",
        "engine_config": config.model_dump(),
    }
    stats = {
        "users": dataset.n_users,
        "films": dataset.n_films,
        "test_users": test_users,
        "pairs": int(train[np.flatnonzero(test.getnnz(axis=1))].nnz),
        "train_ratings": dataset.n_ratings,
        "test_ratings": int(test.nnz),
    }
    return SimilarReport(protocol, stats, tuple(results), fit_seconds)
