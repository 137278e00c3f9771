"""Readiness off the event loop: cached for a TTL, one refresh at a time in a worker thread, and
answered from the store breaker while it is open (the store is not asked)."""

from __future__ import annotations

import asyncio
import threading

from recommendations_api.readiness import ReadinessCache
from recommendations_api.service import RecommendationService
from recsys_common.domain import Source
from tests.fakes import FakeRecStore

TTL_S = 1.0
RETRY_S = 1.0
#: Bound of every wait on the gate: a broken test fails instead of hanging.
GATE_TIMEOUT_S = 5.0
ALICE = ([1, 2, 3], [[5], [7]])


class GatedStore(FakeRecStore):
    """``ping`` waits until the gate opens, like a store that hangs until it is released."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.pinging = threading.Event()

    def ping(self) -> None:
        self.pinging.set()
        assert self.gate.wait(GATE_TIMEOUT_S), "the test never opened the gate"
        super().ping()


def make(store, clock) -> tuple[RecommendationService, ReadinessCache]:
    service = RecommendationService(store, refresh_s=0.5, retry_s=RETRY_S, clock=clock)
    return service, ReadinessCache(service, ttl_s=TTL_S, clock=clock)


def test_the_answer_is_cached_for_the_ttl(fake_store, clock, publish):
    publish(fake_store, "v1", {"alice": ALICE})
    _, cache = make(fake_store, clock)

    async def twice() -> list[bool]:
        first = await cache.readiness()
        clock.advance(TTL_S / 2)
        second = await cache.readiness()
        return [first.ready, second.ready]

    assert asyncio.run(twice()) == [True, True]
    assert fake_store.calls["ping"] == 1
    clock.advance(TTL_S)
    assert asyncio.run(cache.readiness()).ready
    assert fake_store.calls["ping"] == 2


def test_while_the_breaker_is_open_the_store_is_not_asked(fake_store, clock, publish):
    publish(fake_store, "v1", {"alice": ALICE})
    service, cache = make(fake_store, clock)
    service.warm_up()
    fake_store.down = True
    assert service.recommendations("alice", None, 5).source is Source.FALLBACK  # opens the breaker
    fake_store.calls.clear()
    readiness = asyncio.run(cache.readiness())
    assert (readiness.ready, readiness.reason) == (False, "recommendation store unreachable: fake store is down")
    assert sum(fake_store.calls.values()) == 0


def test_a_hung_store_stalls_only_the_readiness_requests_and_one_probe_at_a_time(clock, publish):
    store = GatedStore()
    publish(store, "v1", {"alice": ALICE})
    service, cache = make(store, clock)
    service.warm_up()

    async def scenario() -> None:
        pollers = [asyncio.create_task(cache.readiness()) for _ in range(2)]
        await asyncio.to_thread(store.pinging.wait, GATE_TIMEOUT_S)
        await asyncio.sleep(0.05)
        # the event loop keeps answering while the refresh hangs in its thread
        assert not any(poller.done() for poller in pollers)
        assert service.recommendations("alice", None, 5).source is Source.PERSONAL
        store.gate.set()
        answers = await asyncio.gather(*pollers)
        assert all(answer.ready for answer in answers)

    asyncio.run(scenario())
    assert store.calls["ping"] == 1  # both pollers shared one refresh


def test_half_open_lets_one_caller_probe_and_the_others_answer_from_the_snapshot(clock, publish, cold):
    store = GatedStore()
    publish(store, "v1", {"alice": ALICE})
    service, _ = make(store, clock)
    service.warm_up()
    store.down = True
    assert service.recommendations("alice", None, 5).source is Source.FALLBACK
    store.down = False
    clock.advance(RETRY_S)  # half-open

    probe = threading.Thread(target=service.readiness)  # the probe hangs in ping
    probe.start()
    try:
        assert store.pinging.wait(GATE_TIMEOUT_S)
        store.calls.clear()
        answer = service.recommendations("alice", None, 5)
        assert (answer.source, answer.film_ids) == (Source.FALLBACK, cold.overall[:5])
        assert sum(store.calls.values()) == 0  # the store was left to the probe
    finally:
        store.gate.set()
        probe.join(GATE_TIMEOUT_S)
    assert service.recommendations("alice", None, 5).source is Source.PERSONAL  # the probe closed the breaker
