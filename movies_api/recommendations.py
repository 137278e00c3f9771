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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import quote

import httpx
import pandas as pd
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from movies_api.breaker import CircuitBreaker
from recsys_common.columns import Columns
from recsys_common.domain import LIKED_RATING, Film, Source
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


#: Favourite genres come from at most this many of the viewer's best-rated films.
FAVOURITE_FILMS = 50


class _Answer(BaseModel):
    """The Recommendations API's body (its ``Recommendations`` schema); unknown keys ignored."""

    source: Source
    model_version: str | None = None
    generated_at: str | None = None
    film_ids: list[str]
    reasons: dict[str, str] | None = None


class _HomeAnswer(BaseModel):
    """The Recommendations API's home body (its ``Home`` schema); unknown keys ignored."""

    source: Source
    model_version: str | None = None
    generated_at: str | None = None
    must_watch: list[str]
    reasons: dict[str, str] = {}
    genres: dict[str, list[str]] = {}


_T = TypeVar("_T")


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

    async def fetch(self, user_id: str, genre: str | None, limit: int, reasons: bool = False) -> _Answer:
        params: dict[str, str | int] = {"limit": limit}
        if genre is not None:
            params["genre"] = genre
        if reasons:
            params["reasons"] = "true"
        return await self._get(f"/api/v1/users/{quote(user_id, safe='')}/recommendations", params, _Answer)

    async def fetch_home(self, user_id: str, genres: Sequence[str], limit: int) -> _HomeAnswer:
        """``GET .../users/{user_id}/home``: must-watch with reasons and the lists of ``genres``."""
        params: dict[str, str | int] = {"limit": limit}
        if genres:
            params["genres"] = ",".join(genres)
        return await self._get(f"/api/v1/users/{quote(user_id, safe='')}/home", params, _HomeAnswer)

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


async def guarded(breaker: CircuitBreaker, call: Awaitable[_T]) -> _T:
    """Await a request to the Recommendations API, telling ``breaker`` its outcome (a 4xx answer
    means the API is up). The caller asked ``breaker.allow()`` first."""
    try:
        result = await call
    except RecommendationsUnavailable as exc:
        if exc.api_failed:
            breaker.failed()
        else:
            breaker.succeeded()
        raise
    except BaseException:
        breaker.abandoned()  # cancelled (the client went away) or a bug: no outcome to record
        raise
    breaker.succeeded()
    return result


@dataclass(frozen=True)
class Reason:
    """Why a film is recommended: the viewer rated a film like it (``rated``: that film and the
    viewer's score of it), or it is among the best rated (``top_rated``), of a genre (``top_in_genre``)."""

    kind: Literal["rated", "top_in_genre", "top_rated"]
    film: Film | None = None
    score: float | None = None
    genre: str | None = None


@dataclass(frozen=True)
class Recommended:
    source: Source
    model_version: str | None
    generated_at: str | None
    films: list[Film]
    #: Film id -> why it is recommended, for the films where that is known.
    reasons: dict[str, Reason] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One row of a home page: the must-watch list (``genre`` None) or a genre's."""

    genre: str | None
    films: list[Film]
    reasons: dict[str, Reason]


@dataclass(frozen=True)
class HomePage:
    source: Source
    model_version: str | None
    generated_at: str | None
    rows: list[Row]


def _top_reason(genre: str | None) -> Reason:
    return Reason("top_rated") if genre is None else Reason("top_in_genre", genre=genre)


def _is_personal(source: Source) -> bool:
    return source in (Source.PERSONAL, Source.OVERLAY)


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

    def _ratings_of(self, user_id: str) -> pd.DataFrame:
        """The viewer's ratings (none when the rating store cannot be read: the answer goes on)."""
        try:
            return self._ratings.read_user(user_id)
        except RatingSourceError as exc:
            log.warning("cannot read the ratings of %r, their rated films may be recommended: %s", user_id, exc)
            return pd.DataFrame(columns=list(Columns.RATINGS))

    async def _scores(self, user_id: str) -> dict[str, float]:
        """Film id -> the viewer's rating of it."""
        frame = await run_in_threadpool(self._ratings_of, user_id)
        return dict(zip(frame[Columns.Item].astype(str), frame[Columns.Rating].astype(float), strict=True))

    async def recommend(self, user_id: str, genre: str | None, limit: int) -> Recommended:
        """Film cards of the user's list, in its order, each with its reason where known; IMDb-top of
        the catalogue when the API fails or while the breaker is open.

        Raises CatalogUnavailable when the catalogue cannot be read.
        """
        scores = await self._scores(user_id)
        asked = self._asked(limit, scores)
        if not self._breaker.allow():
            return await self._fallback(genre, limit, scores, CIRCUIT_OPEN)
        try:
            answer = await guarded(self._breaker, self._client.fetch(user_id, genre, asked, reasons=genre is None))
        except RecommendationsUnavailable as exc:
            log.warning("recommendations for %r fall back to IMDb-top: %s", user_id, exc)
            return await self._fallback(genre, limit, scores, exc.reason)
        [row] = await self._rows([(genre, answer.film_ids)], answer.source, answer.reasons or {}, scores, limit)
        if answer.film_ids and not row.films:
            log.warning("none of the %d recommended films is in the catalogue", len(answer.film_ids))
            return await self._fallback(genre, limit, scores, "unknown_films")
        self._on_answer(answer.source, "ok")
        return Recommended(answer.source, answer.model_version, answer.generated_at, row.films, row.reasons)

    async def home(self, user_id: str, rows: int, limit: int) -> HomePage:
        """The viewer's home page from ONE request to the Recommendations API: must-watch (with the
        reasons) and one row per favourite genre (the genres of the films they rated highest; the
        largest genres when they rated none), up to ``rows`` genre rows of ``limit`` films each,
        rated films left out. IMDb-top rows when the API fails or while the breaker is open."""
        scores = await self._scores(user_id)
        genres = await self._favourite_genres(scores, rows)
        asked = self._asked(limit, scores)
        if not self._breaker.allow():
            return await self._fallback_home(genres, limit, scores, CIRCUIT_OPEN)
        try:
            answer = await guarded(self._breaker, self._client.fetch_home(user_id, genres, asked))
        except RecommendationsUnavailable as exc:
            log.warning("home page of %r falls back to IMDb-top: %s", user_id, exc)
            return await self._fallback_home(genres, limit, scores, exc.reason)
        lists = [(None, answer.must_watch), *((g, answer.genres[g]) for g in genres if g in answer.genres)]
        built = await self._rows(lists, answer.source, answer.reasons, scores, limit)
        if any(ids for _, ids in lists) and not any(row.films for row in built):
            log.warning("none of the films of %r's home page is in the catalogue", user_id)
            return await self._fallback_home(genres, limit, scores, "unknown_films")
        self._on_answer(answer.source, "ok")
        return HomePage(answer.source, answer.model_version, answer.generated_at, built)

    async def anonymous_home(self, rows: int, limit: int) -> HomePage:
        """The home page of a viewer who is not signed in: IMDb-top overall and of the ``rows``
        largest genres; the Recommendations API is not asked."""
        genres = await self._largest_genres(rows)
        built = await self._top_rows([None, *genres], limit, {})
        return HomePage(Source.COLD_START, None, _utc_now_iso(), built)

    # ----- parts -----
    @staticmethod
    def _asked(limit: int, scores: dict[str, float]) -> int:
        """How many ids to ask for so that ``limit`` remain once the rated films are left out."""
        return min(limit + len(scores), limit + MAX_EXTRA, MAX_ASKED)

    async def _rows(
        self,
        lists: Sequence[tuple[str | None, Sequence[str]]],
        source: Source,
        because: dict[str, str],
        scores: dict[str, float],
        limit: int,
    ) -> list[Row]:
        """Rows of film cards (one catalogue read for all of them and the films behind the reasons),
        rated films left out, ``limit`` each."""
        chosen = [[film for film in ids if film not in scores][:limit] for _, ids in lists]
        wanted = list(
            dict.fromkeys(
                [f for ids in chosen for f in ids] + [because[f] for ids in chosen for f in ids if f in because]
            )
        )
        found = await run_in_threadpool(self._catalog.get_many, wanted)
        by_id = {film.film_id: film for film in found}
        rows = []
        for (genre, _), ids in zip(lists, chosen, strict=True):
            films = [by_id[f] for f in ids if f in by_id]
            reasons: dict[str, Reason] = {}
            for film in films:
                if not _is_personal(source):
                    reasons[film.film_id] = _top_reason(genre)
                elif (rated := because.get(film.film_id)) in scores and rated in by_id:
                    reasons[film.film_id] = Reason("rated", by_id[rated], scores[rated])
            rows.append(Row(genre, films, reasons))
        return rows

    async def _top_rows(self, genres: Sequence[str | None], limit: int, scores: dict[str, float]) -> list[Row]:
        """IMDb-top rows of ``genres`` (None: overall), rated films left out."""
        depth = limit + min(len(scores), MAX_EXTRA)
        rows = []
        for genre in genres:
            top = await run_in_threadpool(self._imdb_top.top, genre, depth)
            films = [film for film in top if film.film_id not in scores][:limit]
            rows.append(Row(genre, films, {film.film_id: _top_reason(genre) for film in films}))
        return rows

    async def _favourite_genres(self, scores: dict[str, float], rows: int) -> list[str]:
        """The genres of the viewer's best-rated films (those rated at least ``LIKED_RATING``, else all),
        best score first, in the order of the first film naming them, ``rows`` at most; the largest
        genres of the catalogue when the viewer rated nothing it holds."""
        best = sorted(scores, key=lambda film: (-scores[film], film))[:FAVOURITE_FILMS]
        films = await run_in_threadpool(self._catalog.get_many, best)
        liked = [film for film in films if scores[film.film_id] >= LIKED_RATING] or films
        genres = list(dict.fromkeys(genre for film in liked for genre in film.genres))[:rows]
        return genres or await self._largest_genres(rows)

    async def _largest_genres(self, rows: int) -> list[str]:
        counts = await run_in_threadpool(self._catalog.genres)
        return [g.name for g in sorted(counts, key=lambda g: (-g.film_count, g.name))][:rows]

    async def _fallback(self, genre: str | None, limit: int, scores: dict[str, float], reason: str) -> Recommended:
        [row] = await self._top_rows([genre], limit, scores)
        self._on_answer(Source.FALLBACK, reason)
        return Recommended(Source.FALLBACK, None, _utc_now_iso(), row.films, row.reasons)

    async def _fallback_home(
        self, genres: Sequence[str], limit: int, scores: dict[str, float], reason: str
    ) -> HomePage:
        rows = await self._top_rows([None, *genres], limit, scores)
        self._on_answer(Source.FALLBACK, reason)
        return HomePage(Source.FALLBACK, None, _utc_now_iso(), rows)
