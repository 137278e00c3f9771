"""Prometheus metrics of the engine's processes, served by prometheus-client's own HTTP server.

``EngineCollector`` (the scheduler process, ``recsys schedule``) reads the cycle journal and the
serving version at scrape time: cycles by outcome, each step's duration in the last cycle that
trained, ratings used and left out, users, films, the serving version's age, the quality gate's
figures, and whether the last cycle failed.

``OnlineCollector`` reads the online updater's counters at scrape time: events, fold-ins, errors,
the duration of the last step and of recent fold-ins, and ``recsys_online_healthy`` (1 while the
loop steps and its last step did not fail), which the compose healthcheck reads.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from recommender_engine.cycle import CycleJournal
from recommender_engine.online import OnlineUpdater
from recommender_engine.status import parse_time
from recsys_common.ports.recstore import RecReader, StoreUnavailable

#: The loop steps at least every poll; this long without a step means it is stuck.
STALL_AFTER_S = 30.0
#: Cycle outcomes, always exported (0 until one happens).
OUTCOMES = ("published", "skipped", "refused", "failed")
#: Step durations a published cycle records.
STEPS = ("read", "gate", "fit", "publish")
#: Serving-version figures exported as gauges: metric name -> key in the version's metrics.
VERSION_FIGURES = {
    "recsys_engine_ratings_used": "ratings",
    "recsys_engine_ratings_left_out": "ratings_left_out",
    "recsys_engine_films_unrated": "films_unrated",
    "recsys_engine_gate_candidate_ndcg": "gate_candidate_ndcg",
    "recsys_engine_gate_serving_ndcg": "gate_serving_ndcg",
    "recsys_engine_gate_users": "gate_users",
}


class EngineCollector(Collector):
    def __init__(self, store: RecReader, journal: CycleJournal) -> None:
        self._store = store
        self._journal = journal

    def collect(self) -> Iterator[Metric]:
        entries = self._journal.entries()
        outcomes = Counter(str(entry.get("status")) for entry in entries)
        cycles = CounterMetricFamily("recsys_engine_cycles", "Engine cycles by outcome", labels=["status"])
        for outcome in OUTCOMES:
            cycles.add_metric([outcome], outcomes.get(outcome, 0))
        yield cycles
        last_failed = bool(entries) and entries[-1].get("status") == "failed"
        yield GaugeMetricFamily(
            "recsys_engine_last_cycle_failed", "1 when the last cycle failed", value=float(last_failed)
        )
        trained = next((e for e in reversed(entries) if e.get("status") == "published"), None)
        steps = GaugeMetricFamily(
            "recsys_engine_step_seconds", "Duration of each step of the last cycle that published", labels=["step"]
        )
        metrics = trained.get("metrics", {}) if trained is not None else {}
        for step in STEPS:
            value = metrics.get(f"{step}_seconds") if isinstance(metrics, dict) else None
            if isinstance(value, int | float):
                steps.add_metric([step], float(value))
        yield steps
        yield from self._serving()

    def _serving(self) -> Iterator[Metric]:
        try:
            meta = self._store.current()
        except StoreUnavailable:
            yield GaugeMetricFamily("recsys_engine_store_up", "1 when the RecStore answers", value=0.0)
            return
        yield GaugeMetricFamily("recsys_engine_store_up", "1 when the RecStore answers", value=1.0)
        if meta is None:
            return
        published = parse_time(meta.published_at)
        if published is not None:
            age = (datetime.now(UTC) - published).total_seconds()
            yield GaugeMetricFamily("recsys_engine_serving_age_seconds", "Age of the serving version", value=age)
        yield GaugeMetricFamily("recsys_engine_users", "Users of the serving version", value=float(meta.n_users))
        yield GaugeMetricFamily("recsys_engine_films", "Films of the serving version", value=float(meta.n_films))
        for name, key in VERSION_FIGURES.items():
            if key in meta.metrics:
                yield GaugeMetricFamily(name, f"The serving version's {key}", value=float(meta.metrics[key]))


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
