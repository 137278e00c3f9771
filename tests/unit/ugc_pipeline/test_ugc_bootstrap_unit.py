"""Settings, composition root, health/metrics endpoints and topic definitions of the UGC loader."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client import generate_latest
from pydantic import ValidationError

from recsys_common.events import RATINGS_DLQ_TOPIC, RATINGS_TOPIC
from ugc_pipeline import bootstrap
from ugc_pipeline.bootstrap import ConfigurationError, build
from ugc_pipeline.loader import LoaderConfig
from ugc_pipeline.metrics import STALL_AFTER_S, LoaderStats, MetricsServer, metrics_registry
from ugc_pipeline.settings import UgcSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
CLICKHOUSE_URL = "clickhouse://default:@127.0.0.1:9000/recsys"


@pytest.fixture(autouse=True)
def no_recsys_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the variables they set themselves."""
    for name in list(os.environ):
        if name.startswith("RECSYS_"):
            monkeypatch.delenv(name)


def test_settings_come_from_recsys_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("RECSYS_UGC_LOADER__BATCH_SIZE", "123")
    monkeypatch.setenv("RECSYS_UGC_LOADER__BATCH_TIMEOUT_S", "2.5")
    monkeypatch.setenv("RECSYS_UGC_LOADER__MAX_MESSAGE_BYTES", "4096")

    settings = UgcSettings()

    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.ugc_topic == RATINGS_TOPIC
    assert settings.ugc_dlq_topic == RATINGS_DLQ_TOPIC
    assert settings.ugc_loader == LoaderConfig(batch_size=123, batch_timeout_s=2.5, max_message_bytes=4096)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"RECSYS_UGC_LOADER__BATCH_SIZE": "0"}, "ugc_loader.batch_size"),
        ({"RECSYS_UGC_LOADER__MAX_MESSAGE_DEPTH": "-1"}, "ugc_loader.max_message_depth"),
        ({"RECSYS_UGC_LOADER__RETRY_INITIAL_S": "5", "RECSYS_UGC_LOADER__RETRY_MAX_S": "1"}, "retry_initial_s"),
    ],
)
def test_nonsense_loader_settings_are_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=named):
        UgcSettings()


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"clickhouse_url": CLICKHOUSE_URL}, "RECSYS_KAFKA_BOOTSTRAP"),
        ({"kafka_bootstrap": "kafka:9092"}, "RECSYS_CLICKHOUSE_URL"),
    ],
)
def test_build_names_the_missing_or_wrong_variable(values: dict[str, object], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        build(UgcSettings(**values))  # type: ignore[arg-type]


def test_main_exits_2_with_a_clear_log_when_unconfigured(caplog: pytest.LogCaptureFixture) -> None:
    assert bootstrap.main() == bootstrap.EXIT_BAD_CONFIG
    assert "RECSYS_KAFKA_BOOTSTRAP" in caplog.text


def test_health_reflects_the_loop_state() -> None:
    stats = LoaderStats()
    assert stats.health(now=10.0) == (False, "loader loop is not running")
    stats.running = True
    stats.last_poll = 10.0
    assert stats.health(now=11.0) == (True, "ok")
    healthy, reason = stats.health(now=10.0 + STALL_AFTER_S + 1)
    assert not healthy
    assert "has not polled" in reason
    stats.sink_error = "ClickHouse is down"
    healthy, reason = stats.health(now=11.0)
    assert not healthy
    assert "ClickHouse is down" in reason


def test_metrics_expose_the_counters_in_prometheus_text() -> None:
    stats = LoaderStats(consumed=5, inserted=4, dead_lettered=1, lag=7, last_insert_time=123.0)

    text = generate_latest(metrics_registry(stats)).decode()

    for line in (
        "ugc_consumed_total 5.0",
        "ugc_inserted_total 4.0",
        "ugc_dead_lettered_total 1.0",
        "ugc_lag_messages 7.0",
        "ugc_last_insert_timestamp_seconds 123.0",
        "ugc_healthy 0.0",
    ):
        assert line in text


@pytest.fixture
def served() -> Iterator[tuple[LoaderStats, str]]:
    stats = LoaderStats()
    server = MetricsServer(stats, "127.0.0.1", 0)
    server.start()
    yield stats, f"http://127.0.0.1:{server.port}"
    server.close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_health_endpoint_answers_503_then_200(served: tuple[LoaderStats, str]) -> None:
    stats, base = served
    status, body = get(f"{base}/health")
    assert status == 503
    assert json.loads(body)["reason"] == "loader loop is not running"

    stats.running = True
    stats.last_poll = time.monotonic()
    stats.consumed = 3
    status, body = get(f"{base}/health")
    assert status == 200
    assert json.loads(body)["consumed"] == 3

    status, body = get(f"{base}/metrics")
    assert status == 200
    assert "ugc_consumed_total 3.0" in body

    status, body = get(f"{base}/nope")
    assert status == 404
    assert "/health" in body


def load_topics_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("create_topics", REPO_ROOT / "kafka" / "create_topics.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module


def test_topic_definitions_match_the_names_the_code_uses() -> None:
    specs = {spec.name: spec for spec in load_topics_script().load_topics()}

    assert set(specs) == {RATINGS_TOPIC, RATINGS_DLQ_TOPIC}
    for spec in specs.values():
        assert spec.partitions >= 1
        assert int(spec.config["retention.ms"]) > 0


def test_a_broken_topics_file_is_reported_with_its_path(tmp_path: Path) -> None:
    broken = tmp_path / "topics.yaml"
    broken.write_text("topics:\n  - name: ratings\n")
    with pytest.raises(ValueError, match=r"topics\.yaml: topic #1"):
        load_topics_script().load_topics(broken)
