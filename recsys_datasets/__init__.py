"""Datasets: the seed set (fetched from package registries), MovieLens-CSV and Rotten Tomatoes loaders.

Nothing here fetches or reads anything at import time.
"""

from recsys_datasets.build import build_aside, build_seed
from recsys_datasets.errors import DataFormatError, DataUnavailable
from recsys_datasets.movielens_csv import load_movielens_csv
from recsys_datasets.rotten_tomatoes import load_rotten_tomatoes
from recsys_datasets.seeddata import SeedData, load_seed, save_seed
from recsys_datasets.sources import SOURCES, Source, fetch_sources

__all__ = [
    "SOURCES",
    "DataFormatError",
    "DataUnavailable",
    "SeedData",
    "Source",
    "build_aside",
    "build_seed",
    "fetch_sources",
    "load_movielens_csv",
    "load_rotten_tomatoes",
    "load_seed",
    "save_seed",
]
