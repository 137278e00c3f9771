"""A film's similar films as full film cards: the model's (via the Recommendations API), else the
catalogue's films sharing the most genres. The ``X-Similar-Source`` header says which answered."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from starlette.concurrency import run_in_threadpool

from movies_api.deps import CatalogDep, SimilarDep
from movies_api.routers.films import ERRORS_503, FilmIdPath
from movies_api.schemas import FilmCard
from movies_api.similar import SOURCE_FALLBACK, SOURCE_MODEL
from recsys_common.ports.recstore import SIMILAR_MAX
from recsys_common.web import Problem

router = APIRouter(prefix="/api/v1/films", tags=["films"])

SOURCE_HEADER = "X-Similar-Source"
SimilarLimitQuery = Annotated[int, Query(ge=1, le=SIMILAR_MAX, description=f"How many films, 1..{SIMILAR_MAX}")]
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Film cards, most similar first",
        "headers": {
            SOURCE_HEADER: {
                "description": f"`{SOURCE_MODEL}`: the recommender model's similar films; `{SOURCE_FALLBACK}`: "
                "the Recommendations API was down or had none for the film, so films sharing the most genres "
                "(ties by IMDb rating)",
                "schema": {"type": "string", "enum": [SOURCE_MODEL, SOURCE_FALLBACK]},
            }
        },
    },
    404: {"model": Problem, "description": "No film with that id"},
    **ERRORS_503,
}


@router.get("/{film_id}/similar", response_model=list[FilmCard], responses=RESPONSES, summary="Films similar to a film")
async def get_similar_films(
    film_id: FilmIdPath,
    catalog: CatalogDep,
    service: SimilarDep,
    response: Response,
    limit: SimilarLimitQuery = SIMILAR_MAX,
) -> list[FilmCard]:
    """The model's most similar films (item to item, one request to the Recommendations API); when it
    is down or has none for the film, the catalogue's films sharing the most genres."""
    film = await run_in_threadpool(catalog.get, str(film_id))
    if film is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"film {film_id} not found")
    answer = await service.similar(film, limit)
    response.headers[SOURCE_HEADER] = answer.source
    return [FilmCard.of(f) for f in answer.films]
