"""Composition root of the UGC loader: settings -> Kafka consumer, dead-letter producer, ClickHouse."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from types import FrameType

from pydantic import ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from recsys_common.adapters.clickhouse_ratings import ClickHouseRatingStore
from recsys_common.observability import configure_logging
from recsys_common.ports.ratings import RatingSourceError
from recsys_common.settings import warn_unknown_variables
from ugc_pipeline.kafka_io import KafkaDeadLetterSink, KafkaMessageSource, consumer_config, producer_config
from ugc_pipeline.loader import Loader
from ugc_pipeline.metrics import LoaderStats, MetricsServer
from ugc_pipeline.settings import UgcSettings

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_BAD_CONFIG = 2


class ConfigurationError(ValueError):
    """The settings cannot run a loader; the message names the variable to set."""


@dataclass
class LoaderApp:
    """Everything one loader process owns; ``run`` blocks until ``stop`` is set."""

    settings: UgcSettings
    store: ClickHouseRatingStore
    stats: LoaderStats
    metrics: MetricsServer

    def run(self, stop: threading.Event) -> None:
        self.metrics.start()
        log.info("health and metrics on http://%s:%d/", self.settings.ugc_metrics_host, self.metrics.port)
        try:
            if not self._wait_for_schema(stop):
                return
            settings = self.settings
            bootstrap = settings.kafka_bootstrap or ""
            session = {"session.timeout.ms": settings.ugc_session_timeout_ms}
            source = KafkaMessageSource(
                consumer_config(bootstrap, settings.ugc_group_id, session), [settings.ugc_topic]
            )
            dead_letters = KafkaDeadLetterSink(producer_config(bootstrap), settings.ugc_dlq_topic)
            loader = Loader(source, self.store, dead_letters, settings.ugc_loader, stats=self.stats)
            log.info("loading %s -> ClickHouse %s", settings.ugc_topic, self.store.database)
            try:
                loader.run(stop)
            finally:
                source.close()
                dead_letters.close()
        finally:
            self.metrics.close()
            self.store.close()

    def _wait_for_schema(self, stop: threading.Event) -> bool:
        """Create the table, retrying while ClickHouse is unreachable; False when stopped first."""

        def report(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.stats.sink_error = str(error)
            log.warning("ClickHouse not ready, retrying in %.1f s: %s", state.upcoming_sleep, error)

        def create_schema() -> bool:
            self.store.ensure_schema()
            return True

        def wait(seconds: float) -> None:
            stop.wait(seconds)  # returns at once on a stop request

        retrying = Retrying(
            retry=retry_if_exception_type(RatingSourceError),
            wait=self.settings.ugc_loader.retry_wait(),
            stop=lambda state: stop.is_set(),
            sleep=wait,
            before_sleep=report,
            retry_error_callback=lambda state: False,
        )
        return not stop.is_set() and bool(retrying(create_schema))


def build(settings: UgcSettings) -> LoaderApp:
    """Wire the loader from settings; nothing talks to Kafka or ClickHouse until ``run``."""
    if not settings.kafka_bootstrap:
        raise ConfigurationError("set RECSYS_KAFKA_BOOTSTRAP (e.g. kafka:9092): the loader reads from Kafka")
    if not settings.clickhouse_url:
        raise ConfigurationError(
            "set RECSYS_CLICKHOUSE_URL (e.g. clickhouse://default:@clickhouse:9000/recsys): the loader writes there"
        )
    stats = LoaderStats()
    return LoaderApp(
        settings=settings,
        store=ClickHouseRatingStore(settings.clickhouse_url, cluster=settings.clickhouse_cluster),
        stats=stats,
        metrics=MetricsServer(stats, settings.ugc_metrics_host, settings.ugc_metrics_port),
    )


def main() -> int:
    """Entry point of ``python -m ugc_pipeline``; exit 0 after a clean stop, 2 on bad settings."""
    try:
        settings = UgcSettings()
        configure_logging(logging.INFO, settings.log_format)
        warn_unknown_variables()
        app = build(settings)
    except (ValidationError, ValueError, OSError) as exc:
        configure_logging(logging.INFO)
        log.error("cannot start the UGC loader: %s", exc)
        return EXIT_BAD_CONFIG
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: flushing and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    app.run(stop)
    log.info("stopped cleanly")
    return EXIT_OK
