"""Response bodies. The Movies API codes against exactly these shapes: change them only together.

Errors of the /api/v1 routes are RFC 9457 problem documents (``recsys_common.web.Problem``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from recsys_common.domain import Source

_FILM_A = "0b8cbb28-4c8e-5a34-b1a6-3d5e2c8f1a01"
_FILM_B = "7d1e0c55-2f0b-5f7e-9a9b-5e4f8a9d2c02"
_VERSION_EXAMPLE = {"model_version": "lightfm-warp-20261123T0400Z", "generated_at": "2026-11-23T04:12:31.482113Z"}


class Recommendations(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "42",
                    "genre": None,
                    "source": "personal",
                    **_VERSION_EXAMPLE,
                    "film_ids": [_FILM_A, _FILM_B],
                }
            ]
        }
    )

    user_id: str
    genre: str | None = Field(description="The genre asked for, as published; null for the must-watch list")
    source: Source = Field(
        description="personal: the user's list; overlay: their list after their latest ratings (the online loop); "
        "cold_start: IMDb-top; fallback: store down"
    )
    model_version: str | None = Field(description="Model of the version that answered")
    generated_at: str | None = Field(description="When that version was published (ISO 8601, UTC)")
    film_ids: list[str] = Field(description="Film ids (UUID), best first")
    reasons: dict[str, str] | None = Field(
        default=None,
        description="With ?reasons=true, for a must-watch list from the user's own lists (personal, overlay): "
        'film id -> the id of the film the user rated that it is most like ("because you rated ..."); '
        "films without one are left out. Absent otherwise.",
    )


class Home(BaseModel):
    """Everything a home page needs, from one read of the store."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "42",
                    "source": "personal",
                    **_VERSION_EXAMPLE,
                    "must_watch": [_FILM_A],
                    "reasons": {_FILM_A: _FILM_B},
                    "genres": {"Drama": [_FILM_A]},
                }
            ]
        }
    )

    user_id: str
    source: Source = Field(description="As in Recommendations: which lists answered")
    model_version: str | None
    generated_at: str | None
    must_watch: list[str] = Field(description="Film ids, best first")
    reasons: dict[str, str] = Field(
        description="Must-watch film id -> the rated film behind it (empty for cold_start and fallback)"
    )
    genres: dict[str, list[str]] = Field(
        description="Genre -> film ids, best first, for the genres asked for that are published"
    )


class GenreRecommendations(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "42",
                    "source": "personal",
                    **_VERSION_EXAMPLE,
                    "genres": {"Comedy": [_FILM_A], "Drama": [_FILM_B, _FILM_A]},
                }
            ]
        }
    )

    user_id: str
    source: Source
    model_version: str | None
    generated_at: str | None
    genres: dict[str, list[str]] = Field(description="Genre -> film ids, best first")


class ColdStart(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"genre": "Drama", "source": "cold_start", **_VERSION_EXAMPLE, "film_ids": [_FILM_B]}]
        }
    )

    genre: str | None
    source: Source = Field(description="cold_start, or fallback while the store is unreachable")
    model_version: str | None
    generated_at: str | None
    film_ids: list[str]


class SimilarFilms(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"film_id": _FILM_A, **_VERSION_EXAMPLE, "film_ids": [_FILM_B]}]}
    )

    film_id: str = Field(description="The film asked about (UUID, canonical spelling)")
    model_version: str | None = Field(description="Model of the version that answered")
    generated_at: str | None = Field(description="When that version was published (ISO 8601, UTC)")
    film_ids: list[str] = Field(description="Film ids (UUID), most similar first; never the film itself")


class LegacyResult(BaseModel):
    must_watch: list[str]


class LegacyResponse(BaseModel):
    """The original system's shape, kept for its existing callers."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"result": {"must_watch": [_FILM_A, _FILM_B]}, "error": None}]}
    )

    result: LegacyResult | None
    error: str | None


class Health(BaseModel):
    status: str
    reason: str | None = None
    version: str | None = None
    model_version: str | None = None
