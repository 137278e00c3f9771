"""A written-down copy of the standard Elasticsearch layout the course's ETL writes (its two cohort
variants of the genres), and documents such an ETL writes: what our catalogue must write and read.

Kept apart from ``recsys_common.adapters.es_layout`` on purpose: the tests compare our mappings and
documents with this copy, so a change on our side that breaks the standard shows up.
"""

from __future__ import annotations

from typing import Any

STANDARD_SETTINGS: dict[str, Any] = {
    "refresh_interval": "1s",
    "analysis": {
        "filter": {
            "english_stop": {"type": "stop", "stopwords": "_english_"},
            "english_stemmer": {"type": "stemmer", "language": "english"},
            "english_possessive_stemmer": {"type": "stemmer", "language": "possessive_english"},
            "russian_stop": {"type": "stop", "stopwords": "_russian_"},
            "russian_stemmer": {"type": "stemmer", "language": "russian"},
        },
        "analyzer": {
            "ru_en": {
                "tokenizer": "standard",
                "filter": [
                    "lowercase",
                    "english_stop",
                    "english_stemmer",
                    "english_possessive_stemmer",
                    "russian_stop",
                    "russian_stemmer",
                ],
            }
        },
    },
}


def _people() -> dict[str, Any]:
    return {
        "type": "nested",
        "dynamic": "strict",
        "properties": {"id": {"type": "keyword"}, "name": {"type": "text", "analyzer": "ru_en"}},
    }


def _movies(genres: dict[str, Any]) -> dict[str, Any]:
    return {
        "dynamic": "strict",
        "properties": {
            "id": {"type": "keyword"},
            "imdb_rating": {"type": "float"},
            **genres,
            "title": {"type": "text", "analyzer": "ru_en", "fields": {"raw": {"type": "keyword"}}},
            "description": {"type": "text", "analyzer": "ru_en"},
            "directors_names": {"type": "text", "analyzer": "ru_en"},
            "actors_names": {"type": "text", "analyzer": "ru_en"},
            "writers_names": {"type": "text", "analyzer": "ru_en"},
            "directors": _people(),
            "actors": _people(),
            "writers": _people(),
        },
    }


#: ``movies`` with the genre names as keywords (``genre``).
STANDARD_MOVIES_GENRE = _movies({"genre": {"type": "keyword"}})
#: ``movies`` with the genres as nested objects (``genres``).
STANDARD_MOVIES_GENRES = _movies(
    {
        "genres": {
            "type": "nested",
            "dynamic": "strict",
            "properties": {"id": {"type": "keyword"}, "name": {"type": "text", "analyzer": "ru_en"}},
        }
    }
)
STANDARD_MOVIES_VARIANTS = {"genre": STANDARD_MOVIES_GENRE, "genres": STANDARD_MOVIES_GENRES}

STANDARD_GENRES: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "name": {"type": "text", "analyzer": "ru_en"},
        "description": {"type": "text", "analyzer": "ru_en"},
    },
}

STANDARD_PERSONS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "full_name": {"type": "text", "analyzer": "ru_en"},
        "films": {
            "type": "nested",
            "dynamic": "strict",
            "properties": {"id": {"type": "keyword"}, "roles": {"type": "keyword"}},
        },
    },
}
#: Some cohorts call the person's name ``name`` and keep no films.
STANDARD_PERSONS_NAME: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "name": {"type": "text", "analyzer": "ru_en", "fields": {"raw": {"type": "keyword"}}},
    },
}

LUCAS = {"id": "a5a8f573-3cee-4ccc-8a2b-91cb9f55250a", "name": "George Lucas"}
HAMILL = {"id": "26e83050-29ef-4163-a99d-b546cac208f8", "name": "Mark Hamill"}
FORD = {"id": "5b4bf1bc-3397-4e83-9b17-8b10c6544ed1", "name": "Harrison Ford"}
KERSHNER = {"id": "1989ae16-3a5f-4a54-9f9f-6a7a5f3c5b1e", "name": "Irvin Kershner"}
ACTION = {"id": "3d8d9bf5-0d90-4353-88ba-4ccc5d2c07ff", "name": "Action"}
SCI_FI = {"id": "6c162475-c7ed-4461-9184-001ef3d9f26e", "name": "Sci-Fi"}
ADVENTURE = {"id": "120a21cf-9097-479e-904a-13dd7198c1dd", "name": "Adventure"}


def _document(film_id: str, title: str, rating: float | None, description: str | None, **people: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"id": film_id, "imdb_rating": rating, "title": title, "description": description}
    for field in ("directors", "actors", "writers"):
        document[field] = people.get(field, [])
        document[f"{field}_names"] = [p["name"] for p in document[field]]
    return document


#: Films as a standard ETL writes them: (document without genres, the film's genres).
STANDARD_FILMS: list[tuple[dict[str, Any], list[dict[str, str]]]] = [
    (
        _document(
            "025c58cd-1b7e-43be-9ffb-8571a613579b",
            "Star Wars: Episode IV - A New Hope",
            8.6,
            "The Imperial Forces hold Princess Leia hostage.",
            directors=[LUCAS],
            actors=[HAMILL, FORD],
            writers=[LUCAS],
        ),
        [ACTION, ADVENTURE, SCI_FI],
    ),
    (
        _document(
            "0312ed51-8833-413f-bff5-0e139c11264a",
            "Star Wars: Episode V - The Empire Strikes Back",
            8.7,
            None,  # some films have no description
            directors=[KERSHNER],
            actors=[HAMILL, FORD],
            writers=[LUCAS],
        ),
        [ACTION, SCI_FI],
    ),
    (
        _document("3d825f60-9fff-4dfe-b294-1a45fa1e115d", "Star Trek Unrated", None, "Space."),
        [SCI_FI],
    ),
]


def standard_document(index: int, variant: str) -> dict[str, Any]:
    """The ``index``-th standard film as the ETL of a cohort writes it (``variant``: "genre" or "genres")."""
    document, genres = STANDARD_FILMS[index]
    if variant == "genre":
        return {**document, "genre": [g["name"] for g in genres]}
    return {**document, "genres": [dict(g) for g in genres]}


def standard_persons(name_field: str = "full_name") -> list[dict[str, Any]]:
    """The ``persons`` documents a standard ETL writes for ``STANDARD_FILMS`` (``name`` cohorts keep no films)."""
    people: dict[str, dict[str, Any]] = {}
    for document, _genres in STANDARD_FILMS:
        for field, role in (("directors", "director"), ("actors", "actor"), ("writers", "writer")):
            for person in document[field]:
                entry = people.setdefault(person["id"], {"id": person["id"], name_field: person["name"], "films": {}})
                entry["films"].setdefault(document["id"], []).append(role)
    persons = []
    for entry in people.values():
        films = entry.pop("films")
        if name_field == "full_name":
            entry["films"] = [{"id": film_id, "roles": roles} for film_id, roles in films.items()]
        persons.append(entry)
    return persons


STANDARD_GENRE_DOCUMENTS = [{**g, "description": None} for g in (ACTION, ADVENTURE, SCI_FI)]

#: This catalogue's first layout (``film_id``, genre names as keywords, no persons; no ``_meta``).
OUR_FIRST_SETTINGS: dict[str, Any] = {
    "analysis": {
        "analyzer": {"film_text": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]}},
        "normalizer": {"folded": {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
    }
}
OUR_FIRST_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "film_id": {"type": "keyword"},
        "title": {"type": "text", "analyzer": "film_text", "fields": {"raw": {"type": "keyword"}}},
        "description": {"type": "text", "analyzer": "film_text"},
        "year": {"type": "integer"},
        "genres": {"type": "keyword", "fields": {"folded": {"type": "keyword", "normalizer": "folded"}}},
        "imdb_rating": {"type": "float"},
        "imdb_votes": {"type": "long"},
        "rt_rating": {"type": "float"},
    },
}
