"""The quality gate: a new model replaces the serving one only when it predicts viewers' newest
ratings at least as well.

Validation without leakage: the ratings that arrived after the serving version's training
watermark were seen by neither model. For every user the serving model knows who rated since then,
the newest of those ratings (by event time) is held out. The candidate is the new configuration
fitted on every rating but the held-out ones (the final model, fitted on everything, is trained
only when the gate passes); the serving model is the serving version's artefact as it is. Both
rank the whole catalogue for those users, the films of the user's remaining ratings masked, and
each user's nDCG@k of the one held-out film is compared in pairs.

The candidate is refused when it is worse beyond noise: when the mean paired difference plus
``NOISE_SIGMAS`` standard errors is below ``-tolerance``. With fewer than ``min_users`` such users
(e.g. a cycle that runs for a catalogue change, or a quiet hour) the gate does not judge and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from recommender_engine.model.artefact import ArtefactError, load_artefact
from recommender_engine.model.dataset import Dataset, build_dataset
from recommender_engine.model.hybrid import HybridModel
from recommender_engine.ranking import mask_seen
from recsys_common.columns import Columns
from recsys_common.domain import RATING_REMOVED

log = logging.getLogger(__name__)

#: The candidate is refused only when it is worse by more than this many standard errors of the
#: paired difference beyond the tolerance: one held-out film per user is a noisy measure.
NOISE_SIGMAS = 2.0


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    #: How much worse (mean nDCG@k, absolute) the candidate may be than the serving model.
    tolerance: float = Field(default=0.01, ge=0.0)
    #: Fewer validation users than this: the gate does not judge.
    min_users: int = Field(default=30, ge=1)
    k: int = Field(default=10, ge=1)


@dataclass(frozen=True)
class Verdict:
    judged: bool
    passed: bool
    reason: str
    figures: dict[str, float] = field(default_factory=dict)


ModelFactory = Callable[[], HybridModel]


def judge(
    config: GateConfig,
    ratings: pd.DataFrame,
    new_ratings: pd.DataFrame,
    films: pd.DataFrame,
    serving_artefact: Path,
    candidate: ModelFactory,
) -> Verdict:
    """Compare a candidate (fitted here on ``ratings`` minus the validation ratings) with the serving
    model (``serving_artefact``) on the newest of each user's ``new_ratings`` (module docstring)."""
    if not serving_artefact.exists():
        return Verdict(False, True, "the serving version has no model to compare with")
    try:
        serving, ids, _ = load_artefact(serving_artefact)
    except ArtefactError as exc:
        return Verdict(False, True, f"the serving model cannot be read ({exc}); not judged")
    known = ids.user_index()
    rated = new_ratings[new_ratings[Columns.Rating] != RATING_REMOVED]  # removals hold out nothing
    candidates = rated[rated[Columns.User].astype(str).isin(pd.Index(list(known)))]
    candidates = candidates.merge(ratings[[Columns.User, Columns.Item]], on=[Columns.User, Columns.Item])
    newest = candidates.sort_values(Columns.Timestamp, kind="stable").drop_duplicates(Columns.User, keep="last")
    if len(newest) < config.min_users:
        return Verdict(
            False,
            True,
            f"{len(newest)} user(s) rated since the serving version, fewer than {config.min_users}: not judged",
        )
    held = pd.MultiIndex.from_frame(newest[[Columns.User, Columns.Item]].astype(str))
    pairs = pd.MultiIndex.from_frame(ratings[[Columns.User, Columns.Item]].astype(str))
    train = build_dataset(ratings[~pairs.isin(held)].reset_index(drop=True), films)
    model = candidate().fit(train)
    users = np.array([train.user_index()[str(u)] for u in newest[Columns.User]], dtype=np.int64)
    film_column = {str(f): j for j, f in enumerate(train.film_ids)}
    targets = np.array([film_column[str(f)] for f in newest[Columns.Item]], dtype=np.int64)
    seen = train.matrix[users]
    ours = _ndcg(model.score_block(users), seen, targets, config.k)
    serving_rows = [known[str(u)] for u in newest[Columns.User]]
    theirs = _ndcg(_serving_scores(serving, ids.film_ids, serving_rows, train), seen, targets, config.k)
    difference = ours - theirs
    mean = float(difference.mean())
    stderr = float(difference.std(ddof=1) / np.sqrt(difference.size)) if difference.size > 1 else 0.0
    figures = {
        "gate_users": float(difference.size),
        "gate_candidate_ndcg": float(ours.mean()),
        "gate_serving_ndcg": float(theirs.mean()),
        "gate_difference_stderr": stderr,
    }
    worse = mean + NOISE_SIGMAS * stderr < -config.tolerance
    reason = (
        f"nDCG@{config.k} of {difference.size} users' newest ratings: candidate {ours.mean():.4f}, "
        f"serving {theirs.mean():.4f} (difference {mean:+.4f} ± {stderr:.4f}, tolerance {config.tolerance:g})"
    )
    return Verdict(True, not worse, reason, figures)


def _serving_scores(
    serving: HybridModel, serving_films: npt.NDArray[np.str_], rows: list[int], train: Dataset
) -> npt.NDArray[np.float32]:
    """The serving model's scores laid out on the candidate's films (films it does not know: -inf)."""
    scores = serving.score_block(np.asarray(rows, dtype=np.int64))
    laid_out = np.full((len(rows), train.n_films), -np.inf, dtype=np.float32)
    position = {str(f): j for j, f in enumerate(serving_films)}
    columns = np.array([position.get(str(f), -1) for f in train.film_ids], dtype=np.int64)
    present = columns >= 0
    laid_out[:, present] = scores[:, columns[present]]
    return laid_out


def _ndcg(
    scores: npt.NDArray[np.float32], seen: sp.csr_matrix, targets: npt.NDArray[np.int64], k: int
) -> npt.NDArray[np.float64]:
    """Per user, nDCG@k of one relevant film: 1 / log2(rank + 1) within the top k, else 0."""
    scores = np.array(scores, dtype=np.float32)
    mask_seen(scores, seen)
    target_scores = scores[np.arange(len(targets)), targets]
    rank = 1 + (scores > target_scores[:, None]).sum(axis=1)
    found = np.isfinite(target_scores) & (rank <= k)
    return np.where(found, 1.0 / np.log2(rank + 1.0), 0.0)
