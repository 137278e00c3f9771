"""Title normalisation, title + year matching and the seed catalogue built from fixture archives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_common.columns import Columns
from recsys_common.ids import film_id_for
from recsys_datasets.build import build_seed
from recsys_datasets.catalogue import (
    KEY_ALTERNATIVE,
    KEY_FULL,
    KEY_MAIN,
    build_catalogue,
    display_title,
    match_titles,
    normalise_title,
    title_keys,
)
from recsys_datasets.readers import read_imdb, read_movielens_100k, read_vega_movies
from recsys_datasets.seeddata import FILM_COLUMNS
from recsys_datasets.sources import Source


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Shawshank Redemption, The", "the shawshank redemption"),
        ("The Shawshank Redemption", "the shawshank redemption"),
        ("Fish Called Wanda, A", "a fish called wanda"),
        ("Misérables, Les", "les miserables"),
        ("Postino, Il", "il postino"),
        ("Blaue Engel, Der", "der blaue engel"),
        ("Uomo delle stelle, L'", "l uomo delle stelle"),
        ("Truth About Cats & Dogs, The", "the truth about cats and dogs"),
        ("Mr. Holland's Opus", "mr holland s opus"),
        ("  Á köldum   klaka  ", "a koldum klaka"),
        ("Good, The Bad and The Ugly, The", "the good the bad and the ugly"),
        (
            "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb",
            "dr strangelove or how i learned to stop worrying and love the bomb",
        ),
        ("Horseman on the Roof, The (Hussard sur le toit, Le)", "the horseman on the roof le hussard sur le toit"),
    ],
)
def test_normalise_title(title: str, expected: str) -> None:
    assert normalise_title(title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Shawshank Redemption, The", "The Shawshank Redemption"),
        ("Misérables, Les", "Les Misérables"),
        ("Uomo delle stelle, L'", "L'Uomo delle stelle"),
        ("Horseman on the Roof, The (Hussard sur le toit, Le)", "The Horseman on the Roof (Le Hussard sur le toit)"),
        ("Seven (Se7en)", "Seven (Se7en)"),
        ("Toy Story", "Toy Story"),
        ("Amants de Montparnasse (Montparnasse 19), Les", "Les Amants de Montparnasse (Montparnasse 19)"),
    ],
)
def test_display_title(title: str, expected: str) -> None:
    assert display_title(title) == expected


def test_title_keys_try_full_then_main_then_alternatives() -> None:
    assert title_keys("Nikita (La Femme Nikita)") == [
        ("nikita la femme nikita", KEY_FULL),
        ("nikita", KEY_MAIN),
        ("la femme nikita", KEY_ALTERNATIVE),
    ]
    assert title_keys("Toy Story") == [("toy story", KEY_FULL)]


def _match(titles: list[str], years: list[int | None], refs: list[tuple[str, int, float]]) -> pd.DataFrame:
    return match_titles(
        titles,
        pd.Series(years, dtype="Int64"),
        [r[0] for r in refs],
        pd.Series([r[1] for r in refs], dtype="Int64"),
        pd.Series([r[2] for r in refs], dtype="float64"),
    )


def test_match_prefers_exact_year_over_votes() -> None:
    found = _match(["Toy Story"], [1995], [("Toy Story", 1996, 1e6), ("Toy Story", 1995, 10.0)])
    assert found[["film_pos", "ref_pos", "year_gap"]].values.tolist() == [[0, 1, 0]]


def test_match_takes_most_votes_among_equal_candidates() -> None:
    found = _match(["Crash"], [1996], [("Crash", 1996, 50.0), ("Crash", 1996, np.nan), ("Crash", 1996, 900.0)])
    assert found["ref_pos"].tolist() == [2]


def test_match_allows_one_year_but_not_two() -> None:
    found = _match(["A", "B"], [1990, 1990], [("A", 1991, 1.0), ("B", 1992, 1.0)])
    assert found[["film_pos", "year_gap"]].values.tolist() == [[0, 1]]


def test_film_without_year_never_matches() -> None:
    assert _match(["A"], [None], [("A", 1990, 1.0)]).empty


def test_full_title_beats_alternative_title() -> None:
    refs = [("Se7en", 1995, 1e5), ("Seven (Se7en)", 1995, 1.0)]
    assert _match(["Seven (Se7en)"], [1995], refs)["ref_pos"].tolist() == [1]
    assert _match(["Seven (Se7en)"], [1995], refs[:1])["ref_pos"].tolist() == [0]


def test_catalogue_from_fixture_archives(ml_wheel: Path, imdb_sdist: Path, vega_tarball: Path) -> None:
    items, ml_ratings = read_movielens_100k(ml_wheel)
    seed = build_catalogue(items, ml_ratings, read_imdb(imdb_sdist), read_vega_movies(vega_tarball))
    films = seed.films.set_index(Columns.SourceId)

    assert tuple(seed.films.columns) == FILM_COLUMNS
    assert films.loc["ml100k:12", Columns.Item] == film_id_for("ml100k:12")
    assert films.loc["ml100k:12", Columns.Title] == "The Usual Suspects"
    assert films.loc["ml100k:12", Columns.ImdbVotes] == 103854.0  # most votes of two candidates
    assert films.loc["ml100k:12", Columns.RtRating] == 88.0
    assert films.loc["ml100k:12", Columns.Directors] == ("Bryan Singer",)  # from the same vega record
    assert films.loc["ml100k:1", Columns.Directors] == ()
    assert films.loc["ml100k:1", Columns.ImdbRating] == 7.9  # exact year, not the 1996 one
    assert films.loc["ml100k:1", Columns.RtRating] == 100.0
    assert films.loc["ml100k:11", Columns.ImdbRating] == 8.4  # via the alternative title "Se7en"
    assert films.loc[["ml100k:11"], Columns.RtRating].isna().all()  # vega's 180 is dropped
    assert films.loc["ml100k:14", Columns.ImdbRating] == 7.6  # one year off
    assert films.loc["ml100k:50", Columns.Title] == "Les Misérables"
    assert films.loc[["ml100k:99"], Columns.ImdbRating].isna().all()  # two years off
    assert films.loc["ml100k:99", Columns.Genres] == ()
    assert films.loc["ml100k:1", Columns.Description] == "Animation, Children's, Comedy film (1995)"
    assert "ml100k:267" not in films.index and "ml100k:1412" not in films.index

    ratings = seed.ratings
    assert len(ratings) == 8
    assert sorted(ratings[Columns.Rating].unique()) == [2.0, 4.0, 6.0, 8.0, 10.0]
    first = ratings.iloc[0]
    assert (first[Columns.User], first[Columns.Item], first[Columns.Rating]) == (
        "ml100k:1",
        film_id_for("ml100k:1"),
        10.0,
    )

    report = seed.report
    assert report["films"] == 6
    assert report["users"] == 3
    assert report["imdb_matched_films"] == 5  # all but "Nowhere To Be Found"
    assert report["imdb_matched_ratings_share"] == pytest.approx(7 / 8)
    assert report["rt_matched_films"] == 2
    assert report["rt_matched_ratings_share"] == pytest.approx(4 / 8)  # two ratings each of films 1 and 12
    assert report["imdb_matched_by_alternative_title"] == 1
    assert report["imdb_matched_by_year_off_by_one"] == 1


def test_build_seed_from_a_warm_cache(seed_cache: tuple[Path, tuple[Source, ...]]) -> None:
    cache, sources = seed_cache

    seed = build_seed(cache, progress=False, sources=sources)

    assert seed.report["films"] == 6
    assert seed.report["ratings"] == 8
