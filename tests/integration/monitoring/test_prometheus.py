"""The monitoring stack against our real processes: Debian's ``promtool`` checks the compose
Prometheus config and the alert rules and runs the alerts' unit tests; then a real ``prometheus``
scrapes processes of ours on loopback and every query of the Grafana dashboard is asked of it.

Running for real (their queries must return data):
- the Recommendations API app under uvicorn over the embedded SQLite RecStore;
- the Movies API app under uvicorn over the embedded catalogue and rating store, asking that
  Recommendations API for the viewer's list;
- the engine's ``EngineCollector`` (what ``recsys schedule`` serves) over the journal and the store
  of two real engine cycles, the second judged by the quality gate;
- the UGC loader's own metrics server (``ugc_pipeline.metrics.MetricsServer``) over its counters: the
  loader loop itself needs Kafka and ClickHouse, so the counters are set by the test.

Only parsed (``/api/v1/query`` must succeed; the process is not started here): the online updater's
queries (``recsys_online_*``: it needs a Kafka consumer and a serving model artefact).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from movies_api.bootstrap import create_app as create_movies_app
from movies_api.settings import MoviesApiSettings
from recommendations_api.bootstrap import create_app as create_recommendations_app
from recommendations_api.settings import ApiSettings
from recommender_engine.cycle import CycleJournal
from recommender_engine.metrics import EngineCollector
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.columns import Columns
from recsys_common.domain import Film
from recsys_common.tokens import issue_token
from tests.datasets import synthetic_films, synthetic_ratings
from tests.engines import small_engine
from tests.fakes import FakeRatingStore
from tests.servers import serve_in_thread
from ugc_pipeline.metrics import LoaderStats, MetricsServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = REPO / "monitoring" / "prometheus"
DASHBOARD = REPO / "monitoring" / "grafana" / "dashboards" / "recsys.json"
INSTALL = "apt-get install -y prometheus (scripts/ensure-test-deps does it as root)"
#: Metric prefixes of processes this test does not start: their queries are only parsed.
PARSE_ONLY = ("recsys_online_",)
SCRAPE_INTERVAL = "1s"
START_TIMEOUT_S = 15.0
DATA_TIMEOUT_S = 15.0
POLL_S = 0.2
SECRET = "monitoring-test-secret-32-bytes-long!"
#: Users of the engine's ratings: the second cycle's new ratings are enough for the gate to judge.
USERS, FIRST_PER_USER, SECOND_PER_USER = 40, 8, 5


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"this test needs Debian's {name}: {INSTALL}")
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _promtool(*args: str) -> None:
    done = subprocess.run([_binary("promtool"), *args], capture_output=True, text=True, cwd=PROMETHEUS_DIR)
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def _dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel, rows included."""
    panels: list[dict[str, Any]] = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    queries = []
    for panel in panels + [inner for p in panels for inner in p.get("panels", [])]:
        queries += [(panel["title"], target["expr"]) for target in panel.get("targets", [])]
    return queries


def test_promtool_checks_the_config_and_rules_and_the_alert_unit_tests_pass() -> None:
    _promtool("check", "config", "prometheus.yml")
    _promtool("check", "rules", "alerts.yml")
    _promtool("test", "rules", "alerts_test.yml")


def _run_engine(tmp_path: Path) -> tuple[SqliteRecStore, CycleJournal]:
    """Two real cycles over the SQLite RecStore: a first version, then one the quality gate judged."""
    films = synthetic_films()
    ratings = FakeRatingStore()
    ratings.append(synthetic_ratings(films, USERS, FIRST_PER_USER))
    store = SqliteRecStore(tmp_path / "recstore.sqlite")
    journal = CycleJournal(tmp_path / "cycles.jsonl")
    engine = small_engine(tmp_path, ratings, store, journal=journal)
    engine.run_cycle()
    ratings.append(synthetic_ratings(films, USERS, SECOND_PER_USER, seed=2))
    engine.run_cycle()
    meta = store.current()
    assert meta is not None and "gate_candidate_ndcg" in meta.metrics, journal.entries()[-1]
    return store, journal


def _catalogue(path: Path) -> None:
    catalog = SqliteCatalog(path)
    catalog.upsert(
        [
            Film(row[Columns.Item], row[Columns.Title], int(row[Columns.Year]), tuple(row[Columns.Genres]))
            for row in synthetic_films().to_dict("records")
        ]
    )
    catalog.close()


@contextmanager
def _engine_metrics(store: SqliteRecStore, journal: CycleJournal) -> Iterator[str]:
    """The engine's collector on its own HTTP server, as ``recsys schedule`` serves it."""
    registry = CollectorRegistry()
    registry.register(EngineCollector(store, journal))
    server, thread = start_http_server(0, "127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def _loader_metrics(stats: LoaderStats) -> Iterator[str]:
    server = MetricsServer(stats, "127.0.0.1", 0)
    server.start()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        server.close()


@contextmanager
def _prometheus(tmp_path: Path, targets: dict[str, str]) -> Iterator[httpx.Client]:
    """A real Prometheus scraping ``{job: host:port}`` every second, with the compose alert rules."""
    binary = _binary("prometheus")
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(PROMETHEUS_DIR / "alerts.yml")],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in targets.items()
        ],
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = _free_port()
    command = [
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _ready(client):
                assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
                assert time.monotonic() < deadline, "prometheus did not become ready"
                time.sleep(POLL_S)
            yield client
    finally:
        process.terminate()
        process.wait(START_TIMEOUT_S)
        log.close()


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/-/ready").status_code == 200
    except httpx.TransportError:
        return False


def _query(client: httpx.Client, expr: str) -> list[dict[str, Any]]:
    body = client.get("/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", f"{expr}: {body}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _wait_for(client: httpx.Client, expr: str, count: int = 1) -> None:
    deadline = time.monotonic() + DATA_TIMEOUT_S
    while len(_query(client, expr)) < count:
        assert time.monotonic() < deadline, f"no data for {expr} within {DATA_TIMEOUT_S} s"
        time.sleep(POLL_S)


def _traffic(recommendations: str, movies: str, users: list[str]) -> None:
    """Personal and cold-start answers, a 404, a search and a rating through the Movies API."""
    with httpx.Client(base_url=recommendations, timeout=5.0) as client:
        for user in users:
            assert client.get(f"/api/v1/users/{user}/recommendations").json()["source"] == "personal"
        assert client.get("/api/v1/users/stranger/recommendations").json()["source"] == "cold_start"
        assert client.get("/api/v1/cold-start").status_code == 200
        assert client.get("/no/such/route").status_code == 404
    token = issue_token(users[0], SECRET)
    with httpx.Client(base_url=movies, timeout=5.0, headers={"Authorization": f"Bearer {token}"}) as client:
        film = client.get("/api/v1/films").json()["films"][0]["film_id"]
        assert client.post(f"/api/v1/films/{film}/rating", json={"score": 8}).status_code == 202
        assert client.get("/api/v1/users/me/recommendations").json()["source"] == "personal"


def test_prometheus_scrapes_our_processes_and_every_dashboard_query_returns_data(tmp_path: Path) -> None:
    store, journal = _run_engine(tmp_path)
    _catalogue(tmp_path / "movies" / "catalog.sqlite")
    stats = LoaderStats(consumed=100, inserted=98, dead_lettered=2, commits=3, lag=7, running=True)
    stats.last_insert_time, stats.last_poll = time.time(), time.monotonic()
    with ExitStack() as stack:
        recommendations_app = create_recommendations_app(
            ApiSettings(data_dir=tmp_path), store=SqliteRecStore(tmp_path / "recstore.sqlite")
        )
        recommendations = stack.enter_context(serve_in_thread(recommendations_app, lifespan="on"))
        movies_settings = MoviesApiSettings(
            data_dir=tmp_path / "movies", jwt_secret=SECRET, recommendations_api_url=recommendations
        )
        assert movies_settings.catalog_db == tmp_path / "movies" / "catalog.sqlite"
        movies = stack.enter_context(serve_in_thread(create_movies_app(movies_settings), lifespan="on"))
        targets = {
            "recommendations-api": recommendations.removeprefix("http://"),
            "movies-api": movies.removeprefix("http://"),
            "engine": stack.enter_context(_engine_metrics(store, journal)),
            "ugc-loader": stack.enter_context(_loader_metrics(stats)),
        }
        prometheus = stack.enter_context(_prometheus(tmp_path, targets))
        _wait_for(prometheus, "up == 1", count=len(targets))
        _traffic(recommendations, movies, users=["user-1", "user-2"])
        # labelled counters appear with their first request: once scraped, more traffic gives rate() a change
        for counter in ("recsys_api_answers_total", "movies_api_ratings_total"):
            _wait_for(prometheus, counter)
        _traffic(recommendations, movies, users=["user-3"])
        stats.consumed, stats.inserted = 200, 198  # dead letters stay at 2: a rising rate would raise an alert
        _wait_for(prometheus, "sum(rate(recsys_api_answers_total[5m])) > 0")
        _wait_for(prometheus, "sum(rate(ugc_inserted_total[5m])) > 0")
        _wait_for(prometheus, "sum(rate(movies_api_ratings_total[5m])) > 0")

        # a scrape slowed past its timeout (a loaded machine) marks that target's series stale until the
        # next one: ask again until each query answers, within one deadline
        queries = _dashboard_queries()
        deadline = time.monotonic() + DATA_TIMEOUT_S
        while True:
            missing = [f"{title}: {expr}" for title, expr in queries if not _has_data(prometheus, expr)]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(POLL_S)
        assert not missing, "dashboard queries without data:\n" + "\n".join(missing)

        rules = _rules(prometheus)
        while not all(rule["health"] == "ok" for rule in rules):  # each group evaluates once a second
            assert time.monotonic() < deadline, rules
            time.sleep(POLL_S)
            rules = _rules(prometheus)
        assert sorted(rule["name"] for rule in rules) == sorted(_rule_names())
        alerts = prometheus.get("/api/v1/alerts").json()["data"]["alerts"]
        firing = [alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"]
        assert firing == [], "a healthy stack raises no alert"


def _has_data(client: httpx.Client, expr: str) -> bool:
    """True when the query returns data; a query of a process not run here only has to parse."""
    result = _query(client, expr)
    return bool(result) or any(prefix in expr for prefix in PARSE_ONLY)


def _rules(client: httpx.Client) -> list[dict[str, Any]]:
    groups = client.get("/api/v1/rules").json()["data"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _rule_names() -> list[str]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]
