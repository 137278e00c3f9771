"""The item-item part of the blend on large catalogues (review "The quality loop", item 3).

Dense EASE needs an n x n inverse: O(n^3) time and 8 n^2 bytes per float64 matrix (20 GB at 50,000
films). The engine fits EASE on the ``ease_max_films`` most-rated films only (``hybrid.fit_ease``,
5,000 by default), so its cost stops growing with the catalogue past that size. For each catalogue
size this measures, in a fresh process each (so peak RSS is that size's own), on synthetic ratings
(power-law film popularity, ratings 1..10):

- the EASE part's fit time with the default cap (history, most-rated films, Gram matrix, inverse)
  and the process's peak RSS before and after it;
- the EASE part's scoring: users/s of a block's history x EASE weights;
- as a reference in the same run, a plain float64 GEMM of the size of the inverse (m x m times
  m x m): the fit time is reported as a multiple of it, which tells the machine's speed apart from
  the method's; the load average is recorded at the start and the end (the machine is shared).

Usage: .venv/bin/python benchmarks/bench_item_item.py [--films 20000,50000 --users 200000
       --ratings 5000000] [--output benchmarks/results/item_item.json]
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

from recommender_engine.model.hybrid import ModelConfig, fit_ease
from recsys_common.machine import machine_info

#: Users per scoring block (the engine's default block size).
BLOCK = 2048
#: Scoring blocks timed per catalogue size.
BLOCKS = 5
#: GEMM repetitions (the best is kept).
GEMM_REPEATS = 3
_KIB = 1024


def synthetic_ratings(n_users: int, n_films: int, n_ratings: int, rng: np.random.Generator) -> sp.csr_matrix:
    """Power-law film popularity (exponent 0.8), ~n_ratings distinct (user, film) pairs rated 1..10."""
    popularity = 1.0 / np.arange(1, n_films + 1) ** 0.8
    popularity /= popularity.sum()
    users = rng.integers(0, n_users, n_ratings)
    films = rng.permutation(n_films)[rng.choice(n_films, n_ratings, p=popularity)]  # popular films anywhere
    matrix = sp.csr_matrix((np.ones(n_ratings, dtype=np.float32), (users, films)), shape=(n_users, n_films))
    matrix.sum_duplicates()
    matrix.data = rng.integers(1, 11, matrix.nnz).astype(np.float32)
    return matrix


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / _KIB, 1)


def _gemm_seconds(size: int, rng: np.random.Generator) -> float:
    left = rng.standard_normal((size, size))
    right = rng.standard_normal((size, size))
    best = float("inf")
    for _ in range(GEMM_REPEATS):
        tick = time.perf_counter()
        np.dot(left, right)
        best = min(best, time.perf_counter() - tick)
    return best


def measure(n_users: int, n_films: int, n_ratings: int, queue: Any) -> None:
    """One catalogue size, in a process of its own; puts its figures on ``queue``."""
    rng = np.random.default_rng(42)
    ratings = synthetic_ratings(n_users, n_films, n_ratings, rng)
    config = ModelConfig()
    rss_before = _peak_rss_mib()
    tick = time.perf_counter()
    weights, history, films = fit_ease(ratings, config)
    fit_s = time.perf_counter() - tick
    rss_after = _peak_rss_mib()
    covered = n_films if films is None else int(films.size)
    covered_ratings = history.nnz if films is None else int(history[:, films].nnz)

    # The EASE part of scoring, as HybridModel._blend does it for a block of users.
    tick = time.perf_counter()
    for block in range(BLOCKS):
        rows = history[block * BLOCK : (block + 1) * BLOCK]
        if films is not None:
            rows = sp.csr_matrix(rows[:, films])
        np.asarray(rows @ weights, dtype=np.float32)
    score_rate = BLOCKS * BLOCK / (time.perf_counter() - tick)

    gemm_s = _gemm_seconds(covered, rng)
    queue.put(
        {
            "films": n_films,
            "users": n_users,
            "ratings": int(ratings.nnz),
            "ease_films": covered,
            "ratings_on_ease_films": covered_ratings,
            "ease_fit_seconds": round(fit_s, 2),
            "peak_rss_mib_before_ease": rss_before,
            "peak_rss_mib_after_ease": rss_after,
            "ease_weights_mib": round(weights.nbytes / 2**20, 1),
            "ease_scoring_users_per_s": round(score_rate),
            "reference_gemm": f"float64 {covered} x {covered} x {covered}, best of {GEMM_REPEATS}",
            "reference_gemm_seconds": round(gemm_s, 2),
            "fit_over_gemm": round(fit_s / gemm_s, 1),
            "dense_ease_float64_gib_per_matrix": round(8 * n_films**2 / 2**30, 1),
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        }
    )


app = typer.Typer(add_completion=False)


@app.command(help=__doc__)
def main(
    films: Annotated[str, typer.Option(help="catalogue sizes, comma-separated")] = "20000,50000",
    users: Annotated[int, typer.Option()] = 200_000,
    ratings: Annotated[int, typer.Option()] = 5_000_000,
    output: Annotated[Path, typer.Option()] = Path("benchmarks/results/item_item.json"),
) -> None:
    sizes = [int(size) for size in films.split(",")]
    result: dict[str, Any] = {
        "machine": machine_info(),
        "params": {"films": sizes, "users": users, "ratings": ratings, "ease_max_films": ModelConfig().ease_max_films},
        "note": "EASE part of the blend only (LightFM is unchanged); each size in a fresh process",
        "sizes": [],
    }
    context = multiprocessing.get_context("spawn")
    for size in sizes:
        queue = context.Queue()
        process = context.Process(target=measure, args=(users, size, ratings, queue))
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
