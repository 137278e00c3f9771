"""Build the default seed set: fetch the pinned sources, read them and join the catalogue."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from recsys_datasets.catalogue import build_catalogue
from recsys_datasets.readers import read_imdb, read_movielens_100k, read_movielens_latest_small, read_vega_movies
from recsys_datasets.seeddata import SeedData
from recsys_datasets.sources import (
    ASIDE_SOURCES,
    IMDB,
    ML_LATEST_SMALL,
    MOVIELENS,
    SOURCES,
    VEGA,
    Source,
    fetch_sources,
)

#: Id prefix of the aside set's films and users (its movieIds are not MovieLens-100K's item ids).
ASIDE_PREFIX = "mllatest:"


def build_seed(cache_dir: Path, progress: bool, sources: Sequence[Source] = SOURCES) -> SeedData:
    """Fetch (or reuse from ``cache_dir``) the seed sources and build the seed set.

    ``sources`` must hold sources named like MOVIELENS, IMDB and VEGA (tests pin their own files).

    Raises DataUnavailable when a source cannot be fetched, DataFormatError when a file does not
    have the expected layout.
    """
    started = time.perf_counter()
    files = fetch_sources(cache_dir, progress, sources)
    items, ml_ratings = read_movielens_100k(files[MOVIELENS.name])
    imdb = read_imdb(files[IMDB.name])
    vega = read_vega_movies(files[VEGA.name])
    seed = build_catalogue(items, ml_ratings, imdb, vega)
    if progress:
        report = seed.report
        print(
            f"seed set: {report['films']} films, {report['ratings']} ratings, {report['users']} users; "
            f"IMDb matched {report['imdb_matched_films']} films ({report['imdb_matched_films_share']:.1%}, "
            f"{report['imdb_matched_ratings_share']:.1%} of ratings), RT matched {report['rt_matched_films']} "
            f"films ({report['rt_matched_films_share']:.1%}) in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return seed


def build_aside(cache_dir: Path, progress: bool, sources: Sequence[Source] = ASIDE_SOURCES) -> SeedData:
    """The set kept aside for checking (``sources.ML_LATEST_SMALL``), its films enriched with IMDb and
    RT values as the seed's are, so the engine runs on it with the same features and defaults.

    ``sources`` must hold sources named like ML_LATEST_SMALL, IMDB and VEGA. Raises as ``build_seed``.
    """
    files = fetch_sources(cache_dir, progress, sources)
    items, ratings = read_movielens_latest_small(files[ML_LATEST_SMALL.name])
    return build_catalogue(
        items, ratings, read_imdb(files[IMDB.name]), read_vega_movies(files[VEGA.name]), prefix=ASIDE_PREFIX
    )
