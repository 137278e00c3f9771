"""The seed data step: fetch the pinned sources, build the seed set, save and load it.

Nothing here fetches or reads anything at import time.
"""

from recommender_engine.data.build import build_seed
from recommender_engine.data.errors import DataFormatError, DataUnavailable
from recommender_engine.data.movielens_csv import load_movielens_csv
from recommender_engine.data.rotten_tomatoes import load_rotten_tomatoes
from recommender_engine.data.seeddata import SeedData, load_seed, save_seed
from recommender_engine.data.sources import SOURCES, Source, fetch_sources

__all__ = [
    "SOURCES",
    "DataFormatError",
    "DataUnavailable",
    "SeedData",
    "Source",
    "build_seed",
    "fetch_sources",
    "load_movielens_csv",
    "load_rotten_tomatoes",
    "load_seed",
    "save_seed",
]
