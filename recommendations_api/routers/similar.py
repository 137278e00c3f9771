"""A film's similar films, as the engine published them with the serving version."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status

from recommendations_api.deps import ServiceDep
from recommendations_api.schemas import SimilarFilms
from recsys_common.ports.recstore import SIMILAR_MAX
from recsys_common.web import Problem

router = APIRouter(prefix="/api/v1/films", tags=["similar films"])

FilmIdPath = Annotated[
    uuid.UUID, Path(description="The film's id (UUID)", examples=["0b8cbb28-4c8e-5a34-b1a6-3d5e2c8f1a01"])
]
SimilarLimitQuery = Annotated[
    int, Query(ge=1, le=SIMILAR_MAX, description=f"How many film ids, 1..{SIMILAR_MAX}", examples=[SIMILAR_MAX])
]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {
        "model": Problem,
        "description": "The serving version does not know the film or has no similar films (cold-start only)",
    },
    503: {"model": Problem, "description": "The store is unreachable or holds no published version"},
}


@router.get(
    "/{film_id}/similar", response_model=SimilarFilms, responses=ERRORS, summary="The films most similar to a film"
)
async def get_similar_films(
    film_id: FilmIdPath, service: ServiceDep, limit: SimilarLimitQuery = SIMILAR_MAX
) -> SimilarFilms:
    """Item-to-item: the films the serving version's model finds most similar to this one (LightFM
    item representations blended with EASE), computed by the engine for every film at publish time."""
    canonical = str(film_id)
    answer = service.similar(canonical, limit)
    meta = answer.view.meta
    if answer.film_ids is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"version {meta.version} (model {meta.model_version}) has no similar films for film {canonical}",
        )
    return SimilarFilms(
        film_id=canonical,
        model_version=meta.model_version,
        generated_at=meta.published_at,
        film_ids=list(answer.film_ids),
    )
