"""The exam API's routes over fakes: answers, the never-repeat / never-interacted / never-unknown
invariants, cleanup, and every bad input as a 4xx problem with a message."""

from __future__ import annotations

import pytest

from exam_api.service import film_id_of
from recsys_common.columns import Columns
from recsys_common.domain import RATING_MAX, RATING_MIN, Film
from tests.unit.exam_api.conftest import COUNT, GENRES, ITEMS, World, genres_of, make_world

PROBLEM = "application/problem+json"


def recs(world: World, user: int) -> list[int]:
    response = world.client.get(f"/recs/{user}")
    assert response.status_code == 200, response.text
    items: list[int] = response.json()["item_ids"]
    return items


def assert_problem(response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert words in response.json()["detail"]


def test_healthcheck_answers_200_and_503_when_the_state_is_down(world: World) -> None:
    assert world.client.get("/healthcheck").status_code == 200
    world.state.down = True
    assert_problem(world.client.get("/healthcheck"), 503, "down")


def test_add_items_in_batches_registers_items_and_genres_in_the_catalogue(world: World) -> None:
    for start in range(0, len(ITEMS), 25):
        batch = ITEMS[start : start + 25]
        response = world.client.post("/add_items", json={"item_ids": batch, "genres": [genres_of(i) for i in batch]})
        assert response.status_code == 200 and response.json()["count"] == len(batch)
    assert len(world.catalog.stored) == len(ITEMS)
    film = world.catalog.stored[film_id_of(7)]
    assert film.title == "Item 7" and film.genres == (GENRES[1],)
    assert world.state.stored_items[7] == (GENRES[1],)
    world.client.post("/add_items", json={"item_ids": [7], "genres": [["Sci-Fi", "Sci-Fi", "Drama"]]})
    assert world.catalog.stored[film_id_of(7)].genres == ("Sci-Fi", "Drama")  # a later batch changes genres


def test_an_unknown_user_gets_cold_start_items_of_several_genres(world: World) -> None:
    world.add_all()
    diverse = make_world(diversity=0.5)
    diverse.add_all()
    for service_world in (world, diverse):
        answer = recs(service_world, 424242)
        assert len(answer) == COUNT and set(answer) <= set(ITEMS)
    assert len({GENRES[i % 3] for i in recs(diverse, 99)}) == len(GENRES)


def test_interactions_become_ratings_10_and_1_and_are_never_recommended(world: World) -> None:
    world.add_all()
    response = world.client.post(
        "/interact", json={"user_id": 5, "item_ids": [1, 2, 3], "actions": ["like", "dislike", "like"]}
    )
    assert response.status_code == 200 and response.json()["count"] == 3
    rows = world.ratings.read_all().sort_values(Columns.Item)
    assert dict(zip(rows[Columns.Item], rows[Columns.Rating], strict=True)) == {
        film_id_of(1): RATING_MAX,
        film_id_of(2): RATING_MIN,
        film_id_of(3): RATING_MAX,
    }
    assert set(rows[Columns.User]) == {"5"}
    assert not {1, 2, 3} & set(recs(world, 5))


def test_popular_items_come_first_for_users_without_a_list(world: World) -> None:
    world.add_all()
    for user in range(3):
        world.client.post("/interact", json={"user_id": user, "item_ids": [40, 41], "actions": ["like", "dislike"]})
    world.client.post("/interact", json={"user_id": 9, "item_ids": [41], "actions": ["like"]})
    assert recs(world, 100)[:2] == [41, 40]


def test_recs_never_repeat_an_item_until_the_catalogue_runs_out(world: World) -> None:
    world.add_all()
    world.client.post("/interact", json={"user_id": 1, "item_ids": [1, 2], "actions": ["like", "like"]})
    seen: list[int] = []
    for _ in range(len(ITEMS) // COUNT):
        seen += recs(world, 1)
    assert len(seen) == len(set(seen)) == len(ITEMS) - 2
    assert set(seen) == set(ITEMS) - {1, 2}
    assert recs(world, 1) == []  # nothing left that was not shown or interacted with


def test_a_personal_list_is_served_first_without_shown_interacted_or_unknown_items(world: World) -> None:
    world.add_all()
    world.publish({7: [30, 31, 32, 33, 1]}, cold=[50, 51])
    world.client.post("/interact", json={"user_id": 7, "item_ids": [31], "actions": ["like"]})
    world.client.post("/add_items", json={"item_ids": [], "genres": []})
    response = world.client.get("/recs/7")
    answer = response.json()["item_ids"]
    assert answer[:4] == [30, 32, 33, 1] and 31 not in answer and len(answer) == COUNT
    assert response.headers["x-personal-items"] == "4"  # the list without the item interacted with
    assert recs(world, 7)[0] not in answer


def test_personal_lists_naming_items_never_added_are_filtered(world: World) -> None:
    world.add_all()
    # A film the catalogue holds (another writer put it there) but the exam was never given.
    world.catalog.upsert([Film(film_id_of(1000), "Not an exam item", genres=("Drama",))])
    world.publish({3: [10, 1000, 11]}, cold=[])
    answer = recs(world, 3)
    assert answer[:2] == [10, 11] and 1000 not in answer and set(answer) <= set(ITEMS)


def test_the_version_cold_start_list_orders_the_padding(world: World) -> None:
    world.add_all()
    meta = world.publish({}, cold=[55, 56, 57])
    assert meta.n_users == 0
    world.publish({1: [20]}, cold=[55, 56, 57])  # a trained version (it has users): its popularity counts
    assert recs(world, 2)[:3] == [55, 56, 57]
    assert recs(world, 1)[:4] == [20, 55, 56, 57]


def test_cleanup_wipes_everything_and_ignores_versions_trained_before(world: World) -> None:
    world.add_all()
    world.client.post("/interact", json={"user_id": 1, "item_ids": [1], "actions": ["like"]})
    recs(world, 1)
    assert world.client.get("/cleanup").status_code == 200
    assert world.catalog.stored == {} and world.ratings.read_all().empty and world.recstore.current() is None
    assert world.state.stored_items == {} and world.state.users == {}
    assert recs(world, 1) == []  # no item
    world.add_all()
    world.publish({1: [50, 51]}, cold=[], trained_at=0.0)  # a cycle that started before the cleanup
    assert recs(world, 1)[:2] != [50, 51]
    world.publish({1: [52, 53]}, cold=[])
    assert recs(world, 1)[:2] == [52, 53]
    response = world.client.post("/interact", json={"user_id": 1, "item_ids": [1], "actions": ["like"]})
    assert response.status_code == 200  # item 1 is shown, not interacted, since the cleanup


def test_exploration_gives_a_share_of_random_items(world: World) -> None:
    exploring = make_world(exploration=0.5)
    exploring.add_all()
    answers = [recs(exploring, user) for user in range(20)]
    popular_first = sorted(ITEMS)[:5]
    assert all(answer[:5] == popular_first for answer in answers)  # the popular half
    assert len({tuple(answer[5:]) for answer in answers}) > 1  # the random half differs by user
    again = make_world(exploration=0.5)
    again.add_all()
    assert recs(again, 3) == answers[3]  # seeded: the same draw for the same user and history


def test_a_failing_rating_path_answers_503_and_records_nothing(world: World) -> None:
    world.add_all()
    world.publisher.down = True
    response = world.client.post("/interact", json={"user_id": 1, "item_ids": [1], "actions": ["like"]})
    assert_problem(response, 503, "down")
    assert world.state.item_counts == {}


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (
            "/interact",
            {"user_id": 1, "item_ids": [1, 2], "actions": ["like"]},
            "item_ids has 2 entries but actions has 1",
        ),
        ("/interact", {"user_id": 1, "item_ids": [1], "actions": ["love"]}, "'like' or 'dislike'"),
        ("/interact", {"user_id": 1, "item_ids": [999], "actions": ["like"]}, "unknown item id(s), never added: 999"),
        ("/interact", {"user_id": "1", "item_ids": [1], "actions": ["like"]}, "body.user_id"),
        ("/interact", {"user_id": 1.5, "item_ids": [1], "actions": ["like"]}, "body.user_id"),
        ("/interact", {"user_id": True, "item_ids": [1], "actions": ["like"]}, "body.user_id"),
        ("/interact", {"user_id": 1, "item_ids": ["1"], "actions": ["like"]}, "body.item_ids.0"),
        ("/interact", {"user_id": 1, "item_ids": [2**63], "actions": ["like"]}, "body.item_ids.0"),
        ("/interact", {"item_ids": [1], "actions": ["like"]}, "body.user_id: Field required"),
        ("/add_items", {"item_ids": [1, 2], "genres": [["Drama"]]}, "item_ids has 2 entries but genres has 1"),
        ("/add_items", {"item_ids": [1], "genres": ["Drama"]}, "body.genres.0"),
        ("/add_items", {"item_ids": [1], "genres": [[" "]]}, "body.genres.0.0"),
        ("/add_items", {"item_ids": [1.0], "genres": [["Drama"]]}, "body.item_ids.0"),
    ],
)
def test_bad_bodies_are_422_problems_saying_what_is_wrong(world: World, path: str, body: object, words: str) -> None:
    world.add_all()
    assert_problem(world.client.post(path, json=body), 422, words)
    assert world.ratings.read_all().empty


def test_malformed_json_and_bad_paths_are_4xx_problems(world: World) -> None:
    response = world.client.post("/interact", content=b'{"user_id": 1,', headers={"content-type": "application/json"})
    assert_problem(response, 422, "JSON decode error")
    assert_problem(world.client.get("/recs/abc"), 422, "path.user_id")
    assert_problem(world.client.get("/recs/1.5"), 422, "path.user_id")
    assert_problem(world.client.get("/nowhere"), 404, "Not Found")
    assert_problem(world.client.get("/interact"), 405, "Method Not Allowed")


def test_an_oversized_body_is_refused_with_413() -> None:
    world = make_world()
    huge = {"item_ids": list(range(200_000)), "genres": [["Drama"]] * 200_000}
    assert_problem(world.client.post("/add_items", json=huge), 413, "request body exceeds")


def test_recs_answers_503_when_the_state_is_down_and_huge_ids_are_refused(world: World) -> None:
    world.add_all()
    world.state.down = True
    assert_problem(world.client.get("/recs/12"), 503, "down")  # the fast path leaves it to the route
    world.state.down = False
    assert_problem(world.client.get(f"/recs/{2**64}"), 422, "path.user_id")
    assert recs(world, -(2**62)) and recs(world, 2**63 - 1)  # every signed 64-bit id is a user


def test_the_fast_path_and_the_route_answer_the_same_json() -> None:
    fast, slow = make_world(), make_world()
    for served in (fast, slow):
        served.add_all()
    fast_answer = fast.client.get("/recs/3")
    slow_answer = slow.client.get("/recs/0003")  # not the fast path's canonical form: the FastAPI route
    assert fast_answer.json() == slow_answer.json()
    assert fast_answer.headers["content-type"] == slow_answer.headers["content-type"] == "application/json"
    assert fast_answer.headers["x-personal-items"] == slow_answer.headers["x-personal-items"] == "0"
