"""The circuit breaker toward the Recommendations API: its states with a clock moved by hand, and
through the app (fallback reason and state in the metrics)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app
from movies_api.breaker import CircuitBreaker, CircuitState

FAILURES = 3
COOL_DOWN_S = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def changes() -> list[CircuitState]:
    return []


@pytest.fixture
def breaker(clock, changes) -> CircuitBreaker:
    return CircuitBreaker(FAILURES, COOL_DOWN_S, clock=clock, on_change=changes.append)


def state(breaker: CircuitBreaker) -> CircuitState:
    """The breaker's state, read afresh (mypy would narrow ``breaker.state`` across calls)."""
    return breaker.state


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert breaker.allow()
        breaker.failed()


def test_it_opens_after_consecutive_failures_only(breaker, changes) -> None:
    fail(breaker, FAILURES - 1)
    assert breaker.allow()
    breaker.succeeded()  # a success resets the count
    fail(breaker, FAILURES - 1)
    assert state(breaker) is CircuitState.CLOSED
    fail(breaker, 1)
    assert state(breaker) is CircuitState.OPEN
    assert not breaker.allow()
    assert changes == [CircuitState.OPEN]


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_it(breaker, clock, changes) -> None:
    fail(breaker, FAILURES)
    clock.now += COOL_DOWN_S - 0.1
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()  # the probe
    assert state(breaker) is CircuitState.HALF_OPEN
    assert not breaker.allow()  # the others keep the fallback while it runs
    breaker.succeeded()
    assert state(breaker) is CircuitState.CLOSED
    assert breaker.allow()
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]


def test_a_failed_probe_opens_it_for_another_cool_down(breaker, clock) -> None:
    fail(breaker, FAILURES)
    clock.now += COOL_DOWN_S
    fail(breaker, 1)  # one failed probe is enough
    assert state(breaker) is CircuitState.OPEN
    clock.now += COOL_DOWN_S / 2
    assert not breaker.allow()
    clock.now += COOL_DOWN_S / 2
    assert breaker.allow()


def test_an_abandoned_probe_lets_the_next_caller_probe(breaker, clock) -> None:
    fail(breaker, FAILURES)
    clock.now += COOL_DOWN_S
    assert breaker.allow()
    breaker.abandoned()  # the client went away mid-call
    assert breaker.allow()


def test_the_app_stops_calling_a_failing_api_and_counts_it(settings, catalog, publisher, auth) -> None:
    app_settings = settings.model_copy(update={"recommendations_circuit_failures": 2})
    with TestClient(create_app(app_settings, catalog=catalog, publisher=publisher)) as client:
        for _ in range(5):
            body = client.get("/api/v1/users/me/recommendations", headers=auth()).json()
            assert body["source"] == "fallback"
        text = client.get("/metrics").text
    assert 'movies_api_recommendations_total{reason="unreachable",source="fallback"} 2.0' in text
    assert 'movies_api_recommendations_total{reason="circuit_open",source="fallback"} 3.0' in text
    assert 'movies_api_recommendations_circuit{state="open"} 1.0' in text
    assert 'movies_api_recommendations_circuit{state="closed"} 0.0' in text
    assert 'movies_api_recommendations_circuit_changes_total{state="open"} 1.0' in text
