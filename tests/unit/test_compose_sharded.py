"""docker-compose.sharded.yml (the optional two-shard ClickHouse) checked statically: Debian's
docker-compose merges it over docker-compose.yml, and the merged stack agrees with the cluster config
clickhouse/sharded/remote_servers.xml (every shard a service, every ClickHouse client told the cluster)."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLUSTER_CONFIG = REPO / "clickhouse" / "sharded" / "remote_servers.xml"
CONFIG_D = "/etc/clickhouse-server/config.d/"
DATA = "/var/lib/clickhouse"


@pytest.fixture(scope="module")
def merged() -> dict[str, Any]:
    """The stack as ``docker compose -f docker-compose.yml -f docker-compose.sharded.yml`` runs it."""
    files = ["-f", str(REPO / "docker-compose.yml"), "-f", str(REPO / "docker-compose.sharded.yml")]
    result = subprocess.run(
        ["docker-compose", "--env-file", str(REPO / ".env.example"), *files, "config"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def cluster() -> tuple[str, list[ElementTree.Element]]:
    """The one cluster of the config: its name and its shards' replicas."""
    (definition,) = ElementTree.parse(CLUSTER_CONFIG).getroot().find("remote_servers") or []
    return definition.tag, [replica for shard in definition.findall("shard") for replica in shard.findall("replica")]


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source of the service's volumes."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        found[target] = source
    return found


def test_every_shard_is_a_clickhouse_service_with_the_cluster_config_and_its_own_volume(merged: dict[str, Any]) -> None:
    services = merged["services"]
    _, replicas = cluster()
    assert len(replicas) >= 2
    volumes = set()
    for replica in replicas:
        host, port = replica.findtext("host"), replica.findtext("port")
        assert host in services, f"shard host {host} is not a compose service"
        service = services[host]
        assert port in service["expose"], f"{host} does not expose {port}"
        config = mounts(service)
        assert Path(config[CONFIG_D + CLUSTER_CONFIG.name]).resolve() == CLUSTER_CONFIG.resolve()
        volumes.add(config[DATA])
        environment = service["environment"]
        for element in ("user", "password"):  # the servers log in to each other as the compose user
            variable = replica.find(element).get("from_env")  # type: ignore[union-attr]
            assert variable in environment, f"{host}: {element} from_env={variable} is not set"
    assert len(volumes) == len(replicas), f"shards share a data volume: {volumes}"
    assert volumes <= set(merged["volumes"])


def test_every_clickhouse_client_uses_the_cluster_and_waits_for_all_shards_or_none(merged: dict[str, Any]) -> None:
    name, replicas = cluster()
    shards = {replica.findtext("host") for replica in replicas}
    clients = [n for n, s in merged["services"].items() if "RECSYS_CLICKHOUSE_URL" in (s.get("environment") or {})]
    assert clients
    for client in clients:
        service = merged["services"][client]
        assert service["environment"].get("RECSYS_CLICKHOUSE_CLUSTER") == name, client
        waits = {s for s, spec in service["depends_on"].items() if spec["condition"] == "service_healthy"}
        # As in docker-compose.yml: a process that waits for ClickHouse waits for every shard.
        assert shards <= waits or not shards & waits, f"{client} waits for {shards & waits} only"


def test_the_cluster_config_stays_out_of_the_single_node_config_d() -> None:
    """The single-node servers (compose and the test fixture) load every file of clickhouse/config.d."""
    assert not list((REPO / "clickhouse" / "config.d").glob("*remote_servers*"))
    assert "remote_servers" not in "".join(p.read_text() for p in (REPO / "clickhouse" / "config.d").glob("*.xml"))
