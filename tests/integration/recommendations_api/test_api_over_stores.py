"""The API over HTTP (TestClient) against real Redis and the SQLite store, with lists published
through the RecStore writer API."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recommendations_api.bootstrap import create_app
from recommendations_api.settings import ApiSettings
from recsys_common.adapters.redis_recstore import RedisRecStore

pytestmark = pytest.mark.integration

REFRESH_MS = 50
RETRY_MS = 100
WAIT_S = 5.0

ALICE_V1 = ([1, 2, 3, 4, 5], [[6, 7], [8]])
ALICE_V2 = ([20, 21, 22], [[23], [24, 25]])


def settings_for(tmp_path) -> ApiSettings:
    return ApiSettings(data_dir=tmp_path, current_refresh_ms=REFRESH_MS, store_retry_ms=RETRY_MS)


def wait_for(check, what: str):
    """Poll ``check`` until it returns a truthy value (bounded)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(REFRESH_MS / 1000 / 2)
    pytest.fail(f"timed out after {WAIT_S} s waiting for {what}")


def test_every_route_over_a_real_store(new_store, publish, films, cold, tmp_path):
    meta = publish(new_store(), "v1", {"alice": ALICE_V1, "bob": ([9], [[], []])})
    with TestClient(create_app(settings_for(tmp_path), store=new_store())) as client:
        alice = client.get("/api/v1/users/alice/recommendations", params={"limit": 3}).json()
        assert alice == {
            "user_id": "alice",
            "genre": None,
            "source": "personal",
            "model_version": "model-v1",
            "generated_at": meta.published_at,
            "film_ids": films[1:4],
        }
        bob_drama = client.get("/api/v1/users/bob/recommendations", params={"genre": "Drama"}).json()
        assert (bob_drama["source"], bob_drama["film_ids"]) == ("cold_start", list(cold.by_genre["Drama"]))
        stranger = client.get("/api/v1/users/stranger/recommendations").json()
        assert (stranger["source"], stranger["film_ids"]) == ("cold_start", list(cold.overall))
        genres = client.get("/api/v1/users/alice/recommendations/genres").json()
        assert genres["genres"] == {"Comedy": films[6:8], "Drama": [films[8]]}
        top = client.get("/api/v1/cold-start", params={"genre": "comedy", "limit": 2}).json()
        assert (top["genre"], top["source"], top["film_ids"]) == (
            "Comedy",
            "cold_start",
            list(cold.by_genre["Comedy"][:2]),
        )
        assert client.get("/v1/user/alice").json() == {"result": {"must_watch": films[1:6]}, "error": None}
        assert client.get("/health/ready").json() == {"status": "ready", "version": "v1", "model_version": "model-v1"}
        unknown = client.get("/api/v1/users/alice/recommendations", params={"genre": "Western"})
        assert unknown.status_code == 404
        assert "allowed genres: Comedy, Drama" in unknown.json()["detail"]


def test_a_new_version_is_served_without_restart_and_never_half(new_store, publish, films, tmp_path):
    engine = new_store()  # the writer has its own connection, like the engine process
    publish(engine, "v1", {"alice": ALICE_V1})
    v1_list, v3_list = films[1:6], [films[i] for i in ALICE_V2[0]]
    with TestClient(create_app(settings_for(tmp_path), store=new_store())) as client:

        def alice() -> dict[str, Any]:
            body: dict[str, Any] = client.get("/api/v1/users/alice/recommendations").json()
            # whichever version answers, its list is complete and matches its model version; the pending v2 never
            assert [body["model_version"], body["film_ids"]] in [["model-v1", v1_list], ["model-v3", v3_list]]
            return body

        assert alice()["model_version"] == "model-v1"
        publish(engine, "v2", {"alice": ALICE_V2}, commit=False)  # pending: invisible
        time.sleep(3 * REFRESH_MS / 1000)
        assert alice()["model_version"] == "model-v1"

        engine.prune(keep=10, grace_s=3600)  # a young pending version survives pruning
        engine_writer_meta = publish(engine, "v3", {"alice": ALICE_V2})
        wait_for(lambda: alice()["model_version"] == "model-v3", "version v3 to be served")
        ready = client.get("/health/ready").json()
        assert ready["version"] == engine_writer_meta.version

        engine.activate("v1")  # rollback
        wait_for(lambda: alice()["model_version"] == "model-v1", "the rollback to v1 to be served")


def test_redis_cut_off_answers_fallback_then_recovers(
    redis_url, redis_prefix, redis_proxy, publish, films, cold, tmp_path
):
    publish(RedisRecStore(redis_url, prefix=redis_prefix), "v1", {"alice": ALICE_V1})
    store = RedisRecStore(redis_proxy.url(redis_url), prefix=redis_prefix, socket_timeout_s=0.2, connect_timeout_s=0.2)
    with TestClient(create_app(settings_for(tmp_path), store=store)) as client:
        assert client.get("/api/v1/users/alice/recommendations").json()["source"] == "personal"

        redis_proxy.stop()  # established connections are cut, new ones refused
        down = client.get("/api/v1/users/alice/recommendations", params={"genre": "Drama"})
        assert down.status_code == 200
        assert (down.json()["source"], down.json()["film_ids"]) == ("fallback", list(cold.by_genre["Drama"]))
        assert down.json()["model_version"] == "model-v1"
        assert client.get("/api/v1/cold-start").json()["source"] == "fallback"
        assert client.get("/v1/user/alice").json() == {"result": {"must_watch": list(cold.overall)}, "error": None}
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert f"127.0.0.1:{redis_proxy.port}" in ready.json()["reason"]
        metrics = client.get("/metrics").text
        assert 'recsys_api_answers_total{source="fallback"} 3.0' in metrics

        redis_proxy.start()  # Redis is back: nobody restarts the API
        wait_for(
            lambda: client.get("/api/v1/users/alice/recommendations").json()["source"] == "personal",
            "personal answers after Redis came back",
        )
        assert client.get("/api/v1/users/alice/recommendations").json()["film_ids"] == films[1:6]
        # readiness is cached for readiness_ttl_ms: a 503 cached while Redis was down may outlive it by that much
        wait_for(lambda: client.get("/health/ready").status_code == 200, "ready again after Redis came back")


def test_redis_never_reachable_is_503_not_an_empty_answer(redis_prefix, free_port, tmp_path):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    store = RedisRecStore(closed, prefix=redis_prefix, connect_timeout_s=0.2)
    with TestClient(create_app(settings_for(tmp_path), store=store)) as client:
        response = client.get("/api/v1/users/alice/recommendations")
        assert response.status_code == 503
        assert "no recommendations were read since start" in response.json()["detail"]
        assert client.get("/health/live").status_code == 200
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert closed in ready.json()["reason"]


def test_reasons_and_the_home_page_over_a_real_store(new_store, publish, films, cold, tmp_path):
    publish(new_store(), "v1", {"alice": ALICE_V1}, reasons={"alice": [30, 31]})
    with TestClient(create_app(settings_for(tmp_path), store=new_store())) as client:
        asked = client.get("/api/v1/users/alice/recommendations", params={"limit": 3, "reasons": "true"}).json()
        assert asked["film_ids"] == films[1:4]
        assert asked["reasons"] == {films[1]: films[30], films[2]: films[31]}
        assert "reasons" not in client.get("/api/v1/users/alice/recommendations").json()
        home = client.get("/api/v1/users/alice/home", params={"genres": "Drama", "limit": 2}).json()
        assert (home["source"], home["must_watch"], home["genres"]) == ("personal", films[1:3], {"Drama": [films[8]]})
        assert home["reasons"] == {films[1]: films[30], films[2]: films[31]}
        stranger = client.get("/api/v1/users/stranger/home", params={"limit": 2}).json()
        assert stranger["source"] == "cold_start" and stranger["must_watch"] == list(cold.overall[:2])
