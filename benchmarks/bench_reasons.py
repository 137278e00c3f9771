"""What the reasons ("because you rated ...") cost in the engine's cycle on MovieLens-100K.

Fits the engine's model (default ``ModelConfig``) once on the seed set, then times the cycle's
scoring phase (``lists.personal_lists`` with the cycle's defaults: blocks of 2,048 users, 2 threads,
100 must-watch films and 18 genres x 20) with and without ``HybridModel.reasons``, best of
``REPEATS`` runs each, interleaved. The fit time of the same run is the reference for the whole
cycle (fit + scoring; publishing is the same with or without reasons but 200 bytes per user).

Usage: .venv/bin/python benchmarks/bench_reasons.py [--seed-dir var/seed]
       [--output benchmarks/results/reasons_ml100k.json]
Needs the seed set (``recsys data``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from recommender_engine.cycle import ListConfig
from recommender_engine.lists import ReasonFn, genre_groups, personal_lists
from recommender_engine.model.dataset import build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recommender_engine.ranking import GenreIndex
from recsys_common.machine import machine_info
from recsys_datasets.seeddata import load_seed

#: Timed runs of each variant (the best is kept: the machine is shared).
REPEATS = 5

app = typer.Typer(add_completion=False)


@app.command(help=__doc__)
def main(
    seed_dir: Annotated[Path, typer.Option(help="The seed set written by `recsys data`.")] = Path("var/seed"),
    output: Annotated[Path, typer.Option(help="Where the JSON results go.")] = Path(
        "benchmarks/results/reasons_ml100k.json"
    ),
) -> None:
    seed = load_seed(seed_dir)
    dataset = build_dataset(seed.ratings, seed.films)
    machine = machine_info()
    tick = time.perf_counter()
    model = HybridModel(ModelConfig()).fit(dataset)
    fit_s = time.perf_counter() - tick
    cfg = ListConfig()
    _, groups = genre_groups(dataset.films)
    genres = GenreIndex(groups, dataset.n_films)

    def scoring(reasons: ReasonFn | None) -> Callable[[], float]:
        def run() -> float:
            tick = time.perf_counter()
            for _ in personal_lists(
                model.score_block,
                dataset.matrix,
                genres,
                cfg.must_watch_len,
                cfg.genre_len,
                cfg.block_size,
                cfg.score_threads,
                reasons,
            ):
                pass
            return time.perf_counter() - tick

        return run

    without, with_reasons = scoring(None), scoring(model.reasons)
    times: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(REPEATS):
        times["without"].append(without())
        times["with"].append(with_reasons())
    must_watch = np.concatenate(
        [
            block.must_watch
            for block in personal_lists(
                model.score_block, dataset.matrix, genres, cfg.must_watch_len, cfg.genre_len, cfg.block_size, 1
            )
        ]
    )
    reasons_alone = []
    for _ in range(REPEATS):  # the reasons of the real must-watch lists, every user at once
        tick = time.perf_counter()
        model.reasons(dataset.matrix, must_watch)
        reasons_alone.append(time.perf_counter() - tick)
    best_without, best_with = min(times["without"]), min(times["with"])
    report = {
        "machine": machine,
        "load_average_end": machine_info()["load_average"],
        "data": {"users": dataset.n_users, "films": dataset.n_films, "ratings": dataset.n_ratings},
        "lists": {
            "must_watch_len": cfg.must_watch_len,
            "genre_len": cfg.genre_len,
            "block_size": cfg.block_size,
            "score_threads": cfg.score_threads,
        },
        "repeats": REPEATS,
        "fit_seconds": round(fit_s, 3),
        "scoring_seconds_without_reasons": round(best_without, 4),
        "scoring_seconds_with_reasons": round(best_with, 4),
        "reasons_alone_seconds_one_thread": round(min(reasons_alone), 4),
        "scoring_ratio_with_to_without": round(best_with / best_without, 3),
        "cycle_seconds_without_reasons": round(fit_s + best_without, 3),
        "cycle_seconds_with_reasons": round(fit_s + best_with, 3),
        "cycle_ratio_with_to_without": round((fit_s + best_with) / (fit_s + best_without), 4),
        "all_runs_seconds": {name: [round(t, 4) for t in runs] for name, runs in times.items()},
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    typer.echo(json.dumps(report, indent=2, sort_keys=True))


if __name__ == "__main__":
    app()
