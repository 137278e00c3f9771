"""Shown items are recorded behind the answer: ``/recs`` queues them, one thread writes them.

The service keeps every user's shown items in memory (that is what makes an answer never repeat
one), so the store only has to learn them before the next start. Writing them on the event loop
put a SQLite transaction (or a Redis round trip) and, now and then, a WAL checkpoint's fsync into
the answer's latency; the writer thread takes it out, writing whatever queued up meanwhile as one
batch per user. A store that fails loses the batch (logged): the running process still never
repeats an item, a restarted one could show it again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence

from exam_api.state import ExamStore, ExamStoreUnavailable

log = logging.getLogger(__name__)

#: Queued records written per batch at most.
BATCH_RECORDS = 1_000
#: How long ``close`` waits for the queue to drain.
CLOSE_TIMEOUT_S = 10.0

#: (generation, user id, items): ``discard`` moves to a new generation, older records are dropped.
_Record = tuple[int, int, list[int]]


class ShownWriter:
    def __init__(self, state: ExamStore) -> None:
        self._state = state
        self._queue: queue.SimpleQueue[_Record | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # held while a batch is written: ``discard`` waits for it
        self._pending = 0
        self._generation = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None

    def put(self, user_id: int, items: Sequence[int]) -> None:
        """Queue items shown to the user (never blocks)."""
        if not items:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="exam-shown-writer", daemon=True)
            self._thread.start()
        with self._idle:
            self._pending += 1
        self._queue.put((self._generation, user_id, list(items)))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < BATCH_RECORDS:
                try:
                    record = self._queue.get_nowait()
                except queue.Empty:
                    break
                if record is None:
                    self._queue.put(None)  # seen after this batch
                    break
                batch.append(record)
            with self._lock:
                merged: dict[int, list[int]] = {}
                for generation, user_id, items in batch:
                    if generation == self._generation:
                        merged.setdefault(user_id, []).extend(items)
                for user_id, items in merged.items():
                    try:
                        self._state.add_shown(user_id, items)
                    except ExamStoreUnavailable as exc:
                        log.warning("shown items of user %d not recorded: %s", user_id, exc)
            with self._idle:
                self._pending -= len(batch)
                self._idle.notify_all()

    def flush(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Wait until every queued record is written; False when that took longer than ``timeout_s``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def discard(self) -> None:
        """Drop every record queued so far (before the store is cleared); a batch being written
        finishes first."""
        self._generation += 1  # records of older generations are skipped from now on
        with self._lock:  # wait for the batch being written, if any
            pass

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self.flush()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(CLOSE_TIMEOUT_S)
            self._thread = None
