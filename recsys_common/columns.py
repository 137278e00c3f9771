"""Column names used by every data frame that crosses a module boundary."""

from __future__ import annotations


class Columns:
    """Names of the columns of ratings and films frames (one place, never string literals)."""

    User = "user_id"
    Item = "film_id"
    Rating = "rating"
    Timestamp = "timestamp"  # event time, int64 unix seconds (UTC)
    EventId = "event_id"  # optional in rating frames: idempotency key of a rating event

    Title = "title"
    Year = "year"
    Genres = "genres"  # tuple[str, ...] of genre names
    ImdbRating = "imdb_rating"  # 1..10, NaN when unknown
    ImdbVotes = "imdb_votes"  # float, NaN when unknown
    RtRating = "rt_rating"  # Rotten Tomatoes Tomatometer 0..100, NaN when unknown
    SourceId = "source_id"  # e.g. "ml100k:1"
    Description = "description"
    Directors = "directors"  # tuple[str, ...] of directors' names (seed frames)
    DirectorIds = "director_ids"  # tuple[str, ...] of directors' person ids (the engine's films frame)

    RATINGS = (User, Item, Rating, Timestamp)
    FILMS = (Item, SourceId, Title, Year, Genres, ImdbRating, ImdbVotes, RtRating)
