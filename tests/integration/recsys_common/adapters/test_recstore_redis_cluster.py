"""What only a Redis Cluster shows about the Redis RecStore (the contract suite runs on it too): a
version's keys spread over the nodes while the control keys share one slot, the flip is the one
step readers see, a publish killed before its commit and a deletion cut short are cleaned up on
every node, ``clear`` scans every node, a read is one command, slots can move while it serves, and a
dead node fails only the reads of the users it holds."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from exam_api.bootstrap import build as build_exam
from exam_api.settings import ExamSettings
from recommendations_api.bootstrap import build_store
from recommendations_api.settings import ApiSettings
from recommender_engine.bootstrap import rec_store
from recommender_engine.settings import EngineSettings
from recsys_common.adapters.redis_recstore import RedisRecStore, user_bucket
from recsys_common.ports.recstore import StoreUnavailable
from tests.integration.recsys_common.adapters.test_recstore_contract import (
    FILMS,
    lists_for,
    make_meta,
    publish,
    users,
)
from tests.redis_cluster import RedisClusterServers, client_for

pytestmark = pytest.mark.integration

N_USERS = 300


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex}"


@pytest.fixture
def store(redis_cluster: RedisClusterServers, prefix: str) -> Iterator[RedisRecStore]:
    store = RedisRecStore(redis_cluster.url, prefix=prefix)
    yield store
    store.close()


def nodes_holding(cluster: RedisClusterServers, pattern: str) -> dict[int, list[str]]:
    """Port -> keys matching ``pattern`` on that node, for the nodes holding any."""
    return {port: keys for port, keys in cluster.keys(pattern).items() if keys}


def test_a_version_spreads_over_the_nodes_and_the_control_keys_share_one(
    redis_cluster: RedisClusterServers, store: RedisRecStore, prefix: str
) -> None:
    publish(store, "v1", n_users=N_USERS)
    data = nodes_holding(redis_cluster, f"{prefix}:v:v1:*")
    assert len(data) == len(redis_cluster.ports)  # every node holds part of the version
    assert sum(len(keys) for keys in data.values()) > len(redis_cluster.ports)
    control = nodes_holding(redis_cluster, f"{{{prefix}}}:*")
    assert len(control) == 1  # one slot: the commit script touches them all at once
    assert {key.rsplit(":", 1)[1] for key in next(iter(control.values()))} == {"meta", "current"}


def test_a_reader_sees_the_old_version_until_the_flip(redis_cluster: RedisClusterServers, store: RedisRecStore) -> None:
    first = publish(store, "v1", n_users=N_USERS, seed=1)
    reader = RedisRecStore(redis_cluster.url, prefix=store.prefix)
    try:
        writer = store.begin(make_meta("v2"), FILMS)
        must_watch, by_genre = lists_for(N_USERS, seed=2)
        writer.put_block(users(N_USERS), must_watch, by_genre)
        # every record of v2 is on the nodes now, yet the reader still resolves v1 and reads its lists
        assert len(nodes_holding(redis_cluster, f"{store.prefix}:v:v2:users:*")) == len(redis_cluster.ports)
        assert reader.current() == first
        old = reader.user_lists("u7", first)
        assert old is not None and old.must_watch == tuple(FILMS[i] for i in lists_for(N_USERS, seed=1)[0][7])
        second = writer.commit()
        assert reader.current() == second
        new = reader.user_lists("u7", second)
        assert new is not None and new.must_watch == tuple(FILMS[i] for i in must_watch[7])
    finally:
        reader.close()


KILLED_PUBLISH = """
import json, os, signal, sys
import numpy as np
from recsys_common.adapters.redis_recstore import RedisRecStore, user_bucket
from recsys_common.ports.recstore import StoreUnavailable
from recsys_common.listcodec import ListLayout
from recsys_common.ports.recstore import VersionMeta

url, prefix, films, n = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
store = RedisRecStore(url, prefix=prefix)
layout = ListLayout.for_catalogue(len(films), 5, 0, [])
writer = store.begin(VersionMeta("v2", "m2", "2026-11-23T00:00:00Z", layout), films)
writer.put_block([f"u{i}" for i in range(n)], np.tile(np.arange(5), (n, 1)), None)
os.kill(os.getpid(), signal.SIGKILL)  # dies before commit
"""


def killed_publish(cluster: RedisClusterServers, prefix: str) -> None:
    """A publish of v2 in another process, SIGKILLed after writing its records, before its commit."""
    command = [sys.executable, "-c", KILLED_PUBLISH, cluster.url, prefix, json.dumps(FILMS), str(N_USERS)]
    done = subprocess.run(command, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL


@pytest.mark.parametrize("cleanup", ["drop_pending", "prune"])
def test_a_publish_killed_before_commit_leaves_the_version_serving_and_is_cleaned_up_on_every_node(
    redis_cluster: RedisClusterServers, store: RedisRecStore, prefix: str, cleanup: str
) -> None:
    first = publish(store, "v1", n_users=N_USERS)
    killed_publish(redis_cluster, prefix)
    assert store.current() == first
    assert store.user_lists("u1", first) is not None
    assert list(store.pending()) == ["v2"]
    assert len(nodes_holding(redis_cluster, f"{prefix}:v:v2:*")) == len(redis_cluster.ports)

    removed = store.drop_pending() if cleanup == "drop_pending" else store.prune(keep=1, grace_s=0.0)
    assert removed == ["v2"]
    assert nodes_holding(redis_cluster, f"{prefix}:v:v2:*") == {}
    assert store.pending() == {}
    assert store.current() == first
    assert len(nodes_holding(redis_cluster, f"{prefix}:v:v1:*")) == len(redis_cluster.ports)


def test_a_deletion_cut_short_is_finished_by_the_next_prune(
    redis_cluster: RedisClusterServers, store: RedisRecStore, prefix: str
) -> None:
    publish(store, "v1", n_users=N_USERS)
    second = publish(store, "v2", n_users=N_USERS)
    # What a prune that died after its first step leaves: v1 moved out of the retired and meta sets
    # into `deleting`, its data keys still on the nodes.
    client = client_for(redis_cluster.url)
    try:
        client.hdel(f"{{{prefix}}}:meta", "v1")
        client.zrem(f"{{{prefix}}}:retired", "v1")
        client.zadd(f"{{{prefix}}}:deleting", {"v1": 0.0})
    finally:
        client.close()
    assert [meta.version for meta in store.versions()] == ["v2"]
    with pytest.raises(ValueError, match="already exists"):
        store.begin(make_meta("v1"), FILMS)  # the name is not free until the deletion is done
    assert len(nodes_holding(redis_cluster, f"{prefix}:v:v1:*")) == len(redis_cluster.ports)

    assert store.prune(keep=5, grace_s=3600.0) == ["v1"]  # nothing else is due: only the leftover goes
    assert nodes_holding(redis_cluster, f"{prefix}:v:v1:*") == {}
    assert nodes_holding(redis_cluster, f"{{{prefix}}}:deleting") == {}
    assert store.current() == second
    assert store.prune(keep=5, grace_s=3600.0) == []


def test_clear_scans_every_node(redis_cluster: RedisClusterServers, store: RedisRecStore, prefix: str) -> None:
    publish(store, "v1", n_users=N_USERS)
    second = publish(store, "v2", n_users=N_USERS, seed=1)
    store.put_overlay(second, "newcomer", lists_for(1, seed=9)[0][0], None)
    store.begin(make_meta("dead"), FILMS).put_block(users(N_USERS), *lists_for(N_USERS, seed=4))  # died
    # keys no control set names (a publish whose `begin` record was lost), on every node
    client = client_for(redis_cluster.url)
    try:
        for bucket in range(30):
            client.hset(f"{prefix}:v:ghost:users:{bucket}", "u0", b"x")
    finally:
        client.close()
    assert len(nodes_holding(redis_cluster, f"{prefix}:v:ghost:*")) == len(redis_cluster.ports)

    store.clear()

    assert nodes_holding(redis_cluster, f"{prefix}:*") == {}
    assert nodes_holding(redis_cluster, f"{{{prefix}}}:*") == {}
    assert store.current() is None
    assert publish(store, "v1").version == "v1"


def test_a_read_is_one_command_on_one_node(redis_cluster: RedisClusterServers, store: RedisRecStore) -> None:
    meta = publish(store, "v1", n_users=N_USERS)
    store.put_overlay(meta, "u3", lists_for(1, seed=9)[0][0], None)
    films = store.films("v1")
    store.user_list("u0", meta, films, None)  # the client has found the cluster's slots
    nodes = [redis_cluster.node(port) for port in redis_cluster.ports]
    try:
        for user, overlay in (("u3", True), ("u4", False), ("nobody", None)):
            before = command_counts(nodes)
            found = store.user_list(user, meta, films, "Drama", limit=2)
            after = command_counts(nodes)
            assert (None if found is None else found[1]) == overlay
            assert {
                name: calls - before.get(name, 0) for name, calls in after.items() if calls != before.get(name, 0)
            } == {"hmget": 1}
    finally:
        for node in nodes:
            node.close()


def command_counts(nodes: list[redis.Redis]) -> dict[str, int]:
    """Calls of each command summed over the nodes, leaving out the INFO asking for them."""
    counts: dict[str, int] = {}
    for node in nodes:
        for name, stats in node.info("commandstats").items():
            command = name.removeprefix("cmdstat_")
            if command != "info":
                counts[command] = counts.get(command, 0) + int(stats["calls"])
    return counts


def test_the_store_follows_slots_that_move(
    redis_cluster: RedisClusterServers, store: RedisRecStore, prefix: str
) -> None:
    """Resharding while serving: the slot of a user's bucket and the control keys' slot move to other
    nodes; reads, overlays, a publish and a prune carry on (redis-py follows MOVED)."""
    first = publish(store, "v1", n_users=N_USERS)
    before = store.user_lists("u5", first)
    for key in (f"{prefix}:v:v1:users:{user_bucket('u5')}", f"{{{prefix}}}:meta"):
        owner = next(port for port, keys in nodes_holding(redis_cluster, key).items() if keys)
        redis_cluster.move_slot(key_slot(key.encode()), next(port for port in redis_cluster.ports if port != owner))
        assert next(iter(nodes_holding(redis_cluster, key))) != owner
    assert store.user_lists("u5", first) == before
    store.put_overlay(first, "u5", lists_for(1, seed=9)[0][0], None)
    overlay = store.user_lists("u5", first)
    assert overlay is not None and overlay.overlay
    second = publish(store, "v2", n_users=N_USERS, seed=1)
    assert store.current() == second
    assert store.prune(keep=1, grace_s=0.0) == ["v1"]
    assert nodes_holding(redis_cluster, f"{prefix}:v:v1:*") == {}


def test_a_node_down_fails_only_the_reads_of_its_users_and_fast(tmp_path: Path) -> None:
    """A private cluster, since one of its nodes is killed: users whose bucket lives on the other
    nodes are still read; a read on the dead node is StoreUnavailable (the API falls back) in
    under two seconds, not a hang."""
    cluster = RedisClusterServers(tmp_path)
    cluster.start()
    store = RedisRecStore(cluster.url, prefix="crash", socket_timeout_s=0.2, connect_timeout_s=0.2)
    try:
        meta = publish(store, "v1", n_users=N_USERS)
        holders = {key: port for port, keys in cluster.keys("crash:v:v1:users:*").items() for key in keys}
        control = next(iter(nodes_holding(cluster, "{crash}:*")))
        doomed = next(port for port in cluster.ports[1:] if port != control)  # neither the seed nor control
        on_port = {
            port: [u for u in users(N_USERS) if holders[f"crash:v:v1:users:{user_bucket(u)}"] == port]
            for port in cluster.ports
        }
        cluster.kill_node(doomed)

        alive = next(port for port in cluster.ports if port != doomed)
        lists = store.user_lists(on_port[alive][0], meta)
        assert lists is not None and not lists.overlay
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"redis\+cluster://127\.0\.0\.1"):
            store.user_lists(on_port[doomed][0], meta)
        assert time.monotonic() - started < 2.0, time.monotonic() - started
        assert store.current() == meta  # the control slot's node is alive
    finally:
        store.close()
        cluster.stop()


def test_the_composition_roots_build_a_cluster_store_from_a_cluster_url(
    redis_cluster: RedisClusterServers, store: RedisRecStore, prefix: str, tmp_path: Path
) -> None:
    meta = publish(store, "v1", n_users=N_USERS)
    built = [
        build_store(ApiSettings(redis_url=redis_cluster.url, redis_prefix=prefix)),
        rec_store(EngineSettings(redis_url=redis_cluster.url, redis_prefix=prefix)),
    ]
    for other in built:
        assert other.current() == meta
        lists = other.user_lists("u2", meta)
        assert lists is not None and lists.must_watch == tuple(FILMS[i] for i in lists_for(N_USERS, seed=0)[0][2])
        other.close()
    with pytest.raises(ValueError, match="standalone Redis"):
        build_exam(ExamSettings(redis_url=redis_cluster.url, data_dir=tmp_path))


def test_a_cluster_url_or_prefix_the_cluster_cannot_take_is_refused() -> None:
    with pytest.raises(ValueError, match="only database 0") as info:
        RedisRecStore("redis+cluster://:s3cret@127.0.0.1:1/3")
    assert "s3cret" not in str(info.value)
    with pytest.raises(ValueError, match="hash tags"):
        RedisRecStore("redis+cluster://127.0.0.1:1", prefix="{recsys}")
