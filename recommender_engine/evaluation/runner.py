"""The ``evaluate`` protocol: one split, every model fitted and ranked the same way.

Each user's ratings are split at random (``split_per_user``); every test rating is relevant
whatever its value; a user's training films are masked out of the candidates
(``ranking.rank_block``, the engine's own top-k); metrics are those of ``metrics`` at ``k``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from recommender_engine.evaluation.baselines import (
    PLAIN_LIGHTFM_CONFIG,
    AlsModel,
    EaseModel,
    ImdbTopModel,
    PopularityModel,
    Recommender,
)
from recommender_engine.evaluation.metrics import MetricAccumulator, RankingMetrics
from recommender_engine.evaluation.split import split_per_user
from recommender_engine.model.dataset import Dataset, build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recommender_engine.ranking import rank_block

#: Users scored per block (one matrix product and one top-k per block).
SCORE_BLOCK_USERS = 1024
ENGINE = "engine"
MODEL_NAMES = ("popularity", "imdb_top", "lightfm_plain", "als", "ease", ENGINE)
MAP_DEFINITION = "AP@k = sum over hits at rank i of precision@i, divided by min(k, |relevant|)"


@dataclass(frozen=True)
class ModelResult:
    name: str
    metrics: RankingMetrics
    fit_seconds: float
    score_seconds: float
    config: dict[str, Any]


@dataclass(frozen=True)
class EvaluationReport:
    protocol: dict[str, Any]
    dataset: dict[str, int]
    results: tuple[ModelResult, ...]

    def to_table(self) -> str:
        """An aligned text table, one row per model."""
        stats = self.dataset
        caption = (
            f"{stats['users']} users, {stats['films']} films, {stats['train_ratings']} train / "
            f"{stats['test_ratings']} test ratings; per-user random split "
            f"{self.protocol['test_fraction']:g} test, seed {self.protocol['seed']}"
        )
        return "\n".join([caption, *metrics_table(self.protocol["k"], self.results)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: protocol, dataset stats and per-model metrics, times and config."""
        return {
            "protocol": dict(self.protocol),
            "dataset": dict(self.dataset),
            "models": {result.name: result_dict(result) for result in self.results},
        }


def metrics_table(k: int, results: Sequence[ModelResult]) -> list[str]:
    """Lines of an aligned table of the models' metrics at ``k`` and times, one row per model."""
    header = ("model", f"P@{k}", f"R@{k}", f"nDCG@{k}", f"MAP@{k}", "coverage", "fit s", "score s")
    rows = [
        (
            result.name,
            f"{result.metrics.precision:.4f}",
            f"{result.metrics.recall:.4f}",
            f"{result.metrics.ndcg:.4f}",
            f"{result.metrics.map:.4f}",
            f"{result.metrics.coverage:.3f}",
            f"{result.fit_seconds:.2f}",
            f"{result.score_seconds:.2f}",
        )
        for result in results
    ]
    return aligned_table(header, rows)


def result_dict(result: ModelResult) -> dict[str, Any]:
    """One model's metrics, times and config, JSON-ready."""
    return {
        **asdict(result.metrics),
        "fit_seconds": round(result.fit_seconds, 3),
        "score_seconds": round(result.score_seconds, 3),
        "config": result.config,
    }


def fit_timed(factory: Callable[[], Recommender], train: Dataset) -> tuple[Recommender, float]:
    """A new model from ``factory`` fitted on ``train``, and the seconds the fit took."""
    model = factory()
    started = time.perf_counter()
    model.fit(train)
    return model, time.perf_counter() - started


def aligned_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a text table: the header, a rule, then the rows; the first column left-aligned,
    the others right-aligned, every column as wide as its widest cell."""
    widths = [max(len(row[col]) for row in (header, *rows)) for col in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))])

    return [line(header), "  ".join("-" * width for width in widths), *map(line, rows)]


def _factories(engine_config: ModelConfig) -> dict[str, tuple[Callable[[], Recommender], dict[str, Any]]]:
    als, ease = AlsModel(), EaseModel()
    return {
        "popularity": (PopularityModel, {"score": "number of training ratings"}),
        "imdb_top": (ImdbTopModel, {"score": "IMDb Bayesian weighted rating, m = 90th percentile of votes"}),
        "lightfm_plain": (
            lambda: HybridModel(PLAIN_LIGHTFM_CONFIG),
            PLAIN_LIGHTFM_CONFIG.model_dump(mode="json"),
        ),
        "als": (lambda: als, als.config()),
        "ease": (lambda: ease, ease.config()),
        ENGINE: (lambda: HybridModel(engine_config), engine_config.model_dump(mode="json")),
    }


def run_evaluation(
    ratings: pd.DataFrame,
    films: pd.DataFrame,
    *,
    test_fraction: float = 0.25,
    seed: int = 42,
    k: int = 10,
    models: Sequence[str] | None = None,
    progress: bool = False,
    engine_config: ModelConfig | None = None,
) -> EvaluationReport:
    """Split ``ratings``, fit every model named in ``models`` (default: all of ``MODEL_NAMES``) on
    the training part and measure its top-``k`` lists against the test part."""
    names = list(MODEL_NAMES if models is None else models)
    unknown = [name for name in names if name not in MODEL_NAMES]
    if unknown or not names:
        raise ValueError(f"unknown model name(s) {unknown}; choose from {', '.join(MODEL_NAMES)}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    train_ratings, test_ratings = split_per_user(ratings, test_fraction, seed)
    train = build_dataset(train_ratings, films)
    if train.n_users == 0:
        raise ValueError("no ratings to evaluate on")
    test = train.with_ratings(test_ratings)
    factories = _factories(engine_config if engine_config is not None else ModelConfig())

    results = []
    bar = tqdm(names, unit="model", disable=not progress)
    for name in bar:
        bar.set_description(name)
        factory, config = factories[name]
        model, fit_seconds = fit_timed(factory, train)
        accumulator = MetricAccumulator(k=k, n_films=train.n_films)
        started = time.perf_counter()
        for start in range(0, train.n_users, SCORE_BLOCK_USERS):
            users = np.arange(start, min(start + SCORE_BLOCK_USERS, train.n_users))
            top, _ = rank_block(model.score_block(users), train.matrix[users], k)
            accumulator.add(top, test[users])
        score_seconds = time.perf_counter() - started
        results.append(ModelResult(name, accumulator.result(), fit_seconds, score_seconds, config))
    bar.close()

    protocol = {
        "split": "per-user random",
        "test_fraction": test_fraction,
        "seed": seed,
        "k": k,
        "relevance": "every test rating, whatever its value",
        "candidates": "the whole catalogue minus the user's training films",
        "map": MAP_DEFINITION,
        "coverage": "share of the catalogue's films in at least one user's top-k",
        "score_seconds": "scoring and top-k selection of every user, in blocks",
    }
    stats = {
        "users": train.n_users,
        "films": train.n_films,
        "ratings": train.n_ratings + int(test.nnz),
        "train_ratings": train.n_ratings,
        "test_ratings": int(test.nnz),
        "evaluated_users": results[0].metrics.n_users,
    }
    return EvaluationReport(protocol=protocol, dataset=stats, results=tuple(results))
