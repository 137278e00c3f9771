"""Hyper-parameter search of the engine's model on a validation split (``recsys tune``).

Validation without leakage: each user's newest ratings by time (``VALIDATION_FRACTION`` of them,
``evaluation.split.split_temporal_per_user``) are held out; every candidate configuration is the
engine's ``HybridModel`` fitted on the rest and scored as ``evaluate`` scores it (the user's
training films masked, nDCG@``k`` and P@``k`` of the whole-catalogue ranking,
``evaluation.runner.run_evaluation``). The objective is nDCG@k.

Optuna's TPE sampler (seeded) proposes the blend weight, EASE's λ, LightFM's components, epochs,
learning rate and negatives (``SEARCH_SPACE``). The configuration the engine runs now (``base``) is
always trial 0, so the winner is never worse than it on validation. The search stops after
``trials`` trials or once ``budget_s`` seconds have passed (a trial already started is finished).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd

from recommender_engine.evaluation.runner import ENGINE, run_evaluation
from recommender_engine.evaluation.split import SPLIT_DESCRIPTIONS
from recommender_engine.model.hybrid import ModelConfig

#: Share of each user's ratings (the newest) held out for validation.
VALIDATION_FRACTION = 0.2
#: The searched fields and their ranges: (low, high, log scale); ints for int fields.
SEARCH_SPACE: dict[str, tuple[float, float, bool]] = {
    "blend_weight": (0.0, 1.0, False),
    "ease_lambda": (50.0, 5_000.0, True),
    "no_components": (8, 128, True),
    "epochs": (5, 60, False),
    "learning_rate": (0.005, 0.2, True),
    "max_sampled": (5, 100, True),
}
INT_FIELDS = frozenset({"no_components", "epochs", "max_sampled"})


@dataclass(frozen=True)
class Trial:
    number: int
    params: dict[str, Any]
    ndcg: float
    precision: float
    seconds: float


@dataclass(frozen=True)
class TuneResult:
    base: ModelConfig
    best: ModelConfig
    base_trial: Trial
    best_trial: Trial
    trials: tuple[Trial, ...]
    seconds: float
    k: int
    protocol: dict[str, Any] = field(default_factory=dict)
    space: dict[str, list[Any]] = field(default_factory=dict)

    def validation(self) -> dict[str, Any]:
        """The figures the tuned file stores: base and best nDCG@k / P@k on validation."""
        return {
            "k": self.k,
            "base_ndcg": self.base_trial.ndcg,
            "base_precision": self.base_trial.precision,
            "best_ndcg": self.best_trial.ndcg,
            "best_precision": self.best_trial.precision,
            "best_trial": self.best_trial.number,
            "trials": len(self.trials),
            "seconds": round(self.seconds, 1),
            **self.protocol,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: protocol, base and best (figures and searched parameters), every trial."""
        return {
            "protocol": {**self.protocol, "k": self.k, "search_space": self.space},
            "seconds": round(self.seconds, 1),
            "base": _trial_dict(self.base_trial),
            "best": _trial_dict(self.best_trial),
            "trials": [_trial_dict(trial) for trial in self.trials],
        }


def _trial_dict(trial: Trial) -> dict[str, Any]:
    return {
        "trial": trial.number,
        "ndcg": round(trial.ndcg, 5),
        "precision": round(trial.precision, 5),
        "seconds": round(trial.seconds, 2),
        "params": trial.params,
    }


def searched(config: ModelConfig) -> dict[str, Any]:
    """The searched fields of ``config``."""
    return {name: getattr(config, name) for name in SEARCH_SPACE}


def search_space(base: ModelConfig) -> dict[str, tuple[float, float, bool]]:
    """``SEARCH_SPACE`` widened where needed to hold ``base``'s value (trial 0 is ``base``)."""
    values = searched(base)
    return {
        name: (min(low, values[name]), max(high, values[name]), log) for name, (low, high, log) in SEARCH_SPACE.items()
    }


def _suggest(trial: optuna.Trial, space: dict[str, tuple[float, float, bool]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, (low, high, log) in space.items():
        if name in INT_FIELDS:
            params[name] = trial.suggest_int(name, int(low), int(high), log=log)
        else:
            params[name] = trial.suggest_float(name, low, high, log=log)
    return params


def tune(
    ratings: pd.DataFrame,
    films: pd.DataFrame,
    base: ModelConfig,
    *,
    budget_s: float,
    trials: int,
    seed: int = 42,
    k: int = 10,
    on_trial: Callable[[Trial, Trial], None] | None = None,
) -> TuneResult:
    """Search ``SEARCH_SPACE`` around ``base`` (module docstring); ``on_trial(trial, best so far)``
    is called after each trial."""
    if trials < 1:
        raise ValueError(f"at least one trial is needed, got {trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(searched(base))
    space = search_space(base)
    done: list[Trial] = []

    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, space)
        config = base.model_copy(update=params)
        started = time.perf_counter()
        report = run_evaluation(
            ratings,
            films,
            split="temporal",
            test_fraction=VALIDATION_FRACTION,
            seed=seed,
            k=k,
            models=[ENGINE],
            engine_config=config,
            curve_depth=0,
        )
        metrics = report.results[0].metrics
        result = Trial(trial.number, params, metrics.ndcg, metrics.precision, time.perf_counter() - started)
        done.append(result)
        if on_trial is not None:
            on_trial(result, max(done, key=lambda t: t.ndcg))
        return metrics.ndcg

    started = time.perf_counter()
    study.optimize(objective, n_trials=trials, timeout=budget_s)
    seconds = time.perf_counter() - started
    base_trial = done[0]
    # Ties go to the earliest trial, so the base config wins unless something beats it.
    best_trial = max(done, key=lambda t: (t.ndcg, -t.number))
    protocol = {
        "split": SPLIT_DESCRIPTIONS["temporal"],
        "validation_fraction": VALIDATION_FRACTION,
        "objective": f"nDCG@{k}",
        "sampler": f"optuna {optuna.__version__} TPE, seed {seed}",
    }
    return TuneResult(
        base=base,
        best=base.model_copy(update=best_trial.params),
        base_trial=base_trial,
        best_trial=best_trial,
        trials=tuple(done),
        seconds=seconds,
        k=k,
        protocol=protocol,
        space={name: [low, high, "log" if log else "linear"] for name, (low, high, log) in space.items()},
    )
