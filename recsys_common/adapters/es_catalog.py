"""Catalog in Elasticsearch (production): indices ``movies``, ``genres`` and ``persons`` in the
standard layout (``es_layout``), so the course's services read our indices and we read theirs.

Reading: the layout of the ``movies`` index (which genre variant, which of our extra fields, which
people fields) and of the ``persons`` index (``full_name`` or ``name``) is read from the mappings
once per client and shapes every query; an index a standard ETL wrote is read as it is (missing
fields read as unknown), our first layout (``film_id``) is refused until the ETL rebuilds it.

Writing: our writer creates the three indices (``_meta`` records the layout version), rebuilds
older ones of ours (a derived store; the ETL state resets with the new index uuid) and refuses to
write into another ETL's. Each bulk of films also rewrites the ``persons`` documents of the people
the films credit or credited (found with one nested query on ``films.id``), and afterwards the
``genres`` index is made to hold exactly the genres of some film. One writer at a time (the seed
step or the ETL) is assumed: two concurrent writers may lose each other's person credits.

The ETL's state is kept in a JSON file (``state_file``; readers need none) together with the
``movies`` index's uuid, so a recreated index is loaded again from scratch. The client connects on
first use.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from recsys_common.adapters.es_layout import (
    GENRES_MAPPINGS,
    INDEX_SETTINGS,
    MAX_GENRES,
    MAX_RESULT_WINDOW,
    MOVIES_MAPPINGS,
    OUR_MOVIES_LAYOUT,
    PERSONS_MAPPINGS,
    TIE_BREAK,
    ForeignIndex,
    IndexPlan,
    MoviesLayout,
    PersonsLayout,
    UnreadableIndex,
    film_document,
    film_from_source,
    genre_counts,
    genre_ids_by_name,
    genre_sync,
    genres_aggregation,
    index_plan,
    index_version,
    movies_layout,
    person_documents,
    person_films_query,
    person_from_source,
    persons_layout,
    persons_search_request,
    persons_touching_query,
    search_request,
    sort_clause,
)
from recsys_common.domain import ROLES, Film, Person
from recsys_common.ports.catalog import (
    Catalog,
    CatalogUnavailable,
    EtlState,
    FilmPage,
    GenreCount,
    PersonPage,
    SortOrder,
    check_page,
)

log = logging.getLogger(__name__)

DEFAULT_INDEX = "movies"
DEFAULT_GENRES_INDEX = "genres"
DEFAULT_PERSONS_INDEX = "persons"
DEFAULT_TIMEOUT_S = 5.0
#: Films sent per bulk request (their people's documents are rewritten with them).
BULK_CHUNK = 500
#: Documents per page when reading a whole index (``search_after``).
SCAN_PAGE = 1_000
#: The most films ``person_films`` returns (Elasticsearch's default result window): more than anybody's.
PERSON_FILMS_LIMIT = MAX_RESULT_WINDOW
HTTP_SERVER_ERROR = 500
#: What to run to fill a rebuilt catalogue (named by CatalogUnavailable).
REBUILD_HINT = "run `recsys data` (seed films) or the ETL (`python -m movies_db etl`)"


def _error_type(exc: ApiError) -> tuple[str | None, str | None]:
    """(error type, index named) of an Elasticsearch error answer."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if not isinstance(error, dict):
        return None, None
    return error.get("type"), error.get("index")


def _index_missing(exc: ApiError) -> bool:
    return _error_type(exc)[0] == "index_not_found_exception"


def _chunks(items: Iterable[Film], size: int) -> Iterator[list[Film]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class ElasticsearchCatalog(Catalog):
    """Catalog over the ``movies``, ``genres`` and ``persons`` indices; thread-safe (the client
    pools connections)."""

    def __init__(
        self,
        url: str,
        state_file: Path | str | None = None,
        index: str = DEFAULT_INDEX,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        genres_index: str = DEFAULT_GENRES_INDEX,
        persons_index: str = DEFAULT_PERSONS_INDEX,
    ) -> None:
        self._url = url
        self._state_file = None if state_file is None else Path(state_file)
        self._index = index
        self._genres_index = genres_index
        self._persons_index = persons_index
        self._timeout_s = timeout_s
        self._client: Elasticsearch | None = None
        self._movies_layout: MoviesLayout | None = None
        self._persons_layout: PersonsLayout | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"ElasticsearchCatalog(index={self._index!r}, genres_index={self._genres_index!r}, "
            f"persons_index={self._persons_index!r})"
        )

    # ----- connection -----
    def _es(self) -> Elasticsearch:
        with self._lock:
            if self._client is None:
                self._client = Elasticsearch(self._url, request_timeout=self._timeout_s)
            return self._client

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn an unreachable server, a missing index or a server error into CatalogUnavailable."""
        try:
            yield
        except ApiError as exc:
            kind, index = _error_type(exc)
            if kind == "index_not_found_exception":
                raise CatalogUnavailable(f"index {index or self._index!r} does not exist: {REBUILD_HINT}") from exc
            if exc.meta.status >= HTTP_SERVER_ERROR:
                raise CatalogUnavailable(f"Elasticsearch error on index {self._index!r}: {exc}") from exc
            raise
        except TransportError as exc:
            raise CatalogUnavailable(f"cannot reach Elasticsearch: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            self._forget_layouts()

    def _forget_layouts(self) -> None:
        self._movies_layout = None
        self._persons_layout = None

    def _mappings(self, index: str) -> Mapping[str, Any]:
        """The mappings of an index (raising CatalogUnavailable when it does not exist)."""
        with self._errors():
            response = self._es().indices.get_mapping(index=index)
        return dict(next(iter(response.body.values()))["mappings"])

    def _layout(self) -> MoviesLayout:
        """The ``movies`` index's layout, read from its mappings once per client."""
        layout = self._movies_layout
        if layout is None:
            mappings = self._mappings(self._index)
            try:
                layout = movies_layout(mappings)
            except UnreadableIndex as exc:
                raise CatalogUnavailable(f"cannot read index {self._index!r}: {exc}; {REBUILD_HINT}") from exc
            if index_version(mappings) is None:
                log.info("index %r was written by another ETL: %s", self._index, layout.describe())
            self._movies_layout = layout
        return layout

    def _people_layout(self) -> PersonsLayout:
        """The ``persons`` index's layout, read from its mappings once per client."""
        layout = self._persons_layout
        if layout is None:
            layout = self._persons_layout = persons_layout(self._mappings(self._persons_index))
        return layout

    def _scan(self, index: str, query: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """The ``_source`` of every document matching ``query`` by ``id``, a page at a time with
        ``search_after``."""
        after: list[Any] | None = None
        while True:
            with self._errors():
                response = self._es().search(
                    index=index,
                    query=query,
                    sort=[TIE_BREAK],
                    size=SCAN_PAGE,
                    search_after=after,
                    track_total_hits=False,
                )
            hits = response["hits"]["hits"]
            yield from (hit["_source"] for hit in hits)
            if len(hits) < SCAN_PAGE:
                return
            after = hits[-1]["sort"]

    # ----- reader side -----
    def search(
        self,
        query: str | None = None,
        genre: str | None = None,
        sort: SortOrder | None = None,
        page: int = 1,
        size: int = 20,
    ) -> FilmPage:
        check_page(page, size)
        request = search_request(query, genre, sort, page, size, self._layout())
        if request is None:
            return FilmPage((), 0)
        with self._errors():
            response = self._es().search(index=self._index, **request)
        hits = response["hits"]
        return FilmPage(tuple(film_from_source(hit["_source"]) for hit in hits["hits"]), int(hits["total"]["value"]))

    def get(self, film_id: str) -> Film | None:
        self._layout()
        with self._errors():
            try:
                response = self._es().get(index=self._index, id=film_id)
            except NotFoundError as exc:
                if _index_missing(exc):
                    raise
                return None
        return film_from_source(response["_source"])

    def get_many(self, film_ids: Sequence[str]) -> list[Film]:
        wanted = list(dict.fromkeys(film_ids))
        if not wanted:
            return []
        self._layout()
        with self._errors():
            response = self._es().mget(index=self._index, ids=wanted)
        found: dict[str, Film] = {}
        for doc in response["docs"]:
            error = doc.get("error")
            if isinstance(error, dict) and error.get("type") == "index_not_found_exception":
                raise CatalogUnavailable(f"index {self._index!r} does not exist: {REBUILD_HINT}")
            if doc.get("found"):
                found[doc["_id"]] = film_from_source(doc["_source"])
        return [found[i] for i in film_ids if i in found]

    def genres(self) -> list[GenreCount]:
        layout = self._layout()
        aggregation = genres_aggregation(layout)
        if aggregation is None:
            return []
        with self._errors():
            response = self._es().search(index=self._index, size=0, aggregations=aggregation)
        ids_by_name = {} if layout.genres_nested else self._genre_ids_by_name()
        return genre_counts(response["aggregations"], layout, ids_by_name)

    def _genre_ids_by_name(self) -> dict[str, str]:
        """Genre ids by name from the ``genres`` index; empty when there is none (ids are derived)."""
        with self._errors():
            try:
                response = self._es().search(index=self._genres_index, size=MAX_GENRES)
            except NotFoundError as exc:
                if _index_missing(exc):
                    return {}
                raise
        return genre_ids_by_name(hit["_source"] for hit in response["hits"]["hits"])

    def films(self) -> Iterator[Film]:
        """Every film by film id, a page at a time (``search_after`` on ``id``)."""
        self._layout()
        for source in self._scan(self._index, {"match_all": {}}):
            yield film_from_source(source)

    def ping(self) -> None:
        with self._errors():
            if not self._es().ping():
                raise CatalogUnavailable(f"Elasticsearch at {self._url} does not answer")
        self._layout()
        with self._errors():
            count = self._es().count(index=self._index)["count"]
        if count == 0:
            raise CatalogUnavailable(f"index {self._index!r} holds no film yet: run the ETL")

    # ----- people -----
    def search_persons(self, query: str, page: int = 1, size: int = 20) -> PersonPage:
        check_page(page, size)
        layout = self._people_layout()
        request = persons_search_request(query, page, size, layout)
        if request is None:
            return PersonPage((), 0)
        with self._errors():
            response = self._es().search(index=self._persons_index, **request)
        hits = response["hits"]
        persons = tuple(person_from_source(hit["_source"], layout) for hit in hits["hits"])
        return PersonPage(persons, int(hits["total"]["value"]))

    def person(self, person_id: str) -> Person | None:
        layout = self._people_layout()
        with self._errors():
            try:
                response = self._es().get(index=self._persons_index, id=person_id)
            except NotFoundError as exc:
                if _index_missing(exc):
                    raise
                return None
        return person_from_source(response["_source"], layout)

    def person_films(self, person_id: str) -> list[Film]:
        query = person_films_query(person_id, self._layout())
        if query is None:
            return []
        # One page: nobody is credited on more films (and search_after would have to send back the
        # +/-Infinity sort values of films without a rating).
        with self._errors():
            response = self._es().search(
                index=self._index,
                query=query,
                sort=sort_clause("-imdb_rating"),
                size=PERSON_FILMS_LIMIT,
                track_total_hits=False,
            )
        return [film_from_source(hit["_source"]) for hit in response["hits"]["hits"]]

    # ----- writer side -----
    def ensure_indices(self) -> str:
        """Make the three indices ours and current (create them, or rebuild older ones of ours);
        return the ``movies`` index's uuid. CatalogUnavailable for an index another ETL wrote."""
        indices = {
            self._index: MOVIES_MAPPINGS,
            self._genres_index: GENRES_MAPPINGS,
            self._persons_index: PERSONS_MAPPINGS,
        }
        found = {name: self._mappings_or_none(name) for name in indices}
        try:
            plan = index_plan(found)
        except ForeignIndex as exc:
            raise CatalogUnavailable(f"cannot write the catalogue: {exc}") from exc
        if plan is not IndexPlan.KEEP:
            es = self._es()
            if plan is IndexPlan.REBUILD:
                log.warning(
                    "Elasticsearch catalogue: rebuilding the indices %s in the current layout (found: %s); "
                    "the films written before are dropped: %s",
                    ", ".join(indices),
                    ", ".join(
                        f"{name} {'missing' if m is None else 'v' + str(index_version(m))}" for name, m in found.items()
                    ),
                    REBUILD_HINT,
                )
                with self._errors():
                    es.indices.delete(index=[name for name, m in found.items() if m is not None])
            with self._errors():
                for name, mappings in indices.items():
                    self._create(name, mappings)
            self._forget_layouts()
        with self._errors():
            return self._index_uuid()

    def _mappings_or_none(self, index: str) -> Mapping[str, Any] | None:
        with self._errors():
            try:
                response = self._es().indices.get_mapping(index=index)
            except NotFoundError as exc:
                if _index_missing(exc):
                    return None
                raise
        return dict(next(iter(response.body.values()))["mappings"])

    def _create(self, index: str, mappings: Mapping[str, Any]) -> None:
        try:
            self._es().indices.create(index=index, settings=INDEX_SETTINGS, mappings=mappings)
        except ApiError as exc:
            if _error_type(exc)[0] != "resource_already_exists_exception":  # another writer was first
                raise

    def _index_uuid(self) -> str:
        response = self._es().indices.get(index=self._index)
        settings = next(iter(response.values()))["settings"]
        return str(settings["index"]["uuid"])

    def _refresh(self, *indices: str) -> None:
        with self._errors():
            self._es().indices.refresh(index=list(indices))

    def upsert(self, films: Iterable[Film], state: EtlState | None = None) -> int:
        if state is not None and self._state_file is None:
            raise ValueError("this catalogue has no state file: give state_file to save the ETL state")
        uuid = self.ensure_indices()
        written = 0
        for chunk in _chunks(films, BULK_CHUNK):
            actions = ({"_index": self._index, "_id": f.film_id, "_source": film_document(f)} for f in chunk)
            with self._errors():
                done, _ = helpers.bulk(self._es(), actions, chunk_size=BULK_CHUNK, stats_only=True)
            written += int(done)
            self._rewrite_persons({f.film_id for f in chunk}, chunk)
        self._sync_genres()
        if state is not None:
            self._write_state(uuid, state)
        return written

    def delete(self, film_ids: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(film_ids))
        if not wanted:
            return 0
        self.ensure_indices()
        removed = 0
        for start in range(0, len(wanted), BULK_CHUNK):
            chunk = wanted[start : start + BULK_CHUNK]
            actions = ({"_op_type": "delete", "_index": self._index, "_id": film_id} for film_id in chunk)
            with self._errors():
                # A film that is not there answers 404: ignored, and not counted as removed.
                done, _ = helpers.bulk(self._es(), actions, chunk_size=BULK_CHUNK, stats_only=True, ignore_status=404)
            removed += int(done)
            self._rewrite_persons(set(chunk), [])
        self._sync_genres()
        return removed

    def _rewrite_persons(self, touched: set[str], films: Sequence[Film]) -> None:
        """Bring the ``persons`` documents in step with films just written (or deleted: none), then
        refresh, so the next bulk's nested query sees them."""
        credited = {p.person_id for f in films for role in ROLES for p in f.persons(role)}
        current = list(self._scan(self._persons_index, persons_touching_query(touched, credited)))
        documents, gone = person_documents(current, touched, films)
        actions: list[dict[str, Any]] = [
            {"_index": self._persons_index, "_id": doc["id"], "_source": doc} for doc in documents
        ]
        actions += [{"_op_type": "delete", "_index": self._persons_index, "_id": person_id} for person_id in gone]
        if actions:
            with self._errors():
                helpers.bulk(self._es(), actions, chunk_size=BULK_CHUNK, stats_only=True, ignore_status=404)
        self._refresh(self._index, self._persons_index)

    def _sync_genres(self) -> None:
        """Make the ``genres`` index hold exactly the genres of some film (ids and names from the films)."""
        aggregation = genres_aggregation(OUR_MOVIES_LAYOUT)
        assert aggregation is not None  # our layout maps both genre variants
        with self._errors():
            response = self._es().search(index=self._index, size=0, aggregations=aggregation)
            current = self._es().search(index=self._genres_index, size=MAX_GENRES)
        counts = genre_counts(response["aggregations"], OUR_MOVIES_LAYOUT, {})
        writes, gone = genre_sync((hit["_source"] for hit in current["hits"]["hits"]), counts)
        actions: list[dict[str, Any]] = [
            {"_index": self._genres_index, "_id": doc["id"], "_source": doc} for doc in writes
        ]
        actions += [{"_op_type": "delete", "_index": self._genres_index, "_id": genre_id} for genre_id in gone]
        if actions:
            with self._errors():
                helpers.bulk(self._es(), actions, chunk_size=BULK_CHUNK, stats_only=True, ignore_status=404)
            self._refresh(self._genres_index)

    def etl_state(self) -> EtlState | None:
        if self._state_file is None:
            return None
        try:
            text = self._state_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CatalogUnavailable(f"cannot read the ETL state {self._state_file}: {exc}") from exc
        try:
            raw = json.loads(text)
            saved_uuid, state = raw["index_uuid"], EtlState.from_json(json.dumps(raw["state"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CatalogUnavailable(f"the ETL state {self._state_file} is not valid: {exc}") from exc
        with self._errors():
            if not self._es().indices.exists(index=self._index) or self._index_uuid() != saved_uuid:
                return None
        return state

    def _write_state(self, index_uuid: str, state: EtlState) -> None:
        if self._state_file is None:
            raise ValueError("this catalogue has no state file: give state_file to save the ETL state")
        text = json.dumps({"index_uuid": index_uuid, "state": json.loads(state.to_json())})
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._state_file.parent, prefix=self._state_file.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self._state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
