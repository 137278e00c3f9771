from __future__ import annotations

import pytest

from recsys_common.ids import film_id_for


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
        "imdb_rating": 8.6,
        "imdb_votes": 1_000_000,
        "rt_rating": 93.0,
        "description": "Rebels.",
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
    assert response.json()["detail"][0]["loc"] == ["query", field]
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
    assert response.json() == {"detail": f"film {film_id_for('api:unknown')} not found"}


def test_malformed_film_id_is_422(client) -> None:
    response = client.get("/api/v1/films/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "film_id"]


def test_genres_with_counts(client) -> None:
    response = client.get("/api/v1/genres")
    assert response.status_code == 200
    assert {"name": "Drama", "film_count": 1} in response.json()
    assert [g["name"] for g in response.json()] == ["Action", "Comedy", "Drama", "Romance", "Sci-Fi"]


@pytest.mark.parametrize("path", ["/api/v1/films", f"/api/v1/films/{film_id_for('api:1')}", "/api/v1/genres"])
def test_catalogue_down_is_503_with_retry_after(client, catalog, settings, path) -> None:
    catalog.down = True
    response = client.get(path)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(settings.retry_after_s)
    assert response.json() == {"detail": "the catalogue is unavailable, retry later"}
