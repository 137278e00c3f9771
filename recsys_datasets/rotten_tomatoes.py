"""The public Rotten Tomatoes pair of CSV files (movies + critic reviews) as a seed set.

Critics become users (``rt-critic:<critic name>``) and their reviews become ratings on the
platform scale: a fraction score ("3/5", "3.5/4", "8/10") is scaled onto 0..10 and floored at
1, a letter grade ("B+") is looked up in :data:`LETTER_GRADES`, and a review without a usable
score takes its rating from Fresh / Rotten. Films get the source id ``rt:<rotten_tomatoes_link>``
and the Tomatometer as their RT rating.

Structure problems (missing file or column, empty file, malformed numbers or dates in the movies
file) raise DataFormatError naming file and line; row-level gaps of the reviews (no critic name, no
usable score, unknown film) skip the review and are counted in the report.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_common.columns import Columns
from recsys_common.domain import RATING_MAX, RATING_MIN
from recsys_common.ids import FORBIDDEN_ID_CHARACTERS, USER_ID_MAX_LEN
from recsys_datasets.errors import DataFormatError
from recsys_datasets.seeddata import Report, SeedData, make_films, make_ratings
from recsys_datasets.tables import (
    distinct_text,
    first_true,
    keep_latest,
    line_of,
    read_csv_checked,
    to_number,
    to_text,
)

MOVIES_FILE = "rotten_tomatoes_movies.csv"
REVIEWS_FILE = "rotten_tomatoes_critic_reviews.csv"

LINK = "rotten_tomatoes_link"
MOVIE_TITLE = "movie_title"
MOVIE_INFO = "movie_info"
GENRES = "genres"
RELEASE_DATE = "original_release_date"
TOMATOMETER = "tomatometer_rating"
CRITIC = "critic_name"
REVIEW_TYPE = "review_type"
REVIEW_SCORE = "review_score"
REVIEW_DATE = "review_date"
MOVIES_COLUMNS = (LINK, MOVIE_TITLE, GENRES, RELEASE_DATE, TOMATOMETER)
REVIEWS_COLUMNS = (LINK, CRITIC, REVIEW_TYPE, REVIEW_SCORE, REVIEW_DATE)

SOURCE_PREFIX = "rt:"
USER_PREFIX = "rt-critic:"
GENRE_SEPARATOR = ","
DATE_FORMAT = "%Y-%m-%d"
TOMATOMETER_MIN = 0.0
TOMATOMETER_MAX = 100.0

#: Rating of a review whose score is missing or unusable, by its review type.
FRESH_RATING = 8.0
ROTTEN_RATING = 3.0
REVIEW_TYPE_RATINGS = {"fresh": FRESH_RATING, "rotten": ROTTEN_RATING}
#: Letter grades on the platform scale, half a point per step, F- at the bottom of the scale.
LETTER_GRADES = {
    "A+": 10.0, "A": 9.5, "A-": 9.0,
    "B+": 8.5, "B": 8.0, "B-": 7.5,
    "C+": 7.0, "C": 6.5, "C-": 6.0,
    "D+": 5.5, "D": 5.0, "D-": 4.5,
    "F+": 3.0, "F": 2.0, "F-": 1.0,
}  # fmt: skip
#: Timestamp given to a review without a readable date (unix epoch).
MISSING_TIMESTAMP = 0

_FRACTION = re.compile(r"^\s*(?P<num>\d+(?:\.\d+)?)\s*/\s*(?P<den>\d+(?:\.\d+)?)\s*$")


def score_to_rating(scores: pd.Series[str]) -> tuple[pd.Series[float], pd.Series[float]]:
    """``(from fractions, from letter grades)``: each NaN where the score is not of that kind.

    A fraction above 1 ("5/4") or with a zero denominator is not usable.
    """
    codes, distinct = distinct_text(scores)
    parts = distinct.str.extract(_FRACTION)
    numerator = pd.to_numeric(parts["num"], errors="coerce")
    denominator = pd.to_numeric(parts["den"], errors="coerce")
    usable = (denominator > 0) & (numerator <= denominator)
    scaled = (numerator / denominator.where(usable)) * RATING_MAX
    fractions = scaled.clip(lower=RATING_MIN).to_numpy(dtype="float64")
    grades = distinct.str.replace(r"\s+", "", regex=True).str.upper().map(LETTER_GRADES)
    letters = pd.to_numeric(grades, errors="coerce").to_numpy(dtype="float64")
    return (
        pd.Series(fractions[codes], index=scores.index, dtype="float64"),
        pd.Series(letters[codes], index=scores.index, dtype="float64"),
    )


def load_rotten_tomatoes(directory: Path) -> SeedData:
    """Read the movies and critic reviews files from ``directory`` into a SeedData."""
    if not directory.is_dir():
        raise DataFormatError(directory, f"directory not found (expected {MOVIES_FILE} and {REVIEWS_FILE} in it)")
    films, links = _read_movies(directory / MOVIES_FILE)
    ratings, counts = _read_reviews(directory / REVIEWS_FILE, links, films[Columns.Item])
    report: Report = {
        "films": len(films),
        "ratings": len(ratings),
        "users": int(ratings[Columns.User].nunique()),
        "films_with_rt_rating": int(films[Columns.RtRating].notna().sum()),
        **counts,
    }
    return SeedData(films=films, ratings=ratings, report=report)


def _read_movies(path: Path) -> tuple[pd.DataFrame, pd.Series[str]]:
    text_columns = (LINK, MOVIE_TITLE, GENRES, RELEASE_DATE, MOVIE_INFO)
    raw = read_csv_checked(path, MOVIES_COLUMNS, text_columns, what="movies", na_columns=(TOMATOMETER,))
    links = to_text(path, raw, LINK)
    duplicated = links.duplicated()
    if duplicated.any():
        pos = first_true(duplicated)
        raise DataFormatError(path, f"{LINK} {links.iloc[pos]!r} appears twice", line_of(pos))
    titles = to_text(path, raw, MOVIE_TITLE)
    dates = raw[RELEASE_DATE].astype(str).str.strip()
    parsed = pd.to_datetime(dates.where(dates != ""), format=DATE_FORMAT, errors="coerce")
    bad_date = parsed.isna() & (dates != "")
    if bad_date.any():
        pos = first_true(bad_date)
        raise DataFormatError(path, f"{RELEASE_DATE} {dates.iloc[pos]!r} is not a date like 1995-12-31", line_of(pos))
    years = [None if pd.isna(y) else int(y) for y in parsed.dt.year]
    meter = to_number(path, raw, TOMATOMETER, allow_missing=True)
    out = meter.notna() & ~meter.between(TOMATOMETER_MIN, TOMATOMETER_MAX)
    if out.any():
        pos = first_true(out)
        raise DataFormatError(
            path, f"{TOMATOMETER} {meter.iloc[pos]:g} is outside {TOMATOMETER_MIN:g}..{TOMATOMETER_MAX:g}", line_of(pos)
        )
    genres = [tuple(g.strip() for g in text.split(GENRE_SEPARATOR) if g.strip()) for text in raw[GENRES].astype(str)]
    info = raw[MOVIE_INFO].astype(str).str.strip() if MOVIE_INFO in raw.columns else None
    films = make_films(
        source_ids=SOURCE_PREFIX + links,
        titles=titles,
        years=years,
        genres=genres,
        rt_rating=meter,
        description=info,
    )
    return films, links


def _read_reviews(path: Path, links: pd.Series[str], film_ids: pd.Series[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    raw = read_csv_checked(path, REVIEWS_COLUMNS, REVIEWS_COLUMNS, what="reviews")
    # String work runs on distinct values; rows carry integer codes into them.
    critic_codes, critics = distinct_text(raw[CRITIC])
    user_values = USER_PREFIX + critics
    unusable_name = (user_values.str.len() > USER_ID_MAX_LEN) | user_values.str.contains(FORBIDDEN_ID_CHARACTERS)
    no_critic = (critics == "").to_numpy()[critic_codes]
    bad_critic = ~no_critic & unusable_name.to_numpy()[critic_codes]

    link_codes, review_links = distinct_text(raw[LINK])
    positions = pd.Index(links).get_indexer(pd.Index(review_links))[link_codes]
    unknown_film = positions < 0

    fractions, letters = score_to_rating(raw[REVIEW_SCORE])
    type_codes, types = distinct_text(raw[REVIEW_TYPE])
    by_type = pd.to_numeric(types.str.lower().map(REVIEW_TYPE_RATINGS), errors="coerce").to_numpy("float64")
    rating = fractions.fillna(letters).to_numpy("float64")
    rating = np.where(np.isnan(rating), by_type[type_codes], rating)
    unscorable = np.isnan(rating)

    date_codes, date_texts = distinct_text(raw[REVIEW_DATE])
    dates = pd.to_datetime(date_texts, format=DATE_FORMAT, errors="coerce")
    no_date = dates.isna().to_numpy()[date_codes]
    seconds = dates.to_numpy(dtype="datetime64[s]").astype("int64")[date_codes]  # NaT rows replaced below
    stamps = np.where(no_date, MISSING_TIMESTAMP, seconds)

    keep = ~(no_critic | bad_critic | unknown_film | unscorable)
    kept = np.flatnonzero(keep)
    # A critic reviewing one film twice keeps the latest review.
    latest = kept[keep_latest(critic_codes[kept], positions[kept], stamps[kept])]
    ratings = make_ratings(
        user_ids=user_values.to_numpy()[critic_codes[latest]],
        film_ids=film_ids.to_numpy()[positions[latest]],
        ratings=rating[latest],
        timestamps=stamps[latest],
    )
    from_fraction = fractions.notna().to_numpy()
    from_letter = ~from_fraction & letters.notna().to_numpy()
    counts = {
        "reviews_read": len(raw),
        "reviews_without_critic": int(no_critic.sum()),
        "reviews_with_unusable_critic_name": int(bad_critic.sum()),
        "reviews_of_unknown_films": int((unknown_film & ~no_critic & ~bad_critic).sum()),
        "reviews_unscorable": int((unscorable & ~no_critic & ~bad_critic & ~unknown_film).sum()),
        "scores_from_fraction": int((from_fraction & keep).sum()),
        "scores_from_letter_grade": int((from_letter & keep).sum()),
        "scores_from_review_type": int((~from_fraction & ~from_letter & keep).sum()),
        "reviews_without_date": int((no_date & keep).sum()),
        "duplicate_reviews_dropped": len(kept) - len(latest),
    }
    return ratings, counts
