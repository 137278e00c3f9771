"""People routes: search by name, one person with their films and roles, a person's films as cards."""

from __future__ import annotations

from recsys_common.ids import film_id_for, person_id_for
from tests.unit.movies_api.conftest import FORD, LUCAS


def test_search_finds_people_by_every_word_with_their_films_and_roles(client) -> None:
    response = client.get("/api/v1/persons/search", params={"query": "harrison FORD"})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page_number"], body["page_size"]) == (1, 1, 20)
    [ford] = body["persons"]
    assert (ford["id"], ford["full_name"]) == (FORD.person_id, "Harrison Ford")
    assert [(f["title"], f["roles"]) for f in ford["films"]] == [("Star Wars", ["actor"]), ("Casablanca", ["actor"])]


def test_search_pages_in_both_spellings(client) -> None:
    body = client.get("/api/v1/persons/search", params={"query": "george", "page[number]": 2}).json()
    assert (body["total"], body["page_number"], body["persons"]) == (1, 2, [])


def test_search_needs_a_query(client) -> None:
    assert client.get("/api/v1/persons/search").status_code == 422


def test_a_person_with_several_roles_on_one_film(client) -> None:
    response = client.get(f"/api/v1/persons/{LUCAS.person_id}")
    assert response.status_code == 200
    assert response.json()["films"] == [
        {"film_id": film_id_for("api:1"), "title": "Star Wars", "imdb_rating": 8.6, "roles": ["director", "writer"]}
    ]


def test_a_persons_films_as_cards_best_rated_first(client) -> None:
    response = client.get(f"/api/v1/persons/{FORD.person_id}/film")
    assert [card["title"] for card in response.json()] == ["Star Wars", "Casablanca"]
    assert response.json()[0]["directors"] == [{"id": LUCAS.person_id, "name": "George Lucas"}]


def test_unknown_person_is_404_and_a_malformed_id_422(client) -> None:
    nobody = person_id_for("Nobody At All")
    assert client.get(f"/api/v1/persons/{nobody}").status_code == 404
    assert client.get(f"/api/v1/persons/{nobody}/film").status_code == 404
    assert client.get("/api/v1/persons/not-a-uuid").status_code == 422


def test_catalogue_down_is_503(client, catalog) -> None:
    catalog.down = True
    assert client.get("/api/v1/persons/search", params={"query": "ford"}).status_code == 503
