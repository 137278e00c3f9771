"""The online updater over fakes: new ratings become overlays of the serving version at once, new
users get a personal list after their first ratings, a new batch version takes over."""

from __future__ import annotations

import pandas as pd
import pytest

from recommender_engine.cycle import CycleJournal, Engine, ListConfig
from recommender_engine.model.hybrid import ModelConfig
from recommender_engine.online import OnlineUpdater, StoreFeed
from recsys_common.columns import Columns
from recsys_common.domain import RATING_REMOVED, RatingEvent
from recsys_common.ports.recstore import VersionMeta
from tests.datasets import BASE_TIMESTAMP, GENRES, synthetic_films, synthetic_ratings
from tests.fakes import FakeRatingStore, FakeRecStore

FILMS = synthetic_films()


def rows(user: str, films: list[str], rating: float = 9.0, at: int = BASE_TIMESTAMP + 10_000) -> pd.DataFrame:
    return pd.DataFrame([(user, film, rating, at + i) for i, film in enumerate(films)], columns=list(Columns.RATINGS))


@pytest.fixture
def world(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(synthetic_ratings(FILMS, 30, 8))
    engine = Engine(
        ratings=ratings,
        store=store,
        films=lambda: FILMS,
        lists=ListConfig(must_watch_len=10, genre_len=4, cold_start_len=5),
        model=ModelConfig(epochs=5, no_components=8, num_threads=1),
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
    )
    engine.run_cycle()
    updater = OnlineUpdater(ratings, store, StoreFeed(ratings), lambda: FILMS, tmp_path / "models")
    return ratings, store, engine, updater


def current(store: FakeRecStore) -> VersionMeta:
    meta = store.current()
    assert meta is not None
    return meta


def test_a_new_users_first_ratings_give_them_a_personal_list_without_those_films(world):
    ratings, store, _, updater = world
    horror = FILMS[FILMS[Columns.Genres].map(lambda g: g == ("Horror",))][Columns.Item].tolist()
    assert store.user_lists("newcomer", current(store)) is None
    ratings.append(rows("newcomer", horror[:3]))
    assert updater.step() == 1
    lists = store.user_lists("newcomer", current(store))
    assert lists is not None and lists.overlay
    assert len(lists.must_watch) == 10
    assert not set(horror[:3]) & set(lists.must_watch)
    assert set(lists.by_genre) == set(GENRES)
    assert all(not set(horror[:3]) & set(ids) for ids in lists.by_genre.values())


def test_a_known_users_new_rating_changes_their_list_at_once(world):
    ratings, store, _, updater = world
    before = store.user_lists("user-3", current(store))
    assert before is not None and not before.overlay
    top = before.must_watch[0]
    ratings.append(rows("user-3", [top]))
    updater.step()
    after = store.user_lists("user-3", current(store))
    assert after is not None and after.overlay
    assert top not in after.must_watch
    rated = set(ratings.read_user("user-3")[Columns.Item])
    assert not rated & set(after.must_watch)


def test_nothing_new_folds_nobody(world):
    _, _, _, updater = world
    assert updater.step() == 0
    assert updater.stats.versions_loaded == 1


def test_a_new_version_supersedes_overlays_and_users_who_rated_since_its_training_are_folded_again(world):
    ratings, store, engine, updater = world
    ratings.append(rows("newcomer", FILMS[Columns.Item].iloc[:2].tolist()))
    updater.step()
    engine.run_cycle()  # trains on the newcomer's ratings: no overlay needed
    version = current(store)
    late = rows("latecomer", FILMS[Columns.Item].iloc[5:7].tolist(), at=BASE_TIMESTAMP + 20_000)
    engine_watermark = version.watermark
    ratings.append(late)  # after the training, before the updater saw the new version
    assert ratings.watermark() > engine_watermark
    updater.step()
    assert updater.stats.versions_loaded == 2
    newcomer = store.user_lists("newcomer", version)
    assert newcomer is not None and not newcomer.overlay  # the batch list of the new version
    latecomer = store.user_lists("latecomer", version)
    assert latecomer is not None and latecomer.overlay


def test_a_version_without_a_model_folds_nobody(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    engine = Engine(
        ratings=ratings,
        store=store,
        films=lambda: FILMS,
        lists=ListConfig(must_watch_len=10, genre_len=4, cold_start_len=5),
        model=ModelConfig(epochs=1, no_components=4),
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
    )
    engine.run_cycle()  # no ratings yet: cold start only
    updater = OnlineUpdater(ratings, store, StoreFeed(ratings), lambda: FILMS, tmp_path / "models")
    ratings.append(rows("first", FILMS[Columns.Item].iloc[:2].tolist()))
    assert updater.step() == 0
    assert store.user_lists("first", current(store)) is None


def test_a_cleared_store_stops_the_fold_in_until_a_new_version_serves(world):
    ratings, store, engine, updater = world
    ratings.append(rows("user-3", FILMS[Columns.Item].tolist()[:2]))
    store.clear()  # under the updater's feet: the version it serves is gone
    assert updater.step() == 0
    ratings.clear()
    ratings.append(rows("fresh", FILMS[Columns.Item].tolist()[:3]))
    assert updater.step() == 0  # no version serves: nothing to fold into
    ratings.append(synthetic_ratings(FILMS, 10, 6, seed=3))
    engine.run_cycle()
    ratings.append(rows("late", FILMS[Columns.Item].tolist()[5:8]))
    updater.step()
    lists = store.user_lists("late", current(store))
    assert lists is not None and lists.overlay


def test_a_version_removed_between_polls_is_dropped_not_fatal(world):
    ratings, store, _, updater = world
    updater.step()  # serving the engine's version
    ratings.append(rows("newcomer", FILMS[Columns.Item].tolist()[:2]))
    serving, original = store.current(), store.current
    store.clear()  # the version goes while the updater still believes it serves
    store.current = lambda: serving  # ... and while the pointer it read still names it
    assert updater.step() == 0  # the user was polled; the fold found no version and gave up quietly
    store.current = original
    assert updater.step() == 0


def test_an_overlay_names_the_new_ratings_as_its_reasons(world):
    ratings, store, _, updater = world
    horror = FILMS[FILMS[Columns.Genres].map(lambda g: g == ("Horror",))][Columns.Item].tolist()
    ratings.append(rows("newcomer", horror[:2], rating=9.0))
    ratings.append(rows("newcomer", horror[2:3], rating=3.0, at=BASE_TIMESTAMP + 20_000))
    updater.step()
    lists = store.user_lists("newcomer", current(store))
    assert lists is not None and lists.overlay
    assert set(lists.reasons) == set(lists.must_watch)
    assert set(lists.reasons.values()) <= set(horror[:2])  # the liked ones, not the one rated 3


def test_a_removed_rating_no_longer_counts_as_rated(world):
    ratings, store, _, updater = world
    horror = FILMS[FILMS[Columns.Genres].map(lambda g: g == ("Horror",))][Columns.Item].tolist()
    ratings.append(rows("remover", horror[:2], rating=9.0))
    updater.step()
    before = store.user_lists("remover", current(store))
    assert before is not None and before.reasons and set(before.reasons.values()) <= set(horror[:2])
    ratings.append(rows("remover", horror[:1], rating=RATING_REMOVED, at=BASE_TIMESTAMP + 30_000))
    updater.step()
    after = store.user_lists("remover", current(store))
    assert after is not None and set(after.reasons.values()) == {horror[1]}  # the removed film is no reason
    assert horror[1] not in after.must_watch
    assert list(ratings.read_user("remover")[Columns.Item]) == [horror[1]]


class ListFeed:
    """Delivers the events it is given (as Kafka does, possibly before the rating store has them)."""

    def __init__(self) -> None:
        self.events: list[RatingEvent] = []

    def poll(self, timeout_s: float) -> list[RatingEvent]:
        events, self.events = self.events, []
        return events

    def commit(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_removal_from_the_feed_wins_over_the_store_that_does_not_hold_it_yet(world, tmp_path):
    ratings, store, _, _ = world
    horror = FILMS[FILMS[Columns.Genres].map(lambda g: g == ("Horror",))][Columns.Item].tolist()
    ratings.append(rows("lagging", horror[:1], rating=9.0))
    ratings.append(rows("lagging", horror[1:2], rating=3.0, at=BASE_TIMESTAMP + 20_000))
    feed = ListFeed()
    updater = OnlineUpdater(ratings, store, feed, lambda: FILMS, tmp_path / "models")
    feed.events = [RatingEvent("e-1", "lagging", horror[0], RATING_REMOVED, BASE_TIMESTAMP + 30_000)]
    assert updater.step() == 1
    lists = store.user_lists("lagging", current(store))
    assert lists is not None and lists.overlay
    # only the film rated 3 is still rated: it is every reason, the removed one none
    assert set(lists.reasons.values()) == {horror[1]}
