"""The seed catalogue: MovieLens films joined to IMDb and Rotten Tomatoes by title and year.

Titles are compared in a normalised form: NFKD folded to ASCII, a trailing article moved to the
front ("Shawshank Redemption, The" -> "The Shawshank Redemption"), lowercased, "&" -> "and",
every other non-alphanumeric character -> space, spaces collapsed. A film matches a record with
the same normalised title and the same year, else a year one off (release years differ between
sources). MovieLens titles often carry an alternative title in parentheses ("Seven (Se7en)",
"Postino, Il"), so the full title is tried first, then the title without the parentheses, then
each parenthesised title. Among several candidates the one with most votes wins.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from recsys_common.columns import Columns
from recsys_common.domain import RATING_MAX
from recsys_datasets.readers import ML_ITEM, ML_STARS, ML_USER, VEGA_IMDB_VOTES
from recsys_datasets.seeddata import Report, SeedData, make_films, make_ratings

#: Articles that catalogues move to the end of a title ("Postino, Il"), English and common foreign.
ARTICLES: tuple[str, ...] = (
    "The", "A", "An",
    "Le", "La", "Les", "L'", "Un", "Une",
    "Il", "Lo", "Gli",
    "El", "Los", "Las", "Una",
    "Der", "Die", "Das", "Ein", "Eine",
    "Det", "Den",
    "O", "Os",
)  # fmt: skip
#: Largest difference of release years still accepted as the same film.
YEAR_TOLERANCE = 1
#: MovieLens-100K rates 1..5 stars; the platform scale is 1..10.
ML_STARS_TOP = 5
ML_TO_PLATFORM = RATING_MAX / ML_STARS_TOP
ML_SOURCE_PREFIX = "ml100k:"

# Which form of a title produced a match key (lower is tried first).
KEY_FULL = 0
KEY_MAIN = 1
KEY_ALTERNATIVE = 2

_ARTICLE_ALTERNATION = "|".join(re.escape(a) for a in sorted(ARTICLES, key=len, reverse=True))
_TRAILING_ARTICLE = re.compile(rf"^(?P<body>.*\S),\s*(?P<article>{_ARTICLE_ALTERNATION})$", re.IGNORECASE)
_TRAILING_PARENS = re.compile(r"^(?P<main>.*?)(?P<parens>(?:\s*\([^()]*\))+)\s*$")
_PAREN_GROUP = re.compile(r"\(([^()]*)\)")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_AKA = re.compile(r"^\s*a\.?k\.?a\.?\s+", re.IGNORECASE)

# Intermediate column names of the matcher.
_FILM_POS = "film_pos"
_REF_POS = "ref_pos"
_KEY = "key"
_PRIORITY = "priority"
_YEAR_GAP = "year_gap"
_VOTES = "votes"


def move_article(title: str) -> str:
    """Move one trailing article to the front: "Usual Suspects, The" -> "The Usual Suspects",
    "Uomo delle stelle, L'" -> "L'Uomo delle stelle"."""
    found = _TRAILING_ARTICLE.match(title.strip())
    if found is None:
        return title.strip()
    article, body = found["article"], found["body"]
    return f"{article}{body}" if article.endswith("'") else f"{article} {body}"


def split_title(title: str) -> tuple[str, list[str]]:
    """``(main title, [parenthesised titles])`` of e.g. "Nikita (La Femme Nikita)"."""
    found = _TRAILING_PARENS.match(title)
    if found is None or not found["main"].strip():
        return title.strip(), []
    alternatives = [_AKA.sub("", g).strip() for g in _PAREN_GROUP.findall(found["parens"])]
    return found["main"].strip(), [a for a in alternatives if a]


def display_title(title: str) -> str:
    """A catalogue title in reading order, accents kept: "Horseman on the Roof, The (Hussard sur
    le toit, Le)" -> "The Horseman on the Roof (Le Hussard sur le toit)"."""
    main, alternatives = split_title(title)
    if not alternatives:
        return move_article(main)
    return " ".join([move_article(main), *(f"({move_article(a)})" for a in alternatives)])


def normalise_title(title: str) -> str:
    """The form titles are compared in (see the module docstring)."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    main, alternatives = split_title(ascii_text)
    text = " ".join([move_article(main), *(move_article(a) for a in alternatives)])
    text = text.lower().replace("&", " and ")
    return _NON_ALNUM.sub(" ", text).strip()


def title_keys(title: str) -> list[tuple[str, int]]:
    """Match keys of a title with their priority: full, main (without parentheses), alternatives."""
    keys = [(normalise_title(title), KEY_FULL)]
    main, alternatives = split_title(title)
    if alternatives:
        keys.append((normalise_title(main), KEY_MAIN))
        keys.extend((normalise_title(a), KEY_ALTERNATIVE) for a in alternatives)
    seen: set[str] = set()
    unique: list[tuple[str, int]] = []
    for key, priority in keys:
        if key and key not in seen:
            seen.add(key)
            unique.append((key, priority))
    return unique


def match_titles(
    titles: Iterable[str],
    years: pd.Series[Any],
    ref_titles: Iterable[str],
    ref_years: pd.Series[Any],
    ref_votes: pd.Series[float],
) -> pd.DataFrame:
    """Match films to reference records by title + year; one row per matched film.

    Returns columns film_pos, ref_pos (0-based positions in the inputs), priority (KEY_*) and
    year_gap (0 or 1). Films without a year never match.
    """
    film_rows = [(pos, key, priority) for pos, title in enumerate(titles) for key, priority in title_keys(title)]
    films = pd.DataFrame(film_rows, columns=[_FILM_POS, _KEY, _PRIORITY])
    films[Columns.Year] = years.to_numpy(dtype="float64", na_value=np.nan)[films[_FILM_POS].to_numpy()]
    refs = pd.DataFrame(
        {
            _KEY: [normalise_title(t) for t in ref_titles],
            "ref_year": ref_years.to_numpy(dtype="float64", na_value=np.nan),
            _VOTES: ref_votes.to_numpy(dtype="float64", na_value=np.nan),
        }
    )
    refs[_REF_POS] = np.arange(len(refs))
    pairs = films.merge(refs, on=_KEY, how="inner")
    pairs[_YEAR_GAP] = (pairs[Columns.Year] - pairs["ref_year"]).abs()
    pairs = pairs[pairs[_YEAR_GAP] <= YEAR_TOLERANCE]
    pairs = pairs.assign(_no_votes=pairs[_VOTES].isna(), _minus_votes=-pairs[_VOTES].fillna(0.0))
    pairs = pairs.sort_values([_FILM_POS, _PRIORITY, _YEAR_GAP, "_no_votes", "_minus_votes", _REF_POS], kind="stable")
    best = pairs.drop_duplicates(_FILM_POS, keep="first")
    out = best[[_FILM_POS, _REF_POS, _PRIORITY, _YEAR_GAP]].astype("int64").reset_index(drop=True)
    return out


def describe(genres: tuple[str, ...], year: int | None) -> str:
    """A one-line description of a film without a synopsis, e.g. "Crime, Thriller film (1995)"."""
    kind = f"{', '.join(genres)} film" if genres else "Film"
    return kind if year is None else f"{kind} ({year})"


def build_catalogue(
    items: pd.DataFrame,
    ml_ratings: pd.DataFrame,
    imdb: pd.DataFrame,
    vega: pd.DataFrame,
    prefix: str = ML_SOURCE_PREFIX,
) -> SeedData:
    """The seed set from the readers' frames: MovieLens films enriched with IMDb and RT values.

    ``prefix`` starts the films' source ids and the users' ids (another MovieLens set needs its own).
    """
    n_films = len(items)
    titles = items[Columns.Title].tolist()
    years = items[Columns.Year]

    imdb_match = match_titles(titles, years, imdb[Columns.Title], imdb[Columns.Year], imdb[Columns.ImdbVotes])
    vega_match = match_titles(titles, years, vega[Columns.Title], vega[Columns.Year], vega[VEGA_IMDB_VOTES])

    def picked(match: pd.DataFrame, column: pd.Series[float]) -> np.ndarray:
        values = np.full(n_films, np.nan)
        values[match[_FILM_POS].to_numpy()] = column.to_numpy(dtype="float64")[match[_REF_POS].to_numpy()]
        return values

    def picked_names(match: pd.DataFrame, column: pd.Series[Any]) -> list[tuple[str, ...]]:
        names: list[tuple[str, ...]] = [()] * n_films
        for film, ref in zip(match[_FILM_POS], match[_REF_POS], strict=True):
            names[int(film)] = tuple(column.iloc[int(ref)])
        return names

    year_list: list[int | None] = [None if pd.isna(y) else int(y) for y in years]
    genres: list[tuple[str, ...]] = list(items[Columns.Genres])
    films = make_films(
        source_ids=[f"{prefix}{i}" for i in items[ML_ITEM]],
        titles=[display_title(t) for t in titles],
        years=year_list,
        genres=genres,
        imdb_rating=picked(imdb_match, imdb[Columns.ImdbRating]),
        imdb_votes=picked(imdb_match, imdb[Columns.ImdbVotes]),
        rt_rating=picked(vega_match, vega[Columns.RtRating]),
        description=[describe(g, y) for g, y in zip(genres, year_list, strict=True)],
        directors=picked_names(vega_match, vega[Columns.Directors]),
    )

    film_of_item = pd.Series(films[Columns.Item].to_numpy(), index=items[ML_ITEM].to_numpy())
    ratings = make_ratings(
        user_ids=prefix + ml_ratings[ML_USER].astype(str),
        film_ids=ml_ratings[ML_ITEM].map(film_of_item),
        ratings=ml_ratings[ML_STARS] * ML_TO_PLATFORM,
        timestamps=ml_ratings[Columns.Timestamp],
    )

    rated = ratings[Columns.Item].value_counts()
    imdb_matched = pd.Series(films.index.isin(imdb_match[_FILM_POS]), index=films.index)
    rt_known = films[Columns.RtRating].notna()

    def ratings_share(known: pd.Series[bool]) -> float:
        counts = films[Columns.Item][known].map(rated).fillna(0).sum()
        return round(float(counts) / max(len(ratings), 1), 4)

    report: Report = {
        "films": n_films,
        "ratings": len(ratings),
        "users": int(ratings[Columns.User].nunique()),
        "imdb_records": len(imdb),
        "imdb_matched_films": len(imdb_match),
        "imdb_matched_films_share": round(len(imdb_match) / max(n_films, 1), 4),
        "imdb_matched_ratings_share": ratings_share(imdb_matched),
        "imdb_matched_by_year_off_by_one": int((imdb_match[_YEAR_GAP] > 0).sum()),
        "imdb_matched_by_alternative_title": int((imdb_match[_PRIORITY] > KEY_FULL).sum()),
        "rt_records": int(vega[Columns.RtRating].notna().sum()),
        "vega_matched_films": len(vega_match),
        "rt_matched_films": int(rt_known.sum()),
        "rt_matched_films_share": round(float(rt_known.mean()) if n_films else 0.0, 4),
        "rt_matched_ratings_share": ratings_share(rt_known),
    }
    return SeedData(films=films, ratings=ratings, report=report)
