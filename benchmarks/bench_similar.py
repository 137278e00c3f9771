"""Similar films on large catalogues: the engine's item-to-item lists (``recommender_engine.similar``).

Every film's 20 most similar films are computed in blocks of 256 films, so a catalogue of n films
never holds its n x n similarity matrix (4 n^2 bytes as float32: 9.3 GiB at 50,000). For each
catalogue size, in a fresh process (so peak RSS is that size's own), on synthetic model parameters
of the engine's shape (64-dimensional item representations, EASE on the 5,000 most-rated films):

- the time of ``SimilarityModel.top(20)`` over the whole catalogue and the process's peak RSS before
  and after it;
- as a reference in the same run, a float32 GEMM of the same size as the cosine part alone
  (n x 64 times 64 x n, in the same blocks, no top-k): the time is reported as a multiple of it,
  which tells the machine's speed apart from the method's; the load average is recorded at the start
  and the end (the machine is shared).

Usage: .venv/bin/python benchmarks/bench_similar.py [--films 20000,50000]
       [--output benchmarks/results/similar_films_scale.json]
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import scipy.sparse as sp
import typer

from recommender_engine.model.features import ItemFeatures
from recommender_engine.model.hybrid import DEFAULT_EASE_MAX_FILMS, HybridParams
from recommender_engine.similar import DEFAULT_BLOCK_ROWS, DEFAULT_EASE_WEIGHT, SimilarityModel
from recsys_common.machine import machine_info
from recsys_common.ports.recstore import SIMILAR_MAX

DIMENSIONS = 64
USERS = 20_000
RATINGS_PER_USER = 50
MIN_RATINGS = 5
_KIB = 1024


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / _KIB, 1)


def synthetic_params(n_films: int, rng: np.random.Generator) -> HybridParams:
    """Parameters of the engine's shape: identity item features, random embeddings, EASE weights of
    the most-rated films, a history with power-law film popularity."""
    popularity = 1.0 / np.arange(1, n_films + 1) ** 0.8
    films = rng.choice(n_films, USERS * RATINGS_PER_USER, p=popularity / popularity.sum())
    users = np.repeat(np.arange(USERS), RATINGS_PER_USER)
    history = sp.csr_matrix((np.ones(films.size, dtype=np.float32), (users, films)), shape=(USERS, n_films))
    history.sum_duplicates()
    covered = min(n_films, DEFAULT_EASE_MAX_FILMS)
    return HybridParams(
        user_embeddings=np.zeros((USERS, DIMENSIONS), dtype=np.float32),
        user_biases=np.zeros(USERS, dtype=np.float32),
        feature_embeddings=rng.standard_normal((n_films, DIMENSIONS), dtype=np.float32),
        feature_biases=np.zeros(n_films, dtype=np.float32),
        item_features=ItemFeatures(
            sp.identity(n_films, dtype=np.float32, format="csr"), tuple(map(str, range(n_films)))
        ),
        ease=rng.standard_normal((covered, covered), dtype=np.float32),
        history=history,
        ease_films=None if covered == n_films else np.arange(covered, dtype=np.int64),
    )


def _reference_seconds(params: HybridParams) -> float:
    """The cosine products alone, in the same blocks (no standardisation, no EASE, no top-k)."""
    vectors = np.ascontiguousarray(params.feature_embeddings)
    tick = time.perf_counter()
    for start in range(0, params.n_films, DEFAULT_BLOCK_ROWS):
        vectors[start : start + DEFAULT_BLOCK_ROWS] @ vectors.T
    return time.perf_counter() - tick


def measure(n_films: int, queue: Any) -> None:
    """One catalogue size, in a process of its own; puts its figures on ``queue``."""
    rng = np.random.default_rng(42)
    params = synthetic_params(n_films, rng)
    similarity = SimilarityModel(params, MIN_RATINGS, DEFAULT_EASE_WEIGHT)
    rss_before = _peak_rss_mib()
    tick = time.perf_counter()
    top = similarity.top(SIMILAR_MAX)
    seconds = time.perf_counter() - tick
    rss_after = _peak_rss_mib()
    reference = _reference_seconds(params)
    queue.put(
        {
            "films": n_films,
            "similar_per_film": int(top.shape[1]),
            "ease_films": min(n_films, DEFAULT_EASE_MAX_FILMS),
            "seconds": round(seconds, 2),
            "films_per_second": round(n_films / seconds),
            "peak_rss_mib_before": rss_before,
            "peak_rss_mib_after": rss_after,
            "dense_matrix_float32_gib": round(4 * n_films**2 / 2**30, 1),
            "reference": f"float32 cosine products alone ({n_films} x {DIMENSIONS} x {n_films}, same blocks)",
            "reference_seconds": round(reference, 2),
            "seconds_over_reference": round(seconds / reference, 1),
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        }
    )


app = typer.Typer(add_completion=False)


@app.command(help=__doc__)
def main(
    films: Annotated[str, typer.Option(help="catalogue sizes, comma-separated")] = "20000,50000",
    output: Annotated[Path, typer.Option()] = Path("benchmarks/results/similar_films_scale.json"),
) -> None:
    sizes = [int(size) for size in films.split(",")]
    result: dict[str, Any] = {
        "machine": machine_info(),
        "params": {
            "films": sizes,
            "dimensions": DIMENSIONS,
            "block_rows": DEFAULT_BLOCK_ROWS,
            "ease_weight": DEFAULT_EASE_WEIGHT,
        },
        "note": "synthetic model parameters; each size in a fresh process",
        "sizes": [],
    }
    context = multiprocessing.get_context("spawn")
    for size in sizes:
        queue = context.Queue()
        process = context.Process(target=measure, args=(size, queue))
        process.start()
        figures = queue.get()
        process.join()
        typer.echo(json.dumps(figures))
        result["sizes"].append(figures)
    result["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"written to {output}")


if __name__ == "__main__":
    app()
