"""IMDb-top: the one ranking of films for cold start and fallbacks, used by every service.

Films are ordered by the IMDb Bayesian weighted rating (``recsys_common.bayes``, prior from the
films given), best first; films without an IMDb rating and vote count come after every film with
them. Ties go to the greater popularity when one is given (the number of ratings of each film: the
engine passes its training ratings' counts, so a catalogue without IMDb data, such as the course
exam's items, ranks by popularity), then to the higher Rotten Tomatoes rating (unknown last), then
to the title, then to the film id, so every service that ranks the same films gets the same lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from recsys_common.bayes import catalogue_prior, weighted_rating
from recsys_common.domain import ColdStartLists, Film

IndexArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def imdb_order(
    film_ids: Sequence[str],
    titles: Sequence[str],
    imdb_rating: FloatArray,
    imdb_votes: FloatArray,
    rt_rating: FloatArray,
    popularity: FloatArray | None = None,
) -> IndexArray:
    """Positions of the films, best first (NaN marks an unknown rating or vote count; ``popularity``,
    when given, is each film's number of ratings and breaks ties of the weighted rating)."""
    rating = np.asarray(imdb_rating, dtype=np.float64)
    votes = np.asarray(imdb_votes, dtype=np.float64)
    min_votes, mean = catalogue_prior(rating, votes)
    score = weighted_rating(rating, votes, min_votes, mean) if np.isfinite(mean) else np.full(len(rating), np.nan)
    rt = np.asarray(rt_rating, dtype=np.float64)
    if popularity is None:
        popular = np.zeros(len(rating), dtype=np.float64)
    else:
        popular = np.nan_to_num(np.asarray(popularity, dtype=np.float64), nan=0.0)
        if popular.shape != rating.shape:
            raise ValueError(f"{popular.shape[0]} popularity values for {rating.shape[0]} films")
    keys = (  # np.lexsort: the last key is the primary one
        np.asarray(film_ids, dtype=str),
        np.asarray(titles, dtype=str),
        -np.nan_to_num(rt, nan=-1.0),
        -popular,
        -np.nan_to_num(score, nan=-np.inf),
    )
    return np.lexsort(keys).astype(np.int64)


def imdb_top(
    film_ids: Sequence[str],
    titles: Sequence[str],
    genres: Sequence[Iterable[str]],
    imdb_rating: FloatArray,
    imdb_votes: FloatArray,
    rt_rating: FloatArray,
    limit: int,
    popularity: FloatArray | None = None,
) -> ColdStartLists:
    """The best ``limit`` film ids overall and within each genre (genre names as given)."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    order = imdb_order(film_ids, titles, imdb_rating, imdb_votes, rt_rating, popularity)
    ids = [str(film_ids[i]) for i in order]
    by_genre: dict[str, list[str]] = {}
    for position, film_id in zip(order, ids, strict=True):
        for genre in dict.fromkeys(genres[position]):
            members = by_genre.setdefault(str(genre), [])
            if len(members) < limit:
                members.append(film_id)
    return ColdStartLists(
        overall=tuple(ids[:limit]), by_genre={name: tuple(by_genre[name]) for name in sorted(by_genre)}
    )


def imdb_top_of(films: Sequence[Film], limit: int) -> ColdStartLists:
    """:func:`imdb_top` over domain films."""

    def floats(values: Iterable[float | int | None]) -> FloatArray:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)

    return imdb_top(
        [f.film_id for f in films],
        [f.title for f in films],
        [f.genres for f in films],
        floats(f.imdb_rating for f in films),
        floats(f.imdb_votes for f in films),
        floats(f.rt_rating for f in films),
        limit,
    )
