"""Request and response bodies of the Movies API, with the examples the OpenAPI docs show.

Errors are RFC 9457 problem documents (``recsys_common.web.Problem``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from recsys_common.domain import RATING_MAX, RATING_MIN, Film, Person, Source
from recsys_common.ports.catalog import stored_genre_ids

_FILM_ID_EXAMPLE = "1a5b8e0c-5f0e-5a53-9f2c-6c1d0b7e2a11"
_PERSON_ID_EXAMPLE = "4f0a7c1e-2b3d-5e6f-8a9b-0c1d2e3f4a5b"
_FILM_EXAMPLE: dict[str, JsonValue] = {
    "film_id": _FILM_ID_EXAMPLE,
    "title": "Star Wars",
    "year": 1977,
    "genres": ["Action", "Adventure", "Sci-Fi"],
    "genre_ids": [
        "0b1c2d3e-4f5a-5b6c-8d7e-9f0a1b2c3d4e",
        "1c2d3e4f-5a6b-5c7d-8e9f-0a1b2c3d4e5f",
        "2d3e4f5a-6b7c-5d8e-9f0a-1b2c3d4e5f60",
    ],
    "imdb_rating": 8.6,
    "imdb_votes": 1_400_000,
    "rt_rating": 93.0,
    "description": "",
    "directors": [{"id": _PERSON_ID_EXAMPLE, "name": "George Lucas"}],
    "actors": [],
    "writers": [],
}


class PersonRef(BaseModel):
    """A person credited on a film (the standard layout's ``{id, name}``)."""

    id: str = Field(description="The person's id (UUID)")
    name: str

    @staticmethod
    def of(person: Person) -> PersonRef:
        return PersonRef(id=person.person_id, name=person.full_name)


class FilmCard(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_FILM_EXAMPLE]})

    film_id: str = Field(description="The platform's film id (UUID)")
    title: str
    year: int | None
    genres: list[str]
    genre_ids: list[str] = Field(description="The ids of `genres`, position by position (see /api/v1/genres)")
    imdb_rating: float | None = Field(description="IMDb rating 1..10; null when unknown")
    imdb_votes: int | None = Field(description="IMDb vote count; null when unknown")
    rt_rating: float | None = Field(description="Rotten Tomatoes Tomatometer 0..100; null when unknown")
    description: str
    directors: list[PersonRef] = Field(description="Empty when unknown")
    actors: list[PersonRef]
    writers: list[PersonRef]

    @staticmethod
    def of(film: Film) -> FilmCard:
        return FilmCard(
            film_id=film.film_id,
            title=film.title,
            year=film.year,
            genres=list(film.genres),
            genre_ids=list(stored_genre_ids(film)),
            imdb_rating=film.imdb_rating,
            imdb_votes=film.imdb_votes,
            rt_rating=film.rt_rating,
            description=film.description,
            directors=[PersonRef.of(p) for p in film.directors],
            actors=[PersonRef.of(p) for p in film.actors],
            writers=[PersonRef.of(p) for p in film.writers],
        )


class FilmPageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"total": 1, "page_number": 1, "page_size": 20, "films": [_FILM_EXAMPLE]}]}
    )

    total: int = Field(description="Films matching the query, over all pages")
    page_number: int
    page_size: int
    films: list[FilmCard]


class GenreOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "0b1c2d3e-4f5a-5b6c-8d7e-9f0a1b2c3d4e", "name": "Drama", "film_count": 725}]
        }
    )

    id: str = Field(description="The genre's id (UUID)")
    name: str
    film_count: int


class PersonFilm(BaseModel):
    """One film of a person, with the person's roles on it."""

    film_id: str
    title: str
    imdb_rating: float | None
    roles: list[str] = Field(description="`director`, `actor` and/or `writer`")


class PersonOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _PERSON_ID_EXAMPLE,
                    "full_name": "George Lucas",
                    "films": [
                        {"film_id": _FILM_ID_EXAMPLE, "title": "Star Wars", "imdb_rating": 8.6, "roles": ["director"]}
                    ],
                }
            ]
        }
    )

    id: str = Field(description="The person's id (UUID)")
    full_name: str
    films: list[PersonFilm] = Field(description="Every film of the catalogue crediting the person, best rated first")

    @staticmethod
    def of(person: Person, films: list[Film]) -> PersonOut:
        return PersonOut(
            id=person.person_id,
            full_name=person.full_name,
            films=[
                PersonFilm(
                    film_id=f.film_id,
                    title=f.title,
                    imdb_rating=f.imdb_rating,
                    roles=list(f.roles_of(person.person_id)),
                )
                for f in films
            ],
        )


class PersonPageOut(BaseModel):
    total: int = Field(description="People matching the query, over all pages")
    page_number: int
    page_size: int
    persons: list[PersonOut]


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"score": 8}]})

    score: float = Field(
        ge=RATING_MIN, le=RATING_MAX, strict=True, allow_inf_nan=False, description="The viewer's rating, 1..10"
    )


class RatingAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "0b8f0f7e-3c55-4a0e-9d0e-2f6f3b1f9a41",
                    "film_id": _FILM_ID_EXAMPLE,
                    "score": 8.0,
                    "status": "accepted",
                }
            ]
        }
    )

    event_id: str = Field(description="Id of the published rating event")
    film_id: str
    score: float
    status: Literal["accepted"] = "accepted"


class RatedReason(BaseModel):
    """Recommended because the viewer rated a film like it ("because you rated Heat 9/10")."""

    kind: Literal["rated"] = "rated"
    film_id: str = Field(description="The film the viewer rated")
    title: str
    score: float = Field(description="The viewer's own rating of it, 1..10")


class TopInGenreReason(BaseModel):
    """Among the best-rated films (IMDb) of a genre."""

    kind: Literal["top_in_genre"] = "top_in_genre"
    genre: str


class TopRatedReason(BaseModel):
    """Among the best-rated films (IMDb)."""

    kind: Literal["top_rated"] = "top_rated"


Reason = Annotated[RatedReason | TopInGenreReason | TopRatedReason, Field(discriminator="kind")]


class RecommendedCard(FilmCard):
    """A film card with why it is recommended."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_FILM_EXAMPLE,
                    "reason": {"kind": "rated", "film_id": _FILM_ID_EXAMPLE, "title": "Heat", "score": 9.0},
                }
            ]
        }
    )

    reason: Reason | None = Field(
        default=None, description="Why the film is recommended; null when not known (e.g. a personal genre list)"
    )


class RatingRemoved(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "0b8f0f7e-3c55-4a0e-9d0e-2f6f3b1f9a41",
                    "film_id": _FILM_ID_EXAMPLE,
                    "status": "removed",
                }
            ]
        }
    )

    event_id: str = Field(description="Id of the published removal event")
    film_id: str
    status: Literal["removed"] = "removed"


class RecommendationsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "42",
                    "genre": None,
                    "source": "personal",
                    "model_version": "lightfm-warp-20261123T0400Z",
                    "generated_at": "2026-11-23T04:12:31Z",
                    "films": [_FILM_EXAMPLE],
                }
            ]
        }
    )

    user_id: str
    genre: str | None
    source: Source = Field(
        description="personal: the user's list; overlay: their list after their latest ratings (the online "
        "loop); cold_start: IMDb-top of the engine; fallback: the Recommendations API was slow or down, "
        "IMDb-top of the catalogue"
    )
    model_version: str | None
    generated_at: str | None = Field(description="When the list was made (ISO 8601, UTC)")
    films: list[RecommendedCard] = Field(description="Full film cards, best first, each with its reason")


class HomeRow(BaseModel):
    kind: Literal["must_watch", "genre"]
    genre: str | None = Field(description="The row's genre; null for the must-watch row")
    title: str = Field(description="A heading for the row")
    films: list[RecommendedCard]


class HomeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "personal",
                    "model_version": "lightfm-warp-20261123T0400Z",
                    "generated_at": "2026-11-23T04:12:31Z",
                    "rows": [
                        {"kind": "must_watch", "genre": None, "title": "Must watch", "films": []},
                        {"kind": "genre", "genre": "Crime", "title": "Crime", "films": []},
                    ],
                }
            ]
        }
    )

    source: Source = Field(description="As in RecommendationsOut; cold_start for the anonymous home page")
    model_version: str | None
    generated_at: str | None = Field(description="When the lists were made (ISO 8601, UTC)")
    rows: list[HomeRow] = Field(description="The must-watch (or top-rated) row first, then one per genre")


class MyRating(BaseModel):
    film: FilmCard
    score: float = Field(description="The viewer's rating, 1..10")
    rated_at: str = Field(description="When (ISO 8601, UTC)")


class MyRatingsPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 1,
                    "page_number": 1,
                    "page_size": 20,
                    "ratings": [{"film": _FILM_EXAMPLE, "score": 9.0, "rated_at": "2026-11-23T04:12:31Z"}],
                }
            ]
        }
    )

    total: int = Field(description="Films the viewer rated, over all pages")
    page_number: int
    page_size: int
    ratings: list[MyRating] = Field(description="Newest first; films no longer in the catalogue are left out")


class Health(BaseModel):
    status: Literal["ok", "ready", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict, description="component -> ok, or why it failed")
