"""The Rotten Tomatoes pair (movies + critic reviews) in the public Kaggle schema, on a small fixture."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_common.columns import Columns
from recsys_common.ids import film_id_for
from recsys_datasets.errors import DataFormatError
from recsys_datasets.rotten_tomatoes import (
    FRESH_RATING,
    LETTER_GRADES,
    ROTTEN_RATING,
    load_rotten_tomatoes,
    score_to_rating,
)
from recsys_datasets.seeddata import SeedData

MOVIES = "\n".join(
    [
        "rotten_tomatoes_link,movie_title,movie_info,critics_consensus,content_rating,genres,directors,"
        "original_release_date,streaming_release_date,runtime,tomatometer_status,tomatometer_rating,"
        "tomatometer_count,audience_rating",
        'm/0814255,Percy Jackson & the Olympians: The Lightning Thief,"Always trouble-prone, the life of teenager '
        'Percy Jackson gets a lot more complicated.",Mostly harmless.,PG,"Action & Adventure, Comedy, Drama, '
        'Science Fiction & Fantasy",Chris Columbus,2010-02-12,2015-11-25,119,Rotten,49,149,53',
        'm/0878835,Please Give,"Kate has a lot on her mind.",Nicole Holofcener\'s newest.,R,Comedy,'
        "Nicole Holofcener,2010-04-30,2012-09-04,90,Certified-Fresh,87,142,64",
        'm/10,10,"A successful composer...",,R,"Comedy, Romance",Blake Edwards,1979-10-05,2014-07-24,122,'
        "Fresh,67,24,53",
        "m/obscure,Obscure,,,NR,,,,,,,,,",
        "",
    ]
)
REVIEW_HEADER = (
    "rotten_tomatoes_link,critic_name,top_critic,publisher_name,review_type,review_score,review_date,review_content\n"
)
REVIEWS = (
    REVIEW_HEADER
    + """m/0814255,Andrew L. Urban,False,Urban Cinefile,Fresh,,2010-02-06,A fantasy adventure.
m/0814255,Louise Keller,False,Urban Cinefile,Fresh,3/5,2010-02-06,Uma Thurman as Medusa.
m/0814255,,False,FILMINK (Australia),Fresh,,2010-02-09,With a top-notch cast.
m/0814255,Ben McEachen,False,Sunday Mail (Australia),Fresh,3.5/5,2010-02-09,Whether audiences will get behind it.
m/0814255,Ethan Alter,True,Hollywood Reporter,Rotten,,2010-02-10,What's missing is charm.
m/0878835,Ethan Alter,True,Hollywood Reporter,Fresh,B+,2010-05-01,Sharp.
m/0878835,Ben McEachen,False,Sunday Mail (Australia),Rotten,1/4,2010-05-02,Thin.
m/10,Ben McEachen,False,Sunday Mail (Australia),Rotten,0/5,2010-05-03,No.
m/10,Louise Keller,False,Urban Cinefile,Fresh,5/4,2010-05-03,Overflowing.
m/unknown,Louise Keller,False,Urban Cinefile,Fresh,4/5,2010-05-03,A film not in the movies file.
m/10,Andrew L. Urban,False,Urban Cinefile,,,2010-05-04,Neither score nor type.
m/0878835,Ethan Alter,True,Hollywood Reporter,Fresh,A -,2010-06-01,Even better the second time.
m/10,Some Critic,False,Somewhere,Rotten,D+,,Undated.
m/10,Score Critic,False,,Fresh,8/10,2019-01-01,Eight.
"""
)


def _write(directory: Path, movies: str = MOVIES, reviews: str = REVIEWS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rotten_tomatoes_movies.csv").write_text(movies, encoding="utf-8")
    (directory / "rotten_tomatoes_critic_reviews.csv").write_text(reviews, encoding="utf-8")
    return directory


def _rating(seed: SeedData, critic: str, link: str) -> float:
    ratings = seed.ratings
    row = ratings[
        (ratings[Columns.User] == f"rt-critic:{critic}") & (ratings[Columns.Item] == film_id_for(f"rt:{link}"))
    ]
    assert len(row) == 1, row
    return float(row[Columns.Rating].iloc[0])


def test_films_are_mapped(tmp_path: Path) -> None:
    seed = load_rotten_tomatoes(_write(tmp_path))
    films = seed.films.set_index(Columns.SourceId)

    assert films.loc["rt:m/0814255", Columns.Item] == film_id_for("rt:m/0814255")
    assert films.loc["rt:m/0814255", Columns.Title] == "Percy Jackson & the Olympians: The Lightning Thief"
    assert films.loc["rt:m/0814255", Columns.Genres] == (
        "Action & Adventure",
        "Comedy",
        "Drama",
        "Science Fiction & Fantasy",
    )
    assert films.loc["rt:m/0814255", Columns.Year] == 2010
    assert films.loc["rt:m/0814255", Columns.RtRating] == 49.0
    assert films.loc["rt:m/10", Columns.Title] == "10"
    assert films.loc["rt:m/0878835", Columns.Description] == "Kate has a lot on her mind."
    assert films.loc[["rt:m/obscure"], Columns.Year].isna().all()
    assert films.loc[["rt:m/obscure"], Columns.RtRating].isna().all()
    assert films.loc["rt:m/obscure", Columns.Genres] == ()
    assert np.isnan(films[Columns.ImdbRating]).all()


def test_scores_become_platform_ratings(tmp_path: Path) -> None:
    seed = load_rotten_tomatoes(_write(tmp_path))

    assert _rating(seed, "Andrew L. Urban", "m/0814255") == FRESH_RATING  # no score: Fresh
    assert _rating(seed, "Louise Keller", "m/0814255") == 6.0  # 3/5
    assert _rating(seed, "Ben McEachen", "m/0814255") == 7.0  # 3.5/5
    assert _rating(seed, "Ethan Alter", "m/0814255") == ROTTEN_RATING  # no score: Rotten
    assert _rating(seed, "Ethan Alter", "m/0878835") == 9.0  # "A -" later than "B+": latest kept
    assert _rating(seed, "Ben McEachen", "m/0878835") == 2.5  # 1/4
    assert _rating(seed, "Ben McEachen", "m/10") == 1.0  # 0/5 floored at the scale's bottom
    assert _rating(seed, "Louise Keller", "m/10") == FRESH_RATING  # 5/4 is not usable
    assert _rating(seed, "Some Critic", "m/10") == 5.5  # D+
    assert _rating(seed, "Score Critic", "m/10") == 8.0  # 8/10


def test_report_counts_what_was_skipped(tmp_path: Path) -> None:
    seed = load_rotten_tomatoes(_write(tmp_path))

    assert seed.report == {
        "films": 4,
        "ratings": 10,
        "users": 6,
        "films_with_rt_rating": 3,
        "reviews_read": 14,
        "reviews_without_critic": 1,
        "reviews_with_unusable_critic_name": 0,
        "reviews_of_unknown_films": 1,
        "reviews_unscorable": 1,
        "scores_from_fraction": 5,
        "scores_from_letter_grade": 3,
        "scores_from_review_type": 3,  # incl. "5/4", not a usable fraction
        "reviews_without_date": 1,
        "duplicate_reviews_dropped": 1,
    }


def test_timestamps_come_from_review_dates(tmp_path: Path) -> None:
    seed = load_rotten_tomatoes(_write(tmp_path))
    ratings = seed.ratings.set_index(Columns.User)

    assert ratings.loc["rt-critic:Score Critic", Columns.Timestamp] == 1546300800  # 2019-01-01 UTC
    assert ratings.loc["rt-critic:Some Critic", Columns.Timestamp] == 0  # undated
    assert seed.ratings[Columns.Timestamp].dtype == np.int64


def test_score_table() -> None:
    fractions, letters = score_to_rating(pd.Series(["3/5", "3.5/4", "8/10", "B+", "a-", "", "7", "2/0", "F-"]))

    assert fractions.iloc[:3].tolist() == [6.0, 8.75, 8.0]
    assert fractions.iloc[3:].isna().all()
    assert letters.iloc[3:5].tolist() == [LETTER_GRADES["B+"], LETTER_GRADES["A-"]]
    assert letters.iloc[8] == 1.0
    assert all(math.isnan(v) for v in letters.iloc[[0, 5, 6, 7]])
    assert min(LETTER_GRADES.values()) >= 1.0 and max(LETTER_GRADES.values()) <= 10.0


@pytest.mark.parametrize(
    ("movies", "reviews", "message"),
    [
        (
            "rotten_tomatoes_link,movie_title\nm/1,A\n",
            REVIEWS,
            r"rotten_tomatoes_movies\.csv, line 1: missing column\(s\) genres",
        ),
        (
            MOVIES.replace("2010-04-30", "30/04/2010"),
            REVIEWS,
            r"rotten_tomatoes_movies\.csv, line 3: original_release_date '30/04/2010'",
        ),
        (
            MOVIES.replace(",87,", ",870,"),
            REVIEWS,
            r"rotten_tomatoes_movies\.csv, line 3: tomatometer_rating 870 is outside 0\.\.100",
        ),
        (
            MOVIES.replace("m/10,10,", "m/0814255,10,"),
            REVIEWS,
            r"line 4: rotten_tomatoes_link 'm/0814255' appears twice",
        ),
        (MOVIES, "", r"rotten_tomatoes_critic_reviews\.csv: file is empty"),
        (
            MOVIES,
            REVIEW_HEADER.replace("review_score", "score"),
            r"critic_reviews\.csv, line 1: missing column\(s\) review_score",
        ),
    ],
)
def test_structural_problems_are_named(tmp_path: Path, movies: str, reviews: str, message: str) -> None:
    with pytest.raises(DataFormatError, match=message):
        load_rotten_tomatoes(_write(tmp_path, movies, reviews))
