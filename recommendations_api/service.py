"""What the API answers, independent of HTTP: resolve the serving version, read a user's lists,
fall back to cold-start lists, and to an in-process snapshot of them when the store is down.

Costs per request: the serving version is resolved at most every ``refresh_s`` and each version's
film table, layout and cold-start lists are cached in process, so an answer costs one store read
(the user's record). Store reads are synchronous: they take well under a millisecond on loopback
Redis or a local SQLite file; when the store fails, the service stops calling it for ``retry_s``
(the breaker is open) and answers from the snapshot, so a hung store costs one socket timeout per
``retry_s``, not one per request. Readiness respects the breaker and runs off the event loop (see
``recommendations_api.readiness``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from recsys_common.domain import ColdStartLists, Source, UserLists
from recsys_common.ports.recstore import RecReader, StoreUnavailable, VersionMeta

log = logging.getLogger(__name__)

#: Versions whose film tables stay cached (the serving one and those just before it).
CACHED_VERSIONS = 3


class NoPublishedVersion(RuntimeError):
    """The store is reachable but nothing was published yet."""


class ServiceUnavailable(RuntimeError):
    """No answer can be given: the store is unreachable (or empty) and there is no snapshot."""


class UnknownGenre(LookupError):
    def __init__(self, genre: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"unknown genre {genre!r}; allowed genres: {', '.join(allowed) or '(none published)'}")
        self.genre = genre
        self.allowed = allowed


@dataclass(frozen=True)
class VersionView:
    """What the API keeps in process about one published version."""

    meta: VersionMeta
    films: tuple[str, ...]
    cold: ColdStartLists
    genres: tuple[str, ...]
    _lookup: dict[str, str] = field(repr=False)

    @staticmethod
    def of(meta: VersionMeta, films: tuple[str, ...], cold: ColdStartLists | None) -> VersionView:
        cold = cold if cold is not None else ColdStartLists(overall=())
        genres = tuple(dict.fromkeys([*meta.layout.genres, *cold.by_genre]))
        return VersionView(meta, films, cold, genres, {g.casefold(): g for g in genres})

    def genre(self, name: str | None) -> str | None:
        """The published spelling of a genre (matched case-insensitively), or UnknownGenre."""
        if name is None:
            return None
        found = self._lookup.get(name.casefold())
        if found is None:
            raise UnknownGenre(name, self.genres)
        return found

    def cold_list(self, genre: str | None) -> tuple[str, ...]:
        if genre is None:
            return self.cold.overall
        return self.cold.by_genre.get(genre, ())


@dataclass(frozen=True)
class Answer:
    source: Source
    view: VersionView
    genre: str | None
    film_ids: tuple[str, ...]
    #: Film id -> the rated film behind it, when asked for and the user's own lists answered.
    reasons: dict[str, str] | None = None

    @property
    def model_version(self) -> str:
        return self.view.meta.model_version

    @property
    def generated_at(self) -> str:
        return self.view.meta.published_at


@dataclass(frozen=True)
class GenreAnswer:
    source: Source
    view: VersionView
    genres: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class HomeAnswer:
    """Everything a home page shows, from one read of the user's record."""

    source: Source
    view: VersionView
    must_watch: tuple[str, ...]
    reasons: dict[str, str]
    genres: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class SimilarAnswer:
    """A film's similar films in the serving version; ``film_ids`` None when it has none for the film."""

    view: VersionView
    film_ids: tuple[str, ...] | None


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str
    meta: VersionMeta | None = None


_A = TypeVar("_A", Answer, GenreAnswer, HomeAnswer)


class RecommendationService:
    def __init__(
        self,
        store: RecReader,
        refresh_s: float,
        retry_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_new_version: Callable[[VersionMeta], None] | None = None,
        on_answer: Callable[[Source], None] | None = None,
    ) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._retry_s = retry_s
        self._clock = clock
        self._on_new_version = on_new_version
        self._on_answer = on_answer
        self._views: OrderedDict[str, VersionView] = OrderedDict()
        self._view: VersionView | None = None  # serving version; also the snapshot for the fallback
        self._resolved_at = float("-inf")
        self._down_until = float("-inf")
        self._down_reason: str | None = None
        self._probe_lock = threading.Lock()  # readiness probes from a worker thread

    # ----- answers -----
    def recommendations(self, user_id: str, genre: str | None, limit: int | None, reasons: bool = False) -> Answer:
        """The user's must-watch list (or genre list), else the cold-start one; ``limit`` ids at most
        (None: all). With ``reasons``, a must-watch answer from the user's own lists carries them
        (decoding the whole record instead of the one list: asked for only when shown)."""
        if reasons and genre is None:
            return self._counted(self._with_reasons(user_id, limit))
        return self._counted(self._recommendations(user_id, genre, limit))

    def home(self, user_id: str, genres: list[str] | None, limit: int) -> HomeAnswer:
        """The must-watch list with its reasons and the lists of ``genres`` (every published genre
        when None; genres that are not published are left out), ``limit`` ids each, from one read
        of the user's record. A user without lists gets the cold-start ones; a genre the user's
        lists lack (every film of it rated) is filled from the cold-start list of that genre."""
        try:
            view = self._current()
            lists = self._user_lists(user_id, view)
        except (StoreUnavailable, NoPublishedVersion) as exc:
            snapshot = self._snapshot_or_raise(exc)
            return self._counted(self._cold_home(Source.FALLBACK, snapshot, genres, limit))
        if lists is None or not lists.must_watch:
            return self._counted(self._cold_home(Source.COLD_START, view, genres, limit))
        chosen = self._home_genres(view, genres)
        must_watch = lists.must_watch[:limit]
        return self._counted(
            HomeAnswer(
                Source.OVERLAY if lists.overlay else Source.PERSONAL,
                view,
                must_watch,
                {film: lists.reasons[film] for film in must_watch if film in lists.reasons},
                {g: (lists.by_genre.get(g) or view.cold_list(g))[:limit] for g in chosen},
            )
        )

    def genre_lists(self, user_id: str) -> GenreAnswer:
        """All the user's genre lists, else the cold-start ones."""
        return self._counted(self._genre_lists(user_id))

    def cold_start(self, genre: str | None, limit: int) -> Answer:
        """IMDb-top lists, overall or of one genre."""
        return self._counted(self._cold_start(genre, limit))

    def _cold_home(self, source: Source, view: VersionView, genres: list[str] | None, limit: int) -> HomeAnswer:
        chosen = self._home_genres(view, genres)
        return HomeAnswer(source, view, view.cold.overall[:limit], {}, {g: view.cold_list(g)[:limit] for g in chosen})

    @staticmethod
    def _home_genres(view: VersionView, genres: list[str] | None) -> list[str]:
        """The published spellings of ``genres`` (all published genres when None), unknown ones left out."""
        if genres is None:
            return list(view.genres)
        chosen: list[str] = []
        for name in genres:
            try:
                found = view.genre(name)
            except UnknownGenre:
                continue
            if found is not None and found not in chosen:
                chosen.append(found)
        return chosen

    def _with_reasons(self, user_id: str, limit: int | None) -> Answer:
        try:
            view = self._current()
            lists = self._user_lists(user_id, view)
        except (StoreUnavailable, NoPublishedVersion) as exc:
            return self._fallback(exc, None, limit)
        if lists is not None and lists.must_watch:
            ids = lists.must_watch[:limit]
            reasons = {film: lists.reasons[film] for film in ids if film in lists.reasons}
            return Answer(Source.OVERLAY if lists.overlay else Source.PERSONAL, view, None, ids, reasons)
        return Answer(Source.COLD_START, view, None, view.cold_list(None)[:limit])

    def similar(self, film_id: str, limit: int) -> SimilarAnswer:
        """The films most similar to ``film_id`` in the serving version, ``limit`` at most. There is no
        fallback: ServiceUnavailable while the store is unreachable or holds no version."""
        try:
            view = self._current()
        except (StoreUnavailable, NoPublishedVersion) as exc:
            raise ServiceUnavailable(f"{exc}; similar films cannot be read") from exc
        try:
            return SimilarAnswer(view, self._store.similar(film_id, view.meta, view.films, limit))
        except StoreUnavailable as exc:
            self._mark_down(exc)
            raise ServiceUnavailable(f"{exc}; similar films cannot be read") from exc

    def _counted(self, answer: _A) -> _A:
        if self._on_answer is not None:
            self._on_answer(answer.source)
        return answer

    def _recommendations(self, user_id: str, genre: str | None, limit: int | None) -> Answer:
        try:
            view = self._current()
            chosen = view.genre(genre)
            personal = self._user_list(user_id, view, chosen, limit)
        except (StoreUnavailable, NoPublishedVersion) as exc:
            return self._fallback(exc, genre, limit)
        if personal is not None and personal[0]:
            ids, overlay = personal
            return Answer(Source.OVERLAY if overlay else Source.PERSONAL, view, chosen, ids)
        return Answer(Source.COLD_START, view, chosen, view.cold_list(chosen)[:limit])

    def _genre_lists(self, user_id: str) -> GenreAnswer:
        try:
            view = self._current()
            lists = self._user_lists(user_id, view)
        except (StoreUnavailable, NoPublishedVersion) as exc:
            snapshot = self._snapshot_or_raise(exc)
            return GenreAnswer(Source.FALLBACK, snapshot, dict(snapshot.cold.by_genre))
        if lists is not None and lists.by_genre:
            return GenreAnswer(Source.OVERLAY if lists.overlay else Source.PERSONAL, view, dict(lists.by_genre))
        return GenreAnswer(Source.COLD_START, view, dict(view.cold.by_genre))

    def _cold_start(self, genre: str | None, limit: int) -> Answer:
        try:
            view = self._current()
        except (StoreUnavailable, NoPublishedVersion) as exc:
            return self._fallback(exc, genre, limit)
        chosen = view.genre(genre)
        return Answer(Source.COLD_START, view, chosen, view.cold_list(chosen)[:limit])

    def down_reason(self) -> str | None:
        """Why the store is not being asked right now (the breaker is open after a failure), else None."""
        if self._clock() < self._down_until:
            return self._down_reason or "recommendation store unreachable"
        return None

    def readiness(self) -> Readiness:
        """Ready when the store answers and holds a published version. While the breaker is open the
        answer comes from it and the store is not asked. Blocking (up to two socket timeouts when the
        store hangs): call it off the event loop; it only opens or closes the breaker, so it may run
        in a worker thread while requests are answered."""
        try:
            self._pass_breaker()
        except StoreUnavailable as exc:  # open: answered without asking (and without extending it)
            return Readiness(False, f"recommendation store unreachable: {exc}")
        try:
            self._store.ping()
            meta = self._store.current()
        except StoreUnavailable as exc:
            self._mark_down(exc)
            return Readiness(False, f"recommendation store unreachable: {exc}")
        if meta is None:
            return Readiness(False, "no version is published in the recommendation store yet")
        self._mark_up()
        return Readiness(True, "ok", meta)

    def warm_up(self) -> None:
        """Resolve the serving version now, so the snapshot exists before the first request."""
        try:
            self._current()
        except (StoreUnavailable, NoPublishedVersion) as exc:
            log.warning("recommendation store not ready at start (%s); answering when it is", exc)

    # ----- version cache -----
    def _current(self) -> VersionView:
        self._pass_breaker()
        now = self._clock()
        view = self._view
        if view is not None and now - self._resolved_at < self._refresh_s:
            return view
        try:
            meta = self._store.current()
            loaded = None if meta is None else self._views.get(meta.version) or self._load(meta)
        except StoreUnavailable as exc:
            self._mark_down(exc)
            raise
        self._mark_up()  # the store answered, even if nothing is published
        if meta is None or loaded is None:
            raise NoPublishedVersion("no version is published in the recommendation store yet")
        view = loaded
        self._resolved_at = now
        if self._view is None or self._view.meta.version != view.meta.version:
            log.info("serving version %s (model %s)", meta.version, meta.model_version)
            self._view = view
            if self._on_new_version is not None:
                self._on_new_version(meta)
        return view

    def _user_list(
        self, user_id: str, view: VersionView, genre: str | None, limit: int | None
    ) -> tuple[tuple[str, ...], bool] | None:
        try:
            return self._store.user_list(user_id, view.meta, view.films, genre, limit)
        except StoreUnavailable as exc:
            self._mark_down(exc)
            raise

    def _user_lists(self, user_id: str, view: VersionView) -> UserLists | None:
        try:
            return self._store.user_lists(user_id, view.meta, view.films)
        except StoreUnavailable as exc:
            self._mark_down(exc)
            raise

    def _load(self, meta: VersionMeta) -> VersionView:
        view = VersionView.of(meta, self._store.films(meta.version), self._store.cold_start(meta.version))
        self._views[meta.version] = view
        while len(self._views) > CACHED_VERSIONS:
            self._views.popitem(last=False)
        return view

    # ----- store health -----
    def _pass_breaker(self) -> None:
        """Raise StoreUnavailable while the breaker is open. Once ``retry_s`` has passed, one caller at a
        time goes on to probe the store (its outcome closes or reopens the breaker); the callers after
        it keep answering from the snapshot until then, so a hung store stalls one probe, not everyone."""
        if self._down_reason is None:  # closed
            return
        with self._probe_lock:
            now = self._clock()
            if now < self._down_until:
                raise StoreUnavailable(self._down_reason or "recommendation store unreachable")
            self._down_until = now + self._retry_s  # this caller probes

    def _mark_down(self, exc: StoreUnavailable) -> None:
        if self._down_reason is None:
            log.warning("recommendation store unavailable, answering from the snapshot: %s", exc)
        self._down_reason = str(exc)
        self._down_until = self._clock() + self._retry_s
        self._resolved_at = float("-inf")  # re-resolve the version as soon as the store is back

    def _mark_up(self) -> None:
        if self._down_reason is not None:
            log.warning("recommendation store reachable again")
        self._down_reason = None
        self._down_until = float("-inf")

    def _snapshot_or_raise(self, exc: Exception) -> VersionView:
        if self._view is None:
            raise ServiceUnavailable(f"{exc}; no recommendations were read since start, so none can be served") from exc
        return self._view

    def _fallback(self, exc: Exception, genre: str | None, limit: int | None) -> Answer:
        snapshot = self._snapshot_or_raise(exc)
        chosen = snapshot.genre(genre)
        return Answer(Source.FALLBACK, snapshot, chosen, snapshot.cold_list(chosen)[:limit])
