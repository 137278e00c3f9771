"""A fake Recommendations API served over real HTTP on a loopback port, and films for the catalogue.

``fake_recommendations`` runs a tiny FastAPI app under uvicorn in a thread. It answers
``GET /api/v1/users/{user_id}/recommendations`` from ``server.answers[user_id]`` (the body, as the
real API sends it), sleeps ``server.delay_s`` first, or answers ``server.status`` instead of 200;
``server.requests`` records what it was asked, ``server.request_ids`` the X-Request-ID headers.
``GET /api/v1/users/{user_id}/home`` answers from ``server.homes[user_id]`` alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from recsys_common.domain import Film
from recsys_common.ids import film_id_for
from tests.servers import serve_in_thread


@dataclass
class FakeRecommendationsServer:
    url: str = ""
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)
    delay_s: float = 0.0
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    request_ids: list[str | None] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/v1/users/{user_id}/recommendations")
        async def recommendations(user_id: str, request: Request) -> JSONResponse:
            self.requests.append({"user_id": user_id, **request.query_params})
            self.request_ids.append(request.headers.get("x-request-id"))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.status != 200:
                return JSONResponse({"detail": "fake failure"}, status_code=self.status)
            default = {"source": "cold_start", "model_version": "m0", "generated_at": "2026-11-23T00:00:00Z"}
            return JSONResponse(
                {
                    "user_id": user_id,
                    "genre": request.query_params.get("genre"),
                    "film_ids": [],
                    **default,
                    **self.answers.get(user_id, {}),
                }
            )

        @app.get("/api/v1/users/{user_id}/home")
        async def home(user_id: str, request: Request) -> JSONResponse:
            self.requests.append({"path": "home", "user_id": user_id, **request.query_params})
            if self.status != 200:
                return JSONResponse({"detail": "fake failure"}, status_code=self.status)
            default = {"source": "cold_start", "model_version": "m0", "generated_at": "2026-11-23T00:00:00Z"}
            body = {"must_watch": [], "reasons": {}, "genres": {}, **default, **self.homes.get(user_id, {})}
            return JSONResponse({"user_id": user_id, **body})

        return app


@pytest.fixture
def fake_recommendations() -> Iterator[FakeRecommendationsServer]:
    fake = FakeRecommendationsServer()
    with serve_in_thread(fake.app()) as url:
        fake.url = url
        yield fake


def _film(n: int, title: str, genres: tuple[str, ...], rating: float | None, votes: int | None) -> Film:
    return Film(film_id_for(f"it:{n}"), title, 1990 + n, genres, rating, votes, None, f"About {title}.")


FILMS = [
    _film(1, "Alpha", ("Drama",), 8.0, 100_000),
    _film(2, "Bravo", ("Comedy",), 7.0, 50_000),
    _film(3, "Charlie", ("Drama", "Comedy"), 9.0, 200_000),
    _film(4, "Delta", ("Horror",), 6.0, 10_000),
    _film(5, "Echo", ("Drama",), None, None),
]


@pytest.fixture
def films() -> list[Film]:
    return list(FILMS)
