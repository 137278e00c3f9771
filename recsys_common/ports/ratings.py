"""Where ratings are read from (RatingSource) and appended to (RatingStore)."""

from __future__ import annotations

import abc

import pandas as pd

from recsys_common.events import RatingRows


class RatingSourceError(RuntimeError):
    """The rating source could not be read (server down, file unreadable, bad schema)."""


class RatingSource(abc.ABC):
    """Read side of the rating store.

    Frames carry ``Columns.RATINGS``: user_id (str), film_id (str UUID), rating (float64 on the
    platform scale), timestamp (int64 unix seconds). The *watermark* is an int64 ingestion
    position: it only grows, ``read_since(w)`` returns the rows ingested after position ``w`` and
    ``watermark()`` is the position of the newest row ever stored (0 when nothing ever was). It
    never goes back, not even when ``RatingStore.clear`` drops every row: the engine compares it
    with the watermark of the serving version to tell whether anything is new.
    """

    @abc.abstractmethod
    def read_all(self) -> pd.DataFrame:
        """All ratings, the latest one per (user, film) pair."""

    @abc.abstractmethod
    def read_user(self, user_id: str) -> pd.DataFrame:
        """One user's ratings, the latest one per film (what the online loop folds in)."""

    @abc.abstractmethod
    def read_since(self, watermark: int) -> pd.DataFrame:
        """Rows ingested after ``watermark`` (may hold several ratings of one pair)."""

    @abc.abstractmethod
    def watermark(self) -> int:
        """Ingestion position of the newest row ever stored; 0 when nothing ever was."""


class RatingStore(RatingSource):
    """A rating source that also accepts rows (embedded SQLite store, ClickHouse)."""

    @abc.abstractmethod
    def append(self, ratings: pd.DataFrame | RatingRows) -> int:
        """The one way to write: validated ``RatingRows`` (decoded or validated events), or a frame
        with ``Columns.RATINGS`` (+ optional ``event_id``) validated first (``as_rating_rows``:
        InvalidEvent names the first bad row, and nothing is written). Returns rows written.

        Appending the same event id twice must not count the rating twice.
        """

    @abc.abstractmethod
    def clear(self) -> None:
        """Drop every rating (a fresh start, e.g. the course-exam API's ``/cleanup``).

        The watermark does not go back: rows appended afterwards get positions above every earlier
        one, so ``read_since`` of an old watermark finds them and the engine sees new data.
        """
