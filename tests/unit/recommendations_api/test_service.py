"""RecommendationService against the fake RecStore: sources, caching, snapshot fallback, recovery."""

from __future__ import annotations

import pytest

from recommendations_api.service import (
    RecommendationService,
    ServiceUnavailable,
    UnknownGenre,
)
from recsys_common.domain import Source

REFRESH_S = 0.5
RETRY_S = 1.0

ALICE = ([1, 2, 3, 4], [[5, 6], [7]])  # must-watch; Comedy, Drama
BOB_NO_DRAMA = ([8], [[9], []])


def make(fake_store, clock, **hooks) -> RecommendationService:
    return RecommendationService(fake_store, refresh_s=REFRESH_S, retry_s=RETRY_S, clock=clock, **hooks)


def test_personal_list_then_cold_start_for_unknown_users(fake_store, clock, publish, films, cold):
    publish(fake_store, "v1", {"alice": ALICE})
    service = make(fake_store, clock)

    answer = service.recommendations("alice", None, limit=3)
    assert (answer.source, answer.film_ids, answer.genre) == (Source.PERSONAL, tuple(films[1:4]), None)
    assert answer.model_version == "model-v1"
    assert answer.generated_at == fake_store.metas["v1"].published_at

    stranger = service.recommendations("stranger", None, limit=20)
    assert (stranger.source, stranger.film_ids) == (Source.COLD_START, cold.overall)


def test_genre_lists_match_case_insensitively_and_fall_back_per_genre(fake_store, clock, publish, films, cold):
    publish(fake_store, "v1", {"alice": ALICE, "bob": BOB_NO_DRAMA})
    service = make(fake_store, clock)

    comedy = service.recommendations("alice", "cOmEdY", limit=20)
    assert (comedy.source, comedy.genre, comedy.film_ids) == (Source.PERSONAL, "Comedy", (films[5], films[6]))
    # bob has no personal Drama list: the Drama cold-start list answers, never an empty one
    drama = service.recommendations("bob", "drama", limit=2)
    assert (drama.source, drama.genre, drama.film_ids) == (Source.COLD_START, "Drama", cold.by_genre["Drama"][:2])


def test_unknown_genre_lists_the_allowed_ones(fake_store, clock, publish):
    publish(fake_store, "v1", {"alice": ALICE})
    service = make(fake_store, clock)
    with pytest.raises(UnknownGenre, match="unknown genre 'Western'; allowed genres: Comedy, Drama"):
        service.recommendations("alice", "Western", limit=5)
    with pytest.raises(UnknownGenre):
        service.cold_start("Western", limit=5)


def test_genre_lists_endpoint_logic(fake_store, clock, publish, films, cold):
    publish(fake_store, "v1", {"alice": ALICE})
    service = make(fake_store, clock)
    personal = service.genre_lists("alice")
    assert personal.source is Source.PERSONAL
    assert personal.genres == {"Comedy": (films[5], films[6]), "Drama": (films[7],)}
    anonymous = service.genre_lists("stranger")
    assert (anonymous.source, anonymous.genres) == (Source.COLD_START, cold.by_genre)


def test_one_store_read_per_request_while_the_version_is_cached(fake_store, clock, publish):
    publish(fake_store, "v1", {"alice": ALICE})
    service = make(fake_store, clock)
    service.recommendations("alice", None, limit=5)
    fake_store.calls.clear()

    for _ in range(10):
        service.recommendations("alice", None, limit=5)
        clock.advance(REFRESH_S / 20)
    assert dict(fake_store.calls) == {"record": 10}

    clock.advance(REFRESH_S)
    service.recommendations("alice", None, limit=5)
    # the pointer is re-resolved, the film table of a known version is not read again
    assert fake_store.calls["current_name"] == 1
    assert fake_store.calls["films"] == 0


def test_a_new_version_is_served_after_the_refresh_interval(fake_store, clock, publish, films):
    versions = []
    publish(fake_store, "v1", {"alice": ALICE})
    service = make(fake_store, clock, on_new_version=lambda meta: versions.append(meta.version))
    assert service.recommendations("alice", None, limit=5).model_version == "model-v1"

    publish(fake_store, "v2", {"alice": ([20, 21], [[], []])})
    assert service.recommendations("alice", None, limit=5).model_version == "model-v1"  # still cached
    clock.advance(REFRESH_S)
    answer = service.recommendations("alice", None, limit=5)
    assert (answer.model_version, answer.film_ids) == ("model-v2", (films[20], films[21]))
    assert versions == ["v1", "v2"]

    fake_store.activate("v1")  # rollback is served like any new version
    clock.advance(REFRESH_S)
    assert service.recommendations("alice", None, limit=5).model_version == "model-v1"
    assert versions == ["v1", "v2", "v1"]


def test_store_down_answers_from_the_snapshot_and_recovers(fake_store, clock, publish, cold):
    sources: list[Source] = []
    publish(fake_store, "v1", {"alice": ALICE})
    service = make(fake_store, clock, on_answer=sources.append)
    service.warm_up()

    fake_store.down = True
    answer = service.recommendations("alice", "Drama", limit=2)
    assert (answer.source, answer.film_ids, answer.model_version) == (
        Source.FALLBACK,
        cold.by_genre["Drama"][:2],
        "model-v1",
    )
    assert service.cold_start(None, limit=3).film_ids == cold.overall[:3]
    assert service.genre_lists("alice").genres == cold.by_genre
    assert not service.readiness().ready

    # while the retry interval runs, requests do not touch the store at all
    fake_store.calls.clear()
    for _ in range(5):
        assert service.recommendations("alice", None, limit=5).source is Source.FALLBACK
    assert sum(fake_store.calls.values()) == 0

    fake_store.down = False
    assert service.recommendations("alice", None, limit=5).source is Source.FALLBACK  # not retried yet
    clock.advance(RETRY_S)
    assert service.recommendations("alice", None, limit=5).source is Source.PERSONAL
    assert service.readiness().ready
    assert sources.count(Source.FALLBACK) == 9
    assert sources[-1] is Source.PERSONAL


def test_readiness_answers_from_the_open_breaker_then_closes_it_once_the_retry_is_due(fake_store, clock, publish):
    publish(fake_store, "v1", {"alice": ALICE})
    service = make(fake_store, clock)
    service.warm_up()
    fake_store.down = True
    assert service.recommendations("alice", None, limit=5).source is Source.FALLBACK
    fake_store.down = False
    fake_store.calls.clear()
    readiness = service.readiness()  # the breaker is open: the store is not asked
    assert (readiness.ready, readiness.reason) == (False, "recommendation store unreachable: fake store is down")
    assert service.down_reason() == "fake store is down"
    assert sum(fake_store.calls.values()) == 0

    clock.advance(RETRY_S)  # half-open: readiness may probe, and its success closes the breaker
    assert service.down_reason() is None
    assert (service.readiness().ready, service.readiness().reason) == (True, "ok")
    assert service.recommendations("alice", None, limit=5).source is Source.PERSONAL


def test_store_never_reachable_means_unavailable_not_empty(fake_store, clock):
    fake_store.down = True
    service = make(fake_store, clock)
    service.warm_up()  # logs, does not raise
    with pytest.raises(ServiceUnavailable, match="no recommendations were read since start"):
        service.recommendations("alice", None, limit=5)
    with pytest.raises(ServiceUnavailable):
        service.cold_start(None, limit=5)
    readiness = service.readiness()
    assert not readiness.ready
    assert "unreachable" in readiness.reason


def test_nothing_published_yet(fake_store, clock, publish):
    service = make(fake_store, clock)
    with pytest.raises(ServiceUnavailable, match="no version is published"):
        service.recommendations("alice", None, limit=5)
    assert service.readiness().reason == "no version is published in the recommendation store yet"
    publish(fake_store, "v1", {"alice": ALICE})
    assert service.recommendations("alice", None, limit=5).source is Source.PERSONAL


def test_a_version_without_cold_start_lists_answers_empty_cold_start(fake_store, clock, films):
    """Committing without put_cold_start is allowed by the port; strangers then get an empty list, not a crash."""
    import numpy as np

    from recsys_common.listcodec import ListLayout
    from recsys_common.ports.recstore import VersionMeta

    layout = ListLayout.for_catalogue(len(films), 2, 0, [])
    writer = fake_store.begin(VersionMeta("v1", "m", "t", layout), films)
    writer.put_block(["alice"], np.array([[0, 1]]), None)
    writer.commit()
    service = make(fake_store, clock)
    assert service.recommendations("alice", None, limit=5).film_ids == (films[0], films[1])
    assert service.recommendations("bob", None, limit=5).film_ids == ()
