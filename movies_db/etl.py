"""The ETL into the catalogue: films changed since the saved state, in batches, upserted by id.

A source yields films in (modified, film id) order after a saved position; each batch is upserted
together with the position of its last film, so a run that dies goes on after the last batch the
catalogue holds, and loading a batch twice changes nothing.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from recsys_common.domain import Film
from recsys_common.ports.catalog import Catalog, EtlState
from recsys_datasets.frames import films_from_frame

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500


class SourceUnavailable(RuntimeError):
    """The film source cannot be read (database down, bad schema)."""


@dataclass(frozen=True)
class FilmBatch:
    films: list[Film]
    state: EtlState  # position of the last film of the batch


@dataclass(frozen=True)
class EtlReport:
    films: int
    batches: int
    state: EtlState | None
    seconds: float


class FilmSource(abc.ABC):
    @abc.abstractmethod
    def batches(self, after: EtlState | None, batch_size: int) -> Iterator[FilmBatch]:
        """Films after position ``after`` (all when None) in (modified, film id) order, in batches."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class FrameFilmSource(FilmSource):
    """The seed films frame as a source; every film carries the same ``modified`` (the frame's age).

    Give the time the frame's data last changed (e.g. the seed file's mtime): a rerun with the same
    time loads nothing, a newer one reloads every film.
    """

    def __init__(self, films: pd.DataFrame, modified: datetime) -> None:
        if modified.tzinfo is None:
            raise ValueError("modified must carry a time zone")
        self._films = sorted(films_from_frame(films), key=lambda f: f.film_id)
        self._modified = modified

    def batches(self, after: EtlState | None, batch_size: int) -> Iterator[FilmBatch]:
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        films = self._films
        if after is not None:
            if after.modified > self._modified:
                return
            if after.modified == self._modified:
                films = [f for f in films if f.film_id > after.last_id]
        for start in range(0, len(films), batch_size):
            chunk = films[start : start + batch_size]
            yield FilmBatch(chunk, EtlState(self._modified, chunk[-1].film_id))


def run_etl(
    source: FilmSource, catalog: Catalog, batch_size: int = DEFAULT_BATCH_SIZE, full: bool = False
) -> EtlReport:
    """Copy the films changed since the catalogue's saved state (all of them when ``full``)."""
    started = time.perf_counter()
    state = None if full else catalog.etl_state()
    films = batches = 0
    for batch in source.batches(state, batch_size):
        films += catalog.upsert(batch.films, batch.state)
        batches += 1
        state = batch.state
        logger.debug("loaded %d films up to %s", films, state)
    seconds = time.perf_counter() - started
    logger.info("ETL loaded %d films in %d batches in %.2f s", films, batches, seconds)
    return EtlReport(films, batches, state, seconds)


def utc_from_timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
