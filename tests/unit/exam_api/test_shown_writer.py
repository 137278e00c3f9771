"""Shown items written behind the answers: batched per user, flushed on demand and at close,
dropped before a cleanup, and a failing store does not stop the writer."""

from __future__ import annotations

import threading

from exam_api.shown import ShownWriter
from tests.fakes import FakeExamStore


class SlowStore(FakeExamStore):
    """Blocks its writes until ``go`` is set, so records pile up in the queue."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()
        self.entered = threading.Event()
        self.writes = 0

    def add_shown(self, user_id: int, items: list[int]) -> None:  # type: ignore[override]
        self.entered.set()
        self.go.wait(10)
        self.writes += 1
        super().add_shown(user_id, items)


def test_queued_items_reach_the_store_in_batches_per_user() -> None:
    store = SlowStore()
    writer = ShownWriter(store)
    writer.put(1, [10])  # taken at once, blocked in the store
    for item in range(11, 15):
        writer.put(1, [item])
    writer.put(2, [20])
    writer.put(3, [])
    store.go.set()
    assert writer.flush(timeout_s=10)
    assert store.users[1].shown == {10, 11, 12, 13, 14} and store.users[2].shown == {20}
    assert store.writes <= 3  # the first record, then one batch per user
    writer.close()


def test_discard_drops_what_is_queued_and_close_writes_the_rest() -> None:
    store = SlowStore()
    writer = ShownWriter(store)
    writer.put(1, [10])
    writer.put(1, [11])
    store.go.set()
    writer.flush(timeout_s=10)
    store.go.clear()
    store.entered.clear()
    writer.put(2, [20])
    assert store.entered.wait(10)  # in the store's hands
    writer.put(2, [21])  # queued
    threading.Timer(0.2, store.go.set).start()
    writer.discard()
    assert writer.flush(timeout_s=10)
    assert store.users[2].shown == {20}
    writer.put(3, [30])
    writer.close()
    assert store.users[3].shown == {30}


def test_a_failing_store_loses_the_batch_and_the_writer_goes_on() -> None:
    store = FakeExamStore()
    writer = ShownWriter(store)
    store.down = True
    writer.put(1, [10])
    assert writer.flush(timeout_s=10)
    store.down = False
    writer.put(1, [11])
    writer.close()
    assert store.users[1].shown == {11}
