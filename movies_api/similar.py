"""A film's similar films as cards: ids from the Recommendations API (the model's item-to-item lists,
one request), cards from the catalogue.

When that API is slow, down, or has no similar films for the film (404: a cold-start-only version,
a film newer than the serving version), the answer is the catalogue's films sharing the most genres
with the film, ties by IMDb rating (``GenreNeighbours``). The answer says which source gave it
(``SOURCE_MODEL`` or ``SOURCE_FALLBACK``; the route sends it as the ``X-Similar-Source`` header).
The circuit breaker is the one of the personal lists: both call the same API.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from starlette.concurrency import run_in_threadpool

from movies_api.breaker import CircuitBreaker
from movies_api.recommendations import CIRCUIT_OPEN, RecommendationsClient, RecommendationsUnavailable, guarded
from recsys_common.domain import Film
from recsys_common.ports.catalog import CatalogReader
from recsys_common.ports.recstore import SIMILAR_MAX

log = logging.getLogger(__name__)

SimilarSource = Literal["model", "fallback"]
SOURCE_MODEL: SimilarSource = "model"
SOURCE_FALLBACK: SimilarSource = "fallback"


@dataclass(frozen=True)
class SimilarFilms:
    source: SimilarSource
    films: list[Film]


class GenreNeighbours:
    """The catalogue's films by how many genres they share with a film, ties by IMDb rating (unknown
    last), then by film id. The catalogue is read again at most every ``ttl_s``. Blocking: call it
    from a worker thread."""

    def __init__(self, catalog: CatalogReader, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._catalog = catalog
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._films: list[Film] = []
        self._genres: dict[str, int] = {}
        self._member = np.zeros((0, 0), dtype=np.float32)
        self._rating = np.zeros(0, dtype=np.float64)

    def similar(self, film: Film, limit: int) -> list[Film]:
        """The ``limit`` films (never ``film`` itself) sharing the most genres with ``film``."""
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._ttl_s:
                self._load()
                self._read_at = now
            films, member, rating = self._films, self._member, self._rating
            wanted = np.zeros(member.shape[1], dtype=np.float32)
            wanted[[self._genres[g] for g in film.genres if g in self._genres]] = 1.0
        shared = member @ wanted
        order = np.lexsort((np.arange(len(films)), -rating, -shared))  # last key first
        return [films[i] for i in order[: limit + 1] if films[i].film_id != film.film_id][:limit]

    def _load(self) -> None:
        films = sorted(self._catalog.films(), key=lambda f: f.film_id)
        genres = {name: i for i, name in enumerate(sorted({g for f in films for g in f.genres}))}
        member = np.zeros((len(films), len(genres)), dtype=np.float32)
        for row, film in enumerate(films):
            member[row, [genres[g] for g in film.genres]] = 1.0
        rating: npt.NDArray[np.float64] = np.array(
            [-np.inf if f.imdb_rating is None else f.imdb_rating for f in films], dtype=np.float64
        )
        self._films, self._genres, self._member, self._rating = films, genres, member, rating


class SimilarFilmsService:
    """A film's similar films as cards: the model's (``RecommendationsClient.similar``) else the
    genre neighbours, behind the personal lists' circuit breaker."""

    def __init__(
        self,
        client: RecommendationsClient,
        catalog: CatalogReader,
        neighbours: GenreNeighbours,
        breaker: CircuitBreaker,
        on_answer: Callable[[str, str], None] = lambda source, reason: None,
    ) -> None:
        self._client = client
        self._catalog = catalog
        self._neighbours = neighbours
        self._breaker = breaker
        self._on_answer = on_answer

    async def similar(self, film: Film, limit: int) -> SimilarFilms:
        """Up to ``limit`` cards, most similar first. Raises CatalogUnavailable when the catalogue
        cannot be read."""
        if not self._breaker.allow():
            return await self._fallback(film, limit, CIRCUIT_OPEN)
        try:
            # the longest list: room for films the catalogue no longer holds
            answer = await guarded(self._breaker, self._client.similar(film.film_id, SIMILAR_MAX))
        except RecommendationsUnavailable as exc:
            log.info("similar films of %s fall back to genre neighbours: %s", film.film_id, exc)
            return await self._fallback(film, limit, exc.reason)
        ids = [i for i in answer.film_ids if i != film.film_id]
        films = (await run_in_threadpool(self._catalog.get_many, ids))[:limit]
        if not films:
            return await self._fallback(film, limit, "unknown_films" if ids else "empty")
        self._on_answer(SOURCE_MODEL, "ok")
        return SimilarFilms(SOURCE_MODEL, films)

    async def _fallback(self, film: Film, limit: int, reason: str) -> SimilarFilms:
        films = await run_in_threadpool(self._neighbours.similar, film, limit)
        self._on_answer(SOURCE_FALLBACK, reason)
        return SimilarFilms(SOURCE_FALLBACK, films)
