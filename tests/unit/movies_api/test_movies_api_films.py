from __future__ import annotations

import pytest

from recsys_common.ids import film_id_for, genre_id_for
from tests.unit.movies_api.conftest import FORD, LUCAS


def test_search_passes_query_genre_sort_and_page_to_the_catalogue(client, catalog) -> None:
    response = client.get(
        "/api/v1/films",
        params={"query": "star wars", "genre": "sci-fi", "sort": "-year", "page_number": 2, "page_size": 5},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page_number"], body["page_size"]) == (3, 2, 5)
    assert body["films"][0] == {
        "film_id": film_id_for("api:1"),
        "title": "Star Wars",
        "year": 1977,
        "genres": ["Action", "Sci-Fi"],
        "genre_ids": [genre_id_for("Action"), genre_id_for("Sci-Fi")],
        "imdb_rating": 8.6,
        "imdb_votes": 1_000_000,
        "rt_rating": 93.0,
        "description": "Rebels.",
        "directors": [{"id": LUCAS.person_id, "name": "George Lucas"}],
        "actors": [{"id": FORD.person_id, "name": "Harrison Ford"}],
        "writers": [{"id": LUCAS.person_id, "name": "George Lucas"}],
    }
    call = catalog.searches[-1]
    assert (call.query, call.genre, call.sort, call.page, call.size) == ("star wars", "sci-fi", "-year", 2, 5)


def test_search_defaults(client, catalog) -> None:
    assert client.get("/api/v1/films").status_code == 200
    call = catalog.searches[-1]
    assert (call.query, call.genre, call.sort, call.page, call.size) == (None, None, None, 1, 20)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 101}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page_number": 0}, "page_number"),
        ({"page_number": "two"}, "page_number"),
        ({"sort": "title"}, "sort"),
        ({"query": "x" * 201}, "query"),
    ],
)
def test_bad_search_parameters_are_422_naming_the_parameter(client, catalog, params, field) -> None:
    response = client.get("/api/v1/films", params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", field]
    assert catalog.searches == []


def test_film_by_id(client) -> None:
    response = client.get(f"/api/v1/films/{film_id_for('api:2')}")
    assert response.status_code == 200
    assert response.json()["title"] == "Casablanca"
    assert response.json()["rt_rating"] is None


def test_film_id_in_any_uuid_spelling_is_canonical(client) -> None:
    response = client.get(f"/api/v1/films/{film_id_for('api:2').upper()}")
    assert response.status_code == 200


def test_unknown_film_is_404(client) -> None:
    response = client.get(f"/api/v1/films/{film_id_for('api:unknown')}")
    assert response.status_code == 404
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": f"film {film_id_for('api:unknown')} not found",
    }


def test_malformed_film_id_is_422(client) -> None:
    response = client.get("/api/v1/films/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "film_id"]


def test_genres_with_counts(client) -> None:
    response = client.get("/api/v1/genres")
    assert response.status_code == 200
    assert {"id": genre_id_for("Drama"), "name": "Drama", "film_count": 1} in response.json()
    assert [g["name"] for g in response.json()] == ["Action", "Comedy", "Drama", "Romance", "Sci-Fi"]


@pytest.mark.parametrize("path", ["/api/v1/films", f"/api/v1/films/{film_id_for('api:1')}", "/api/v1/genres"])
def test_catalogue_down_is_503_with_retry_after(client, catalog, settings, path) -> None:
    catalog.down = True
    response = client.get(path)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(settings.retry_after_s)
    assert response.json()["detail"] == "the catalogue is unavailable, retry later"
    assert response.headers["content-type"] == "application/problem+json"


def test_standard_parameters_are_aliases_of_ours(client, catalog) -> None:
    params = {"sort": "-imdb_rating", "filter[genre]": genre_id_for("Drama"), "page[number]": 3, "page[size]": 7}
    assert client.get("/api/v1/films", params=params).status_code == 200
    call = catalog.searches[-1]
    assert (call.query, call.genre, call.sort, call.page, call.size) == (None, "Drama", "-imdb_rating", 3, 7)


def test_a_genre_id_filters_by_its_genre_and_a_name_passes_through(client, catalog) -> None:
    client.get("/api/v1/films", params={"genre": genre_id_for("Sci-Fi")})
    assert catalog.searches[-1].genre == "Sci-Fi"
    client.get("/api/v1/films", params={"genre": "sci-fi"})
    assert catalog.searches[-1].genre == "sci-fi"


def test_search_route_needs_a_query_and_takes_pages(client, catalog) -> None:
    response = client.get("/api/v1/films/search", params={"query": "star", "page_number": 2, "page_size": 4})
    assert response.status_code == 200
    assert (response.json()["page_number"], response.json()["page_size"]) == (2, 4)
    assert catalog.searches[-1].query == "star"
    assert client.get("/api/v1/films/search").status_code == 422


def test_genre_by_id(client) -> None:
    response = client.get(f"/api/v1/genres/{genre_id_for('Romance')}")
    assert response.json() == {"id": genre_id_for("Romance"), "name": "Romance", "film_count": 1}
    assert client.get(f"/api/v1/genres/{genre_id_for('Western')}").status_code == 404
    assert client.get("/api/v1/genres/not-a-uuid").status_code == 422
