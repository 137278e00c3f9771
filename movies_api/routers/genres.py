"""Genres of the catalogue with their film counts."""

from __future__ import annotations

from fastapi import APIRouter

from movies_api.deps import CatalogDep
from movies_api.routers.films import ERRORS_503
from movies_api.schemas import GenreOut

router = APIRouter(prefix="/api/v1/genres", tags=["genres"])


@router.get("", response_model=list[GenreOut], responses=ERRORS_503, summary="Every genre with its number of films")
def list_genres(catalog: CatalogDep) -> list[GenreOut]:
    return [GenreOut(name=g.name, film_count=g.film_count) for g in catalog.genres()]
