"""Catalog in an Elasticsearch index (production): index ``movies``, one document per film.

The mapping analyses title and description with English stemming, folded case and diacritics
(the same rules as the SQLite FTS5 catalogue), keeps genres as keywords (raw for the counts, a
lowercase sub-field for the filter) and ratings as numbers. The client connects on first use. The
ETL's state is kept in a JSON file (``state_file``; readers need none) together with the index's
uuid, so a recreated index is loaded again from scratch.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from recsys_common.domain import Film
from recsys_common.ports.catalog import (
    DEFAULT_SORT,
    Catalog,
    CatalogUnavailable,
    EtlState,
    FilmPage,
    GenreCount,
    SortOrder,
    check_page,
    search_terms,
)

DEFAULT_INDEX = "movies"
DEFAULT_TIMEOUT_S = 5.0
#: Elasticsearch's default ``index.max_result_window``: from + size may not exceed it.
MAX_RESULT_WINDOW = 10_000
#: More genres than any catalogue has: the terms aggregation returns them all.
MAX_GENRES = 1_000
#: A title match weighs this many times a description match.
TITLE_BOOST = 3
#: Films sent per bulk request.
BULK_CHUNK = 500
#: Films per page when reading the whole index.
SCAN_PAGE = 1_000
HTTP_SERVER_ERROR = 500

INDEX_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "analysis": {
        "filter": {
            "english_stop": {"type": "stop", "stopwords": "_english_"},
            "english_stemmer": {"type": "stemmer", "language": "english"},
            "english_possessive": {"type": "stemmer", "language": "possessive_english"},
        },
        "analyzer": {
            "film_text": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["english_possessive", "lowercase", "asciifolding", "english_stop", "english_stemmer"],
            }
        },
        "normalizer": {"folded": {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
    },
}

INDEX_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "film_id": {"type": "keyword"},
        "title": {"type": "text", "analyzer": "film_text", "fields": {"raw": {"type": "keyword"}}},
        "description": {"type": "text", "analyzer": "film_text"},
        "year": {"type": "integer"},
        "genres": {"type": "keyword", "fields": {"folded": {"type": "keyword", "normalizer": "folded"}}},
        "imdb_rating": {"type": "float"},
        "imdb_votes": {"type": "long"},
        "rt_rating": {"type": "float"},
    },
}

_SORT_FIELD: dict[SortOrder, tuple[str, str]] = {
    "-imdb_rating": ("imdb_rating", "desc"),
    "imdb_rating": ("imdb_rating", "asc"),
    "-year": ("year", "desc"),
    "year": ("year", "asc"),
}
_TIE_BREAK = {"film_id": {"order": "asc"}}


def _film(source: Mapping[str, Any]) -> Film:
    return Film(
        film_id=source["film_id"],
        title=source["title"],
        year=source.get("year"),
        genres=tuple(source.get("genres") or ()),
        imdb_rating=source.get("imdb_rating"),
        imdb_votes=source.get("imdb_votes"),
        rt_rating=source.get("rt_rating"),
        description=source.get("description") or "",
    )


def _document(film: Film) -> dict[str, Any]:
    return {
        "film_id": film.film_id,
        "title": film.title,
        "year": film.year,
        "genres": list(film.genres),
        "imdb_rating": film.imdb_rating,
        "imdb_votes": film.imdb_votes,
        "rt_rating": film.rt_rating,
        "description": film.description,
    }


def _index_missing(exc: ApiError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    return isinstance(error, dict) and error.get("type") == "index_not_found_exception"


class ElasticsearchCatalog(Catalog):
    """Catalog over one Elasticsearch index; thread-safe (the client pools connections)."""

    def __init__(
        self,
        url: str,
        state_file: Path | str | None = None,
        index: str = DEFAULT_INDEX,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._url = url
        self._state_file = None if state_file is None else Path(state_file)
        self._index = index
        self._timeout_s = timeout_s
        self._client: Elasticsearch | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ElasticsearchCatalog(index={self._index!r})"

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
            if _index_missing(exc):
                raise CatalogUnavailable(f"index {self._index!r} does not exist: run the ETL") from exc
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
        terms = search_terms(query)
        if terms is not None and not terms:
            return FilmPage((), 0)
        must: list[dict[str, Any]] = []
        if terms is not None and query is not None:
            must.append(
                {
                    "multi_match": {
                        "query": query,
                        "fields": [f"title^{TITLE_BOOST}", "description"],
                        "type": "cross_fields",
                        "operator": "and",
                    }
                }
            )
        filters = [] if genre is None else [{"term": {"genres.folded": genre}}]
        body_query = {"bool": {"must": must or [{"match_all": {}}], "filter": filters}}
        if sort is None and terms is not None:
            order: list[Any] = ["_score", _TIE_BREAK]
        else:
            field, direction = _SORT_FIELD[sort or DEFAULT_SORT]
            order = [{field: {"order": direction, "missing": "_last"}}, _TIE_BREAK]
        start = (page - 1) * size
        fits = start + size <= MAX_RESULT_WINDOW
        with self._errors():
            response = self._es().search(
                index=self._index,
                query=body_query,
                sort=order,
                from_=start if fits else 0,
                size=size if fits else 0,
                track_total_hits=True,
            )
        hits = response["hits"]
        return FilmPage(tuple(_film(hit["_source"]) for hit in hits["hits"]), int(hits["total"]["value"]))

    def get(self, film_id: str) -> Film | None:
        with self._errors():
            try:
                response = self._es().get(index=self._index, id=film_id)
            except NotFoundError as exc:
                if _index_missing(exc):
                    raise
                return None
        return _film(response["_source"])

    def get_many(self, film_ids: Sequence[str]) -> list[Film]:
        wanted = list(dict.fromkeys(film_ids))
        if not wanted:
            return []
        with self._errors():
            response = self._es().mget(index=self._index, ids=wanted)
        found: dict[str, Film] = {}
        for doc in response["docs"]:
            error = doc.get("error")
            if isinstance(error, dict) and error.get("type") == "index_not_found_exception":
                raise CatalogUnavailable(f"index {self._index!r} does not exist: run the ETL")
            if doc.get("found"):
                found[doc["_id"]] = _film(doc["_source"])
        return [found[i] for i in film_ids if i in found]

    def genres(self) -> list[GenreCount]:
        with self._errors():
            response = self._es().search(
                index=self._index,
                size=0,
                aggregations={"genres": {"terms": {"field": "genres", "size": MAX_GENRES}}},
            )
        buckets = response["aggregations"]["genres"]["buckets"]
        return sorted(GenreCount(b["key"], int(b["doc_count"])) for b in buckets)

    def films(self) -> Iterator[Film]:
        """Every film by film id, a page at a time (``search_after`` on the film id)."""
        after: list[Any] | None = None
        while True:
            with self._errors():
                response = self._es().search(
                    index=self._index,
                    query={"match_all": {}},
                    sort=[_TIE_BREAK],
                    size=SCAN_PAGE,
                    search_after=after,
                    track_total_hits=False,
                )
            hits = response["hits"]["hits"]
            yield from (_film(hit["_source"]) for hit in hits)
            if len(hits) < SCAN_PAGE:
                return
            after = hits[-1]["sort"]

    def ping(self) -> None:
        with self._errors():
            if not self._es().ping():
                raise CatalogUnavailable(f"Elasticsearch at {self._url} does not answer")
            count = self._es().count(index=self._index)["count"]
        if count == 0:
            raise CatalogUnavailable(f"index {self._index!r} holds no film yet: run the ETL")

    # ----- writer side -----
    def ensure_index(self) -> str:
        """Create the index with its mapping unless it exists; return its uuid."""
        es = self._es()
        with self._errors():
            if not es.indices.exists(index=self._index):
                try:
                    es.indices.create(index=self._index, settings=INDEX_SETTINGS, mappings=INDEX_MAPPINGS)
                except ApiError as exc:
                    body = exc.body if isinstance(exc.body, dict) else {}
                    error = body.get("error")
                    if not (isinstance(error, dict) and error.get("type") == "resource_already_exists_exception"):
                        raise
            return self._index_uuid()

    def _index_uuid(self) -> str:
        response = self._es().indices.get(index=self._index)
        settings = next(iter(response.values()))["settings"]
        return str(settings["index"]["uuid"])

    def upsert(self, films: Iterable[Film], state: EtlState | None = None) -> int:
        if state is not None and self._state_file is None:
            raise ValueError("this catalogue has no state file: give state_file to save the ETL state")
        uuid = self.ensure_index()
        actions = ({"_index": self._index, "_id": film.film_id, "_source": _document(film)} for film in films)
        with self._errors():
            written, _ = helpers.bulk(self._es(), actions, chunk_size=BULK_CHUNK, stats_only=True)
            self._es().indices.refresh(index=self._index)
        if state is not None:
            self._write_state(uuid, state)
        return int(written)

    def delete(self, film_ids: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(film_ids))
        if not wanted:
            return 0
        self.ensure_index()
        actions = ({"_op_type": "delete", "_index": self._index, "_id": film_id} for film_id in wanted)
        with self._errors():
            # A film that is not there answers 404: ignored, and not counted as removed.
            removed, _ = helpers.bulk(self._es(), actions, chunk_size=BULK_CHUNK, stats_only=True, ignore_status=404)
            self._es().indices.refresh(index=self._index)
        return int(removed)

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
