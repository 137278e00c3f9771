"""The ``evaluate`` protocol: one split, every model fitted and ranked the same way.

Each user's ratings are split at random (``split_per_user``) or by time (``split_temporal_per_user``,
the ``split`` strategy); every test rating is relevant whatever its value; a user's training films
are masked out of the candidates (``ranking.rank_block``, the engine's own top-k); metrics are those
of ``metrics`` at ``k``, with precision and nDCG curves for k = 1..``CURVE_DEPTH`` from the same
lists. ``run_seeds`` repeats the run over several seeds (split and models' random init) and reports
the mean and standard deviation of each metric. IMDb-top is skipped on a set without IMDb data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
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
from recommender_engine.evaluation.split import SPLIT_DESCRIPTIONS, SPLITS
from recommender_engine.model.dataset import Dataset, build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recommender_engine.ranking import rank_block
from recsys_common.columns import Columns

#: Users scored per block (one matrix product and one top-k per block).
SCORE_BLOCK_USERS = 1024
ENGINE = "engine"
MODEL_NAMES = ("popularity", "imdb_top", "lightfm_plain", "als", "ease", ENGINE)
IMDB_TOP = "imdb_top"
#: Precision and nDCG curves are computed for k = 1..CURVE_DEPTH (same ranked lists, same pass).
CURVE_DEPTH = 20
#: Metrics averaged over seeds by ``run_seeds``.
SEED_METRICS = ("precision", "recall", "ndcg", "map", "coverage", "fit_seconds", "score_seconds")
NO_IMDB_DATA = "skipped: the films have no IMDb data (every IMDb rating or every vote count is missing)"
MAP_DEFINITION = "AP@k = sum over hits at rank i of precision@i, divided by min(k, |relevant|)"


@dataclass(frozen=True)
class ModelResult:
    name: str
    metrics: RankingMetrics
    fit_seconds: float
    score_seconds: float
    config: dict[str, Any]
    #: ``MetricAccumulator.curves``: precision and nDCG at k = 1..CURVE_DEPTH (empty if not computed).
    curves: dict[str, list[float]] = field(default_factory=dict, kw_only=True)


@dataclass(frozen=True)
class EvaluationReport:
    protocol: dict[str, Any]
    dataset: dict[str, int]
    results: tuple[ModelResult, ...]
    #: Model name -> why it was not evaluated (IMDb-top on a set without IMDb data).
    skipped: dict[str, str] = field(default_factory=dict)

    def caption(self) -> str:
        stats = self.dataset
        return (
            f"{stats['users']} users, {stats['films']} films, {stats['train_ratings']} train / "
            f"{stats['test_ratings']} test ratings; {self.protocol['split']} split "
            f"{self.protocol['test_fraction']:g} test, seed {self.protocol['seed']}"
        )

    def to_table(self) -> str:
        """An aligned text table, one row per model, then a line per skipped model."""
        return "\n".join(
            [self.caption(), *metrics_table(self.protocol["k"], self.results), *skipped_lines(self.skipped)]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: protocol, dataset stats and per-model metrics, times, config and curves."""
        payload: dict[str, Any] = {
            "protocol": dict(self.protocol),
            "dataset": dict(self.dataset),
            "models": {result.name: result_dict(result) for result in self.results},
        }
        if self.skipped:
            payload["skipped"] = dict(self.skipped)
        return payload

    def curves(self) -> dict[str, dict[str, list[float]]]:
        """Model name -> its precision and nDCG curves (for ``plot.write_curves_plot``)."""
        return {result.name: result.curves for result in self.results if result.curves}


@dataclass(frozen=True)
class SeedsReport:
    """The same evaluation over several seeds: per model, the mean and standard deviation."""

    reports: tuple[EvaluationReport, ...]

    @property
    def seeds(self) -> list[int]:
        return [report.protocol["seed"] for report in self.reports]

    def names(self) -> list[str]:
        return [result.name for result in self.reports[0].results]

    def values(self, name: str, metric: str) -> npt.NDArray[np.float64]:
        """``metric`` of model ``name`` in every seed's run, in seed order."""
        return np.array([_metric(_by_name(report, name), metric) for report in self.reports])

    def mean_std(self, name: str) -> tuple[dict[str, float], dict[str, float]]:
        """Mean and sample standard deviation (n - 1; 0 for a single seed) of every ``SEED_METRICS``."""
        mean, std = {}, {}
        for metric in SEED_METRICS:
            values = self.values(name, metric)
            mean[metric] = float(values.mean())
            std[metric] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        return mean, std

    def to_table(self) -> str:
        """An aligned text table, one row per model, each cell ``mean ± std`` over the seeds."""
        first = self.reports[0]
        k = first.protocol["k"]
        caption = f"{first.caption().rsplit(', seed', 1)[0]}; seeds {', '.join(map(str, self.seeds))}, mean ± std"
        header = ("model", f"P@{k}", f"R@{k}", f"nDCG@{k}", f"MAP@{k}", "coverage", "fit s")
        rows = []
        for name in self.names():
            mean, std = self.mean_std(name)
            rows.append(
                (
                    name,
                    *(f"{mean[m]:.4f} ± {std[m]:.4f}" for m in ("precision", "recall", "ndcg", "map")),
                    f"{mean['coverage']:.3f} ± {std['coverage']:.3f}",
                    f"{mean['fit_seconds']:.2f} ± {std['fit_seconds']:.2f}",
                )
            )
        return "\n".join([caption, *aligned_table(header, rows), *skipped_lines(first.skipped)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per model ``mean`` and ``std`` of each metric, ``seeds`` (seed -> that run's
        result), its config and mean curves."""
        first = self.reports[0]
        protocol = {key: value for key, value in first.protocol.items() if key not in ("seed", "model_seed")}
        protocol["seeds"] = self.seeds
        protocol["std"] = "sample standard deviation (n - 1) over the seeds"
        if protocol["split"] == SPLIT_DESCRIPTIONS["temporal"]:
            protocol["seed_varies"] = "the models' random init only (the temporal split has no randomness)"
        else:
            protocol["seed_varies"] = "the split and the models' random init"
        models: dict[str, Any] = {}
        mean_curves = self.curves()
        for name in self.names():
            mean, std = self.mean_std(name)
            per_seed = {}
            for report in self.reports:
                entry = result_dict(_by_name(report, name))
                entry.pop("config")
                entry.pop("curves", None)
                per_seed[str(report.protocol["seed"])] = entry
            models[name] = {
                "mean": mean,
                "std": std,
                "seeds": per_seed,
                "config": _by_name(first, name).config,
                **({"curves": mean_curves[name]} if name in mean_curves else {}),
            }
        payload: dict[str, Any] = {"protocol": protocol, "dataset": dict(first.dataset), "models": models}
        if first.skipped:
            payload["skipped"] = dict(first.skipped)
        return payload

    def curves(self) -> dict[str, dict[str, list[float]]]:
        """Model name -> its precision and nDCG curves averaged over the seeds."""
        curves: dict[str, dict[str, list[float]]] = {}
        for name in self.names():
            runs = [_by_name(report, name).curves for report in self.reports]
            if all(runs):
                curves[name] = {
                    "k": runs[0]["k"],
                    **{m: [float(v) for v in np.mean([run[m] for run in runs], axis=0)] for m in ("precision", "ndcg")},
                }
        return curves


def _metric(result: ModelResult, metric: str) -> float:
    if metric in ("fit_seconds", "score_seconds"):
        return float(getattr(result, metric))
    return float(getattr(result.metrics, metric))


def _by_name(report: EvaluationReport, name: str) -> ModelResult:
    return next(result for result in report.results if result.name == name)


def skipped_lines(skipped: dict[str, str]) -> list[str]:
    return [f"{name} {reason}" for name, reason in skipped.items()]


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
        **({"curves": result.curves} if result.curves else {}),
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


def _factories(
    engine_config: ModelConfig, model_seed: int | None = None
) -> dict[str, tuple[Callable[[], Recommender], dict[str, Any]]]:
    plain_config = PLAIN_LIGHTFM_CONFIG
    if model_seed is not None:
        engine_config = engine_config.model_copy(update={"random_state": model_seed})
        plain_config = plain_config.model_copy(update={"random_state": model_seed})
    als = AlsModel() if model_seed is None else AlsModel(random_state=model_seed)
    ease = EaseModel()
    return {
        "popularity": (PopularityModel, {"score": "number of training ratings"}),
        IMDB_TOP: (ImdbTopModel, {"score": "IMDb Bayesian weighted rating, m = 90th percentile of votes"}),
        "lightfm_plain": (lambda: HybridModel(plain_config), plain_config.model_dump(mode="json")),
        "als": (lambda: als, als.config()),
        "ease": (lambda: ease, ease.config()),
        ENGINE: (lambda: HybridModel(engine_config), engine_config.model_dump(mode="json")),
    }


def has_imdb_data(films: pd.DataFrame) -> bool:
    """Whether some film has both an IMDb rating and a vote count (else IMDb-top means nothing)."""
    columns = (Columns.ImdbRating, Columns.ImdbVotes)
    if any(column not in films.columns for column in columns):
        return False
    return all(bool(np.isfinite(films[column].to_numpy(dtype=np.float64)).any()) for column in columns)


def run_evaluation(
    ratings: pd.DataFrame,
    films: pd.DataFrame,
    *,
    split: str = "random",
    test_fraction: float = 0.25,
    seed: int = 42,
    k: int = 10,
    models: Sequence[str] | None = None,
    progress: bool = False,
    engine_config: ModelConfig | None = None,
    model_seed: int | None = None,
    curve_depth: int = CURVE_DEPTH,
) -> EvaluationReport:
    """Split ``ratings`` with the ``split`` strategy (``SPLITS``: random or temporal), fit every model
    named in ``models`` (default: all of ``MODEL_NAMES``) on the training part and measure its
    top-``k`` lists (and the precision / nDCG curves to ``curve_depth``) against the test part.

    ``model_seed``, when given, is the random state of the engine, plain LightFM and ALS (else their
    own defaults). IMDb-top is skipped (``EvaluationReport.skipped``) when the films have no IMDb data.
    """
    names = list(MODEL_NAMES if models is None else models)
    unknown = [name for name in names if name not in MODEL_NAMES]
    if unknown or not names:
        raise ValueError(f"unknown model name(s) {unknown}; choose from {', '.join(MODEL_NAMES)}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    train_ratings, test_ratings = SPLITS[split](ratings, test_fraction, seed)
    train = build_dataset(train_ratings, films)
    if train.n_users == 0:
        raise ValueError("no ratings to evaluate on")
    skipped = {}
    if IMDB_TOP in names and not has_imdb_data(train.films):
        names.remove(IMDB_TOP)
        skipped[IMDB_TOP] = NO_IMDB_DATA
        if not names:
            raise ValueError(f"nothing to evaluate: {IMDB_TOP} {NO_IMDB_DATA}")
    test = train.with_ratings(test_ratings)
    factories = _factories(engine_config if engine_config is not None else ModelConfig(), model_seed)

    results = []
    bar = tqdm(names, unit="model", disable=not progress)
    for name in bar:
        bar.set_description(name)
        factory, config = factories[name]
        model, fit_seconds = fit_timed(factory, train)
        accumulator = MetricAccumulator(k=k, n_films=train.n_films, curve_depth=curve_depth)
        started = time.perf_counter()
        for start in range(0, train.n_users, SCORE_BLOCK_USERS):
            users = np.arange(start, min(start + SCORE_BLOCK_USERS, train.n_users))
            top, _ = rank_block(model.score_block(users), train.matrix[users], accumulator.depth)
            accumulator.add(top, test[users])
        score_seconds = time.perf_counter() - started
        curves = accumulator.curves() if curve_depth else {}
        results.append(ModelResult(name, accumulator.result(), fit_seconds, score_seconds, config, curves=curves))
    bar.close()

    protocol = {
        "split": SPLIT_DESCRIPTIONS[split],
        "test_fraction": test_fraction,
        "seed": seed,
        "k": k,
        "relevance": "every test rating, whatever its value",
        "candidates": "the whole catalogue minus the user's training films",
        "map": MAP_DEFINITION,
        "coverage": "share of the catalogue's films in at least one user's top-k",
        "score_seconds": "scoring and top-k selection of every user, in blocks",
    }
    if curve_depth:
        protocol["curves"] = f"precision@k and nDCG@k for k = 1..{curve_depth}, from the same ranked lists"
    if model_seed is not None:
        protocol["model_seed"] = model_seed
    stats = {
        "users": train.n_users,
        "films": train.n_films,
        "ratings": train.n_ratings + int(test.nnz),
        "train_ratings": train.n_ratings,
        "test_ratings": int(test.nnz),
        "evaluated_users": results[0].metrics.n_users,
    }
    return EvaluationReport(protocol=protocol, dataset=stats, results=tuple(results), skipped=skipped)


def run_seeds(ratings: pd.DataFrame, films: pd.DataFrame, *, seeds: Sequence[int], **kwargs: Any) -> SeedsReport:
    """``run_evaluation`` once per seed in ``seeds``, each seed both the split seed and the models'
    random init (``model_seed``); the temporal split has no randomness, so there only the init varies."""
    if not seeds:
        raise ValueError("at least one seed is needed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must differ, got {list(seeds)}")
    return SeedsReport(tuple(run_evaluation(ratings, films, seed=seed, model_seed=seed, **kwargs) for seed in seeds))
