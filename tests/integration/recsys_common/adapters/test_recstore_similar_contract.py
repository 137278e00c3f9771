"""The RecStore contract of similar films (``put_similar`` / ``similar``): each test runs against SQLite,
real Redis and the unit tests' fake (built as in ``test_recstore_contract``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import redis

from recsys_common.ports.recstore import SIMILAR_MAX, RecStore, VersionMeta
from tests.fakes import FakeRecStore
from tests.integration.recsys_common.adapters import test_recstore_contract as contract
from tests.integration.recsys_common.adapters.test_recstore_contract import (
    COLD,
    FILMS,
    GRACE_S,
    StoreKind,
    lists_for,
    make_meta,
    users,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "redis", "fake"])
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreKind]:
    yield from contract._kind(request, tmp_path)


@pytest.fixture
def store(kind: StoreKind) -> RecStore:
    return kind.new()


N = len(FILMS)


def similar_for(seed: int = 0, width: int = SIMILAR_MAX) -> np.ndarray:
    """Every film's ``width`` similar films (never itself); film 1 has a short list, film 2 none."""
    rng = np.random.default_rng(seed)
    rows = np.stack([rng.permutation(np.setdiff1d(np.arange(N), [i]))[:width] for i in range(N)])
    rows[1, 3:] = -1
    rows[2, :] = -1
    return rows


def publish_similar(store: RecStore, version: str, similar: np.ndarray | None) -> VersionMeta:
    writer = store.begin(make_meta(version), FILMS)
    writer.put_block(users(2), *lists_for(2, seed=0))
    if similar is not None:
        writer.put_similar(similar)
    writer.put_cold_start(COLD)
    return writer.commit()


def ids(row: np.ndarray) -> tuple[str, ...]:
    return tuple(FILMS[i] for i in row if i >= 0)


def stored_similar(kind: StoreKind, store: RecStore, version: str) -> int:
    """How many similar-films entries of ``version`` the storage itself holds (past the adapter)."""
    if isinstance(store, FakeRecStore):
        return len(store.similar_records.get(version, []))
    if kind.spec["kind"] == "sqlite":
        with sqlite3.connect(Path(kind.spec["path"])) as conn:
            (count,) = conn.execute("SELECT COUNT(*) FROM similar WHERE version = ?", (version,)).fetchone()
        return int(count)
    client = redis.Redis.from_url(kind.spec["url"])
    try:
        return int(client.hlen(f"{kind.spec['prefix']}:v:{version}:similar"))
    finally:
        client.close()


def test_similar_films_are_read_back_in_order(store: RecStore) -> None:
    similar = similar_for()
    meta = publish_similar(store, "v1", similar)
    for film in (0, 1, 2, N - 1):
        assert store.similar(FILMS[film], meta) == ids(similar[film])
    assert store.similar(FILMS[1], meta) == ids(similar[1][:3])  # padding left out
    assert store.similar(FILMS[2], meta) == ()  # a film without similar films
    assert store.similar(FILMS[0], meta, limit=5) == ids(similar[0][:5])
    assert store.similar(FILMS[0], meta, FILMS, limit=1) == ids(similar[0][:1])  # the caller's film table
    assert store.similar("not-a-film", meta) is None


def test_a_version_without_similar_lists_answers_none(store: RecStore) -> None:
    meta = publish_similar(store, "v1", None)
    assert store.similar(FILMS[0], meta) is None
    with_lists = publish_similar(store, "v2", similar_for(width=5))
    assert store.similar(FILMS[0], with_lists) == ids(similar_for(width=5)[0])
    assert store.similar(FILMS[0], meta) is None  # each version keeps its own


def test_putting_similar_films_again_replaces_them(store: RecStore) -> None:
    writer = store.begin(make_meta("v1"), FILMS)
    writer.put_similar(similar_for(seed=1))
    writer.put_similar(similar_for(seed=2, width=4))
    meta = writer.commit()
    assert store.similar(FILMS[5], meta) == ids(similar_for(seed=2, width=4)[5])


@pytest.mark.parametrize(
    ("similar", "message"),
    [
        (np.zeros((N - 1, 5), dtype=np.int32), "shape"),
        (np.zeros((N, SIMILAR_MAX + 1), dtype=np.int32), "shape"),
        (np.zeros(N, dtype=np.int32), "shape"),
        (np.full((N, 3), N, dtype=np.int32), "film index"),
    ],
)
def test_similar_films_that_do_not_fit_the_version_are_refused(
    store: RecStore, similar: np.ndarray, message: str
) -> None:
    writer = store.begin(make_meta("v1"), FILMS)
    with pytest.raises(ValueError, match=message):
        writer.put_similar(similar)
    writer.abort()


def test_similar_films_go_with_their_version_on_abort_prune_and_clear(store: RecStore, kind: StoreKind) -> None:
    writer = store.begin(make_meta("aborted"), FILMS)
    writer.put_similar(similar_for())
    assert stored_similar(kind, store, "aborted") == N
    writer.abort()
    assert stored_similar(kind, store, "aborted") == 0

    first = publish_similar(store, "v1", similar_for(seed=1))
    publish_similar(store, "v2", similar_for(seed=2))
    assert store.prune(keep=1, grace_s=0.0) == ["v1"]
    assert stored_similar(kind, store, "v1") == 0
    assert store.similar(FILMS[0], first, FILMS) is None

    dead = store.begin(make_meta("dead"), FILMS)  # a publish that died after its similar films
    dead.put_similar(similar_for(seed=3))
    assert store.prune(keep=1, grace_s=GRACE_S) == []
    assert store.drop_pending() == ["dead"]
    assert stored_similar(kind, store, "dead") == 0

    third = publish_similar(store, "v3", similar_for(seed=3))
    store.clear()
    for version in ("v2", "v3"):
        assert stored_similar(kind, store, version) == 0
    assert store.similar(FILMS[0], replace(third, version="v3"), FILMS) is None
