"""What the exam API does, independent of HTTP.

Writes go through the platform's ports: items into the catalogue (film id ``film_id_for("exam:<id>")``),
likes and dislikes into the rating path as ratings 10 and 1 (the engine trains on them, the online
updater folds the user in within about a second), a cleanup through every store's ``clear``. Reads
come from the RecStore: the serving version's personal list of the user (the online updater's
overlay first), else popularity re-ranked for genre diversity with a share of exploration.

Costs: the item map, each user's shown and interacted items and the interaction counts live in
memory (loaded at start, a user's sets on their first request) and are written through to the
ExamStore; ``recs`` reads the RecStore once (the user's record) and queues the shown items for a
writer thread (``exam_api.shown``).
The serving version is re-resolved at most every ``refresh_s``. Slow writes (the catalogue, the
rating path, a cleanup) run in a worker thread; the in-memory state changes on the event loop
after them, so ``recs`` never sees it half-changed.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from exam_api.ranking import CANDIDATES_PER_SLOT, diversified, explore
from exam_api.shown import ShownWriter
from exam_api.state import ExamStore, ExamStoreUnavailable, UserRecord
from recsys_common.domain import RATING_MAX, RATING_MIN, Film, RatingEvent
from recsys_common.ids import film_id_for
from recsys_common.ports.catalog import Catalog, CatalogUnavailable
from recsys_common.ports.publisher import PublishError, RatingPublisher
from recsys_common.ports.ratings import RatingSourceError, RatingStore
from recsys_common.ports.recstore import RecReader, StoreUnavailable, UnknownVersion, VersionMeta

log = logging.getLogger(__name__)

Action = Literal["like", "dislike"]
#: The platform's 1..10 scale: a like is the top rating, a dislike the bottom one.
RATING_OF: dict[str, float] = {"like": RATING_MAX, "dislike": RATING_MIN}
#: Source ids of the exam's items in the catalogue (``film_id_for(f"{SOURCE}:{item_id}")``).
SOURCE = "exam"
#: Unknown ids named in an error message at most.
MAX_NAMED_IDS = 10
#: The live popularity order is rebuilt at most this often (seconds) while interactions arrive.
POPULARITY_REFRESH_S = 1.0
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


#: What a store or the rating path raises when it cannot answer (the API answers 503).
STORE_FAILURES = (ExamStoreUnavailable, StoreUnavailable, RatingSourceError, CatalogUnavailable, PublishError)


class BadRequest(ValueError):
    """The request breaks a rule the schema cannot express (lengths, unknown items)."""


@dataclass(frozen=True)
class ExamConfig:
    count: int
    exploration_share: float
    diversity_weight: float
    seed: int
    refresh_s: float
    publish_timeout_s: float


@dataclass(frozen=True)
class Answer:
    """What ``recs`` answers: the items, and how many of the first ones came from the user's own list
    (the rest are popularity and exploration)."""

    items: list[int]
    personal: int


@dataclass(frozen=True)
class _Version:
    """The serving version as the service keeps it: its film table and, for a trained version, its
    cold-start list (popularity over the training ratings) as item ids."""

    meta: VersionMeta
    films: tuple[str, ...]
    popular: tuple[int, ...]


def film_id_of(item_id: int) -> str:
    return film_id_for(f"{SOURCE}:{item_id}")


def _trained_at(meta: VersionMeta) -> float:
    try:
        return float(calendar.timegm(time.strptime(meta.trained_at, _ISO_FORMAT)))
    except ValueError:
        return float("-inf")


def _names(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in list(dict.fromkeys(ids))[:MAX_NAMED_IDS])
    return shown + (", ..." if len(set(ids)) > MAX_NAMED_IDS else "")


class ServingStore(RecReader, Protocol):
    """The RecStore roles the exam uses: reading the serving lists, and ``clear`` for ``/cleanup``."""

    def clear(self) -> None:
        """As ``RecAdmin.clear``."""


class ExamService:
    def __init__(
        self,
        state: ExamStore,
        catalog: Catalog,
        publisher: RatingPublisher,
        ratings: RatingStore,
        recstore: ServingStore,
        config: ExamConfig,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state = state
        self._shown = ShownWriter(state)
        self._catalog = catalog
        self._publisher = publisher
        self._ratings = ratings
        self._recstore = recstore
        self._config = config
        self._clock = clock
        self._monotonic = monotonic
        self._genres: dict[int, tuple[str, ...]] = {}
        self._film_items: dict[str, int] = {}
        self._item_list: list[int] = []
        self._counts: dict[int, int] = {}
        self._users: dict[int, UserRecord] = {}
        self._cleared_at = float("-inf")
        self._popular: list[int] = []
        self._popular_dirty = True
        self._popular_at = float("-inf")
        self._version: _Version | None = None
        self._resolved_at = float("-inf")

    # ----- start -----
    def load(self) -> None:
        """Read the exam's state (items, counts, the last cleanup) into memory."""
        items = self._state.items()
        self._genres = dict(items)
        self._film_items = {film_id_of(item): item for item in items}
        self._item_list = sorted(items)
        self._counts = self._state.counts()
        cleared = self._state.cleared_at()
        self._cleared_at = float("-inf") if cleared is None else cleared
        self._users = {}
        self._popular_dirty = True
        self._resolved_at = float("-inf")
        log.info("exam state loaded: %d item(s), %d with interactions", len(items), len(self._counts))

    def flush(self) -> None:
        """Wait until the shown items answered so far are in the store."""
        self._shown.flush()

    def close(self) -> None:
        """Write the shown items still queued and stop their writer."""
        self._shown.close()

    def ping(self) -> None:
        """Raise ExamStoreUnavailable or StoreUnavailable unless both stores answer."""
        self._state.ping()
        self._recstore.ping()

    @property
    def n_items(self) -> int:
        return len(self._genres)

    # ----- writes -----
    async def add_items(self, item_ids: Sequence[int], genres: Sequence[Sequence[str]]) -> int:
        """Register items with their genres (a later batch may change an item's genres)."""
        if len(item_ids) != len(genres):
            raise BadRequest(f"item_ids has {len(item_ids)} entries but genres has {len(genres)}")
        batch = {item: tuple(dict.fromkeys(names)) for item, names in zip(item_ids, genres, strict=True)}
        films = [Film(film_id_of(item), f"Item {item}", genres=names) for item, names in batch.items()]
        await asyncio.to_thread(self._write_items, films, batch)
        for item, names in batch.items():
            if item not in self._genres:
                self._item_list.append(item)
                self._film_items[film_id_of(item)] = item
            self._genres[item] = names
        self._popular_dirty = True
        return len(batch)

    def _write_items(self, films: list[Film], batch: dict[int, tuple[str, ...]]) -> None:
        self._catalog.upsert(films)
        self._state.put_items(batch)

    async def interact(self, user_id: int, item_ids: Sequence[int], actions: Sequence[Action]) -> int:
        """Send the user's likes and dislikes down the rating path; return once they are accepted."""
        if len(item_ids) != len(actions):
            raise BadRequest(f"item_ids has {len(item_ids)} entries but actions has {len(actions)}")
        unknown = [item for item in item_ids if item not in self._genres]
        if unknown:
            raise BadRequest(f"unknown item id(s), never added: {_names(unknown)}")
        now = int(self._clock())
        events = [
            RatingEvent(str(uuid.uuid4()), str(user_id), film_id_of(item), RATING_OF[action], now)
            for item, action in zip(item_ids, actions, strict=True)
        ]
        record = self._user(user_id)
        await asyncio.to_thread(self._write_interactions, user_id, list(item_ids), events)
        record.interacted.update(item_ids)
        for item in item_ids:
            self._counts[item] = self._counts.get(item, 0) + 1
        self._popular_dirty = True
        return len(events)

    def _write_interactions(self, user_id: int, items: list[int], events: list[RatingEvent]) -> None:
        if events:
            self._publisher.publish_many(events, self._config.publish_timeout_s)
            self._state.add_interactions(user_id, items)

    async def cleanup(self) -> None:
        """Wipe items, interactions, shown items, published lists and overlays: a fresh start."""
        cleared_at = await asyncio.to_thread(self._wipe)
        self._genres, self._film_items, self._item_list = {}, {}, []
        self._counts, self._users = {}, {}
        self._cleared_at = cleared_at
        self._popular, self._popular_dirty = [], True
        self._version, self._resolved_at = None, float("-inf")

    def _wipe(self) -> float:
        self._shown.discard()
        self._recstore.clear()
        self._ratings.clear()
        self._catalog.delete([film.film_id for film in self._catalog.films()])
        # Recorded last: a version trained from a cycle that started before now is never served.
        cleared_at = self._clock()
        self._state.clear(cleared_at)
        log.info("cleanup: every item, interaction, shown item and published version is gone")
        return cleared_at

    # ----- reads -----
    def recs(self, user_id: int) -> Answer:
        """``count`` items the user was never shown and never interacted with (fewer only when the
        catalogue has no more), recorded as shown; ``personal`` says how many came from the user's
        own list."""
        count = self._config.count
        record = self._user(user_id)
        shown, interacted = record.shown, record.interacted
        picked: list[int] = []
        chosen: set[int] = set()

        def allowed(item: int) -> bool:
            return item not in shown and item not in interacted and item not in chosen

        version = self._serving()
        if version is not None:
            for film in self._personal(user_id, version):
                item = self._film_items.get(film)
                if item is not None and allowed(item):
                    picked.append(item)
                    chosen.add(item)
                    if len(picked) == count:
                        break
        personal = len(picked)
        if len(picked) < count:
            picked.extend(self._fill(user_id, record, allowed, count - len(picked), version))
        shown.update(picked)
        self._shown.put(user_id, picked)
        return Answer(picked, personal)

    def _personal(self, user_id: int, version: _Version) -> tuple[str, ...]:
        try:
            lists = self._recstore.user_lists(str(user_id), version.meta, version.films)
        except StoreUnavailable as exc:
            log.warning("recommendation store unavailable, answering from popularity: %s", exc)
            return ()
        return () if lists is None else lists.must_watch

    def _fill(
        self, user_id: int, record: UserRecord, allowed: Callable[[int], bool], n: int, version: _Version | None
    ) -> list[int]:
        """``n`` items from popularity (the version's, then the live counts), diversified by genre,
        ``exploration_share`` of them random."""
        n_explore = min(n, round(self._config.exploration_share * n))
        wanted = (n - n_explore) * CANDIDATES_PER_SLOT
        candidates: list[int] = []
        seen: set[int] = set()
        for source in (version.popular if version is not None else (), self._popularity()):
            for item in source:
                if len(candidates) >= wanted:
                    break
                if item not in seen and allowed(item) and item in self._genres:
                    candidates.append(item)
                    seen.add(item)
        picked = diversified(candidates, self._genres, n - n_explore, self._config.diversity_weight)
        taken = set(picked)
        rng = random.Random(f"{self._config.seed}:{user_id}:{len(record.shown)}")
        picked += explore(self._item_list, lambda i: allowed(i) and i not in taken, n - len(picked), rng)
        if len(picked) < n:  # the draws gave up: take the rest in popularity order
            taken = set(picked)
            picked += [i for i in self._popularity() if allowed(i) and i not in taken][: n - len(picked)]
        return picked

    def _popularity(self) -> list[int]:
        """Every item, most interactions first (ties by id); rebuilt at most every POPULARITY_REFRESH_S."""
        now = self._monotonic()
        if self._popular_dirty and (now - self._popular_at >= POPULARITY_REFRESH_S or not self._popular):
            counts = self._counts
            self._popular = sorted(self._genres, key=lambda item: (-counts.get(item, 0), item))
            self._popular_dirty, self._popular_at = False, now
        return self._popular

    def _user(self, user_id: int) -> UserRecord:
        record = self._users.get(user_id)
        if record is None:
            record = self._users[user_id] = self._state.user(user_id)
        return record

    def _serving(self) -> _Version | None:
        """The serving version, unless it was trained before the last cleanup (then: none)."""
        now = self._monotonic()
        if now - self._resolved_at < self._config.refresh_s:
            return self._version
        try:
            meta = self._recstore.current()
            if meta is not None and _trained_at(meta) <= self._cleared_at:
                meta = None
            if meta is None:
                self._version = None
            elif self._version is None or self._version.meta.version != meta.version:
                self._version = self._load(meta)
        except (StoreUnavailable, UnknownVersion) as exc:
            log.warning("cannot resolve the serving version (%s); keeping the one before", exc)
        self._resolved_at = now
        return self._version

    def _load(self, meta: VersionMeta) -> _Version:
        films = self._recstore.films(meta.version)
        popular: tuple[int, ...] = ()
        cold = self._recstore.cold_start(meta.version) if meta.n_users else None
        if cold is not None:
            popular = tuple(item for item in map(self._film_items.get, cold.overall) if item is not None)
        log.info("serving version %s (model %s, %d users)", meta.version, meta.model_version, meta.n_users)
        return _Version(meta, films, popular)
