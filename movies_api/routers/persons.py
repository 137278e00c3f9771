"""People credited on the catalogue's films: search by name, one person with their films."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from movies_api.deps import CatalogDep
from movies_api.routers.films import ERRORS_503, MAX_QUERY_LENGTH, PageDep
from movies_api.schemas import FilmCard, PersonOut, PersonPageOut
from recsys_common.web import Problem

router = APIRouter(prefix="/api/v1/persons", tags=["persons"])

PersonIdPath = Annotated[uuid.UUID, Path(description="The person's id (UUID)")]
NOT_FOUND = {404: {"model": Problem, "description": "No film of the catalogue credits that person"}, **ERRORS_503}


@router.get("/search", response_model=PersonPageOut, responses=ERRORS_503, summary="Search people by name")
def search_persons(
    catalog: CatalogDep,
    page: PageDep,
    query: Annotated[
        str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, description="Words of the name", examples=["lucas"])
    ],
) -> PersonPageOut:
    """People whose name holds every word of the query (case and diacritics folded), each with their films."""
    number, size = page
    found = catalog.search_persons(query, number, size)
    return PersonPageOut(
        total=found.total,
        page_number=number,
        page_size=size,
        persons=[PersonOut.of(p, catalog.person_films(p.person_id)) for p in found.persons],
    )


@router.get("/{person_id}", response_model=PersonOut, responses=NOT_FOUND, summary="One person with their films")
def get_person(person_id: PersonIdPath, catalog: CatalogDep) -> PersonOut:
    person = catalog.person(str(person_id))
    if person is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"person {person_id} not found")
    return PersonOut.of(person, catalog.person_films(person.person_id))


@router.get("/{person_id}/film", response_model=list[FilmCard], responses=NOT_FOUND, summary="A person's films")
def get_person_films(person_id: PersonIdPath, catalog: CatalogDep) -> list[FilmCard]:
    """Every film crediting the person in any role, best IMDb rating first, as film cards."""
    if catalog.person(str(person_id)) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"person {person_id} not found")
    return [FilmCard.of(f) for f in catalog.person_films(str(person_id))]
