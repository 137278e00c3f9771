"""The Elasticsearch catalogue's indices in the standard layout: mappings, documents, query bodies.

Only values and pure functions (no client), so every one of them is checked offline;
``es_catalog`` sends them to the server.

The layout is the one the well-known course's ETL writes, so its services and ours read each
other's indices:

- ``movies``: ``id`` keyword, ``title`` text with a ``raw`` keyword sub-field, ``description`` text,
  ``imdb_rating`` float, the genres as ``genre`` (keyword, the names) and as ``genres`` (nested
  ``{id, name}``) — standard ETLs write one or the other, ours writes both —, ``directors``,
  ``actors``, ``writers`` (nested ``{id, name}``) and ``directors_names``, ``actors_names``,
  ``writers_names`` (text); ours adds ``year`` (integer), ``imdb_votes`` (long) and ``rt_rating``
  (float). Text is analysed in English (stemming, folded case and diacritics), names only folded.
- ``genres``: ``id``, ``name``, ``description`` (ours writes ``""``).
- ``persons``: ``id``, ``full_name`` (``name`` in some cohorts), ``films`` (nested ``{id, roles}``).

Our indices carry ``_meta.recsys_schema_version`` (``SCHEMA_VERSION``); an index without it was
written by another ETL (readable, never written to), or is our first layout (``film_id``, no
persons: rebuilt by a writer, refused by a reader).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from recsys_common.domain import ACTOR, DIRECTOR, ROLES, WRITER, Film, Person
from recsys_common.ids import genre_id_for
from recsys_common.ports.catalog import DEFAULT_SORT, GenreCount, SortOrder, name_terms, search_terms, stored_genre_ids

#: Version of the layout our writer creates, recorded in each index's ``_meta``.
#: 1: ``film_id``, ``genres`` keyword, no persons (no ``_meta``); 2: the standard layout.
SCHEMA_VERSION = 2
LEGACY_VERSION = 1
META_VERSION = "recsys_schema_version"

#: Elasticsearch's default ``index.max_result_window``: from + size may not exceed it.
MAX_RESULT_WINDOW = 10_000
#: More genres than any catalogue has: one aggregation or search returns them all.
MAX_GENRES = 1_000
#: A title match weighs this many times a description match.
TITLE_BOOST = 3

#: The nested field holding the people of each role (``<field>_names`` holds their names as text).
ROLE_FIELDS: dict[str, str] = {DIRECTOR: "directors", ACTOR: "actors", WRITER: "writers"}
#: Our fields beyond the standard layout, with their types (a standard index lacks them).
EXTRA_FIELDS: dict[str, str] = {"year": "integer", "imdb_votes": "long", "rt_rating": "float"}
#: Sort field and direction of each sort order, and the field's type (sorting an unmapped field).
SORT_FIELDS: dict[SortOrder, tuple[str, str]] = {
    "-imdb_rating": ("imdb_rating", "desc"),
    "imdb_rating": ("imdb_rating", "asc"),
    "-year": ("year", "desc"),
    "year": ("year", "asc"),
}
SORT_FIELD_TYPES: dict[str, str] = {"imdb_rating": "float", "year": "integer"}
#: Ties are broken by the document id (every index of the layout maps ``id`` as a keyword).
TIE_BREAK: dict[str, Any] = {"id": {"order": "asc", "unmapped_type": "keyword"}}

FILM_TEXT = "film_text"
NAME_TEXT = "name_text"

INDEX_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "analysis": {
        "filter": {
            "english_stop": {"type": "stop", "stopwords": "_english_"},
            "english_stemmer": {"type": "stemmer", "language": "english"},
            "english_possessive": {"type": "stemmer", "language": "possessive_english"},
        },
        "analyzer": {
            # The same rules as the SQLite FTS5 catalogue: folded case and diacritics, English stemming.
            FILM_TEXT: {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["english_possessive", "lowercase", "asciifolding", "english_stop", "english_stemmer"],
            },
            # Names: folded case and diacritics, every word kept ("Will" is a name, not a stop word).
            NAME_TEXT: {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
        },
    },
}


def _keyword() -> dict[str, Any]:
    return {"type": "keyword"}


def _text(analyzer: str) -> dict[str, Any]:
    return {"type": "text", "analyzer": analyzer}


def _nested(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "nested", "dynamic": "strict", "properties": properties}


def _people_field() -> dict[str, Any]:
    return _nested({"id": _keyword(), "name": _text(NAME_TEXT)})


MOVIES_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {META_VERSION: SCHEMA_VERSION},
    "properties": {
        "id": _keyword(),
        "title": {**_text(FILM_TEXT), "fields": {"raw": _keyword()}},
        "description": _text(FILM_TEXT),
        "imdb_rating": {"type": "float"},
        "genre": _keyword(),
        "genres": _nested({"id": _keyword(), "name": _text(NAME_TEXT)}),
        **{f"{name}_names": _text(NAME_TEXT) for name in ROLE_FIELDS.values()},
        **{name: _people_field() for name in ROLE_FIELDS.values()},
        **{name: {"type": kind} for name, kind in EXTRA_FIELDS.items()},
    },
}

GENRES_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {META_VERSION: SCHEMA_VERSION},
    "properties": {
        "id": _keyword(),
        "name": {**_text(NAME_TEXT), "fields": {"raw": _keyword()}},
        "description": _text(FILM_TEXT),
    },
}

PERSONS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {META_VERSION: SCHEMA_VERSION},
    "properties": {
        "id": _keyword(),
        "full_name": {**_text(NAME_TEXT), "fields": {"raw": _keyword()}},
        "films": _nested({"id": _keyword(), "roles": _keyword()}),
    },
}


# ----- what an index holds -----
def index_version(mappings: Mapping[str, Any]) -> int | None:
    """Our layout version an index's mappings declare (``LEGACY_VERSION`` for our first layout,
    which had no ``_meta``), or None for an index another ETL wrote."""
    version = (mappings.get("_meta") or {}).get(META_VERSION)
    if isinstance(version, int):
        return version
    properties = mappings.get("properties") or {}
    if "film_id" in properties and "id" not in properties:
        return LEGACY_VERSION
    return None


def _mapped_type(properties: Mapping[str, Any], name: str) -> str | None:
    spec = properties.get(name)
    if not isinstance(spec, Mapping):
        return None
    return str(spec.get("type", "object"))


@dataclass(frozen=True)
class MoviesLayout:
    """Which fields of the layout a ``movies`` index maps (read from its mappings)."""

    #: ``genre``: the genre names as keywords.
    genre_names: bool
    #: ``genres``: nested ``{id, name}``.
    genres_nested: bool
    #: The roles whose nested field of people is mapped.
    roles: tuple[str, ...]
    #: Which of our ``EXTRA_FIELDS`` are mapped (a standard index has none: they read as unknown).
    extras: frozenset[str]

    def describe(self) -> str:
        """The layout in words, for the log."""
        genres = [name for name, found in (("genre", self.genre_names), ("genres", self.genres_nested)) if found]
        missing = sorted(set(EXTRA_FIELDS) - self.extras)
        return (
            f"genres as {' and '.join(genres) or 'nothing'}; people: {', '.join(self.roles) or 'none'}; "
            f"unmapped (read as unknown): {', '.join(missing) or 'none'}"
        )


class UnreadableIndex(ValueError):
    """An index whose mappings this catalogue cannot read (our first layout, or not a films index)."""


def movies_layout(mappings: Mapping[str, Any]) -> MoviesLayout:
    """The layout of a ``movies`` index from its mappings; UnreadableIndex when it has no ``id``."""
    properties = mappings.get("properties") or {}
    if _mapped_type(properties, "id") != "keyword":
        if index_version(mappings) == LEGACY_VERSION:
            raise UnreadableIndex("it holds this catalogue's first layout (film_id)")
        raise UnreadableIndex("it has no keyword field 'id': not a films index in the standard layout")
    return MoviesLayout(
        genre_names=_mapped_type(properties, "genre") == "keyword",
        genres_nested=_mapped_type(properties, "genres") == "nested",
        roles=tuple(role for role, name in ROLE_FIELDS.items() if _mapped_type(properties, name) == "nested"),
        extras=frozenset(name for name, kind in EXTRA_FIELDS.items() if _mapped_type(properties, name) == kind),
    )


#: The layout our writer creates.
OUR_MOVIES_LAYOUT = movies_layout(MOVIES_MAPPINGS)


@dataclass(frozen=True)
class PersonsLayout:
    """Which field of a ``persons`` index holds the name (``full_name``, or ``name`` in some cohorts)."""

    name_field: str | None = "full_name"


def persons_layout(mappings: Mapping[str, Any]) -> PersonsLayout:
    properties = mappings.get("properties") or {}
    for name in ("full_name", "name"):
        if _mapped_type(properties, name) == "text":
            return PersonsLayout(name)
    return PersonsLayout(None)


class IndexPlan(enum.Enum):
    """What a writer does with the catalogue's indices before it writes."""

    KEEP = "keep"  # all of them ours, current
    CREATE = "create"  # none exists
    REBUILD = "rebuild"  # ours but older, or some missing: delete ours, create all (a derived store)


class ForeignIndex(ValueError):
    """An index this catalogue must not write to (another ETL's, or a newer layout of ours)."""


def index_plan(mappings_by_index: Mapping[str, Mapping[str, Any] | None]) -> IndexPlan:
    """Decide from each index's mappings (None: it does not exist) what a writer does first."""
    versions: dict[str, int | None] = {}
    for name, mappings in mappings_by_index.items():
        if mappings is None:
            continue
        version = index_version(mappings)
        if version is None:
            raise ForeignIndex(
                f"index {name!r} was written by another ETL (its mappings have no _meta.{META_VERSION}): "
                "this catalogue only reads it; point RECSYS_ELASTICSEARCH_INDEX elsewhere or delete it"
            )
        if version > SCHEMA_VERSION:
            raise ForeignIndex(
                f"index {name!r} has layout version {version}, newer than this program's {SCHEMA_VERSION}"
            )
        versions[name] = version
    if not versions:
        return IndexPlan.CREATE
    if len(versions) == len(mappings_by_index) and all(v == SCHEMA_VERSION for v in versions.values()):
        return IndexPlan.KEEP
    return IndexPlan.REBUILD


# ----- documents -----
def film_document(film: Film) -> dict[str, Any]:
    """The ``movies`` document of a film: every field of the standard layout, both genre variants."""
    document: dict[str, Any] = {
        "id": film.film_id,
        "title": film.title,
        "description": film.description,
        "imdb_rating": film.imdb_rating,
        "genre": list(film.genres),
        "genres": [
            {"id": genre_id, "name": name} for genre_id, name in zip(stored_genre_ids(film), film.genres, strict=True)
        ],
        "year": film.year,
        "imdb_votes": film.imdb_votes,
        "rt_rating": film.rt_rating,
    }
    for role, name in ROLE_FIELDS.items():
        people = film.persons(role)
        document[name] = [{"id": p.person_id, "name": p.full_name} for p in people]
        document[f"{name}_names"] = [p.full_name for p in people]
    return document


def genre_document(genre_id: str, name: str) -> dict[str, Any]:
    return {"id": genre_id, "name": name, "description": ""}


def _names(value: Any) -> tuple[str, ...]:
    """Genre names from a keyword field: a list of names, or a single one."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value if v is not None)


def _genres_of(source: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names, ids) of a document's genres: from nested ``genres`` when present, else ``genre``
    (names only: ids unknown)."""
    nested = source.get("genres")
    if isinstance(nested, list) and nested and all(isinstance(g, Mapping) for g in nested):
        names = tuple(str(g.get("name") or "") for g in nested)
        ids = tuple(str(g["id"]) if g.get("id") else "" for g in nested)
        return names, ids if all(ids) else ()
    if nested:  # a list of names (an older cohort's ``genres`` keyword)
        return _names(nested), ()
    return _names(source.get("genre")), ()


def _people(entries: Any) -> tuple[Person, ...]:
    """People of a nested role field: ``{id, name}`` (``full_name`` in some cohorts)."""
    if not isinstance(entries, list):
        return ()
    return tuple(
        Person(str(e["id"]), str(e.get("name") or e.get("full_name") or ""))
        for e in entries
        if isinstance(e, Mapping) and e.get("id")
    )


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    return None if value is None else kind(value)


def film_from_source(source: Mapping[str, Any]) -> Film:
    """The film of a ``movies`` document, ours or a standard ETL's (missing fields read as None or empty)."""
    genres, genre_ids = _genres_of(source)
    return Film(
        film_id=str(source["id"]),
        title=str(source.get("title") or ""),
        year=_number(source.get("year"), int),
        genres=genres,
        imdb_rating=_number(source.get("imdb_rating"), float),
        imdb_votes=_number(source.get("imdb_votes"), int),
        rt_rating=_number(source.get("rt_rating"), float),
        description=str(source.get("description") or ""),
        directors=_people(source.get(ROLE_FIELDS[DIRECTOR])),
        actors=_people(source.get(ROLE_FIELDS[ACTOR])),
        writers=_people(source.get(ROLE_FIELDS[WRITER])),
        genre_ids=genre_ids,
    )


def person_from_source(source: Mapping[str, Any], layout: PersonsLayout) -> Person:
    name = source.get(layout.name_field) if layout.name_field else None
    return Person(str(source["id"]), str(name or source.get("full_name") or source.get("name") or ""))


# ----- film queries -----
def sort_clause(sort: SortOrder) -> list[dict[str, Any]]:
    """Sort on a film field, unknown values last (an unmapped field sorts as all unknown), then by id."""
    name, direction = SORT_FIELDS[sort]
    return [
        {name: {"order": direction, "missing": "_last", "unmapped_type": SORT_FIELD_TYPES[name]}},
        TIE_BREAK,
    ]


def genre_filter(genre: str, layout: MoviesLayout) -> dict[str, Any]:
    """Films of a genre, ignoring case: an exact name on ``genre``; on nested ``genres`` only (whose
    ``name`` is text) the name as a phrase."""
    if layout.genre_names:
        return {"term": {"genre": {"value": genre, "case_insensitive": True}}}
    if layout.genres_nested:
        return {"nested": {"path": "genres", "query": {"match_phrase": {"genres.name": genre}}}}
    return {"match_none": {}}


def search_request(
    query: str | None, genre: str | None, sort: SortOrder | None, page: int, size: int, layout: MoviesLayout
) -> dict[str, Any] | None:
    """Keyword arguments of ``Elasticsearch.search`` for one page of films; None when the query
    has no searchable word (it finds nothing). A page beyond ``MAX_RESULT_WINDOW`` asks for the total only."""
    terms = search_terms(query)
    if terms is not None and not terms:
        return None
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
    filters = [] if genre is None else [genre_filter(genre, layout)]
    order: list[Any] = (
        ["_score", TIE_BREAK] if sort is None and terms is not None else sort_clause(sort or DEFAULT_SORT)
    )
    start = (page - 1) * size
    fits = start + size <= MAX_RESULT_WINDOW
    return {
        "query": {"bool": {"must": must or [{"match_all": {}}], "filter": filters}},
        "sort": order,
        "from_": start if fits else 0,
        "size": size if fits else 0,
        "track_total_hits": True,
    }


def person_films_query(person_id: str, layout: MoviesLayout) -> dict[str, Any] | None:
    """Films crediting the person in any role (nested queries on the role fields' ids); None when
    the index maps no role field."""
    should = [
        {"nested": {"path": ROLE_FIELDS[role], "query": {"term": {f"{ROLE_FIELDS[role]}.id": person_id}}}}
        for role in layout.roles
    ]
    if not should:
        return None
    return {"bool": {"should": should, "minimum_should_match": 1}}


# ----- genres -----
def genres_aggregation(layout: MoviesLayout) -> dict[str, Any] | None:
    """Aggregation counting the films of each genre: by id over nested ``genres`` (films counted
    once each, the name from one of them), else by name over ``genre``; None when neither is mapped."""
    if layout.genres_nested:
        return {
            "genres": {
                "nested": {"path": "genres"},
                "aggs": {
                    "ids": {
                        "terms": {"field": "genres.id", "size": MAX_GENRES},
                        "aggs": {"films": {"reverse_nested": {}}, "name": {"top_hits": {"size": 1}}},
                    }
                },
            }
        }
    if layout.genre_names:
        return {"genres": {"terms": {"field": "genre", "size": MAX_GENRES}}}
    return None


def _nested_hit_name(hits: Mapping[str, Any]) -> str:
    """The genre name of a ``top_hits`` answer inside the nested aggregation (the nested object's source)."""
    found = hits.get("hits", {}).get("hits") or [{}]
    source = found[0].get("_source") or {}
    if isinstance(source.get("genres"), Mapping):
        source = source["genres"]
    return str(source.get("name") or "")


def genre_counts(
    aggregations: Mapping[str, Any], layout: MoviesLayout, ids_by_name: Mapping[str, str]
) -> list[GenreCount]:
    """Genres with their ids and film counts from the answer to ``genres_aggregation``, by name.
    Over ``genre`` (names only) the ids come from ``ids_by_name`` (the ``genres`` index), else derived."""
    counts: list[GenreCount] = []
    if layout.genres_nested:
        for bucket in aggregations["genres"]["ids"]["buckets"]:
            counts.append(
                GenreCount(str(bucket["key"]), _nested_hit_name(bucket["name"]), int(bucket["films"]["doc_count"]))
            )
    elif layout.genre_names:
        for bucket in aggregations["genres"]["buckets"]:
            name = str(bucket["key"])
            counts.append(GenreCount(ids_by_name.get(name) or genre_id_for(name), name, int(bucket["doc_count"])))
    return sorted(counts, key=lambda g: (g.name, g.genre_id))


def genre_ids_by_name(sources: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Genre name -> id from the documents of a ``genres`` index."""
    return {str(s["name"]): str(s["id"]) for s in sources if s.get("name") and s.get("id")}


def genre_sync(
    current: Iterable[Mapping[str, Any]], counts: Iterable[GenreCount]
) -> tuple[list[dict[str, Any]], list[str]]:
    """What makes the ``genres`` index hold exactly the genres of some film: (documents to write
    — new or renamed —, ids to delete), from its current documents and the films' genre counts."""
    have = {str(s["id"]): s for s in current}
    wanted = {g.genre_id: genre_document(g.genre_id, g.name) for g in counts}
    writes = [doc for genre_id, doc in sorted(wanted.items()) if have.get(genre_id) != doc]
    return writes, sorted(set(have) - set(wanted))


# ----- people -----
def persons_search_request(query: str, page: int, size: int, layout: PersonsLayout) -> dict[str, Any] | None:
    """Keyword arguments of ``Elasticsearch.search`` for one page of people whose name holds every
    word of ``query``, best match first, ties by id; None when the query has no word."""
    if not name_terms(query) or layout.name_field is None:
        return None
    start = (page - 1) * size
    fits = start + size <= MAX_RESULT_WINDOW
    return {
        "query": {"match": {layout.name_field: {"query": query, "operator": "and"}}},
        "sort": ["_score", TIE_BREAK],
        "from_": start if fits else 0,
        "size": size if fits else 0,
        "track_total_hits": True,
    }


def persons_touching_query(film_ids: Collection[str], person_ids: Collection[str]) -> dict[str, Any]:
    """The ``persons`` documents a write may change: people credited on the films written or
    deleted (nested ``films.id``), and the people the written films credit."""
    should: list[dict[str, Any]] = []
    if film_ids:
        should.append({"nested": {"path": "films", "query": {"terms": {"films.id": sorted(film_ids)}}}})
    if person_ids:
        should.append({"terms": {"id": sorted(person_ids)}})
    if not should:
        return {"match_none": {}}
    return {"bool": {"should": should, "minimum_should_match": 1}}


@dataclass
class _Credits:
    full_name: str
    roles_by_film: dict[str, list[str]]


def person_documents(
    current: Iterable[Mapping[str, Any]], touched: Collection[str], films: Iterable[Film]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The ``persons`` documents after a write: (documents to write — new or changed —, ids of
    people no film credits any more). ``current``: the documents ``persons_touching_query``
    found; ``touched``: the ids of the films written or deleted; ``films``: the films as written
    (none for a delete)."""
    credits: dict[str, _Credits] = {}
    before: dict[str, Mapping[str, Any]] = {}
    for source in current:
        before[str(source["id"])] = source
        kept = {
            str(f["id"]): [str(r) for r in _names(f.get("roles"))]
            for f in source.get("films") or ()
            if str(f["id"]) not in touched
        }
        credits[str(source["id"])] = _Credits(str(source.get("full_name") or ""), kept)
    for film in films:
        for role in ROLES:
            for person in film.persons(role):
                entry = credits.setdefault(person.person_id, _Credits(person.full_name, {}))
                entry.full_name = person.full_name
                roles = entry.roles_by_film.setdefault(film.film_id, [])
                if role not in roles:
                    roles.append(role)
    documents: list[dict[str, Any]] = []
    for person_id, entry in sorted(credits.items()):
        document = {
            "id": person_id,
            "full_name": entry.full_name,
            "films": [{"id": film_id, "roles": roles} for film_id, roles in sorted(entry.roles_by_film.items())],
        }
        if entry.roles_by_film and before.get(person_id) != document:  # an unchanged one is not rewritten
            documents.append(document)
    gone = sorted(person_id for person_id, entry in credits.items() if not entry.roles_by_film)
    return documents, gone
