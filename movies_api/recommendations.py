"""A user's recommendations as film cards: ids from the Recommendations API (over HTTP), cards from the catalogue.

When the Recommendations API is slow, down or answers nonsense, the answer is the catalogue's
IMDb-top (``recsys_common.imdb_top``, the ranking the engine's cold-start lists use) with
``source: fallback``, so a viewer always gets films. A circuit breaker (``movies_api.breaker``) stops
calling a failing API for a cool-down, so while it hangs only the first requests wait the timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from movies_api.breaker import CircuitBreaker
from recsys_common.columns import Columns
from recsys_common.domain import Film, Source
from recsys_common.imdb_top import imdb_top_of
from recsys_common.observability import REQUEST_ID_HEADER, current_request_id
from recsys_common.ports.catalog import CatalogReader
from recsys_common.ports.ratings import RatingSource, RatingSourceError

log = logging.getLogger(__name__)

HTTP_OK = 200
#: The most films a viewer's ratings lengthen the list asked for (a viewer who rated thousands of
#: films gets the first films of the longer list that they have not rated).
MAX_EXTRA = 400
#: The Recommendations API's largest ``limit``.
MAX_ASKED = 500
#: How deep the IMDb-top fallback lists are kept (enough to fill a page after leaving rated films out).
FALLBACK_DEPTH = MAX_ASKED
HTTP_SERVER_ERROR = 500
#: Fallback reason (metric label) while the breaker keeps requests away from the API.
CIRCUIT_OPEN = "circuit_open"


class RecommendationsUnavailable(RuntimeError):
    """No usable answer from the Recommendations API; ``reason`` labels the metric. ``api_failed``:
    the API itself failed (timeout, unreachable, 5xx, nonsense), as opposed to answering a 4xx."""

    def __init__(self, reason: str, message: str, api_failed: bool = True) -> None:
        super().__init__(message)
        self.reason = reason
        self.api_failed = api_failed


class _Answer(BaseModel):
    """The Recommendations API's body (its ``Recommendations`` schema); unknown keys ignored."""

    source: Source
    model_version: str | None = None
    generated_at: str | None = None
    film_ids: list[str]


class SimilarAnswer(BaseModel):
    """The Recommendations API's ``SimilarFilms`` body; unknown keys ignored."""

    model_version: str | None = None
    generated_at: str | None = None
    film_ids: list[str]


_Body = TypeVar("_Body", bound=BaseModel)


def _request_id_header() -> dict[str, str]:
    """The id of the request being answered, passed on so both APIs' logs name the same request."""
    request_id = current_request_id()
    return {} if request_id is None else {REQUEST_ID_HEADER: request_id}


class RecommendationsClient:
    """HTTP client of ``GET {base}/api/v1/users/{user_id}/recommendations`` (and of a film's similar
    films, ``/api/v1/films/{film_id}/similar``); one connection pool,
    opened on first use and again after ``aclose`` (the app's lifespan may run more than once)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._pool: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._pool is None:
            self._pool = httpx.AsyncClient(base_url=self._base_url, timeout=self._timeout_s)
        return self._pool

    async def fetch(self, user_id: str, genre: str | None, limit: int) -> _Answer:
        params: dict[str, str | int] = {"limit": limit}
        if genre is not None:
            params["genre"] = genre
        return await self._get(f"/api/v1/users/{quote(user_id, safe='')}/recommendations", params, _Answer)

    async def similar(self, film_id: str, limit: int) -> SimilarAnswer:
        """``GET {base}/api/v1/films/{film_id}/similar``: the film's similar films in the serving version."""
        return await self._get(f"/api/v1/films/{quote(film_id, safe='')}/similar", {"limit": limit}, SimilarAnswer)

    async def _get(self, path: str, params: dict[str, str | int], body: type[_Body]) -> _Body:
        """One GET passing the request id on; RecommendationsUnavailable unless it answers 200 with ``body``."""
        try:
            response = await self._client.get(path, params=params, headers=_request_id_header())
        except httpx.TimeoutException as exc:
            raise RecommendationsUnavailable("timeout", f"Recommendations API timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise RecommendationsUnavailable("unreachable", f"Recommendations API unreachable: {exc!r}") from exc
        if response.status_code != HTTP_OK:
            raise RecommendationsUnavailable(
                f"status_{response.status_code}",
                f"Recommendations API answered {response.status_code}: {response.text[:200]}",
                api_failed=response.status_code >= HTTP_SERVER_ERROR,
            )
        try:
            return body.model_validate_json(response.content)
        except ValidationError as exc:
            raise RecommendationsUnavailable("bad_answer", f"Recommendations API answer is not valid: {exc}") from exc

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()


@dataclass(frozen=True)
class Recommended:
    source: Source
    model_version: str | None
    generated_at: str | None
    films: list[Film]


def _utc_now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ImdbTopCache:
    """The catalogue's IMDb-top lists, overall and per genre, recomputed at most every ``ttl_s``
    (the catalogue changes only when the ETL or the seed step writes it). Blocking: call it from a
    worker thread."""

    def __init__(
        self, catalog: CatalogReader, limit: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._catalog = catalog
        self._limit = limit
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._computed_at: float | None = None
        self._lists: dict[str | None, list[Film]] = {}

    def top(self, genre: str | None, limit: int) -> list[Film]:
        """The best ``limit`` films (at most the cache's limit) overall or within ``genre``."""
        with self._lock:
            now = self._clock()
            if self._computed_at is None or now - self._computed_at >= self._ttl_s:
                self._lists = self._compute()
                self._computed_at = now
            return self._lists.get(genre, [])[:limit]

    def _compute(self) -> dict[str | None, list[Film]]:
        films = list(self._catalog.films())
        by_id = {film.film_id: film for film in films}
        lists = imdb_top_of(films, self._limit)
        top: dict[str | None, list[Film]] = {None: [by_id[i] for i in lists.overall]}
        top.update((genre, [by_id[i] for i in ids]) for genre, ids in lists.by_genre.items())
        return top


class PersonalFilms:
    """A viewer's recommended films as cards: ids from the Recommendations API (``RecommendationsClient``)
    with the catalogue's IMDb-top as the fallback, behind a circuit breaker.

    Every answer (personal, overlay, cold start, fallback) leaves out the films the viewer rated:
    their ratings are read from the rating store, and the list asked for is longer by as many (up to
    ``MAX_EXTRA``) so the answer still has ``limit`` films."""

    def __init__(
        self,
        client: RecommendationsClient,
        catalog: CatalogReader,
        imdb_top: ImdbTopCache,
        breaker: CircuitBreaker,
        ratings: RatingSource,
        on_answer: Callable[[str, str], None] = lambda source, reason: None,
    ) -> None:
        self._client = client
        self._catalog = catalog
        self._imdb_top = imdb_top
        self._breaker = breaker
        self._ratings = ratings
        self._on_answer = on_answer

    def _rated(self, user_id: str) -> set[str]:
        """The films the viewer rated (none when the rating store cannot be read: the answer goes on)."""
        try:
            return set(self._ratings.read_user(user_id)[Columns.Item].astype(str))
        except RatingSourceError as exc:
            log.warning("cannot read the ratings of %r, their rated films may be recommended: %s", user_id, exc)
            return set()

    async def recommend(self, user_id: str, genre: str | None, limit: int) -> Recommended:
        """Film cards of the user's list, in its order; IMDb-top of the catalogue when the API fails
        or while the breaker is open.

        Raises CatalogUnavailable when the catalogue cannot be read.
        """
        rated = await run_in_threadpool(self._rated, user_id)
        asked = min(limit + len(rated), limit + MAX_EXTRA, MAX_ASKED)
        if not self._breaker.allow():
            return await self._fallback(genre, limit, rated, CIRCUIT_OPEN)
        try:
            answer = await self._client.fetch(user_id, genre, asked)
        except RecommendationsUnavailable as exc:
            if exc.api_failed:
                self._breaker.failed()
            else:
                self._breaker.succeeded()
            log.warning("recommendations for %r fall back to IMDb-top: %s", user_id, exc)
            return await self._fallback(genre, limit, rated, exc.reason)
        except BaseException:
            self._breaker.abandoned()  # cancelled (the client went away) or a bug: no outcome to record
            raise
        self._breaker.succeeded()
        unrated = [film for film in answer.film_ids if film not in rated][:limit]
        films = await run_in_threadpool(self._catalog.get_many, unrated)
        if answer.film_ids and not films:
            log.warning("none of the %d recommended films is in the catalogue", len(answer.film_ids))
            return await self._fallback(genre, limit, rated, "unknown_films")
        self._on_answer(answer.source, "ok")
        return Recommended(answer.source, answer.model_version, answer.generated_at, films)

    async def _fallback(self, genre: str | None, limit: int, rated: set[str], reason: str) -> Recommended:
        top = await run_in_threadpool(self._imdb_top.top, genre, limit + min(len(rated), MAX_EXTRA))
        films = [film for film in top if film.film_id not in rated][:limit]
        self._on_answer(Source.FALLBACK, reason)
        return Recommended(Source.FALLBACK, None, _utc_now_iso(), films)
