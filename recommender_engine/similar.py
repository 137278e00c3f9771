"""Similar films (item to item): every film's most similar films, from the fitted model.

A film's similarity to another is the cosine of their LightFM item representations (item features x
feature embeddings: what ``HybridModel`` scores with, so a film nobody rated yet has one through its
side features), blended with the EASE part of the model where it has one: film i's EASE row (the
scores EASE gives every film for a user who rated only film i). Both are standardised per row and
summed, EASE with weight ``ease_weight``, as ``HybridModel`` blends a user's scores. EASE covers only
its ``ease_films`` (the most-rated films); a film outside them, or with too few ratings for its EASE
weights to mean much (``identity_min_ratings``), keeps its embedding z-score on both sides, so its
row (as a query) and its column (as an answer) rest on the embeddings alone.

The weight was chosen by ``recsys evaluate --protocol similar`` on MovieLens-100K
(``evaluation.similar``): see ``DEFAULT_EASE_WEIGHT``.

Rows are computed in blocks of ``block_rows`` films (one matrix product and one fused top-k,
``ranking.select_top_k``, per block), so a large catalogue never builds its n x n matrix at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from recommender_engine.model.hybrid import HybridModel, HybridParams, rating_counts
from recommender_engine.ranking import IndexArray, select_top_k
from recsys_common.ports.recstore import SIMILAR_MAX

FloatArray = npt.NDArray[np.float32]

#: Films per block: a block holds a few (block_rows x n_films) float32 matrices (200 MB at 50,000 films).
DEFAULT_BLOCK_ROWS = 256
#: Weight of the EASE z-scores against the embeddings' (see the module docstring). On MovieLens-100K
#: (``recsys evaluate --protocol similar``, ``benchmarks/results/similar_films_ml100k.json``) the
#: embeddings alone reach pair hit rate / precision@20 0.744 / 0.090, weight 0.3 0.832 / 0.109, 1
#: 0.859 / 0.116, 3 0.866 / 0.117, 100 (EASE alone where it covers) 0.866 / 0.116; 1 is within
#: 0.007 / 0.0013 of the best and keeps more of the catalogue in some list (coverage 0.971 against
#: 0.949 and 0.921), so film pages show more different films.
DEFAULT_EASE_WEIGHT = 1.0
#: Guards the per-row standardisation against a constant row.
STD_FLOOR = 1e-6
#: Guards the normalisation of an all-zero item vector.
NORM_FLOOR = 1e-12


def _standardise(scores: FloatArray) -> FloatArray:
    mean = scores.mean(axis=1, keepdims=True)
    std = np.maximum(scores.std(axis=1, keepdims=True), STD_FLOOR)
    return np.asarray((scores - mean) / std, dtype=np.float32)


class SimilarityModel:
    """The similarity of films to every film, from a fitted model's parameters (module docstring)."""

    def __init__(self, params: HybridParams, identity_min_ratings: int, ease_weight: float) -> None:
        if ease_weight < 0:
            raise ValueError(f"the EASE weight must not be negative, got {ease_weight}")
        vectors = np.asarray(params.item_features.matrix @ params.feature_embeddings, dtype=np.float32)
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), NORM_FLOOR)
        self._unit = np.ascontiguousarray(vectors / norms, dtype=np.float32)
        self.n_films = params.n_films
        self._ease = params.ease if ease_weight > 0 else None
        self._weight = np.float32(ease_weight)
        #: EASE row of each film (-1: not covered, or too few ratings), and where EASE's z-scores
        #: replace the embeddings' in a blended row: the covered films with enough ratings
        #: (``_answers``, film indices) at their positions among EASE's columns (``_answer_pos``).
        self._ease_row = np.full(self.n_films, -1, dtype=np.int64)
        self._answers = self._answer_pos = np.zeros(0, dtype=np.int64)
        if self._ease is not None and params.history is not None:
            columns = np.arange(self.n_films, dtype=np.int64)
            if params.ease_films is not None:
                columns = np.asarray(params.ease_films, dtype=np.int64)
            strong = rating_counts(params.history)[columns] >= identity_min_ratings
            self._answers, self._answer_pos = columns[strong], np.flatnonzero(strong).astype(np.int64)
            self._ease_row[self._answers] = self._answer_pos

    @staticmethod
    def of(model: HybridModel, ease_weight: float = DEFAULT_EASE_WEIGHT) -> SimilarityModel:
        return SimilarityModel(model.params, model.config.identity_min_ratings, ease_weight)

    def scores(self, films: npt.NDArray[np.integer]) -> FloatArray:
        """(len(films), n_films) similarities of ``films`` to every film, higher is more similar; a
        film's own entry is -inf."""
        rows = np.asarray(films, dtype=np.int64)
        scores = self._unit[rows] @ self._unit.T
        ease_rows = self._ease_row[rows]
        blended = np.flatnonzero(ease_rows >= 0)
        if self._ease is not None and blended.size:
            # z + weight x (EASE's z where it knows the film, else z again); a row without EASE keeps
            # its cosines, which rank as their z-scores do
            cosine_z = _standardise(scores[blended])
            ease_z = _standardise(self._ease[ease_rows[blended]])
            mixed = cosine_z * (1 + self._weight)
            mixed[:, self._answers] = cosine_z[:, self._answers] + self._weight * ease_z[:, self._answer_pos]
            scores[blended] = mixed
        scores[np.arange(rows.size), rows] = -np.inf
        return np.asarray(scores, dtype=np.float32)

    def top(self, k: int = SIMILAR_MAX, block_rows: int = DEFAULT_BLOCK_ROWS) -> IndexArray:
        """(n_films, min(k, n_films - 1)) film indices: every film's ``k`` most similar films, most
        similar first (ties: the lower index), itself never; -1 where there are fewer."""
        if block_rows < 1:
            raise ValueError(f"block_rows must be >= 1, got {block_rows}")
        width = max(0, min(k, self.n_films - 1))
        top = np.full((self.n_films, width), -1, dtype=np.int32)
        for start in range(0, self.n_films, block_rows):
            rows = np.arange(start, min(start + block_rows, self.n_films))
            top[rows], _ = select_top_k(self.scores(rows), width)
        return top


def similar_films(
    model: HybridModel,
    k: int = SIMILAR_MAX,
    ease_weight: float = DEFAULT_EASE_WEIGHT,
    block_rows: int = DEFAULT_BLOCK_ROWS,
) -> IndexArray:
    """Every film's ``k`` most similar films by the fitted ``model`` (``SimilarityModel.top``)."""
    return SimilarityModel.of(model, ease_weight).top(k, block_rows)
