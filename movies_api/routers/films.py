"""Films: full-text search with a genre filter, sorting and pages; one film by id."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status

from movies_api.deps import CatalogDep
from movies_api.schemas import FilmCard, FilmPageOut, Problem
from recsys_common.ports.catalog import MAX_PAGE_SIZE, SortOrder

router = APIRouter(prefix="/api/v1/films", tags=["films"])

DEFAULT_PAGE_SIZE = 20
#: Deeper pages are refused (422) rather than scanned.
MAX_PAGE_NUMBER = 100_000
MAX_QUERY_LENGTH = 200
MAX_GENRE_LENGTH = 100
FILM_ID_EXAMPLE = "1a5b8e0c-5f0e-5a53-9f2c-6c1d0b7e2a11"

FilmIdPath = Annotated[uuid.UUID, Path(description="The film's id (UUID)", examples=[FILM_ID_EXAMPLE])]
ERRORS_503: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "The catalogue is unreachable or not built yet"}
}


@router.get("", response_model=FilmPageOut, responses=ERRORS_503, summary="Search films")
def search_films(
    catalog: CatalogDep,
    query: Annotated[
        str | None,
        Query(
            max_length=MAX_QUERY_LENGTH,
            description="Words to find in titles and descriptions (all of them must occur); empty: no text filter",
            examples=["star wars"],
        ),
    ] = None,
    genre: Annotated[
        str | None, Query(max_length=MAX_GENRE_LENGTH, description="Only films of this genre (any case)")
    ] = None,
    sort: Annotated[
        SortOrder | None,
        Query(description="Order; `-` for descending. Default: relevance with a query, else `-imdb_rating`"),
    ] = None,
    page_number: Annotated[int, Query(ge=1, le=MAX_PAGE_NUMBER, description="1-based page")] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> FilmPageOut:
    page = catalog.search(query, genre, sort, page_number, page_size)
    return FilmPageOut(
        total=page.total,
        page_number=page_number,
        page_size=page_size,
        films=[FilmCard.of(f) for f in page.films],
    )


@router.get(
    "/{film_id}",
    response_model=FilmCard,
    responses={404: {"model": Problem, "description": "No film with that id"}, **ERRORS_503},
    summary="One film",
)
def get_film(film_id: FilmIdPath, catalog: CatalogDep) -> FilmCard:
    film = catalog.get(str(film_id))
    if film is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"film {film_id} not found")
    return FilmCard.of(film)
