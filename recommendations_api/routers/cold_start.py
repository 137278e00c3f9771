"""IMDb-top lists for anonymous and new users."""

from __future__ import annotations

from fastapi import APIRouter

from recommendations_api.deps import DEFAULT_LIMIT, GenreQuery, LimitQuery, ServiceDep
from recommendations_api.routers.recommendations import ERRORS
from recommendations_api.schemas import ColdStart

router = APIRouter(prefix="/api/v1", tags=["cold start"])


@router.get("/cold-start", response_model=ColdStart, responses=ERRORS, summary="IMDb-top films, overall or of a genre")
async def get_cold_start(service: ServiceDep, limit: LimitQuery = DEFAULT_LIMIT, genre: GenreQuery = None) -> ColdStart:
    answer = service.cold_start(genre, limit)
    return ColdStart(
        genre=answer.genre,
        source=answer.source,
        model_version=answer.model_version,
        generated_at=answer.generated_at,
        film_ids=list(answer.film_ids),
    )
