"""Films: full-text search with a genre filter (name or id), sorting and pages; one film by id.

The standard movies API's spellings work too: `/api/v1/films/search`, `filter[genre]`,
`page[number]`, `page[size]`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from movies_api.deps import CatalogDep
from movies_api.schemas import FilmCard, FilmPageOut
from recsys_common.ports.catalog import MAX_PAGE_SIZE, CatalogView, SortOrder
from recsys_common.web import Problem

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


QueryParam = Annotated[
    str | None,
    Query(
        max_length=MAX_QUERY_LENGTH,
        description="Words to find in titles and descriptions (all of them must occur); empty: no text filter",
        examples=["star wars"],
    ),
]
GenreParam = Annotated[
    str | None,
    Query(max_length=MAX_GENRE_LENGTH, description="Only films of this genre: its name (any case) or its id"),
]
#: The standard layout's spelling of the genre filter, an alias of ``genre``.
GenreFilterParam = Annotated[
    str | None, Query(alias="filter[genre]", max_length=MAX_GENRE_LENGTH, include_in_schema=False)
]
SortParam = Annotated[
    SortOrder | None,
    Query(description="Order; `-` for descending. Default: relevance with a query, else `-imdb_rating`"),
]
PageNumber = Annotated[int | None, Query(ge=1, le=MAX_PAGE_NUMBER, description="1-based page (default 1)")]
PageSize = Annotated[
    int | None, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Films per page (default {DEFAULT_PAGE_SIZE})")
]
#: The standard layout's ``page[number]`` / ``page[size]``, aliases of ``page_number`` / ``page_size``.
StdPageNumber = Annotated[int | None, Query(alias="page[number]", ge=1, le=MAX_PAGE_NUMBER)]
StdPageSize = Annotated[int | None, Query(alias="page[size]", ge=1, le=MAX_PAGE_SIZE)]


async def page_of(
    page_number: PageNumber = None,
    page_size: PageSize = None,
    std_page_number: StdPageNumber = None,
    std_page_size: StdPageSize = None,
) -> tuple[int, int]:
    """The page (number, size) asked for in either spelling (``page_number`` wins over ``page[number]``)."""
    return page_number or std_page_number or 1, page_size or std_page_size or DEFAULT_PAGE_SIZE


#: The page a route is asked for: ``page_number``/``page_size`` or ``page[number]``/``page[size]``.
PageDep = Annotated[tuple[int, int], Depends(page_of)]


def genre_name(catalog: CatalogView, genre: str | None) -> str | None:
    """The name to filter on: a genre id becomes its genre's name; anything else is a name."""
    if genre is None:
        return None
    try:
        genre_id = str(uuid.UUID(genre))
    except ValueError:
        return genre
    for known in catalog.genres():
        if known.genre_id == genre_id:
            return known.name
    return genre


def _search(
    catalog: CatalogView, query: str | None, genre: str | None, sort: SortOrder | None, page: tuple[int, int]
) -> FilmPageOut:
    number, size = page
    found = catalog.search(query, genre_name(catalog, genre), sort, number, size)
    return FilmPageOut(
        total=found.total, page_number=number, page_size=size, films=[FilmCard.of(f) for f in found.films]
    )


@router.get("", response_model=FilmPageOut, responses=ERRORS_503, summary="Films: search, filter by genre, sort, page")
def search_films(
    catalog: CatalogDep,
    page: PageDep,
    query: QueryParam = None,
    genre: GenreParam = None,
    filter_genre: GenreFilterParam = None,
    sort: SortParam = None,
) -> FilmPageOut:
    """Also takes the standard movies API's spelling: `filter[genre]`, `page[number]`, `page[size]`."""
    return _search(catalog, query, genre or filter_genre, sort, page)


@router.get("/search", response_model=FilmPageOut, responses=ERRORS_503, summary="Full-text search of films")
def search_films_by_text(
    catalog: CatalogDep,
    page: PageDep,
    query: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, description="Words to find")],
    genre: GenreParam = None,
    sort: SortParam = None,
) -> FilmPageOut:
    """The standard movies API's search route: `/api/v1/films` with a required query."""
    return _search(catalog, query, genre, sort, page)


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
