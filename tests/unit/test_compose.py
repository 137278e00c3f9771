"""docker-compose.yml cannot be run here (no Docker engine): check it statically against the code.

Every service is healthy-checked or a one-shot that others wait for; every dependency exists; every
command is one the code has; every RECSYS_* variable is a field of that process's settings class
and validates; published ports, healthcheck URLs and service URLs agree; every file it names exists;
Prometheus scrapes every process at a port its service exposes and Grafana is provisioned with it.
"""

from __future__ import annotations

import glob
import importlib
import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml
from pydantic_settings import BaseSettings

from exam_api.settings import ExamSettings
from movies_api.settings import MoviesApiSettings
from movies_db.settings import MoviesDbSettings
from recommendations_api.settings import ApiSettings
from recommender_engine.cli import app as recsys_cli
from recommender_engine.settings import EngineSettings
from ugc_pipeline.settings import UgcSettings
from web_app.settings import WebSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SETTINGS_OF_MODULE: dict[str, type[BaseSettings]] = {
    "exam_api": ExamSettings,
    "recommendations_api": ApiSettings,
    "movies_api": MoviesApiSettings,
    "movies_db": MoviesDbSettings,
    "ugc_pipeline": UgcSettings,
    "web_app": WebSettings,
}
PREFIX = "RECSYS_"
DUMMY_SECRET = "x" * 40
#: Servers whose images create a user from these variables; clients must log in as that user.
SERVER_CREDENTIALS = (("CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"), ("POSTGRES_USER", "POSTGRES_PASSWORD"))
INTERPOLATION = re.compile(r"\$\{(\w+)(:?[-?][^}]*)?\}")
APP_SERVICES = [name for name, svc in SERVICES.items() if svc.get("image") == "recsys-app"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = {key: str(value) for key, value in (service.get("environment") or {}).items()}
    return {key: INTERPOLATION.sub(DUMMY_SECRET, value) for key, value in env.items()}


def _settings_class(command: list[str]) -> type[BaseSettings] | None:
    if command[0] == "recsys":
        return EngineSettings
    if command[:2] == ["python", "-m"]:
        return SETTINGS_OF_MODULE[command[2]]
    return None


def _ports(service: dict[str, Any]) -> set[int]:
    """The ports a service listens on: published on the host (``ports``) or on the network only (``expose``)."""
    published = {int(str(p).rsplit(":", 1)[-1]) for p in service.get("ports", [])}
    return published | {int(p) for p in service.get("expose", [])}


#: An exact image version: three or four numbers (``8.15.3``, ``v2.53.3``, ``24.8.4.13``).
EXACT_TAG = re.compile(r":v?\d+(\.\d+){2,3}$")


def _is_one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_is_health_checked_or_a_one_shot(name):
    service = SERVICES[name]
    if _is_one_shot(service):
        waiting = [
            other
            for other, svc in SERVICES.items()
            if (svc.get("depends_on") or {}).get(name, {}).get("condition") == "service_completed_successfully"
        ]
        assert waiting, f"one-shot {name} is not waited for by any service"
    else:
        assert "test" in service.get("healthcheck", {}), f"{name} has no healthcheck"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_exist_and_conditions_fit(name):
    for dependency, spec in (SERVICES[name].get("depends_on") or {}).items():
        assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
        condition = spec["condition"]
        if condition == "service_healthy":
            assert "healthcheck" in SERVICES[dependency], f"{dependency} has no healthcheck to wait for"
        else:
            assert condition == "service_completed_successfully"
            assert _is_one_shot(SERVICES[dependency])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_commands_exist_and_environment_is_valid_settings(name, monkeypatch):
    service = SERVICES[name]
    command = service["command"]
    if command[0] == "recsys":
        names = {
            c.name or typer.main.get_command_name(getattr(c.callback, "__name__", ""))
            for c in recsys_cli.registered_commands
        }
        assert command[1] in names, f"recsys has no command {command[1]}"
    elif command[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(f"{command[2]}.__main__"), f"{command[2]} is not runnable"
    else:
        assert (REPO / command[1]).is_file(), f"{command[1]} does not exist"
    settings_class = _settings_class(command)
    env = _env(service)
    if settings_class is None:
        assert not [k for k in env if k.startswith(PREFIX)], f"{name} sets RECSYS_* but reads no settings"
        return
    for key, value in env.items():
        assert key.startswith(PREFIX), f"{name}: {key} is not a RECSYS_ setting"
        field = key.removeprefix(PREFIX).lower().split("__")[0]
        assert field in settings_class.model_fields, f"{name}: {key} is not a field of {settings_class.__name__}"
        monkeypatch.setenv(key, value)
    settings_class()  # validates types and ranges


@pytest.mark.parametrize("name", APP_SERVICES)
def test_ports_and_healthcheck_urls_agree(name):
    service = SERVICES[name]
    published = _ports(service)
    env = _env(service)
    port_vars = {k: int(v) for k, v in env.items() if k.endswith("_PORT")}
    assert set(port_vars.values()) == published, f"{name}: port settings {port_vars} vs published {published}"
    for key, value in env.items():
        if key.endswith("_HOST") and port_vars:
            assert value == "0.0.0.0", f"{name}: {key} must listen on all interfaces in a container"
    test = " ".join(service.get("healthcheck", {}).get("test", []))
    for url in re.findall(r"http://127\.0\.0\.1:(\d+)", test):
        assert int(url) in published, f"{name}: healthcheck port {url} is not the service's port"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_urls_point_at_services_and_their_ports(name):
    for key, value in _env(SERVICES[name]).items():
        if not key.endswith(("_URL", "_BOOTSTRAP", "_DSN")):
            continue
        parts = urlsplit(value if "://" in value else f"kafka://{value}")
        host, port = parts.hostname, parts.port
        assert host in SERVICES, f"{name}: {key} points at unknown host {host}"
        target_ports = _ports(SERVICES[host])
        assert port in target_ports, f"{name}: {key} uses port {port}, {host} listens on {target_ports}"
        server_env = _env(SERVICES[host])
        for user_var, password_var in SERVER_CREDENTIALS:
            if user_var in server_env:
                assert parts.username == server_env[user_var], f"{name}: {key} user is not {host}'s {user_var}"
                assert parts.password == server_env[password_var], f"{name}: {key} password differs from {host}'s"


def test_files_named_by_the_stack_exist():
    for name, service in SERVICES.items():
        if "env_file" in service:
            assert (REPO / service["env_file"]).is_file(), name
        build = service.get("build")
        if isinstance(build, dict):
            assert (REPO / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: {source} missing"
    for dockerfile in ("Dockerfile", "Dockerfile-with-data"):
        for line in (REPO / dockerfile).read_text(encoding="utf-8").splitlines():
            words = shlex.split(line) if line.startswith("COPY") else []
            if words and not any(w.startswith("--from") for w in words):
                # a pattern may match nothing (an optional file) while another source exists, as in Docker
                matched = {source: list(REPO.glob(source)) for source in words[1:-1]}
                assert any(matched.values()), f"{dockerfile}: no source of {line} exists"
                for source, found in matched.items():
                    assert found or glob.has_magic(source), f"{dockerfile}: COPY {source} missing"


def test_kafka_broker_listens_where_clients_connect():
    broker = dict(
        line.split("=", 1)
        for line in (REPO / "kafka/broker.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert "PLAINTEXT://kafka:9092" in broker["KAFKA_ADVERTISED_LISTENERS"]


#: What the host may reach; everything else stays on the stack's network (docker-compose.dev.yml
#: publishes it on 127.0.0.1 for development).
PUBLIC_SERVICES = {"movies-api", "exam-api", "web-app"}
#: Services that keep state, and where.
STATEFUL = {
    "postgres": "/var/lib/postgresql/data",
    "elasticsearch": "/usr/share/elasticsearch/data",
    "redis": "/data",
    "clickhouse": "/var/lib/clickhouse",
    "kafka": "/var/lib/kafka/data",
}


def test_only_the_public_entry_points_are_published_on_the_host():
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert published <= PUBLIC_SERVICES | {"grafana"}, f"published but internal: {published - PUBLIC_SERVICES}"
    assert published >= PUBLIC_SERVICES
    dev = yaml.safe_load((REPO / "docker-compose.dev.yml").read_text(encoding="utf-8"))["services"]
    for name, service in dev.items():
        assert name in SERVICES, f"docker-compose.dev.yml names an unknown service {name}"
        for port in service["ports"]:
            assert str(port).startswith("127.0.0.1:"), f"{name}: development ports stay on loopback"
            assert int(str(port).rsplit(":", 1)[1]) in _ports(SERVICES[name]), f"{name}: {port} is not its port"


def test_every_stateful_service_keeps_its_data_in_a_named_volume():
    for name, path in STATEFUL.items():
        volumes = {v.split(":")[0]: v.split(":")[1] for v in SERVICES[name].get("volumes", [])}
        named = [source for source, target in volumes.items() if target == path and not source.startswith(".")]
        assert named and named[0] in COMPOSE["volumes"], f"{name} keeps {path} in no named volume"


def test_secrets_come_from_env_file_and_env_example_names_each():
    raw = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    required = {match.group(1) for match in INTERPOLATION.finditer(raw) if (match.group(2) or "").startswith(":?")}
    example = {
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert required == example, f".env.example {sorted(example)} vs the compose file's {sorted(required)}"
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            credentials = urlsplit(value).password if "://" in value else None
            if "PASSWORD" in key or "SECRET" in key or credentials:
                assert INTERPOLATION.search(value), f"{name}: {key} holds a credential inline"
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_images_are_pinned_and_long_running_app_services_have_an_init():
    for name, service in SERVICES.items():
        if "build" not in service:
            assert EXACT_TAG.search(service["image"]), f"{name}: {service['image']} is not an exact version"
        if service.get("image") == "recsys-app" and not _is_one_shot(service):
            assert service.get("init") is True, f"{name} needs init: true to stop on SIGTERM"
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    runtime = dockerfile.rsplit("\nFROM ", 1)[1]
    assert "USER recsys" in runtime and "gcc" not in runtime and "npm" not in runtime


def test_docker_compose_validates_the_files():
    """Debian's docker-compose parses and validates the stack without a daemon."""
    env = REPO / ".env.example"
    for files in (
        ["docker-compose.yml"],
        ["docker-compose.yml", "docker-compose.dev.yml"],
        ["docker-compose.yml", "docker-compose.dask.yml"],
    ):
        args = [a for f in files for a in ("-f", str(REPO / f))]
        result = subprocess.run(
            ["docker-compose", "--env-file", str(env), *args, "config", "-q"], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr


# --- monitoring: Prometheus and Grafana -------------------------------------------------------------

MONITORING = REPO / "monitoring"
#: Every process of ours that serves Prometheus metrics: Prometheus must scrape each of them.
METRICS_SERVICES = {"recommendations-api", "movies-api", "ugc-loader", "online-updater", "engine"}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> repository path of the service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = source.removeprefix("./")
    return mounts


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["prometheus", "grafana"])
def test_monitoring_images_have_exact_tags_and_ready_healthchecks(name):
    service = SERVICES[name]
    assert EXACT_TAG.search(service["image"]), f"{name}: pin an exact image tag, not {service['image']}"
    health = " ".join(service["healthcheck"]["test"])
    expected = {"prometheus": "/-/ready", "grafana": "/api/health"}[name]
    assert f"http://127.0.0.1:{min(_ports(service))}{expected}" in health


def test_prometheus_scrapes_every_process_at_a_port_its_service_exposes():
    prometheus = SERVICES["prometheus"]
    mounts = _mounts(prometheus)
    config_path = next(arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file="))
    config = _load(REPO / mounts[config_path])
    scraped: set[str] = set()
    for job in config["scrape_configs"]:
        # A static target (one container) or DNS discovery of every replica of a scaled service.
        targets = [target for static in job.get("static_configs", []) for target in static["targets"]]
        targets += [f"{name}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for name in sd["names"]]
        assert targets, f"job {job['job_name']} scrapes nothing"
        for target in targets:
            host, port = target.rsplit(":", 1)
            assert host in SERVICES, f"job {job['job_name']}: {host} is not a compose service"
            assert int(port) in _ports(SERVICES[host]), f"{host} does not expose port {port}"
            assert job["job_name"] == host, "job names are the service names (alerts and panels use them)"
            scraped.add(host)
    assert scraped >= METRICS_SERVICES, f"not scraped: {METRICS_SERVICES - scraped}"
    for rule_file in config["rule_files"]:
        in_container = str(Path(config_path).parent / rule_file)
        assert in_container in mounts, f"rule file {rule_file} is not mounted into the prometheus container"
        assert (REPO / mounts[in_container]).is_file()


def test_grafana_is_provisioned_with_the_prometheus_data_source_and_the_dashboard():
    grafana = SERVICES["grafana"]
    mounts = _mounts(grafana)
    provisioning = REPO / mounts["/etc/grafana/provisioning"]
    (source,) = _load(provisioning / "datasources" / "prometheus.yml")["datasources"]
    url = urlsplit(source["url"])
    assert url.hostname == "prometheus"
    assert url.port in _ports(SERVICES["prometheus"])
    (provider,) = _load(provisioning / "dashboards" / "dashboards.yml")["providers"]
    dashboards = REPO / mounts[provider["options"]["path"]]
    found = sorted(dashboards.glob("*.json"))
    assert found, f"no dashboard in {dashboards}"
    for dashboard in found:
        panels = json.loads(dashboard.read_text(encoding="utf-8"))["panels"]
        for panel in panels:
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == source["uid"], f"{dashboard.name}: {panel['title']}"


def test_grafana_admin_password_comes_from_the_environment():
    password = SERVICES["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert INTERPOLATION.fullmatch(password), "the Grafana admin password must come from an env variable"
    assert ":?" in password, "and the stack must refuse to start without it (no default password)"


def test_the_dask_override_points_the_engine_at_its_scheduler(monkeypatch):
    """docker-compose.dask.yml: the engine's variable is a valid setting naming the scheduler's port."""
    dask = yaml.safe_load((REPO / "docker-compose.dask.yml").read_text(encoding="utf-8"))["services"]
    address = dask["engine"]["environment"]["RECSYS_DASK_SCHEDULER"]
    monkeypatch.setenv("RECSYS_DASK_SCHEDULER", address)
    parts = urlsplit(EngineSettings().dask_scheduler or "")
    assert parts.hostname == "dask-scheduler" and parts.port in _ports(dask["dask-scheduler"])
    assert f"tcp://dask-scheduler:{parts.port}" in dask["dask-worker"]["command"]
    assert "engine" in SERVICES and "redis" in SERVICES
