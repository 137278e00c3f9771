import numpy as np
import pandas as pd
import pytest

from recommender_engine.model.features import FeatureFlags, build_item_features, has_side_features, identity_weights
from recsys_common.columns import Columns
from recsys_common.ids import person_id_for


def test_identity_and_genres_rows_sum_to_one(films):
    features = build_item_features(films, FeatureFlags())
    assert features.matrix.shape == (len(films), len(films) + 3)  # Action, Drama, Romance
    assert np.allclose(np.asarray(features.matrix.sum(axis=1)).ravel(), 1.0)
    assert features.names[0] == f"film:{films[Columns.Item][0]}"
    assert features.names[len(films) :] == ("genre:Action", "genre:Drama", "genre:Romance")
    dense = features.matrix.toarray()
    assert dense[0, 0] == pytest.approx(0.5)  # identity + Action
    assert dense[len(films) - 1, len(films) - 1] == pytest.approx(1 / 3)  # identity + Drama + Romance


def test_side_weight_shifts_mass_from_identity(films):
    features = build_item_features(films, FeatureFlags(side_weight=3.0))
    assert features.matrix.toarray()[0, 0] == pytest.approx(0.25)


def test_rating_vote_and_decade_buckets(films):
    flags = FeatureFlags(identity=False, genres=False, imdb_rating=True, imdb_votes=True, rt_rating=True, decade=True)
    features = build_item_features(films, flags)
    names = set(features.names)
    assert {"imdb:5", "votes:10^1", "rt:0", "decade:1950"} <= names
    row = features.matrix.toarray()[0]  # film 0: IMDb 5.0, 10 votes, RT 0, year 1950
    assert {features.names[c] for c in np.flatnonzero(row)} == {"imdb:5", "votes:10^1", "rt:0", "decade:1950"}
    odd = features.matrix.toarray()[1]  # film 1: no IMDb/RT fields, only the decade
    assert {features.names[c] for c in np.flatnonzero(odd)} == {"decade:1950"}


def test_films_without_any_feature_keep_an_empty_row(films):
    features = build_item_features(films, FeatureFlags(identity=False, genres=False, imdb_rating=True))
    assert features.matrix.getrow(1).nnz == 0
    assert np.isfinite(features.matrix.toarray()).all()


def test_identity_weights_follow_n_over_n_plus_k():
    counts = [0, 1, 4, 100]
    assert identity_weights(counts, 0.0).tolist() == [0.0, 1.0, 1.0, 1.0]
    assert np.allclose(identity_weights(counts, 2.0), [0.0, 1 / 3, 4 / 6, 100 / 102])
    with pytest.raises(ValueError, match="shrinkage"):
        identity_weights(counts, -1.0)
    with pytest.raises(ValueError, match="counts"):
        identity_weights([-1], 0.0)


def test_an_unrated_film_is_the_side_feature_part_of_a_rated_one(films):
    counts = np.full(len(films), 5)
    counts[[0, len(films) - 1]] = 0  # an Action film and a Drama + Romance film nobody rated
    features = build_item_features(films, FeatureFlags(), rating_counts=counts)
    dense = features.matrix.toarray()
    assert features.names == build_item_features(films, FeatureFlags()).names  # every film keeps its column
    action, drama, romance = (features.names.index(f"genre:{genre}") for genre in ("Action", "Drama", "Romance"))
    assert np.flatnonzero(dense[0]).tolist() == [action]  # no identity feature
    assert np.flatnonzero(dense[1]).tolist() == [1, action]  # rated: identity + Action, as before
    assert dense[0, action] == dense[1, action] == pytest.approx(0.5)  # 1 / (1 + 1 side feature)
    last = len(films) - 1
    assert np.flatnonzero(dense[last]).tolist() == [drama, romance]
    assert dense[last, [drama, romance]] == pytest.approx([1 / 3, 1 / 3])
    assert dense[last - 1, [last - 1, drama, romance]] == pytest.approx([1 / 3, 1 / 3, 1 / 3])


def test_a_film_with_few_ratings_leans_on_its_side_features(films):
    counts = np.arange(len(films))  # film j has j ratings
    dense = build_item_features(films, FeatureFlags(identity_shrinkage=2.0), rating_counts=counts).matrix.toarray()
    action = len(films)  # the first side-feature column
    # film 3 (Action): identity 3 / (3 + 2) = 0.6 and genre 1, divided by 1 + 1
    assert dense[3, 3] == pytest.approx(0.6 / 2)
    assert dense[3, action] == pytest.approx(1 / 2)
    # film 1: identity 1 / 3 weighs less than its genre; film 19: 19 / 21, nearly as much as a full identity
    assert dense[1, 1] == pytest.approx((1 / 3) / 2)
    assert dense[1, 1] < dense[1, action]
    assert dense[19, 19] == pytest.approx((19 / 21) / 3)


def test_side_weight_scales_the_side_part_of_an_unrated_film(films):
    counts = np.zeros(len(films))
    dense = build_item_features(films, FeatureFlags(side_weight=0.5), rating_counts=counts).matrix.toarray()
    assert dense[0, len(films)] == pytest.approx(0.5 / 1.5)  # Action at 0.5, divided by 1 + 0.5


def test_a_film_without_side_features_keeps_its_identity_whatever_its_count(films):
    counts = np.zeros(len(films))
    counts[2] = 1
    flags = FeatureFlags(genres=False, imdb_rating=True, identity_shrinkage=4.0)
    features = build_item_features(films, flags, rating_counts=counts)
    dense = features.matrix.toarray()
    assert np.flatnonzero(dense[1]).tolist() == [1]  # film 1 has no IMDb rating: identity alone, weight 1
    assert dense[1, 1] == pytest.approx(1.0)
    assert dense[0, 0] == 0  # film 0 has one: unrated, it is its IMDb bucket alone
    assert dense[2, 2] == pytest.approx((1 / 5) / 2)  # rated once: 1 / (1 + 4), divided by 1 + 1
    assert has_side_features(features).tolist() == [i % 2 == 0 for i in range(len(films))]


def test_side_features_are_told_apart_from_identities(films):
    assert has_side_features(build_item_features(films, FeatureFlags())).all()
    assert not has_side_features(build_item_features(films, FeatureFlags(genres=False))).any()
    no_identity = build_item_features(films, FeatureFlags(identity=False, genres=False, imdb_rating=True))
    assert has_side_features(no_identity).tolist() == [i % 2 == 0 for i in range(len(films))]


def test_rating_counts_must_match_the_films(films):
    with pytest.raises(ValueError, match="rating counts for"):
        build_item_features(films, FeatureFlags(), rating_counts=np.ones(len(films) - 1))


def test_films_below_the_minimum_number_of_ratings_get_no_identity_weight():
    assert identity_weights([0, 1, 4, 5, 50], 0.0, min_ratings=5).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert identity_weights([2, 5], 5.0, min_ratings=3).tolist() == [0.0, 0.5]
    with pytest.raises(ValueError, match="at least 1"):
        identity_weights([1], 0.0, min_ratings=0)


def test_director_features_come_from_person_ids_or_from_seed_names():
    seed = pd.DataFrame(
        {Columns.Item: ["a", "b"], Columns.Genres: [(), ()], Columns.Directors: [("Sergio Leone",), ()]}
    )
    catalogue = seed.drop(columns=[Columns.Directors])
    catalogue[Columns.DirectorIds] = pd.Series([(person_id_for("Sergio Leone"),), ()], dtype=object)
    flags = FeatureFlags(genres=False, directors=True)
    for frame in (seed, catalogue):
        features = build_item_features(frame, flags)
        assert features.names[-1] == f"director:{person_id_for('Sergio Leone')}"
        assert features.matrix.toarray()[:, -1].tolist()[1] == 0.0
    assert build_item_features(seed, FeatureFlags(genres=False)).n_features == 2  # off: identities only
