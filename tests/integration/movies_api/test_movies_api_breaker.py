"""A hung Recommendations API (a fake on a loopback port that never answers in time): the first
request waits the timeout, the next ones answer the IMDb-top fallback at once, and after the
cool-down one probe finds it well again and closes the breaker."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app
from movies_api.settings import MoviesApiSettings
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.ids import film_id_for
from recsys_common.tokens import issue_token

pytestmark = pytest.mark.integration

SECRET = "integration-test-secret-32-bytes-long!"
TIMEOUT_S = 0.3
COOL_DOWN_S = 0.5
#: Longer than the timeout, short enough that the fake server stops soon after the test.
HUNG_S = 2.0
#: An answer that did not wait for the hung API (generous: a fallback takes a few milliseconds).
AT_ONCE_S = 0.15
FOLLOWING = 5


def test_a_hung_api_costs_one_timeout_then_the_breaker_answers_until_a_probe_closes_it(
    tmp_path, fake_recommendations, films
) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    catalog.upsert(films)
    settings = MoviesApiSettings(
        data_dir=tmp_path,
        jwt_secret=SECRET,
        recommendations_api_url=fake_recommendations.url,
        recommendations_timeout_s=TIMEOUT_S,
        recommendations_circuit_failures=1,
        recommendations_circuit_cool_down_s=COOL_DOWN_S,
    )
    headers = {"Authorization": f"Bearer {issue_token('u1', SECRET)}"}
    fake_recommendations.answers["u1"] = {"source": "personal", "film_ids": [film_id_for("it:3")]}
    fake_recommendations.delay_s = HUNG_S
    with TestClient(create_app(settings, catalog=catalog)) as client:

        def timed() -> tuple[float, str]:
            started = time.perf_counter()
            body = client.get("/api/v1/users/me/recommendations", headers=headers).json()
            return time.perf_counter() - started, body["source"]

        first_s, source = timed()
        assert source == "fallback"
        assert first_s >= TIMEOUT_S
        for _ in range(FOLLOWING):
            seconds, source = timed()
            assert (source, seconds < AT_ONCE_S) == ("fallback", True)
        assert len(fake_recommendations.requests) == 1  # the breaker kept the others away

        fake_recommendations.delay_s = 0.0  # the API recovers
        time.sleep(COOL_DOWN_S)
        assert timed()[1] == "personal"  # the probe, answered: the breaker closes
        assert timed()[1] == "personal"
        assert len(fake_recommendations.requests) == 3
        text = client.get("/metrics").text
    assert 'movies_api_recommendations_total{reason="timeout",source="fallback"} 1.0' in text
    assert f'movies_api_recommendations_total{{reason="circuit_open",source="fallback"}} {FOLLOWING}.0' in text
    assert 'movies_api_recommendations_circuit{state="closed"} 1.0' in text
