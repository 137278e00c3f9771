"""One engine cycle: read films and ratings -> skip when nothing is new -> train -> score -> publish.

The films are the catalogue's (the one film registry); the ratings are screened first: rows naming
a film the catalogue does not hold, or otherwise malformed, are left out, counted and logged, never
fatal. A cycle fails (``CycleError``) only when it cannot read or cannot publish; the previously
published version then keeps serving. A version records the rating watermark and a digest of the
catalogue it was built from, so a new rating or any change of the catalogue makes the next cycle run.

The cycle depends on ports only (RatingSource, RecStore) and on plain callables; the
composition root (``bootstrap.py``) wires the adapters.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from recommender_engine.gate import GateConfig, Verdict, judge
from recommender_engine.lists import cold_start_lists, genre_groups, personal_lists, put_list_block
from recommender_engine.model.artefact import save_artefact
from recommender_engine.model.dataset import Dataset, build_dataset, screen_ratings
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recommender_engine.ranking import GenreIndex
from recommender_engine.similar import similar_films
from recsys_common.columns import Columns
from recsys_common.listcodec import ListLayout
from recsys_common.ports.catalog import CatalogUnavailable
from recsys_common.ports.ratings import RatingSource, RatingSourceError
from recsys_common.ports.recstore import RecAdmin, RecPublisher, StoreUnavailable, VersionMeta

if TYPE_CHECKING:  # importing Dask costs a second; only a deployment that sets its scheduler does
    from recommender_engine.distributed import DaskPublisher

log = logging.getLogger(__name__)

#: model_version of a version published with no ratings at all (cold-start lists only).
COLD_START_ONLY = "cold-start-only"
ARTEFACT_SUFFIX = ".artefact"
#: Hex characters of the catalogue digest a version records.
DIGEST_CHARS = 16


class ListConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    must_watch_len: int = Field(100, ge=1, le=1000)
    genre_len: int = Field(20, ge=1, le=200)
    cold_start_len: int = Field(100, ge=1, le=1000)
    block_size: int = Field(2048, ge=1)
    score_threads: int = Field(2, ge=1)
    keep_versions: int = Field(3, ge=1)
    grace_seconds: float = Field(3600.0, ge=0)


class CycleError(RuntimeError):
    """The cycle could not publish; the previously published version keeps serving."""


class NoFilms(CycleError):
    """The catalogue holds no film yet: nothing can be trained or published."""


@dataclass(frozen=True)
class CycleResult:
    status: Literal["published", "skipped", "refused"]
    version: str | None
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    #: Rating rows left out of training, by reason (``model.dataset.screen_ratings``).
    left_out: dict[str, int] = field(default_factory=dict)


def catalogue_digest(films: pd.DataFrame) -> str:
    """A short digest of every film's id and attributes: changes whenever a film is added, changed or removed."""
    canonical = films.assign(**{Columns.Genres: films[Columns.Genres].map("|".join)})
    hashes = pd.util.hash_pandas_object(canonical, index=False).to_numpy()
    return hashlib.sha256(hashes.tobytes()).hexdigest()[:DIGEST_CHARS]


class CycleJournal:
    """Append-only JSON lines of cycle outcomes (for ``status`` and operators)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, entry: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, sort_keys=True) + "\n")

    def entries(self) -> list[dict[str, object]]:
        """Every recorded cycle, oldest first (a line that is not JSON, e.g. cut by a crash, is skipped)."""
        if not self.path.exists():
            return []
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    def tail(self, count: int) -> list[dict[str, object]]:
        return self.entries()[-count:]


def _utc_stamp(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def utc_iso(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


class PublishingStore(RecPublisher, RecAdmin, Protocol):
    """The RecStore roles a cycle uses: publishing a version, dropping and pruning old ones."""


class Engine:
    def __init__(
        self,
        ratings: RatingSource,
        store: PublishingStore,
        films: Callable[[], pd.DataFrame],
        lists: ListConfig,
        model: ModelConfig,
        artefact_dir: Path,
        journal: CycleJournal,
        progress: bool = False,
        gate: GateConfig | None = None,
        model_factory: Callable[[ModelConfig], HybridModel] = HybridModel,
        dask: DaskPublisher | None = None,
    ) -> None:
        self._ratings = ratings
        self._store = store
        self._films = films
        self._lists = lists
        self._model = model
        self._artefact_dir = artefact_dir
        self._journal = journal
        self._progress = progress
        self._gate = gate if gate is not None else GateConfig()
        self._new_model = model_factory
        self._dask = dask  # score and write the users' lists on a Dask cluster; None: in-process
        #: The model configuration changed since the last published or refused cycle.
        self._model_changed = False

    @property
    def journal(self) -> CycleJournal:
        return self._journal

    @property
    def model(self) -> ModelConfig:
        return self._model

    def use_model(self, model: ModelConfig) -> bool:
        """Train the next cycles with ``model`` (e.g. a new tuning winner); a change makes the next cycle
        train (and the gate judge) even when no rating is new. Returns whether it changed."""
        if model == self._model:
            return False
        self._model = model
        self._model_changed = True
        return True

    def run_cycle(self, force: bool = False) -> CycleResult:
        """Run one cycle; raise CycleError (after recording it) when nothing could be published."""
        started = time.time()
        try:
            try:
                result = self._run(force, started)
            except (RatingSourceError, StoreUnavailable, CatalogUnavailable) as exc:
                raise CycleError(f"{type(exc).__name__}: {exc}") from exc
        except CycleError as exc:
            self._journal.record({"at": utc_iso(started), "status": "failed", "error": str(exc)})
            raise
        self._journal.record({"at": utc_iso(started), **asdict(result)})
        return result

    def _load_films(self) -> pd.DataFrame:
        try:
            films = self._films()
        except (OSError, ValueError) as exc:
            raise CycleError(f"cannot load the films catalogue: {exc}") from exc
        if films.empty:
            raise NoFilms("the catalogue holds no film: run `recsys data` (or the movies ETL) first")
        return films.sort_values(Columns.Item, kind="stable").reset_index(drop=True)

    def _run(self, force: bool, started: float) -> CycleResult:
        abandoned = self._store.drop_pending()
        if abandoned:
            log.warning("removed %d version(s) an earlier publish left half-written: %s", len(abandoned), abandoned)
        watermark = self._ratings.watermark()
        films = self._load_films()
        digest = catalogue_digest(films)
        current = self._store.current()
        unchanged = current is not None and (current.watermark, current.catalog_digest) == (watermark, digest)
        if not force and not self._model_changed and unchanged:
            assert current is not None
            log.info("nothing new since watermark %d (version %s); cycle skipped", watermark, current.version)
            return CycleResult(
                "skipped", current.version, reason=f"no new rating since watermark {watermark}, catalogue unchanged"
            )

        version = f"{_utc_stamp(started)}-{uuid.uuid4().hex[:8]}"
        timings: dict[str, float] = {}
        tick = time.perf_counter()
        screened = screen_ratings(self._ratings.read_all(), films[Columns.Item])
        for reason, rows in screened.left_out.items():
            log.warning(
                "%d rating(s) left out of training (%s), e.g. %s", rows, reason, ", ".join(screened.examples[reason])
            )
        dataset = build_dataset(screened.ratings, films)
        timings["read_seconds"] = time.perf_counter() - tick

        verdict = self._judge(force, current, screened.ratings, films, dataset.n_users, timings)
        if not verdict.passed:
            assert current is not None
            self._model_changed = False  # judged with this model: a skip may follow again
            log.warning("the new model is refused, %s keeps serving: %s", current.version, verdict.reason)
            return CycleResult(
                "refused", current.version, reason=verdict.reason, metrics=verdict.figures, left_out=screened.left_out
            )

        model_version = COLD_START_ONLY
        model: HybridModel | None = None
        if dataset.n_users:
            tick = time.perf_counter()
            model = self._fit(dataset)
            timings["fit_seconds"] = time.perf_counter() - tick
            model_version = save_artefact(
                model,
                dataset,
                self._artefact_dir / f"model-{version}{ARTEFACT_SUFFIX}",
                {"watermark": watermark, "catalog_digest": digest},
            )
        counts = {
            "ratings": float(dataset.n_ratings),
            "ratings_left_out": float(screened.n_left_out),
            "films_unrated": float(dataset.n_films - np.count_nonzero(dataset.matrix.getnnz(axis=0))),
            **verdict.figures,
        }
        tick = time.perf_counter()
        meta = self._publish(version, dataset, model, model_version, watermark, digest, started, {**counts, **timings})
        timings["publish_seconds"] = time.perf_counter() - tick
        self._model_changed = False
        pruned = self._store.prune(self._lists.keep_versions, self._lists.grace_seconds)
        if pruned:
            log.info("pruned versions %s", pruned)
        self._prune_artefacts()
        metrics = {**meta.metrics, **timings, "users": float(dataset.n_users), "films": float(dataset.n_films)}
        return CycleResult(
            "published", meta.version, reason=f"gate: {verdict.reason}", metrics=metrics, left_out=screened.left_out
        )

    def _fit(self, dataset: Dataset) -> HybridModel:
        """A new model fitted on ``dataset``; with progress on, a bar of its epochs on a terminal
        (tqdm's ``disable=None``), nothing in logs or pipes."""
        disable: bool | None = None if self._progress else True
        with tqdm(total=self._model.epochs, unit="epoch", desc="fit", disable=disable) as bar:
            return self._new_model(self._model).fit(dataset, on_epoch=lambda done, total: bar.update(1))

    def _judge(
        self,
        force: bool,
        current: VersionMeta | None,
        ratings: pd.DataFrame,
        films: pd.DataFrame,
        n_users: int,
        timings: dict[str, float],
    ) -> Verdict:
        """The quality gate's verdict on a new model (``gate.judge``), or why it did not judge."""
        if not self._gate.enabled:
            return Verdict(False, True, "off")
        if current is None or not n_users:
            return Verdict(False, True, "nothing serving to compare with")
        if force:
            return Verdict(False, True, "overridden by --force")
        tick = time.perf_counter()
        verdict = judge(
            self._gate,
            ratings,
            self._ratings.read_since(current.watermark),
            films,
            self._artefact_dir / f"model-{current.version}{ARTEFACT_SUFFIX}",
            lambda: self._new_model(self._model),
        )
        timings["gate_seconds"] = time.perf_counter() - tick
        log.info("quality gate: %s", verdict.reason)
        return verdict

    def _prune_artefacts(self) -> None:
        """Keep the newest ``keep_versions`` model artefacts."""
        artefacts = sorted(self._artefact_dir.glob(f"*{ARTEFACT_SUFFIX}"), key=lambda path: path.stat().st_mtime_ns)
        for old in artefacts[: -self._lists.keep_versions]:
            old.unlink()

    def _publish(
        self,
        version: str,
        dataset: Dataset,
        model: HybridModel | None,
        model_version: str,
        watermark: int,
        digest: str,
        started: float,
        metrics: dict[str, float],
    ) -> VersionMeta:
        genres, groups = genre_groups(dataset.films)
        cfg = self._lists
        layout = ListLayout.for_catalogue(dataset.n_films, cfg.must_watch_len, cfg.genre_len, genres, reasons=True)
        meta = VersionMeta(
            version=version,
            model_version=model_version,
            trained_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            layout=layout,
            watermark=watermark,
            catalog_digest=digest,
            metrics=metrics,
        )
        writer = self._store.begin(meta, [str(f) for f in dataset.film_ids])
        users_elsewhere = 0
        try:
            if model is not None and self._dask is not None:
                users_elsewhere = self._dask.publish(
                    writer.meta,
                    model,
                    dataset.matrix,
                    GenreIndex(groups, dataset.n_films),
                    [str(u) for u in dataset.user_ids],
                    (cfg.must_watch_len, cfg.genre_len),
                    cfg.block_size,
                )
            elif model is not None:
                blocks = personal_lists(
                    model.score_block,
                    dataset.matrix,
                    GenreIndex(groups, dataset.n_films),
                    cfg.must_watch_len,
                    cfg.genre_len,
                    cfg.block_size,
                    cfg.score_threads,
                    model.reasons,
                )
                bar = tqdm(total=dataset.n_users, unit="user", desc="score+publish", disable=not self._progress)
                for block in blocks:
                    user_ids = [str(u) for u in dataset.user_ids[block.users]]
                    put_list_block(writer, user_ids, block)
                    bar.update(len(user_ids))
                bar.close()
            if model is not None:
                writer.put_similar(similar_films(model))
            popularity = dataset.matrix.getnnz(axis=0).astype(np.float64)  # ratings per film
            writer.put_cold_start(cold_start_lists(dataset.films, cfg.cold_start_len, popularity))
            return writer.commit(users_elsewhere)
        except BaseException as exc:
            try:
                writer.abort()
            except StoreUnavailable as abort_exc:
                log.warning("could not drop pending version %s (%s); prune removes it later", version, abort_exc)
            if isinstance(exc, Exception):
                raise CycleError(f"publish of {version} failed, previous version keeps serving: {exc}") from exc
            raise
