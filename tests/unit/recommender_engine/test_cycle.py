import pandas as pd
import pytest

from recommender_engine.cycle import COLD_START_ONLY, CycleError, CycleJournal, Engine, ListConfig, NoFilms
from recommender_engine.model.hybrid import ModelConfig
from recsys_common.columns import Columns
from recsys_common.domain import LIKED_RATING
from recsys_common.ids import film_id_for
from recsys_common.ports.catalog import CatalogUnavailable
from recsys_common.ports.recstore import VersionMeta
from tests.datasets import GENRES, synthetic_films, synthetic_ratings
from tests.fakes import FakeRatingStore, FakeRecStore


def _films() -> pd.DataFrame:
    return synthetic_films()


def _ratings(n_users: int, per_user: int, seed: int = 1) -> pd.DataFrame:
    return synthetic_ratings(synthetic_films(), n_users, per_user, seed)


def _current(store: FakeRecStore) -> VersionMeta:
    meta = store.current()
    assert meta is not None
    return meta


def _engine(tmp_path, ratings: FakeRatingStore, store: FakeRecStore, films=_films, **lists) -> Engine:
    return Engine(
        ratings=ratings,
        store=store,
        films=films,
        lists=ListConfig(must_watch_len=10, genre_len=3, cold_start_len=5, block_size=7, score_threads=2, **lists),
        model=ModelConfig(epochs=2, no_components=8),
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
    )


def test_cycle_publishes_lists_without_rated_films(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(_ratings(20, 8))
    result = _engine(tmp_path, ratings, store).run_cycle()
    assert result.status == "published"
    meta = _current(store)
    assert meta is not None and meta.version == result.version and meta.n_users == 20
    rated = ratings.read_all().groupby(Columns.User)[Columns.Item].agg(set)
    for user, films in rated.items():
        lists = store.user_lists(str(user), meta)
        assert lists is not None
        assert len(lists.must_watch) == 10
        assert not films & set(lists.must_watch)
        for genre, ids in lists.by_genre.items():
            assert genre in GENRES and not films & set(ids)
    cold = store.cold_start(meta.version)
    assert cold is not None and len(cold.overall) == 5 and set(cold.by_genre) == set(GENRES)
    assert list((tmp_path / "models").glob("*.artefact"))


def test_cycle_is_skipped_when_nothing_is_new_and_runs_again_when_a_rating_arrives(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(_ratings(10, 5))
    engine = _engine(tmp_path, ratings, store)
    first = engine.run_cycle()
    assert engine.run_cycle().status == "skipped"
    ratings.append(_ratings(1, 3, seed=9).assign(**{Columns.User: "newcomer"}))
    second = engine.run_cycle()
    assert second.status == "published" and second.version != first.version
    assert store.user_lists("newcomer", _current(store)) is not None
    assert [e["status"] for e in engine.journal.tail(5)] == ["published", "skipped", "published"]


def test_zero_ratings_publish_cold_start_only(tmp_path):
    store = FakeRecStore()
    result = _engine(tmp_path, FakeRatingStore(), store).run_cycle()
    meta = _current(store)
    assert result.status == "published" and meta.model_version == COLD_START_ONLY and meta.n_users == 0
    cold = store.cold_start(meta.version)
    assert cold is not None
    assert len(cold.overall) == 5


def test_failed_publish_leaves_previous_version_serving(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(_ratings(20, 5))
    first = _engine(tmp_path, ratings, store).run_cycle()
    store.fail_after_records = 3
    ratings.append(_ratings(2, 3, seed=5).assign(**{Columns.User: "late"}))
    with pytest.raises(CycleError, match="previous version keeps serving"):
        _engine(tmp_path, ratings, store).run_cycle()
    assert _current(store).version == first.version
    assert list(store.records) == [first.version]  # the half-written version was dropped
    assert store.user_lists("user-0", _current(store)) is not None


def test_ratings_of_unknown_films_and_malformed_rows_are_left_out_counted_and_the_cycle_publishes(tmp_path, caplog):
    ratings, store = FakeRatingStore(), FakeRecStore()
    good = _ratings(5, 4)
    unknown = film_id_for("nowhere:1")
    bad = pd.DataFrame(
        {
            Columns.User: ["user-0", "user-1", "", "user-2"],
            Columns.Item: [unknown, unknown, good[Columns.Item].iloc[0], good[Columns.Item].iloc[1]],
            Columns.Rating: [8.0, 7.0, 5.0, float("nan")],
            Columns.Timestamp: [1, 2, 3, 4],
        }
    )
    ratings.load_unchecked(pd.concat([good, bad], ignore_index=True))  # the stores refuse such rows
    result = _engine(tmp_path, ratings, store).run_cycle()
    assert result.status == "published"
    assert result.left_out == {"unknown_film": 2, "bad_user": 1, "bad_rating": 1}
    meta = _current(store)
    assert meta.metrics["ratings"] == len(good)
    assert meta.metrics["ratings_left_out"] == 4
    assert unknown in caplog.text  # a sample of the ids is logged
    assert engine_journal_left_out(tmp_path) == result.left_out


def engine_journal_left_out(tmp_path) -> object:
    return CycleJournal(tmp_path / "cycles.jsonl").tail(1)[0]["left_out"]


def test_a_catalogue_change_counts_as_new_data(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(_ratings(10, 5))
    catalogue = {"films": _films()}
    engine = _engine(tmp_path, ratings, store, films=lambda: catalogue["films"])
    engine.run_cycle()
    assert engine.run_cycle().status == "skipped"
    catalogue["films"] = _films().assign(**{Columns.Title: "Renamed"})
    assert engine.run_cycle().status == "published"
    assert engine.run_cycle().status == "skipped"


def test_a_film_removed_from_the_catalogue_leaves_every_list_and_its_ratings_are_left_out(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(_ratings(20, 6))
    films = _films()
    engine = _engine(tmp_path, ratings, store, films=lambda: films)
    engine.run_cycle()
    gone = films[Columns.Item].iloc[3]
    rated_gone = int((ratings.read_all()[Columns.Item] == gone).sum())
    films = films[films[Columns.Item] != gone]
    result = engine.run_cycle()
    assert result.status == "published"
    assert result.left_out.get("unknown_film", 0) == rated_gone
    meta = _current(store)
    assert gone not in store.films(meta.version)
    cold = store.cold_start(meta.version)
    assert cold is not None and gone not in cold.overall


def test_a_film_nobody_rated_is_in_the_catalogue_of_the_version(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    films = _films()
    rated = films[Columns.Item].iloc[:30]
    ratings.append(synthetic_ratings(films.iloc[:30], 15, 6))
    engine = _engine(tmp_path, ratings, store, films=lambda: films)
    result = engine.run_cycle()
    assert result.metrics["films_unrated"] == len(films) - len(set(rated) & set(ratings.read_all()[Columns.Item]))
    assert set(store.films(_current(store).version)) == set(films[Columns.Item])


def test_old_versions_and_artefacts_are_pruned_after_the_grace_period(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    engine = _engine(tmp_path, ratings, store, keep_versions=2, grace_seconds=0)
    versions = []
    for round_ in range(4):
        ratings.append(_ratings(5, 3, seed=round_).assign(**{Columns.User: f"user-{round_}"}))
        versions.append(engine.run_cycle().version)
    assert [m.version for m in store.versions()] == versions[:1:-1]
    assert len(list((tmp_path / "models").glob("*.artefact"))) == 2


def test_a_catalogue_that_cannot_be_read_fails_the_cycle_cleanly(tmp_path):
    def down() -> pd.DataFrame:
        raise CatalogUnavailable("Elasticsearch is down")

    engine = _engine(tmp_path, FakeRatingStore(), FakeRecStore(), films=down)
    with pytest.raises(CycleError, match="Elasticsearch is down"):
        engine.run_cycle()
    assert engine.journal.tail(1)[0]["status"] == "failed"


def test_an_empty_catalogue_says_to_load_films_first(tmp_path):
    engine = _engine(tmp_path, FakeRatingStore(), FakeRecStore(), films=lambda: _films().iloc[:0])
    with pytest.raises(NoFilms, match="recsys data"):
        engine.run_cycle()


def test_cold_start_lists_rank_films_without_imdb_data_by_their_ratings(tmp_path):
    def bare_films() -> pd.DataFrame:
        films = _films()
        return films.assign(**{c: float("nan") for c in (Columns.ImdbRating, Columns.ImdbVotes, Columns.RtRating)})

    films = bare_films()
    ids = films[Columns.Item].tolist()
    ratings = FakeRatingStore()
    rows = [(f"user-{u}", ids[f], 8.0, 1_700_000_000) for f, fans in ((7, 6), (3, 4), (11, 2)) for u in range(fans)]
    ratings.append(pd.DataFrame(rows, columns=list(Columns.RATINGS)))
    store = FakeRecStore()
    _engine(tmp_path, ratings, store, films=bare_films).run_cycle()
    cold = store.cold_start(_current(store).version)
    assert cold is not None and cold.overall[:3] == (ids[7], ids[3], ids[11])


def test_cycles_after_everything_was_cleared_do_not_fail_and_see_new_ratings(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(_ratings(10, 5))
    engine = _engine(tmp_path, ratings, store)
    engine.run_cycle()
    ratings.clear()
    store.clear()
    cleared = engine.run_cycle()  # no rating: a cold-start-only version
    assert cleared.status == "published" and _current(store).model_version == COLD_START_ONLY
    assert engine.run_cycle().status == "skipped"
    ratings.append(_ratings(3, 4, seed=5))
    assert engine.run_cycle().status == "published" and _current(store).n_users == 3
    with pytest.raises(NoFilms):
        _engine(tmp_path, ratings, store, films=lambda: _films().iloc[:0]).run_cycle()


def test_each_must_watch_film_carries_a_film_the_user_liked_as_its_reason(tmp_path):
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(_ratings(20, 8))
    _engine(tmp_path, ratings, store).run_cycle()
    meta = _current(store)
    assert meta.layout.reasons
    everything = ratings.read_all()
    for user, rows in everything.groupby(Columns.User):
        lists = store.user_lists(str(user), meta)
        assert lists is not None
        liked = set(rows[rows[Columns.Rating] >= LIKED_RATING][Columns.Item]) or set(rows[Columns.Item])
        assert set(lists.reasons) == set(lists.must_watch)  # every user rated something: every film has one
        assert set(lists.reasons.values()) <= liked
