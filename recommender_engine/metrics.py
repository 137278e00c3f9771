"""Prometheus metrics of the engine's processes, served by prometheus-client's own HTTP server.

``OnlineCollector`` reads the online updater's counters at scrape time: events, fold-ins, errors,
the duration of the last step and of recent fold-ins, and ``recsys_online_healthy`` (1 while the
loop steps and its last step did not fail), which the compose healthcheck reads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from recommender_engine.online import OnlineUpdater

#: The loop steps at least every poll; this long without a step means it is stuck.
STALL_AFTER_S = 30.0


class OnlineCollector(Collector):
    def __init__(self, updater: OnlineUpdater) -> None:
        self._updater = updater

    def collect(self) -> Iterator[Metric]:
        stats = self._updater.stats
        yield CounterMetricFamily("recsys_online_events", "Rating events the updater received", value=stats.events)
        yield CounterMetricFamily("recsys_online_fold_ins", "Users folded into the serving model", value=stats.folded)
        yield CounterMetricFamily(
            "recsys_online_errors", "Steps that failed (store, ratings, artefact)", value=stats.errors
        )
        yield CounterMetricFamily(
            "recsys_online_versions_loaded", "Serving versions whose model was loaded", value=stats.versions_loaded
        )
        yield GaugeMetricFamily("recsys_online_last_step_seconds", "Duration of the last step", value=stats.last_step_s)
        folds = list(stats.fold_seconds)
        p95 = float(np.percentile(folds, 95)) if folds else 0.0
        yield GaugeMetricFamily("recsys_online_fold_in_seconds_p95", "p95 of the recent fold-ins", value=p95)
        stalled = stats.last_step_at is None or time.monotonic() - stats.last_step_at > STALL_AFTER_S
        healthy = not stalled and not stats.failing
        yield GaugeMetricFamily("recsys_online_healthy", "1 while the loop steps without failing", value=float(healthy))
