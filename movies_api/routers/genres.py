"""Genres of the catalogue with their ids and film counts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from movies_api.deps import CatalogDep
from movies_api.routers.films import ERRORS_503
from movies_api.schemas import GenreOut
from recsys_common.web import Problem

router = APIRouter(prefix="/api/v1/genres", tags=["genres"])


@router.get("", response_model=list[GenreOut], responses=ERRORS_503, summary="Every genre with its number of films")
def list_genres(catalog: CatalogDep) -> list[GenreOut]:
    return [GenreOut(id=g.genre_id, name=g.name, film_count=g.film_count) for g in catalog.genres()]


@router.get(
    "/{genre_id}",
    response_model=GenreOut,
    responses={404: {"model": Problem, "description": "No genre with that id"}, **ERRORS_503},
    summary="One genre",
)
def get_genre(
    genre_id: Annotated[uuid.UUID, Path(description="The genre's id (UUID)")], catalog: CatalogDep
) -> GenreOut:
    for genre in catalog.genres():
        if genre.genre_id == str(genre_id):
            return GenreOut(id=genre.genre_id, name=genre.name, film_count=genre.film_count)
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"genre {genre_id} not found")
