"""The ETL into the catalogue: films changed since the saved state, in batches, upserted by id;
then films deleted from the source are deleted from the catalogue.

A source yields films in (modified, film id) order after a saved position; each batch is upserted
together with the position of its last film, so a run that dies goes on after the last batch the
catalogue holds, and loading a batch twice changes nothing.

Deletions leave no row behind to read, so they are found by counting: once every changed film is
upserted, the catalogue holds every film of the source, so it holds more films than the source
exactly when some were deleted there. Only then are the two id sets compared and the extra films
deleted (a film added to the source meanwhile makes the counts look even: the next run sees it).
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from recsys_common.domain import Film
from recsys_common.ports.catalog import Catalog, EtlState

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
#: Film ids quoted in the log when films are deleted.
EXAMPLE_IDS = 5


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
    deleted: int = 0


class FilmSource(abc.ABC):
    @abc.abstractmethod
    def batches(self, after: EtlState | None, batch_size: int) -> Iterator[FilmBatch]:
        """Films after position ``after`` (all when None) in (modified, film id) order, in batches."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many films the source holds."""

    @abc.abstractmethod
    def film_ids(self) -> set[str]:
        """The ids of every film of the source."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def run_etl(
    source: FilmSource, catalog: Catalog, batch_size: int = DEFAULT_BATCH_SIZE, full: bool = False
) -> EtlReport:
    """Copy the films changed since the catalogue's saved state (all of them when ``full``), then
    delete the catalogue's films that the source no longer holds."""
    started = time.perf_counter()
    state = None if full else catalog.etl_state()
    films = batches = 0
    for batch in source.batches(state, batch_size):
        films += catalog.upsert(batch.films, batch.state)
        batches += 1
        state = batch.state
        logger.debug("loaded %d films up to %s", films, state)
    deleted = _delete_removed(source, catalog)
    seconds = time.perf_counter() - started
    logger.info("ETL loaded %d films in %d batches and deleted %d in %.2f s", films, batches, deleted, seconds)
    return EtlReport(films, batches, state, seconds, deleted)


def _delete_removed(source: FilmSource, catalog: Catalog) -> int:
    if catalog.search(size=1).total <= source.count():
        return 0
    kept = source.film_ids()
    removed = [film.film_id for film in catalog.films() if film.film_id not in kept]
    if removed:
        logger.info("deleting %d film(s) no longer in the source, e.g. %s", len(removed), removed[:EXAMPLE_IDS])
    return catalog.delete(removed)
