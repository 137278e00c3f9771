"""A real SQLite RecStore whose resumed writers fail on one block: for the Dask publishing tests,
whose workers (other processes) rebuild it from a pickle, so the failure is counted in a file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.domain import ColdStartLists
from recsys_common.ports.recstore import Indices, VersionMeta, VersionWriter


class InjectedFailure(RuntimeError):
    """The failure a FlakySqliteRecStore's writer raises."""


class FlakySqliteRecStore(SqliteRecStore):
    """``resume`` gives writers that fail on the block holding ``user``: ``failures`` times in all
    (counted in ``<path>.failures``, across processes), or on every try when ``failures`` is None."""

    def __init__(self, path: Path, user: str, failures: int | None) -> None:
        super().__init__(path)
        self._counter = Path(f"{path}.failures")
        self._user = user
        self._failures = failures

    def failed(self) -> int:
        return len(self._counter.read_text()) if self._counter.exists() else 0

    def resume(self, meta: VersionMeta) -> VersionWriter:
        return _FlakyWriter(super().resume(meta), self)

    def maybe_fail(self, user_ids: Sequence[str]) -> None:
        if self._user in user_ids and (self._failures is None or self.failed() < self._failures):
            with self._counter.open("a") as counter:
                counter.write("x")
            raise InjectedFailure(f"injected failure writing the block of {self._user}")


class _FlakyWriter:
    def __init__(self, writer: VersionWriter, store: FlakySqliteRecStore) -> None:
        self._writer = writer
        self._store = store

    @property
    def meta(self) -> VersionMeta:
        return self._writer.meta

    def put_block(
        self, user_ids: Sequence[str], must_watch: Indices, by_genre: Indices | None, reasons: Indices | None = None
    ) -> None:
        first = slice(0, 1)
        self._writer.put_block(
            user_ids[first],
            must_watch[first],
            None if by_genre is None else by_genre[first],
            None if reasons is None else reasons[first],
        )
        self._store.maybe_fail(user_ids)  # after a partial write, as a real failure may leave it
        self._writer.put_block(user_ids, must_watch, by_genre, reasons)

    def put_cold_start(self, lists: ColdStartLists) -> None:
        self._writer.put_cold_start(lists)

    def put_similar(self, similar: Indices) -> None:
        self._writer.put_similar(similar)

    def commit(self, users_elsewhere: int = 0) -> VersionMeta:
        return self._writer.commit(users_elsewhere)

    def abort(self) -> None:
        self._writer.abort()
