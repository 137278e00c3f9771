import numpy as np
import pytest

from recommender_engine.model.features import FeatureFlags, build_item_features
from recsys_common.columns import Columns


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
