"""The online loop: a viewer's new ratings change their lists within about a second, no retraining.

The updater follows the rating feed (Kafka in production, the embedded rating store otherwise). For
every user with new ratings it reads the user's whole history (the rating store, plus the events
just received, which the store may not hold yet), folds the user into the *serving* model
(``HybridModel.fold_in`` against the model artefact the engine wrote for that version), ranks the
catalogue exactly as the batch does (the user's rated films masked) and writes the lists as the
user's overlay in the serving version. Readers prefer the overlay; the next batch version, trained
on those ratings, supersedes it. When a new version starts serving, the updater loads its artefact
and folds in again every user who rated after that version's training watermark, so no rating is
lost between a training run and its publication.

Ports only: RatingSource, RecStore, a catalogue reader callable and a ``RatingFeed``; the
composition root (``bootstrap.online_updater``) wires the adapters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender_engine.cycle import ARTEFACT_SUFFIX
from recommender_engine.lists import pool_size
from recommender_engine.model.artefact import ArtefactError, load_artefact
from recommender_engine.model.hybrid import HybridModel
from recommender_engine.ranking import GenreIndex, rank_lists
from recsys_common.columns import Columns
from recsys_common.domain import RATING_REMOVED, RatingEvent
from recsys_common.ports.ratings import RatingSource, RatingSourceError
from recsys_common.ports.recstore import OverlayWriter, RecReader, StoreUnavailable, UnknownVersion, VersionMeta

log = logging.getLogger(__name__)

#: How long one poll of the feed waits for events.
POLL_TIMEOUT_S = 0.1
#: Users folded in per step at most (the rest wait for the next step).
MAX_USERS_PER_STEP = 500
#: Seconds to wait after a failed step.
RETRY_AFTER_S = 1.0


class RatingFeed(Protocol):
    """Where the updater learns of new ratings."""

    def poll(self, timeout_s: float) -> list[RatingEvent]:
        """Ratings that arrived since the last poll (may be empty)."""
        ...

    def commit(self) -> None:
        """The events polled so far are handled: do not deliver them again."""
        ...

    def close(self) -> None: ...


class StoreFeed:
    """The embedded default's feed: new rows of the rating store (``read_since`` its watermark)."""

    def __init__(self, ratings: RatingSource, start: int | None = None) -> None:
        self._ratings = ratings
        self._position = ratings.watermark() if start is None else start
        self._next = self._position

    def poll(self, timeout_s: float) -> list[RatingEvent]:
        rows = self._ratings.read_since(self._position)
        if rows.empty:
            time.sleep(timeout_s)
            return []
        self._next = self._ratings.watermark()
        return [
            RatingEvent("", str(u), str(f), float(r), int(t))
            for u, f, r, t in rows[list(Columns.RATINGS)].itertuples(index=False, name=None)
        ]

    def commit(self) -> None:
        self._position = self._next

    def close(self) -> None:
        pass


#: Fold-in durations kept for the stats.
RECENT_FOLDS = 1_000


@dataclass
class UpdaterStats:
    events: int = 0
    folded: int = 0
    versions_loaded: int = 0
    #: Seconds from a poll's events arriving to every overlay of the step being written.
    last_step_s: float = 0.0
    errors: int = 0
    #: ``time.monotonic()`` of the last step that completed, and whether the latest step failed.
    last_step_at: float | None = None
    failing: bool = False
    #: Seconds of the latest fold-ins (history read, fold-in, ranking, overlay write), newest last.
    fold_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_FOLDS))


@dataclass(frozen=True)
class _Serving:
    meta: VersionMeta
    model: HybridModel
    film_index: dict[str, int]
    genres: GenreIndex


class OverlayStore(RecReader, OverlayWriter, Protocol):
    """The RecStore roles the updater uses: reading the serving version, writing overlays into it."""


class OnlineUpdater:
    def __init__(
        self,
        ratings: RatingSource,
        store: OverlayStore,
        feed: RatingFeed,
        films: Callable[[], pd.DataFrame],
        artefact_dir: Path,
    ) -> None:
        self._ratings = ratings
        self._store = store
        self._feed = feed
        self._films = films
        self._artefact_dir = artefact_dir
        self._serving: _Serving | None = None
        self.stats = UpdaterStats()

    def run(self, stop: threading.Event) -> None:
        """Step until ``stop`` is set; a failing store or rating source is logged and retried."""
        while not stop.is_set():
            try:
                self.step()
                self.stats.failing = False
            except (StoreUnavailable, RatingSourceError, ArtefactError) as exc:
                self.stats.errors += 1
                self.stats.failing = True
                log.warning("online update failed, retrying: %s", exc)
                stop.wait(RETRY_AFTER_S)
            self.stats.last_step_at = time.monotonic()

    def step(self) -> int:
        """Poll the feed once and fold in every user it names; returns the users folded in (none
        when no version serves, or when the serving one was removed meanwhile)."""
        refold = self._follow_serving_version()
        events = self._feed.poll(POLL_TIMEOUT_S)
        arrived = time.perf_counter()
        self.stats.events += len(events)
        by_user: dict[str, list[RatingEvent]] = {}
        for event in events:
            by_user.setdefault(event.user_id, []).append(event)
        for user in refold:
            by_user.setdefault(user, [])
        if self._serving is None or not by_user:
            self._feed.commit()
            return 0
        users = list(by_user)[:MAX_USERS_PER_STEP]
        folded = 0
        try:
            for user in users:
                self._fold(self._serving, user, by_user[user])
                folded += 1
        except UnknownVersion:
            # The serving version was removed under us (the store was cleared): nothing to fold
            # into until a new version serves, which folds in again everyone who rated after it.
            log.info("version %s is gone: folding in waits for the next version", self._serving.meta.version)
            self._serving = None
        self._feed.commit()
        self.stats.folded += folded
        self.stats.last_step_s = time.perf_counter() - arrived
        return folded

    def _follow_serving_version(self) -> Iterable[str]:
        """Load the serving version's model when it changed; return the users to fold in again."""
        meta = self._store.current()
        if meta is None:  # nothing published, or the store was cleared: no model to fold into
            self._serving = None
            return ()
        if self._serving is not None and self._serving.meta.version == meta.version:
            return ()
        path = self._artefact_dir / f"model-{meta.version}{ARTEFACT_SUFFIX}"
        if not path.exists():
            log.info("version %s has no model artefact (cold start only): nothing to fold into", meta.version)
            self._serving = None
            return ()
        model, ids, _ = load_artefact(path)
        try:
            films = list(self._store.films(meta.version))
        except UnknownVersion:  # removed since ``current`` answered (the store was cleared)
            self._serving = None
            return ()
        if [str(f) for f in ids.film_ids] != films:
            raise ArtefactError(f"the artefact {path.name} does not match the film table of version {meta.version}")
        self._serving = _Serving(meta, model, {film: i for i, film in enumerate(films)}, self._genres(meta, films))
        self.stats.versions_loaded += 1
        since = self._ratings.read_since(meta.watermark)
        users = sorted(since[Columns.User].astype(str).unique())
        log.info("serving %s: folding in %d user(s) who rated after its training", meta.version, len(users))
        return users

    def _genres(self, meta: VersionMeta, films: Sequence[str]) -> GenreIndex:
        catalogue = self._films()
        genres_of = dict(zip(catalogue[Columns.Item].astype(str), catalogue[Columns.Genres], strict=True))
        groups = [
            np.asarray([i for i, film in enumerate(films) if genre in genres_of.get(film, ())], dtype=np.int32)
            for genre in meta.layout.genres
        ]
        return GenreIndex(groups, len(films))

    def _fold(self, serving: _Serving, user: str, events: list[RatingEvent]) -> None:
        started = time.perf_counter()
        history = self._ratings.read_user(user)
        latest: dict[str, float] = dict(zip(history[Columns.Item].astype(str), history[Columns.Rating], strict=True))
        for event in sorted(events, key=lambda e: e.timestamp):
            if event.rating == RATING_REMOVED:  # the viewer withdrew the rating: the film is unrated again
                latest.pop(event.film_id, None)
            else:
                latest[event.film_id] = event.rating
        columns = [serving.film_index[film] for film in latest if film in serving.film_index]
        values = [latest[film] for film in latest if film in serving.film_index]
        n_films = len(serving.film_index)
        row = sp.csr_matrix(
            (np.asarray(values, dtype=np.float32), (np.zeros(len(columns), dtype=np.int64), columns)),
            shape=(1, n_films),
        )
        scores = serving.model.fold_in(row)
        layout = serving.meta.layout  # the lists have the version's lengths, as its batch records do
        pool = pool_size(layout.must_watch_len, layout.genre_len, len(layout.genres))
        must_watch, by_genre = rank_lists(scores, row, layout.must_watch_len, serving.genres, layout.genre_len, pool)
        reasons = serving.model.reasons(row, must_watch) if layout.reasons else None
        self._store.put_overlay(serving.meta, user, must_watch[0], by_genre[0], None if reasons is None else reasons[0])
        self.stats.fold_seconds.append(time.perf_counter() - started)
