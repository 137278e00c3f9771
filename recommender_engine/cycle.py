"""One engine cycle: read ratings -> skip when nothing is new -> train -> score -> publish.

The cycle depends on ports only (RatingSource, RecStore) and on plain callables; the
composition root (``bootstrap.py``) wires the adapters.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from recommender_engine.lists import cold_start_lists, genre_groups, personal_lists
from recommender_engine.model.artefact import save_artefact
from recommender_engine.model.dataset import Dataset, build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recommender_engine.ranking import GenreIndex
from recsys_common.listcodec import ListLayout
from recsys_common.ports.ratings import RatingSource, RatingSourceError
from recsys_common.ports.recstore import RecStore, StoreUnavailable, VersionMeta

log = logging.getLogger(__name__)

#: model_version of a version published with no ratings at all (cold-start lists only).
COLD_START_ONLY = "cold-start-only"
ARTEFACT_SUFFIX = ".artefact"


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


@dataclass(frozen=True)
class CycleResult:
    status: Literal["published", "skipped"]
    version: str | None
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


class CycleJournal:
    """Append-only JSON lines of cycle outcomes (for ``status`` and operators)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, entry: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, sort_keys=True) + "\n")

    def tail(self, count: int) -> list[dict[str, object]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()[-count:]
        return [json.loads(line) for line in lines if line.strip()]


def _utc_stamp(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


class Engine:
    def __init__(
        self,
        ratings: RatingSource,
        store: RecStore,
        films: Callable[[], pd.DataFrame],
        lists: ListConfig,
        model: ModelConfig,
        artefact_dir: Path,
        journal: CycleJournal,
        progress: bool = False,
    ) -> None:
        self._ratings = ratings
        self._store = store
        self._films = films
        self._lists = lists
        self._model = model
        self._artefact_dir = artefact_dir
        self._journal = journal
        self._progress = progress

    @property
    def journal(self) -> CycleJournal:
        return self._journal

    def run_cycle(self, force: bool = False) -> CycleResult:
        """Run one cycle; raise CycleError (after recording it) when nothing could be published."""
        started = time.time()
        try:
            try:
                result = self._run(force, started)
            except (RatingSourceError, StoreUnavailable) as exc:
                raise CycleError(f"{type(exc).__name__}: {exc}") from exc
        except CycleError as exc:
            self._journal.record({"at": _utc_stamp(started), "status": "failed", "error": str(exc)})
            raise
        self._journal.record({"at": _utc_stamp(started), **asdict(result)})
        return result

    def _run(self, force: bool, started: float) -> CycleResult:
        watermark = self._ratings.watermark()
        current = self._store.current()
        if not force and current is not None and current.watermark == watermark:
            log.info("nothing new since watermark %d (version %s); cycle skipped", watermark, current.version)
            return CycleResult("skipped", current.version, reason=f"no rating since watermark {watermark}")

        version = f"{_utc_stamp(started)}-{uuid.uuid4().hex[:8]}"
        timings: dict[str, float] = {}
        tick = time.perf_counter()
        ratings = self._ratings.read_all()
        try:
            films = self._films()
        except (OSError, ValueError) as exc:
            raise CycleError(f"cannot load the films catalogue: {exc}") from exc
        if films.empty:
            raise CycleError("the films catalogue is empty: run `recsys data` first")
        try:
            dataset = build_dataset(ratings, films)
        except ValueError as exc:
            raise CycleError(f"bad ratings: {exc}") from exc
        timings["read_seconds"] = time.perf_counter() - tick

        model_version = COLD_START_ONLY
        model: HybridModel | None = None
        if dataset.n_users:
            tick = time.perf_counter()
            model = HybridModel(self._model).fit(dataset)
            timings["fit_seconds"] = time.perf_counter() - tick
            model_version = save_artefact(
                model,
                dataset,
                self._artefact_dir / f"model-{version}{ARTEFACT_SUFFIX}",
                {"watermark": watermark},
            )
        tick = time.perf_counter()
        meta = self._publish(version, dataset, model, model_version, watermark, started, timings)
        timings["publish_seconds"] = time.perf_counter() - tick
        pruned = self._store.prune(self._lists.keep_versions, self._lists.grace_seconds)
        if pruned:
            log.info("pruned versions %s", pruned)
        self._prune_artefacts()
        metrics = {**meta.metrics, **timings, "users": float(dataset.n_users), "films": float(dataset.n_films)}
        return CycleResult("published", meta.version, metrics=metrics)

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
        started: float,
        timings: dict[str, float],
    ) -> VersionMeta:
        genres, groups = genre_groups(dataset.films)
        cfg = self._lists
        layout = ListLayout.for_catalogue(dataset.n_films, cfg.must_watch_len, cfg.genre_len, genres)
        meta = VersionMeta(
            version=version,
            model_version=model_version,
            trained_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            layout=layout,
            watermark=watermark,
            metrics={"ratings": float(dataset.n_ratings), **timings},
        )
        writer = self._store.begin(meta, [str(f) for f in dataset.film_ids])
        try:
            if model is not None:
                blocks = personal_lists(
                    model.score_block,
                    dataset.matrix,
                    GenreIndex(groups, dataset.n_films),
                    cfg.must_watch_len,
                    cfg.genre_len,
                    cfg.block_size,
                    cfg.score_threads,
                )
                bar = tqdm(total=dataset.n_users, unit="user", desc="score+publish", disable=not self._progress)
                for block in blocks:
                    user_ids = [str(u) for u in dataset.user_ids[block.users]]
                    writer.put_block(user_ids, block.must_watch, block.by_genre)
                    bar.update(len(user_ids))
                bar.close()
            writer.put_cold_start(cold_start_lists(dataset.films, cfg.cold_start_len))
            return writer.commit()
        except BaseException as exc:
            try:
                writer.abort()
            except StoreUnavailable as abort_exc:
                log.warning("could not drop pending version %s (%s); prune removes it later", version, abort_exc)
            if isinstance(exc, Exception):
                raise CycleError(f"publish of {version} failed, previous version keeps serving: {exc}") from exc
            raise
