"""The HTTP side: the five routes of the course exam, JSON in and out, errors as problem details.

One app serves both ports (``/interact`` on 5000 and ``/recs`` on 5001 by default, every route on
both). Ids are JSON integers (a string, a float or a boolean is refused); every 4xx says what is
wrong (RFC 9457, ``recsys_common.web``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Path, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from exam_api.fastpath import FastRecs
from exam_api.service import STORE_FAILURES, BadRequest, ExamService
from exam_api.state import ExamStoreUnavailable
from recsys_common.ports.recstore import StoreUnavailable
from recsys_common.web import RequestLimits, install_problem_handlers, problem

#: Ids are signed 64-bit integers (what every store keeps exactly).
ID_MIN = -(2**63)
ID_MAX = 2**63 - 1
GENRE_MAX_LEN = 64
#: Response header of ``/recs``: how many of the items came from the user's own list.
PERSONAL_HEADER = "X-Personal-Items"
#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_S = 1

ItemId = Annotated[StrictInt, Field(ge=ID_MIN, le=ID_MAX)]
Genre = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=GENRE_MAX_LEN)]

DESCRIPTION = """
The course-exam interface over the platform's engine: items go into the catalogue, likes and
dislikes into the rating path (the engine retrains every few seconds, the online updater folds a
user in within about a second), `/recs` reads the published lists (the user's overlay first), never
repeats an item it showed the user, never returns an item they interacted with or one that was not
added.
"""


class AddItems(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_ids: list[ItemId]
    genres: list[list[Genre]] = Field(description="The genres of each item, position by position")


class Interact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: ItemId
    item_ids: list[ItemId]
    actions: list[Literal["like", "dislike"]] = Field(description="One action per item, position by position")


class Recs(BaseModel):
    item_ids: list[int]


class Done(BaseModel):
    status: Literal["ok"] = "ok"
    count: int | None = None


def create_app(service: ExamService, max_body_bytes: int, max_header_bytes: int) -> FastAPI:
    """The app over a loaded service (the composition root builds both)."""
    app = FastAPI(title="Course exam API", version="1.0.0", description=DESCRIPTION)
    install_problem_handlers(app)

    @app.get("/healthcheck", response_model=Done, summary="200 when the stores answer")
    async def healthcheck() -> Done:
        try:
            service.ping()
        except (ExamStoreUnavailable, StoreUnavailable) as exc:
            raise _unavailable(exc) from exc
        return Done(count=service.n_items)

    @app.get("/cleanup", response_model=Done, summary="Wipe items, interactions, shown items and models")
    async def cleanup() -> Done:
        with _store_errors():
            await service.cleanup()
        return Done()

    @app.post("/add_items", response_model=Done, summary="Register items and their genres")
    async def add_items(body: AddItems) -> Done:
        with _store_errors():
            count = await service.add_items(body.item_ids, body.genres)
        return Done(count=count)

    @app.post("/interact", response_model=Done, summary="Likes and dislikes of one user")
    async def interact(body: Interact) -> Done:
        with _store_errors():
            count = await service.interact(body.user_id, body.item_ids, body.actions)
        return Done(count=count)

    @app.get("/recs/{user_id}", response_model=Recs, summary="Items for the user, never shown to them before")
    async def recs(user_id: Annotated[int, Path(ge=ID_MIN, le=ID_MAX)], response: Response) -> Recs:
        with _store_errors():
            answer = service.recs(user_id)
        response.headers[PERSONAL_HEADER] = str(answer.personal)
        return Recs(item_ids=answer.items)

    app.add_exception_handler(BadRequest, _bad_request)
    app.add_middleware(FastRecs, service=service, personal_header=PERSONAL_HEADER)
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes, max_header_bytes=max_header_bytes)
    return app


@contextmanager
def _store_errors() -> Iterator[None]:
    """Turn a store or rating-path failure into a 503 problem."""
    try:
        yield
    except STORE_FAILURES as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: BaseException) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"{exc}", headers={"Retry-After": str(RETRY_AFTER_S)}
    )


async def _bad_request(_: Request, exc: Exception) -> JSONResponse:
    return problem(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
