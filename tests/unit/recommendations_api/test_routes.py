"""The HTTP layer over the fake store: shapes, validation (never a 500 for a client's mistake), metrics."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from recommendations_api.bootstrap import create_app
from recommendations_api.settings import ApiSettings
from recsys_common.web import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES, PROBLEM_MEDIA_TYPE, USER_ID_PATTERN

ALICE = ([1, 2, 3], [[5, 6], [7]])


@pytest.fixture
def client(fake_store, publish, tmp_path):
    publish(fake_store, "v1", {"alice": ALICE})
    settings = ApiSettings(data_dir=tmp_path, current_refresh_ms=0, store_retry_ms=60_000)
    with TestClient(create_app(settings, store=fake_store)) as test_client:
        yield test_client


def test_recommendations_shape(client, fake_store, films):
    body = client.get("/api/v1/users/alice/recommendations").json()
    assert body == {
        "user_id": "alice",
        "genre": None,
        "source": "personal",
        "model_version": "model-v1",
        "generated_at": fake_store.metas["v1"].published_at,
        "film_ids": films[1:4],
    }
    genre = client.get("/api/v1/users/alice/recommendations", params={"genre": "drama", "limit": 1}).json()
    assert (genre["genre"], genre["source"], genre["film_ids"]) == ("Drama", "personal", [films[7]])


def test_cold_start_for_a_new_user_with_default_limit(client, cold):
    body = client.get("/api/v1/users/newcomer/recommendations").json()
    assert (body["source"], body["film_ids"]) == ("cold_start", list(cold.overall))
    assert len(client.get("/api/v1/users/newcomer/recommendations", params={"limit": 2}).json()["film_ids"]) == 2


def test_genres_and_cold_start_and_legacy_shapes(client, films, cold):
    genres = client.get("/api/v1/users/alice/recommendations/genres").json()
    assert set(genres) == {"user_id", "source", "model_version", "generated_at", "genres"}
    assert genres["genres"] == {"Comedy": [films[5], films[6]], "Drama": [films[7]]}

    top = client.get("/api/v1/cold-start", params={"genre": "Comedy", "limit": 2}).json()
    assert set(top) == {"genre", "source", "model_version", "generated_at", "film_ids"}
    assert (top["genre"], top["source"], top["film_ids"]) == ("Comedy", "cold_start", list(cold.by_genre["Comedy"][:2]))

    assert client.get("/v1/user/alice").json() == {"result": {"must_watch": films[1:4]}, "error": None}
    assert client.get("/v1/user/newcomer").json() == {"result": {"must_watch": list(cold.overall)}, "error": None}


GARBAGE_USER_PATHS = [
    "/api/v1/users/%00/recommendations",
    "/api/v1/users/ab%00cd/recommendations",
    "/api/v1/users/%1F/recommendations",
    "/api/v1/users/%7F/recommendations",
    "/api/v1/users/line%0Abreak/recommendations",
    f"/api/v1/users/{'x' * 129}/recommendations",
    "/api/v1/users/%00/recommendations/genres",
    "/api/v1/users//recommendations",
    "/api/v1/users//recommendations/genres",
    "/api/v1/users/a%2Fb/recommendations",
    "/api/v1/users/a%2Fb/recommendations/genres",
]


@pytest.mark.parametrize("path", GARBAGE_USER_PATHS)
def test_malformed_user_ids_get_422_saying_what_is_allowed(client, path):
    response = client.get(path)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["loc"] == ["path", "user_id"]
    assert error["msg"] in {
        "user id must not contain control characters",
        "user id must be at most 128 characters, got 129",
        "user id must not be empty",
        "user id must not contain '/'",
    }
    assert response.json()["detail"] == f"invalid request: path.user_id: {error['msg']}"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("limit=0", "greater than or equal to 1"),
        ("limit=501", "less than or equal to 500"),
        ("limit=-3", "greater than or equal to 1"),
        ("limit=abc", "valid integer"),
        ("limit=1.5", "valid integer"),
        ("limit=", "valid integer"),
        ("limit=99999999999999999999999999", "less than or equal to 500"),
        ("genre=", "at least 1 character"),
        (f"genre={'g' * 65}", "at most 64 characters"),
    ],
)
def test_bad_query_parameters_get_422(client, query, expected):
    for path in ("/api/v1/users/alice/recommendations", "/api/v1/cold-start"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 422, (path, query)
        assert expected in response.text


@pytest.mark.parametrize("genre", ["Western", "%00", "Comedy%20", "%FF%FE"])
def test_unknown_genre_is_404_listing_the_allowed_genres(client, genre):
    for path in ("/api/v1/users/alice/recommendations", "/api/v1/cold-start"):
        response = client.get(f"{path}?genre={genre}")
        assert response.status_code == 404
        assert response.json()["detail"].endswith("allowed genres: Comedy, Drama")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/%FF%FE/recommendations",  # not UTF-8: decoded with replacement characters
        "/api/v1/users/%E2%80%AE/recommendations",  # a right-to-left override is not a control character
        "/api/v1/users/%F0%9F%8E%AC/recommendations",
        "/api/v1/users/alice/recommendations?limit=5&limit=abc",
        "/api/v1/users/alice/recommendations?unknown=1",
        "/api/v1/users/%20/recommendations",
    ],
)
def test_odd_requests_never_cause_a_server_error(client, path):
    response = client.get(path)
    assert response.status_code < 500, response.text


def test_legacy_route_keeps_its_shape_on_errors(client):
    response = client.get("/v1/user/%00")
    assert response.status_code == 422
    assert response.json() == {"result": None, "error": "user id must not contain control characters"}
    empty = client.get("/v1/user/")
    assert empty.status_code == 422
    assert empty.json() == {"result": None, "error": "user id must not be empty"}
    slash = client.get("/v1/user/a%2Fb")
    assert slash.status_code == 422
    assert slash.json() == {"result": None, "error": "user id must not contain '/'"}


def test_store_never_reached_is_503_with_a_message(fake_store, tmp_path):
    fake_store.down = True
    app = create_app(ApiSettings(data_dir=tmp_path), store=fake_store)
    with TestClient(app) as client:
        response = client.get("/api/v1/users/alice/recommendations")
        assert response.status_code == 503
        assert "no recommendations were read since start" in response.json()["detail"]
        assert response.headers["retry-after"] == "1"
        legacy = client.get("/v1/user/alice")
        assert legacy.status_code == 503
        assert legacy.json()["result"] is None
        assert "fake store is down" in legacy.json()["error"]
        assert client.get("/health/live").status_code == 200
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unready", "reason": "recommendation store unreachable: fake store is down"}


def test_fallback_keeps_answering_200_while_readiness_is_503(client, fake_store, cold):
    fake_store.down = True
    response = client.get("/api/v1/users/alice/recommendations")
    assert response.status_code == 200
    assert (response.json()["source"], response.json()["film_ids"]) == ("fallback", list(cold.overall))
    assert client.get("/health/ready").status_code == 503
    assert client.get("/v1/user/alice").json()["result"]["must_watch"] == list(cold.overall)


def test_readiness_reports_the_serving_version(client):
    assert client.get("/health/ready").json() == {"status": "ready", "version": "v1", "model_version": "model-v1"}
    assert client.get("/health/live").json() == {"status": "live"}


def test_metrics_count_routes_statuses_sources_and_the_model(client):
    client.get("/api/v1/users/alice/recommendations")
    client.get("/api/v1/users/bob/recommendations")
    client.get("/api/v1/users/bob/recommendations")
    client.get("/api/v1/users/%00/recommendations")
    client.get("/no/such/route")
    client.request("BREW", "/api/v1/users/alice/recommendations")
    text = client.get("/metrics").text
    route = 'route="/api/v1/users/{user_id}/recommendations"'
    assert f'recsys_api_requests_total{{method="OTHER",{route},status="405"}} 1.0' in text
    assert f'recsys_api_requests_total{{method="GET",{route},status="200"}} 3.0' in text
    assert f'recsys_api_requests_total{{method="GET",{route},status="422"}} 1.0' in text
    assert 'recsys_api_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert f"recsys_api_request_duration_seconds_count{{{route}}} 5.0" in text
    assert 'recsys_api_answers_total{source="personal"} 1.0' in text
    assert 'recsys_api_answers_total{source="cold_start"} 2.0' in text
    assert 'recsys_api_model_version_info{model_version="model-v1",version="v1"} 1.0' in text


def test_openapi_documents_every_route_with_examples(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) >= {
        "/api/v1/users/{user_id}/recommendations",
        "/api/v1/users/{user_id}/recommendations/genres",
        "/api/v1/cold-start",
        "/v1/user/{user_id}",
        "/health/live",
        "/health/ready",
        "/metrics",
    }
    schemas = spec["components"]["schemas"]
    for name in ("Recommendations", "GenreRecommendations", "ColdStart", "LegacyResponse"):
        assert schemas[name]["examples"], name
    assert client.get("/docs").status_code == 200


def test_oversized_headers_are_431_and_bodies_413_as_problem_documents(client):
    for path in ("/api/v1/users/alice/recommendations", "/v1/user/alice"):
        response = client.get(path, headers={"X-Padding": "p" * DEFAULT_MAX_HEADER_BYTES})
        assert response.status_code == 431
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["detail"] == f"request headers exceed {DEFAULT_MAX_HEADER_BYTES} bytes"
    response = client.request("GET", "/api/v1/users/alice/recommendations", content=b" " * (DEFAULT_MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_errors_are_problem_documents_except_on_the_legacy_route(client):
    unknown = client.get("/api/v1/users/alice/recommendations", params={"genre": "Western"})
    assert unknown.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert unknown.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "unknown genre 'Western'; allowed genres: Comedy, Drama",
    }
    invalid = client.get("/api/v1/cold-start", params={"limit": 0})
    assert invalid.json()["errors"] == [
        {"loc": ["query", "limit"], "msg": "Input should be greater than or equal to 1", "type": "greater_than_equal"}
    ]
    assert client.get("/v1/user/%00").headers["content-type"] == "application/json"


def test_openapi_is_truthful_about_errors_and_the_user_id(client):
    spec = client.get("/openapi.json").json()
    hot = spec["paths"]["/api/v1/users/{user_id}/recommendations"]["get"]
    assert hot["operationId"] == "get_user_recommendations"
    user_id = next(p for p in hot["parameters"] if p["name"] == "user_id")["schema"]
    assert (user_id["minLength"], user_id["maxLength"], user_id["pattern"]) == (1, 128, USER_ID_PATTERN)
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert {code: hot["responses"][code]["content"] for code in ("404", "413", "431", "503")} == dict.fromkeys(
        ("404", "413", "431", "503"), problem
    )
    assert hot["responses"]["422"]["content"] == {
        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
    }
    assert hot["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Recommendations"
    }
    legacy = spec["paths"]["/v1/user/{user_id}"]["get"]["responses"]
    assert legacy["422"]["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/LegacyResponse"}}}
    assert {tag["name"] for tag in spec["tags"]} == {
        "recommendations",
        "cold start",
        "similar films",
        "legacy",
        "operations",
    }
    operation_ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_every_answer_carries_the_callers_request_id_or_a_new_one(client):
    assert (
        client.get("/api/v1/users/alice/recommendations", headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"]
        == "abc-1"
    )
    refused = client.get("/api/v1/users/alice/recommendations?limit=0", headers={"X-Request-ID": "bad id!"})
    assert refused.status_code == 422 and len(refused.headers["X-Request-ID"]) == 32


@pytest.fixture
def reasons_client(fake_store, publish, tmp_path):
    publish(fake_store, "v1", {"alice": ALICE, "bob": ([4, 5], [[], [8]])}, reasons={"alice": [20, 21, 20]})
    settings = ApiSettings(data_dir=tmp_path, current_refresh_ms=0, store_retry_ms=60_000)
    with TestClient(create_app(settings, store=fake_store)) as test_client:
        yield test_client


def test_reasons_come_only_when_asked_and_only_from_the_users_lists(reasons_client, films, cold):
    plain = reasons_client.get("/api/v1/users/alice/recommendations").json()
    assert "reasons" not in plain and plain["film_ids"] == films[1:4]
    asked = reasons_client.get("/api/v1/users/alice/recommendations", params={"reasons": "true", "limit": 2}).json()
    assert asked["film_ids"] == films[1:3] and asked["source"] == "personal"
    assert asked["reasons"] == {films[1]: films[20], films[2]: films[21]}
    none = reasons_client.get("/api/v1/users/bob/recommendations", params={"reasons": "true"}).json()
    assert none["film_ids"] == films[4:6] and none["reasons"] == {}
    cold_answer = reasons_client.get("/api/v1/users/newcomer/recommendations", params={"reasons": "true"}).json()
    assert cold_answer["source"] == "cold_start" and "reasons" not in cold_answer
    genre = reasons_client.get("/api/v1/users/alice/recommendations", params={"reasons": "1", "genre": "Drama"})
    assert genre.json()["film_ids"] == [films[7]] and "reasons" not in genre.json()
    bad = reasons_client.get("/api/v1/users/alice/recommendations", params={"reasons": "maybe"})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_home_answers_must_watch_reasons_and_genres_from_one_read(reasons_client, fake_store, films, cold):
    reads = fake_store.calls["record"]
    body = reasons_client.get("/api/v1/users/alice/home", params={"genres": "drama,Comedy,Western", "limit": 2}).json()
    assert body == {
        "user_id": "alice",
        "source": "personal",
        "model_version": "model-v1",
        "generated_at": fake_store.metas["v1"].published_at,
        "must_watch": films[1:3],
        "reasons": {films[1]: films[20], films[2]: films[21]},
        "genres": {"Drama": [films[7]], "Comedy": films[5:7]},  # unknown genres are left out
    }
    assert fake_store.calls["record"] == reads + 1  # one read of the user's record
    bob = reasons_client.get("/api/v1/users/bob/home", params={"limit": 3}).json()
    # every published genre; Comedy, which bob's lists lack, comes from IMDb-top
    assert bob["genres"] == {"Comedy": list(cold.by_genre["Comedy"]), "Drama": [films[8]]}
    newcomer = reasons_client.get("/api/v1/users/newcomer/home", params={"genres": "Drama"}).json()
    assert newcomer["source"] == "cold_start" and newcomer["reasons"] == {}
    assert newcomer["must_watch"] == list(cold.overall[:20])
    assert newcomer["genres"] == {"Drama": list(cold.by_genre["Drama"])}


@pytest.mark.parametrize("genres", ["", ",,", "x" * 65, ",".join(["Drama"] * 33)])
def test_home_refuses_bad_genres_with_422(reasons_client, genres):
    response = reasons_client.get("/api/v1/users/alice/home", params={"genres": genres})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM_MEDIA_TYPE
