"""One contract for every RecStore: each test runs against SQLite, real Redis (one server, and a
three-node Redis Cluster) and the unit tests' fake.

Tests of what only a real adapter has (another process, memory, the URL) run against the adapters."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recsys_common.adapters.redis_recstore import USER_BUCKETS, RedisRecStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.domain import ColdStartLists
from recsys_common.ids import film_id_for
from recsys_common.listcodec import ListLayout
from recsys_common.ports.recstore import RecStore, StoreUnavailable, UnknownVersion, VersionMeta
from tests.fakes import FakeRecStore
from tests.redis_cluster import RedisClusterServers, client_for

pytestmark = pytest.mark.integration

# ----- fixtures: every test runs once per adapter (on a real server / file) and on the fake -----


@dataclass
class StoreKind:
    """How to build (more) stores over the same storage, here and in another process."""

    name: str
    make: Callable[[], RecStore]
    spec: dict[str, Any]  # JSON-able constructor arguments, for a subprocess
    opened: list[RecStore] = field(default_factory=list)

    def new(self) -> RecStore:
        store = self.make()
        self.opened.append(store)
        return store


def store_from_spec(spec: dict[str, Any]) -> RecStore:
    if spec["kind"] == "sqlite":
        return SqliteRecStore(Path(spec["path"]))
    return RedisRecStore(spec["url"], prefix=spec["prefix"])


def _kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKind]:
    if request.param == "fake":
        fake = FakeRecStore()  # its storage is the object: every "connection" is the same one
        store_kind = StoreKind("fake", lambda: fake, {"kind": "fake"})
    else:
        if request.param == "sqlite":
            spec: dict[str, Any] = {"kind": "sqlite", "path": str(tmp_path / "recstore.sqlite")}
        elif request.param == "redis-cluster":  # a private cluster: a fresh prefix is isolation enough
            cluster: RedisClusterServers = request.getfixturevalue("redis_cluster")
            spec = {"kind": "redis", "url": cluster.url, "prefix": f"test:{uuid.uuid4().hex}"}
        else:
            url = request.getfixturevalue("redis_url")
            spec = {"kind": "redis", "url": url, "prefix": request.getfixturevalue("redis_prefix")}
        store_kind = StoreKind(request.param, lambda: store_from_spec(spec), spec)
    yield store_kind
    for store in store_kind.opened:
        store.close()


@pytest.fixture(params=["sqlite", "redis", "redis-cluster", "fake"])
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKind]:
    yield from _kind(request, tmp_path)


@pytest.fixture(params=["sqlite", "redis", "redis-cluster"])
def real_kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKind]:
    """The adapters only: for what needs another process or a server."""
    yield from _kind(request, tmp_path)


@pytest.fixture
def store(kind: StoreKind) -> RecStore:
    return kind.new()


# ----- data -----
GENRES = ("Comedy", "Drama", "Horror")
FILMS = [film_id_for(f"test:{i}") for i in range(50)]
MUST_WATCH_LEN = 5
GENRE_LEN = 3
GRACE_S = 60.0

# The realistic layout of the memory budget: MovieLens-100K's catalogue, 100 + 18 genres x 20.
REAL_FILMS = 1_682
REAL_GENRES = 18
REAL_MUST_WATCH = 100
REAL_GENRE_LEN = 20
REAL_USERS = 10_000
BYTES_PER_USER_BUDGET = 1_500


def make_meta(version: str, films: int = len(FILMS)) -> VersionMeta:
    layout = ListLayout.for_catalogue(films, MUST_WATCH_LEN, GENRE_LEN, GENRES)
    return VersionMeta(
        version=version, model_version=f"model-{version}", trained_at="2026-11-23T00:00:00Z", layout=layout
    )


def lists_for(n_users: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    must_watch = np.stack([rng.permutation(len(FILMS))[:MUST_WATCH_LEN] for _ in range(n_users)])
    by_genre = rng.integers(0, len(FILMS), size=(n_users, len(GENRES), GENRE_LEN))
    by_genre[:, -1, 1:] = -1  # padding: a short Horror list
    return must_watch, by_genre


def users(n: int, tag: str = "u") -> list[str]:
    return [f"{tag}{i}" for i in range(n)]


COLD = ColdStartLists(overall=tuple(FILMS[:10]), by_genre={"Comedy": tuple(FILMS[:3]), "Drama": tuple(FILMS[3:6])})


def publish(store: RecStore, version: str, n_users: int = 4, seed: int = 0) -> VersionMeta:
    must_watch, by_genre = lists_for(n_users, seed)
    writer = store.begin(make_meta(version), FILMS)
    writer.put_block(users(n_users), must_watch, by_genre)
    writer.put_cold_start(COLD)
    return writer.commit()


def test_published_version_is_read_back_exactly(store: RecStore) -> None:
    must_watch, by_genre = lists_for(6, seed=1)
    writer = store.begin(make_meta("v1"), FILMS)
    writer.put_block(users(4), must_watch[:4], by_genre[:4])
    writer.put_block(users(6)[4:], must_watch[4:], by_genre[4:])
    writer.put_cold_start(COLD)
    meta = writer.commit()

    assert store.current() == meta
    assert (meta.n_users, meta.n_films, meta.model_version) == (6, len(FILMS), "model-v1")
    assert meta.published_at.endswith("Z")
    assert store.films("v1") == tuple(FILMS)
    assert store.cold_start("v1") == COLD
    lists = store.user_lists("u5", meta)
    assert lists is not None
    assert lists.must_watch == tuple(FILMS[i] for i in must_watch[5])
    assert lists.by_genre["Drama"] == tuple(FILMS[i] for i in by_genre[5, 1])
    assert lists.by_genre["Horror"] == (FILMS[by_genre[5, 2, 0]],)
    assert store.user_lists("nobody", meta) is None
    store.ping()


def test_pending_version_is_invisible_until_commit(store: RecStore, kind: StoreKind) -> None:
    first = publish(store, "v1", seed=1)
    writer = store.begin(make_meta("v2"), FILMS)
    must_watch, by_genre = lists_for(4, seed=2)
    writer.put_block(users(4), must_watch, by_genre)
    writer.put_cold_start(ColdStartLists(overall=(FILMS[-1],)))

    reader = kind.new()  # a second connection, like the API's
    assert reader.current() == first
    assert [m.version for m in reader.versions()] == ["v1"]
    assert reader.cold_start("v1") == COLD

    second = writer.commit()
    assert reader.current() == second
    assert [m.version for m in reader.versions()] == ["v2", "v1"]


def test_reader_never_sees_half_a_version(store: RecStore, kind: StoreKind) -> None:
    """A reader polling during a publish of many blocks resolves only complete versions."""
    n_users, blocks = 400, 20
    publish(store, "v1", n_users=n_users, seed=1)
    reader = kind.new()
    seen: set[str] = set()
    missing: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            meta = reader.current()
            if meta is None:
                missing.append("no current version")
                continue
            seen.add(meta.version)
            if reader.user_lists(f"u{n_users - 1}", meta) is None:
                missing.append(meta.version)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        writer = store.begin(make_meta("v2"), FILMS)
        must_watch, _ = lists_for(n_users, seed=2)
        step = n_users // blocks
        for start in range(0, n_users, step):
            writer.put_block(users(n_users)[start : start + step], must_watch[start : start + step], None)
            time.sleep(0.002)
        writer.commit()
        deadline = time.monotonic() + 5
        while "v2" not in seen and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    assert missing == []
    assert seen == {"v1", "v2"}


def test_resumed_writers_add_blocks_and_may_write_a_block_again(store: RecStore, kind: StoreKind) -> None:
    """Workers (own connections) write blocks of a pending version; a retried block replaces its
    records; the first writer commits counting them."""
    first = publish(store, "v1", seed=1)
    must_watch, by_genre = lists_for(6, seed=2)
    stale, _ = lists_for(6, seed=3)
    writer = store.begin(make_meta("v2"), FILMS)
    worker = kind.new().resume(writer.meta)
    worker.put_block(users(6)[:3], stale[:3], by_genre[:3])  # a first attempt
    worker.put_block(users(6)[:3], must_watch[:3], by_genre[:3])  # its retry
    kind.new().resume(writer.meta).put_block(users(6)[3:], must_watch[3:], by_genre[3:])
    assert store.current() == first
    writer.put_cold_start(COLD)
    meta = writer.commit(users_elsewhere=6)

    assert (store.current(), meta.n_users) == (meta, 6)
    for user in range(6):
        lists = store.user_lists(f"u{user}", meta)
        assert lists is not None
        assert lists.must_watch == tuple(FILMS[i] for i in must_watch[user])
    writer_v3 = store.begin(make_meta("v3"), FILMS)
    writer_v3.put_block(users(2), must_watch[:2], None)
    with pytest.raises(ValueError, match=r"already stored|twice"):
        writer_v3.put_block(users(1), must_watch[:1], None)  # the first writer still refuses repeats


def test_resume_and_resumed_writes_need_a_pending_version(store: RecStore, kind: StoreKind) -> None:
    meta = publish(store, "v1")
    with pytest.raises(ValueError, match="not pending"):
        store.resume(meta)
    writer = store.begin(make_meta("v2"), FILMS)
    worker = kind.new().resume(writer.meta)
    writer.abort()
    must_watch, _ = lists_for(1, seed=1)
    with pytest.raises(ValueError, match="not pending"):
        worker.put_block(users(1), must_watch, None)
    assert store.pending() == {}
    assert store.user_lists("u0", replace(meta, version="v2")) is None


ENGINE_SCRIPT = """
import json, sys
import numpy as np
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.listcodec import ListLayout
from recsys_common.ports.recstore import VersionMeta

spec, films = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if spec["kind"] == "sqlite":
    store = SqliteRecStore(spec["path"])
else:
    store = RedisRecStore(spec["url"], prefix=spec["prefix"])
layout = ListLayout.for_catalogue(len(films), 5, 0, [])
writer = store.begin(VersionMeta("v2", "m2", "2026-11-23T00:00:00Z", layout), films)
writer.put_block(["u0"], np.array([[7, 8, 9, 10, 11]]), None)
writer.commit()
store.close()
"""


def test_commit_in_another_process_is_seen_at_once(real_kind: StoreKind) -> None:
    kind = real_kind
    store = kind.new()
    publish(store, "v1")
    assert store.current() is not None  # this process holds an open connection from here on
    subprocess.run(
        [sys.executable, "-c", ENGINE_SCRIPT, json.dumps(kind.spec), json.dumps(FILMS)], check=True, timeout=60
    )
    current = store.current()
    assert current is not None
    assert current.version == "v2"
    lists = store.user_lists("u0", current)
    assert lists is not None
    assert lists.must_watch == tuple(FILMS[7:12])


def test_commit_flips_current_and_retires_the_old_version(store: RecStore) -> None:
    first = publish(store, "v1", seed=1)
    second = publish(store, "v2", seed=2)
    assert store.current() == second
    # a reader that resolved v1 just before the flip still reads v1 during the grace period
    old = store.user_lists("u0", first)
    assert old is not None
    assert old.must_watch == tuple(FILMS[i] for i in lists_for(4, seed=1)[0][0])
    assert store.prune(keep=0, grace_s=GRACE_S) == []


def test_abort_drops_the_pending_version_and_keeps_serving(store: RecStore) -> None:
    first = publish(store, "v1")
    writer = store.begin(make_meta("v2"), FILMS)
    writer.put_block(users(2), *lists_for(2, seed=3))
    writer.abort()
    assert store.current() == first
    assert [m.version for m in store.versions()] == ["v1"]
    with pytest.raises(UnknownVersion):
        store.films("v2")
    with pytest.raises(RuntimeError, match="already committed or aborted"):
        writer.commit()
    # the name is free again
    assert publish(store, "v2").version == "v2"


def test_activate_rolls_back_and_forth(store: RecStore) -> None:
    first = publish(store, "v1", seed=1)
    second = publish(store, "v2", seed=2)
    assert store.activate("v1") == first
    assert store.current() == first
    assert store.activate("v1") == first  # activating the current version changes nothing
    assert store.current() == first
    assert store.activate("v2") == second
    assert store.current() == second
    # v1 was retired again, v2 is no longer retired: only v1 may be pruned
    assert store.prune(keep=0, grace_s=0.0) == ["v1"]
    assert store.current() == second


def test_prune_respects_grace_and_keep(store: RecStore) -> None:
    for i in range(1, 5):
        publish(store, f"v{i}", seed=i)
    now = time.time()
    assert store.prune(keep=2, grace_s=GRACE_S, now=now) == []
    deleted = store.prune(keep=2, grace_s=GRACE_S, now=now + GRACE_S + 1)
    assert sorted(deleted) == ["v1", "v2"]
    assert [m.version for m in store.versions()] == ["v4", "v3"]
    for gone in deleted:
        with pytest.raises(UnknownVersion):
            store.films(gone)
        assert store.cold_start(gone) is None
        assert store.user_lists("u0", replace(make_meta(gone), n_films=len(FILMS))) is None
    current = store.current()
    assert current is not None
    assert current.version == "v4"


def test_prune_removes_a_pending_version_of_a_publish_that_died(store: RecStore) -> None:
    publish(store, "v1")
    dead = store.begin(make_meta("dead"), FILMS)
    dead.put_block(users(3), *lists_for(3, seed=4))
    assert store.prune(keep=1, grace_s=GRACE_S) == []  # younger than the grace period: may still be publishing
    time.sleep(0.3)
    alive = store.begin(make_meta("alive"), FILMS)
    assert store.prune(keep=1, grace_s=0.2) == ["dead"]
    with pytest.raises(UnknownVersion):
        store.films("dead")
    with pytest.raises(ValueError, match="not pending"):
        dead.commit()
    current = store.current()
    assert current is not None
    assert current.version == "v1"
    # the publish still in progress was left alone and can finish
    assert alive.commit() == store.current()


def test_pending_versions_are_listed_and_dropped_at_once(store: RecStore) -> None:
    publish(store, "v1")
    before = time.time()
    dead = store.begin(make_meta("dead"), FILMS)
    dead.put_block(users(3), *lists_for(3, seed=4))
    assert list(store.pending()) == ["dead"]
    assert store.pending()["dead"] >= before - 1
    assert store.drop_pending() == ["dead"]
    assert store.pending() == {}
    with pytest.raises(UnknownVersion):
        store.films("dead")
    current = store.current()
    assert current is not None and current.version == "v1"
    assert store.drop_pending() == []


def test_reasons_are_read_back_with_the_lists_of_the_batch_and_of_an_overlay(store: RecStore) -> None:
    must_watch, by_genre = lists_for(3, seed=4)
    reasons = np.stack([np.roll(row, 1) for row in must_watch])
    reasons[1, 2:] = -1  # no reason for the third film onwards
    meta = make_meta("v1")
    writer = store.begin(replace(meta, layout=replace(meta.layout, reasons=True)), FILMS)
    writer.put_block(users(2), must_watch[:2], by_genre[:2], reasons[:2])
    writer.put_block(["no-reasons"], must_watch[2:], by_genre[2:])
    with pytest.raises(ValueError, match="reasons refers to film index 50"):
        writer.put_block(["beyond"], must_watch[:1], by_genre[:1], np.full((1, MUST_WATCH_LEN), len(FILMS)))
    committed = writer.commit()
    expected = {FILMS[film]: FILMS[because] for film, because in zip(must_watch[0], reasons[0], strict=True)}
    lists = store.user_lists("u0", committed)
    assert lists is not None and lists.reasons == expected
    assert lists.must_watch == tuple(FILMS[i] for i in must_watch[0])  # the lists are as before
    assert lists.by_genre["Drama"] == tuple(FILMS[i] for i in by_genre[0, 1])
    partial = store.user_lists("u1", committed)
    assert partial is not None and list(partial.reasons) == [FILMS[i] for i in must_watch[1, :2]]
    none = store.user_lists("no-reasons", committed)
    assert none is not None and none.reasons == {} and none.must_watch
    assert store.user_list("u0", committed, FILMS, None, 2) == (tuple(FILMS[i] for i in must_watch[0, :2]), False)
    store.put_overlay(committed, "u0", must_watch[1], by_genre[1], reasons[0])
    overlay = store.user_lists("u0", committed)
    assert overlay is not None and overlay.overlay
    assert overlay.reasons == {FILMS[f]: FILMS[b] for f, b in zip(must_watch[1], reasons[0], strict=True)}
    with pytest.raises(ValueError, match="beyond"):
        store.put_overlay(committed, "u0", must_watch[1], by_genre[1], np.full(MUST_WATCH_LEN, len(FILMS)))
    old = publish(store, "v2")  # a layout without reasons: none are read, whatever was given
    assert not old.layout.reasons
    assert store.user_lists("u0", old) == store.user_lists("u0", old)
    plain = store.user_lists("u0", old)
    assert plain is not None and plain.reasons == {}


def test_an_overlay_wins_over_the_batch_record_and_goes_with_its_version(store: RecStore) -> None:
    first = publish(store, "v1")
    must_watch, by_genre = lists_for(1, seed=9)
    store.put_overlay(first, "u0", must_watch[0], by_genre[0])  # a user of the batch
    store.put_overlay(first, "newcomer", must_watch[0], None)  # a user the batch does not know
    lists = store.user_lists("u0", first)
    assert lists is not None and lists.overlay
    assert lists.must_watch == tuple(FILMS[i] for i in must_watch[0])
    assert lists.by_genre["Comedy"] == tuple(FILMS[i] for i in by_genre[0, 0])
    newcomer = store.user_lists("newcomer", first)
    assert newcomer is not None and newcomer.overlay and newcomer.by_genre == {}
    batch = store.user_lists("u1", first)
    assert batch is not None and not batch.overlay
    store.put_overlay(first, "u0", must_watch[0][::-1], by_genre[0])  # replaced, not added
    replaced = store.user_lists("u0", first)
    assert replaced is not None and replaced.must_watch == tuple(FILMS[i] for i in must_watch[0][::-1])
    second = publish(store, "v2")  # a new batch version supersedes the overlays
    lists = store.user_lists("u0", second)
    assert lists is not None and not lists.overlay
    assert store.user_lists("newcomer", second) is None
    assert store.prune(keep=1, grace_s=0.0) == ["v1"]  # the old version's overlays go with it
    with pytest.raises(UnknownVersion):
        store.put_overlay(first, "u0", must_watch[0], None)


def test_clear_removes_every_version_overlay_and_the_current_pointer(store: RecStore, kind: StoreKind) -> None:
    first = publish(store, "v1")
    second = publish(store, "v2", seed=1)
    store.put_overlay(second, "newcomer", lists_for(1, seed=9)[0][0], None)
    store.begin(make_meta("dead"), FILMS).put_block(users(2), *lists_for(2, seed=4))  # a publish that died

    store.clear()

    for reader in (store, kind.new()):  # another client of the same storage sees it too
        assert reader.current() is None
        assert reader.versions() == []
        assert reader.pending() == {}
        for meta in (first, second):
            assert reader.cold_start(meta.version) is None
            assert reader.user_lists("u0", meta) is None
            assert reader.user_lists("newcomer", meta) is None
            with pytest.raises(UnknownVersion):
                reader.films(meta.version)
        with pytest.raises(UnknownVersion):
            reader.put_overlay(second, "newcomer", lists_for(1, seed=9)[0][0], None)
    again = publish(store, "v1", seed=2)  # a cleared store takes the same version names again
    assert store.current() == again
    assert [meta.version for meta in store.versions()] == ["v1"]


def test_redis_clear_leaves_other_prefixes_alone(redis_url: str, redis_prefix: str) -> None:
    neighbour = RedisRecStore(redis_url, prefix=f"{redis_prefix}:other")
    mine = RedisRecStore(redis_url, prefix=f"{redis_prefix}:mine")
    try:
        publish(neighbour, "v1")
        publish(mine, "v1")
        mine.clear()
        assert mine.current() is None
        current = neighbour.current()
        assert current is not None and neighbour.user_lists("u0", current) is not None
    finally:
        neighbour.close()
        mine.close()


def test_an_overlay_must_fit_the_version(store: RecStore) -> None:
    meta = publish(store, "v1")
    with pytest.raises(ValueError, match="film index"):
        store.put_overlay(meta, "u0", np.array([len(FILMS)]), None)


def test_unknown_version(store: RecStore) -> None:
    assert store.current() is None
    assert store.versions() == []
    with pytest.raises(UnknownVersion):
        store.activate("nope")
    with pytest.raises(UnknownVersion):
        store.films("nope")
    assert store.cold_start("nope") is None
    publish(store, "v1")
    with pytest.raises(ValueError, match="already exists"):
        store.begin(make_meta("v1"), FILMS)
    store.begin(make_meta("v2"), FILMS)
    with pytest.raises(ValueError, match="already exists"):
        store.begin(make_meta("v2"), FILMS)


def test_records_that_do_not_fit_the_layout_are_refused_clearly(store: RecStore) -> None:
    writer = store.begin(make_meta("v1"), FILMS)
    must_watch, by_genre = lists_for(2, seed=5)
    too_far = must_watch.copy()
    too_far[1, 0] = len(FILMS)
    with pytest.raises(ValueError, match=f"film index {len(FILMS)}, but version v1 has {len(FILMS)} films"):
        writer.put_block(users(2), too_far, by_genre)
    with pytest.raises(ValueError, match="by_genre has 2 genres, layout has 3"):
        writer.put_block(users(2), must_watch, by_genre[:, :2])
    with pytest.raises(ValueError, match="2 user ids for 1 rows"):
        writer.put_block(users(2), must_watch[:1], by_genre[:1])
    writer.put_block(users(2), must_watch, by_genre)
    with pytest.raises(ValueError, match=r"twice|already stored"):
        writer.put_block(users(2)[1:], must_watch[1:], by_genre[1:])
    meta = writer.commit()
    # a record read with another layout (here: one film longer must-watch lists) is refused, naming both sizes
    longer = replace(meta, layout=replace(meta.layout, must_watch_len=MUST_WATCH_LEN + 1))
    expected = f"record has {meta.layout.record_bytes} bytes, layout expects {longer.layout.record_bytes}"
    with pytest.raises(ValueError, match=expected):
        store.user_lists("u0", longer)
    with pytest.raises(ValueError, match=expected):
        store.user_list("u0", longer, FILMS, None)
    # and a record pointing past the film table it is decoded with
    with pytest.raises(ValueError, match="film table has 10 films"):
        store.user_lists("u0", meta, films=FILMS[:10])


def test_unreachable_store_raises_store_unavailable(kind: StoreKind, tmp_path: Path) -> None:
    unreachable: RecStore
    if kind.name == "fake":
        dead = FakeRecStore()
        dead.down = True
        unreachable = dead
        with pytest.raises(StoreUnavailable, match="down"):
            unreachable.current()
    elif kind.name in ("redis", "redis-cluster"):
        scheme = "redis+cluster" if kind.name == "redis-cluster" else "redis"
        unreachable = RedisRecStore(f"{scheme}://:s3cret@127.0.0.1:1/0", prefix="x", connect_timeout_s=0.2)
        with pytest.raises(StoreUnavailable, match=rf"{re.escape(scheme)}://:\*\*\*@127\.0\.0\.1:1/0") as info:
            unreachable.current()
        assert "s3cret" not in str(info.value)
    else:
        (tmp_path / "a-directory").mkdir()
        unreachable = SqliteRecStore(tmp_path / "a-directory")
        with pytest.raises(StoreUnavailable, match="a-directory"):
            unreachable.current()
    with pytest.raises(StoreUnavailable):
        unreachable.ping()
    unreachable.close()


def test_bytes_per_user_within_budget(real_kind: StoreKind, tmp_path: Path) -> None:
    """Memory of one realistic version: 1,682 films, 100 must-watch (with their reasons) + 18 genres
    x 20 per user."""
    kind = real_kind
    store = kind.new()
    genres = [f"genre{g}" for g in range(REAL_GENRES)]
    layout = ListLayout.for_catalogue(REAL_FILMS, REAL_MUST_WATCH, REAL_GENRE_LEN, genres, reasons=True)
    meta = VersionMeta(version="big", model_version="m", trained_at="2026-11-23T00:00:00Z", layout=layout)
    films = [film_id_for(f"ml100k:{i}") for i in range(1, REAL_FILMS + 1)]
    rng = np.random.default_rng(0)
    writer = store.begin(meta, films)
    block = 2_000
    for start in range(0, REAL_USERS, block):
        must_watch = rng.integers(0, REAL_FILMS, size=(block, REAL_MUST_WATCH))
        by_genre = rng.integers(0, REAL_FILMS, size=(block, REAL_GENRES, REAL_GENRE_LEN))
        reasons = rng.integers(0, REAL_FILMS, size=(block, REAL_MUST_WATCH))
        writer.put_block([str(100_000 + start + i) for i in range(block)], must_watch, by_genre, reasons)
    committed = writer.commit()
    assert committed.n_users == REAL_USERS
    if isinstance(store, RedisRecStore):
        client = client_for(kind.spec["url"])  # the servers' own count, every field sampled
        buckets = [f"{store.prefix}:v:big:users:{bucket}" for bucket in range(USER_BUCKETS)]
        used = sum(int(client.memory_usage(key, samples=0) or 0) for key in buckets)
        client.close()
    else:
        store.close()
        used = sum(path.stat().st_size for path in tmp_path.glob("recstore.sqlite*"))
    per_user = used / REAL_USERS
    print(f"{kind.name}: {per_user:.0f} bytes per user ({layout.record_bytes} bytes of record)")
    assert layout.record_bytes < per_user < BYTES_PER_USER_BUDGET


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@127.0.0.1:1/0", "redis://:***@127.0.0.1:1/0"),
        ("redis://app:s3cret@127.0.0.1:1/0", "redis://app:***@127.0.0.1:1/0"),
        ("redis://127.0.0.1:1/0?password=s3cret&db=1", "redis://127.0.0.1:1/0?password=***&db=1"),
    ],
)
def test_redis_messages_never_show_the_password(url: str, shown: str) -> None:
    """Redis only: the URL in StoreUnavailable (and in repr) is redacted."""
    store = RedisRecStore(url, prefix="x", connect_timeout_s=0.2)
    assert repr(store) == f"RedisRecStore({shown!r}, prefix='x')"
    if ":1/" in url:
        with pytest.raises(StoreUnavailable) as info:
            store.ping()
        assert shown in str(info.value)
        assert "s3cret" not in str(info.value)
    store.close()
