"""The web app's one backend: the Movies API over HTTP. Each method is one request; answers are parsed
into the small models the pages show (unknown fields are ignored, so the API may grow)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict

from recsys_common.observability import REQUEST_ID_HEADER, current_request_id

RATING_PAGE_SIZE = 100


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Person(_Answer):
    id: str
    name: str


class Reason(_Answer):
    """Why a film is on a list: a film the viewer rated, a genre's top, or the overall top."""

    kind: Literal["rated", "top_in_genre", "top_rated"]
    film_id: str | None = None
    title: str | None = None
    score: float | None = None
    genre: str | None = None


class Film(_Answer):
    film_id: str
    title: str
    year: int | None = None
    genres: list[str] = []
    imdb_rating: float | None = None
    imdb_votes: int | None = None
    description: str = ""
    directors: list[Person] = []
    actors: list[Person] = []
    writers: list[Person] = []
    reason: Reason | None = None


class FilmPage(_Answer):
    total: int
    page_number: int
    page_size: int
    films: list[Film]


class Genre(_Answer):
    id: str
    name: str
    film_count: int


class Recommendations(_Answer):
    source: str
    genre: str | None = None
    model_version: str | None = None
    films: list[Film]


class HomeRow(_Answer):
    kind: str
    genre: str | None = None
    title: str
    films: list[Film]


class Home(_Answer):
    source: str
    model_version: str | None = None
    rows: list[HomeRow]


class Rated(_Answer):
    film: Film
    score: float
    rated_at: str


class RatingsPage(_Answer):
    total: int
    page_number: int
    page_size: int
    ratings: list[Rated]


class MoviesApiError(RuntimeError):
    """The Movies API could not be reached or answered an error the page cannot show as such."""


class NotFound(MoviesApiError):
    """The Movies API answered 404 (no such film)."""


class Unauthorized(MoviesApiError):
    """The Movies API refused the viewer's token (expired, forged, or none)."""


class MoviesApi:
    """Async client of the Movies API; ``token`` arguments are the viewer's bearer token."""

    def __init__(self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(
        self, method: str, path: str, token: str | None = None, params: dict[str, Any] | None = None, json: Any = None
    ) -> httpx.Response:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request_id = current_request_id()
        if request_id is not None:
            headers[REQUEST_ID_HEADER] = request_id
        try:
            response = await self._client.request(method, path, params=params, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise MoviesApiError(f"the Movies API is unreachable: {exc}") from exc
        if response.status_code == httpx.codes.NOT_FOUND:
            raise NotFound(_detail(response))
        if response.status_code == httpx.codes.UNAUTHORIZED:
            raise Unauthorized(_detail(response))
        if response.is_error:
            raise MoviesApiError(f"the Movies API answered {response.status_code}: {_detail(response)}")
        return response

    async def search(self, query: str | None, page_number: int, page_size: int, genre: str | None = None) -> FilmPage:
        params: dict[str, Any] = {"page_number": page_number, "page_size": page_size}
        if query:
            params["query"] = query
        if genre:
            params["genre"] = genre
            params["sort"] = "-imdb_rating"
        response = await self._request("GET", "/api/v1/films", params=params)
        return FilmPage.model_validate_json(response.content)

    async def film(self, film_id: str) -> Film:
        response = await self._request("GET", f"/api/v1/films/{quote(film_id, safe='')}")
        return Film.model_validate_json(response.content)

    async def genres(self) -> list[Genre]:
        response = await self._request("GET", "/api/v1/genres")
        return [Genre.model_validate(g) for g in response.json()]

    async def rate(self, token: str, film_id: str, score: int) -> None:
        await self._request("POST", f"/api/v1/films/{quote(film_id, safe='')}/rating", token, json={"score": score})

    async def remove_rating(self, token: str, film_id: str) -> None:
        await self._request("DELETE", f"/api/v1/films/{quote(film_id, safe='')}/rating", token)

    async def my_ratings(self, token: str, page_number: int, page_size: int) -> RatingsPage:
        params = {"page_number": page_number, "page_size": page_size}
        response = await self._request("GET", "/api/v1/users/me/ratings", token, params=params)
        return RatingsPage.model_validate_json(response.content)

    async def my_rating(self, token: str, film_id: str) -> float | None:
        """The viewer's score of the film among their newest ``RATING_PAGE_SIZE`` ratings, else None."""
        page = await self.my_ratings(token, 1, RATING_PAGE_SIZE)
        return next((r.score for r in page.ratings if r.film.film_id == film_id), None)

    async def home(self, token: str | None, rows: int, limit: int) -> Home:
        """The home page's rows: personal for a viewer, the IMDb-top rows for an anonymous visitor."""
        path = "/api/v1/home" if token is None else "/api/v1/users/me/home"
        response = await self._request("GET", path, token, params={"rows": rows, "limit": limit})
        return Home.model_validate_json(response.content)

    async def similar(self, film_id: str, limit: int) -> list[Film]:
        path = f"/api/v1/films/{quote(film_id, safe='')}/similar"
        response = await self._request("GET", path, params={"limit": limit})
        return [Film.model_validate(f) for f in response.json()]

    async def recommendations(self, token: str, limit: int) -> Recommendations:
        response = await self._request("GET", "/api/v1/users/me/recommendations", token, params={"limit": limit})
        return Recommendations.model_validate_json(response.content)


def _detail(response: httpx.Response) -> str:
    """The problem document's ``detail``, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)[:200]
