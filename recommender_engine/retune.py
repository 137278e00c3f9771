"""Re-tuning on a schedule (``recsys schedule`` with ``RECSYS_TUNE_CRON`` / ``RECSYS_TUNE_GROWTH``).

A tuning run searches the model on the ratings the engine trains on (the rating store's, screened
against the catalogue as a cycle screens them; ``tuning.tune``), starting from the configuration
the engine runs now, and writes the winner to the tuned model file atomically, recording the number
of ratings and the rating watermark it was tuned on. Before each cycle the scheduler applies the
file (``Engine.use_model``): a changed configuration makes that cycle train even when no rating is
new, and the quality gate judges the resulting model as it judges any other.

The growth trigger compares the rows ingested since the recorded watermark with the ratings tuned
on: it fires when they are at least ``growth`` of them. A tuned file that records no watermark
(none yet, or written by ``recsys tune`` from a data set rather than the rating store) counts as
never tuned on these ratings, so the trigger fires.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from recommender_engine.cycle import Engine
from recommender_engine.model.dataset import screen_ratings
from recommender_engine.model.hybrid import ModelConfig
from recommender_engine.model.tuned import (
    TunedFileError,
    changed_fields,
    effective_model_config,
    read_tuned,
    write_tuned,
)
from recommender_engine.tuning import TuneResult, tune
from recsys_common.columns import Columns
from recsys_common.ports.ratings import RatingSource

log = logging.getLogger(__name__)

#: Keys of the tuned file's ``data`` object: what the winner was tuned on.
DATA_RATINGS = "ratings"
DATA_WATERMARK = "watermark"


@dataclass(frozen=True)
class TunedOn:
    """The ratings a tuning run used."""

    ratings: int
    watermark: int


def tuned_on(tuned_file: Path) -> TunedOn | None:
    """What the tuned file's winner was tuned on; None when there is no file or it does not say."""
    payload = read_tuned(tuned_file)
    data = payload.get("data") if payload is not None else None
    if not isinstance(data, dict) or not isinstance(data.get(DATA_WATERMARK), int):
        return None
    ratings = data.get(DATA_RATINGS)
    return TunedOn(ratings if isinstance(ratings, int) else 0, data[DATA_WATERMARK])


def growth_due(ratings: RatingSource, tuned_file: Path, growth: float) -> str | None:
    """Why a tuning is due by the growth trigger (module docstring), or None when it is not."""
    last = tuned_on(tuned_file)
    if last is None:
        return "no tuning on the rating store's ratings yet"
    new_rows = len(ratings.read_since(last.watermark))
    if new_rows >= growth * max(last.ratings, 1):
        return f"{new_rows:,} rating(s) since the last tuning on {last.ratings:,}, at least {growth:.0%} more"
    return None


class Retuner:
    """Runs one tuning on the rating store's ratings and writes the winner (module docstring)."""

    def __init__(
        self,
        ratings: RatingSource,
        films: Callable[[], pd.DataFrame],
        base: Callable[[], ModelConfig],
        tuned_file: Path,
        trials: int,
        budget_s: float,
        growth: float | None = None,
    ) -> None:
        self._ratings = ratings
        self._films = films
        self._base = base
        self.tuned_file = tuned_file
        self.trials = trials
        self.budget_s = budget_s
        self.growth = growth

    def due(self) -> str | None:
        """Why a tuning is due before the next cycle (the growth trigger), or None."""
        if self.growth is None:
            return None
        return growth_due(self._ratings, self.tuned_file, self.growth)

    def run(self, reason: str) -> TuneResult:
        """Tune and write the winner; raises whatever the search or the reads raise (the scheduler logs it)."""
        started = time.perf_counter()
        watermark = self._ratings.watermark()  # read first: rows arriving meanwhile count as growth
        films = self._films()
        screened = screen_ratings(self._ratings.read_all(), films[Columns.Item])
        log.info(
            "tuning (%s): %d trial(s) within %g s on %d rating(s)",
            reason,
            self.trials,
            self.budget_s,
            len(screened.ratings),
        )
        result = tune(screened.ratings, films, self._base(), budget_s=self.budget_s, trials=self.trials)
        data = {DATA_RATINGS: len(screened.ratings), DATA_WATERMARK: watermark}
        write_tuned(
            self.tuned_file,
            result.best,
            result.validation(),
            datetime.now(UTC).isoformat(timespec="seconds"),
            data=data,
        )
        log.info(
            "tuning done in %.0f s: validation nDCG@%d %.4f (was %.4f), winner written to %s",
            time.perf_counter() - started,
            result.k,
            result.best_trial.ndcg,
            result.base_trial.ndcg,
            self.tuned_file,
        )
        return result


def apply_tuned(engine: Engine, explicit: ModelConfig, tuned_file: Path) -> None:
    """Let ``engine`` train with the tuned file's winner from its next cycle (``explicit``: the settings'
    model, whose explicitly set fields still win); a file that cannot be applied is logged and ignored."""
    try:
        config = effective_model_config(explicit, tuned_file)
    except TunedFileError as exc:
        log.error("the tuned model file is not applied (%s); the engine keeps its model configuration", exc)
        return
    if engine.use_model(config):
        log.info("the next cycle trains with the tuned configuration %s", changed_fields(config))
