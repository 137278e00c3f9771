"""The Elasticsearch catalogue offline: our mappings and documents against a written-down copy of the
standard layout, documents a standard ETL writes read as films, and the query bodies of each layout.
(The same queries run against a server in the catalogue contract when RECSYS_ELASTICSEARCH_URL is set.)"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from recsys_common.adapters.es_layout import (
    EXTRA_FIELDS,
    GENRES_MAPPINGS,
    INDEX_SETTINGS,
    LEGACY_VERSION,
    MAX_RESULT_WINDOW,
    META_VERSION,
    MOVIES_MAPPINGS,
    OUR_MOVIES_LAYOUT,
    PERSONS_MAPPINGS,
    SCHEMA_VERSION,
    TIE_BREAK,
    ForeignIndex,
    IndexPlan,
    MoviesLayout,
    PersonsLayout,
    UnreadableIndex,
    film_document,
    film_from_source,
    genre_counts,
    genre_document,
    genre_filter,
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
from recsys_common.domain import ACTOR, DIRECTOR, ROLES, WRITER, Film, Person
from recsys_common.ids import film_id_for, genre_id_for, person_id_for
from recsys_common.ports.catalog import GenreCount, stored_genre_ids
from tests.standard_es_layout import (
    OUR_FIRST_MAPPINGS,
    STANDARD_GENRES,
    STANDARD_MOVIES_GENRE,
    STANDARD_MOVIES_GENRES,
    STANDARD_MOVIES_VARIANTS,
    STANDARD_PERSONS,
    STANDARD_PERSONS_NAME,
    standard_document,
)

LUCAS = Person(person_id_for("George Lucas"), "George Lucas")
FORD = Person(person_id_for("Harrison Ford"), "Harrison Ford")
FISHER = Person(person_id_for("Carrie Fisher"), "Carrie Fisher")
KASDAN = Person(person_id_for("Lawrence Kasdan"), "Lawrence Kasdan")

STAR_WARS = Film(
    film_id=film_id_for("layout:1"),
    title="Star Wars",
    year=1977,
    genres=("Action", "Sci-Fi"),
    imdb_rating=8.6,
    imdb_votes=1_000_000,
    rt_rating=93.0,
    description="A farm boy joins the rebels.",
    directors=(LUCAS,),
    actors=(FORD, FISHER),
    writers=(LUCAS,),
)
EMPIRE = Film(
    film_id=film_id_for("layout:2"),
    title="The Empire Strikes Back",
    genres=("Action",),
    genre_ids=("db-action",),
    actors=(FORD,),
    writers=(KASDAN, LUCAS),
)

GENRE_LAYOUT = movies_layout(STANDARD_MOVIES_GENRE)
GENRES_LAYOUT = movies_layout(STANDARD_MOVIES_GENRES)
LAYOUTS = {"ours": OUR_MOVIES_LAYOUT, "genre": GENRE_LAYOUT, "genres": GENRES_LAYOUT}


#: The Python values a field of each mapping type takes.
PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "keyword": str,
    "text": str,
    "float": (float, int),
    "integer": int,
    "long": int,
}


def field_types(mappings: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Every field of a mapping by dotted path (nested properties and multi-fields too) -> its type."""
    found: dict[str, str] = {}
    for name, spec in (mappings.get("properties") or {}).items():
        path = f"{prefix}{name}"
        found[path] = spec.get("type", "object")
        found.update(field_types(spec, f"{path}."))
        for sub, sub_spec in (spec.get("fields") or {}).items():
            found[f"{path}.{sub}"] = sub_spec["type"]
    return found


def check_document(document: Mapping[str, Any], mappings: Mapping[str, Any], path: str = "") -> None:
    """Fail unless a strict index with these mappings takes the document: every field mapped, each
    value of its field's type (a list of them, or null, for every type but nested)."""
    properties = mappings["properties"]
    for name, value in document.items():
        assert name in properties, f"{path}{name} is not mapped: a strict index refuses the document"
        kind = properties[name].get("type", "object")
        if kind == "nested":
            assert isinstance(value, list), f"{path}{name}: nested fields are lists of objects"
            for item in value:
                check_document(item, properties[name], f"{path}{name}.")
            continue
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            expected = PYTHON_TYPES[kind]
            assert isinstance(item, expected) and not isinstance(item, bool), f"{path}{name}: {item!r} is not {kind}"


# ----- our mappings against the standard -----
@pytest.mark.parametrize("variant", sorted(STANDARD_MOVIES_VARIANTS))
def test_our_movies_mapping_has_every_standard_field_with_its_type(variant: str) -> None:
    ours = field_types(MOVIES_MAPPINGS)
    standard = field_types(STANDARD_MOVIES_VARIANTS[variant])
    assert {path: ours.get(path) for path in standard} == standard


def test_our_movies_mapping_adds_only_our_extras_and_is_strict() -> None:
    standard = set(field_types(STANDARD_MOVIES_GENRE)) | set(field_types(STANDARD_MOVIES_GENRES))
    extras = {path: kind for path, kind in field_types(MOVIES_MAPPINGS).items() if path not in standard}
    assert extras == EXTRA_FIELDS
    assert MOVIES_MAPPINGS["dynamic"] == "strict"
    assert all(
        spec.get("dynamic") == "strict" for spec in MOVIES_MAPPINGS["properties"].values() if "properties" in spec
    )


@pytest.mark.parametrize(
    ("ours", "standard"),
    [(GENRES_MAPPINGS, STANDARD_GENRES), (PERSONS_MAPPINGS, STANDARD_PERSONS)],
    ids=["genres", "persons"],
)
def test_our_genres_and_persons_mappings_have_every_standard_field(
    ours: dict[str, Any], standard: dict[str, Any]
) -> None:
    types = field_types(ours)
    assert {path: types.get(path) for path in field_types(standard)} == field_types(standard)
    assert ours["dynamic"] == "strict"


@pytest.mark.parametrize("mappings", [MOVIES_MAPPINGS, GENRES_MAPPINGS, PERSONS_MAPPINGS])
def test_our_mappings_record_the_layout_version_and_name_only_defined_analyzers(mappings: dict[str, Any]) -> None:
    assert mappings["_meta"] == {META_VERSION: SCHEMA_VERSION}
    assert index_version(mappings) == SCHEMA_VERSION
    analyzers = set(INDEX_SETTINGS["analysis"]["analyzer"])

    def used(spec: Mapping[str, Any]) -> set[str]:
        found = {spec["analyzer"]} if "analyzer" in spec else set()
        for child in [*(spec.get("properties") or {}).values(), *(spec.get("fields") or {}).values()]:
            found |= used(child)
        return found

    assert used(mappings) <= analyzers


# ----- documents -----
@pytest.mark.parametrize(
    "film", [STAR_WARS, EMPIRE, Film(film_id_for("layout:bare"), "Bare")], ids=["full", "ids", "bare"]
)
def test_film_document_fills_every_standard_field_and_fits_our_strict_mapping(film: Film) -> None:
    document = film_document(film)
    check_document(document, MOVIES_MAPPINGS)
    for variant, standard in STANDARD_MOVIES_VARIANTS.items():
        missing = set(standard["properties"]) - set(document)
        assert not missing, f"standard ({variant}) fields missing from our document: {missing}"
        without_extras = {k: v for k, v in document.items() if k not in EXTRA_FIELDS and k in standard["properties"]}
        check_document(without_extras, standard)  # a standard index takes it once our extras are left out


def test_film_document_carries_both_genre_variants_and_every_role() -> None:
    document = film_document(EMPIRE)
    assert document["id"] == EMPIRE.film_id
    assert document["genre"] == ["Action"]
    assert document["genres"] == [{"id": "db-action", "name": "Action"}]
    assert film_document(STAR_WARS)["genres"] == [
        {"id": genre_id_for("Action"), "name": "Action"},
        {"id": genre_id_for("Sci-Fi"), "name": "Sci-Fi"},
    ]
    assert document["actors"] == [{"id": FORD.person_id, "name": "Harrison Ford"}]
    assert document["writers_names"] == ["Lawrence Kasdan", "George Lucas"]
    assert document["directors"] == [] and document["directors_names"] == []


@pytest.mark.parametrize("film", [STAR_WARS, EMPIRE])
def test_film_document_reads_back_as_the_film_with_its_genre_ids(film: Film) -> None:
    assert film_from_source(film_document(film)) == replace(film, genre_ids=stored_genre_ids(film))


def test_standard_document_with_genre_names_reads_as_a_film_without_our_extras() -> None:
    document = standard_document(0, "genre")
    check_document(document, STANDARD_MOVIES_GENRE)
    film = film_from_source(document)
    assert film == Film(
        film_id="025c58cd-1b7e-43be-9ffb-8571a613579b",
        title="Star Wars: Episode IV - A New Hope",
        genres=("Action", "Adventure", "Sci-Fi"),
        imdb_rating=8.6,
        description="The Imperial Forces hold Princess Leia hostage.",
        directors=(Person("a5a8f573-3cee-4ccc-8a2b-91cb9f55250a", "George Lucas"),),
        actors=(
            Person("26e83050-29ef-4163-a99d-b546cac208f8", "Mark Hamill"),
            Person("5b4bf1bc-3397-4e83-9b17-8b10c6544ed1", "Harrison Ford"),
        ),
        writers=(Person("a5a8f573-3cee-4ccc-8a2b-91cb9f55250a", "George Lucas"),),
    )
    assert (film.year, film.imdb_votes, film.rt_rating, film.genre_ids) == (None, None, None, ())


def test_standard_document_with_nested_genres_reads_with_their_ids() -> None:
    document = standard_document(1, "genres")
    check_document(document, STANDARD_MOVIES_GENRES)
    film = film_from_source(document)
    assert film.genres == ("Action", "Sci-Fi")
    assert film.genre_ids == ("3d8d9bf5-0d90-4353-88ba-4ccc5d2c07ff", "6c162475-c7ed-4461-9184-001ef3d9f26e")
    assert film.description == ""  # null in the document
    assert [p.full_name for p in film.directors] == ["Irvin Kershner"]
    assert film_from_source(standard_document(2, "genres")).imdb_rating is None


def test_documents_of_other_cohorts_read_too() -> None:
    source = {
        "id": "f1",
        "title": "T",
        "genre": "Drama",  # a single name rather than a list
        "actors": [{"id": "p1", "full_name": "Ann Actor"}, {"name": "no id: skipped"}],
        "imdb_rating": 7,
    }
    film = film_from_source(source)
    assert (film.genres, film.genre_ids, film.imdb_rating) == (("Drama",), (), 7.0)
    assert film.actors == (Person("p1", "Ann Actor"),)
    assert film_from_source({"id": "f2", "title": "T", "genres": ["Comedy"]}).genres == ("Comedy",)


def test_person_from_source_reads_full_name_or_name() -> None:
    assert person_from_source({"id": "p", "full_name": "Ann"}, PersonsLayout("full_name")) == Person("p", "Ann")
    assert person_from_source({"id": "p", "name": "Ann"}, PersonsLayout("name")) == Person("p", "Ann")


# ----- which layout an index has -----
def test_layout_of_each_standard_variant_and_ours() -> None:
    assert movies_layout(STANDARD_MOVIES_GENRE) == MoviesLayout(
        genre_names=True, genres_nested=False, roles=ROLES, extras=frozenset()
    )
    assert movies_layout(STANDARD_MOVIES_GENRES) == MoviesLayout(
        genre_names=False, genres_nested=True, roles=ROLES, extras=frozenset()
    )
    assert movies_layout(MOVIES_MAPPINGS) == MoviesLayout(
        genre_names=True, genres_nested=True, roles=ROLES, extras=frozenset(EXTRA_FIELDS)
    )
    without_people = {
        "properties": {
            k: v for k, v in STANDARD_MOVIES_GENRE["properties"].items() if k not in ("directors", "writers")
        }
    }
    assert movies_layout(without_people).roles == (ACTOR,)
    assert "unmapped (read as unknown): imdb_votes, rt_rating, year" in GENRE_LAYOUT.describe()


def test_layout_refuses_our_first_layout_and_an_index_without_id() -> None:
    assert index_version(OUR_FIRST_MAPPINGS) == LEGACY_VERSION
    with pytest.raises(UnreadableIndex, match="first layout"):
        movies_layout(OUR_FIRST_MAPPINGS)
    with pytest.raises(UnreadableIndex, match="no keyword field 'id'"):
        movies_layout({"properties": {"uuid": {"type": "keyword"}}})


def test_persons_layout_finds_the_name_field() -> None:
    assert persons_layout(STANDARD_PERSONS) == PersonsLayout("full_name")
    assert persons_layout(STANDARD_PERSONS_NAME) == PersonsLayout("name")
    assert persons_layout(PERSONS_MAPPINGS) == PersonsLayout("full_name")
    assert persons_layout({"properties": {"id": {"type": "keyword"}}}) == PersonsLayout(None)


@pytest.mark.parametrize(
    ("found", "plan"),
    [
        ({"movies": None, "genres": None, "persons": None}, IndexPlan.CREATE),
        ({"movies": MOVIES_MAPPINGS, "genres": GENRES_MAPPINGS, "persons": PERSONS_MAPPINGS}, IndexPlan.KEEP),
        ({"movies": OUR_FIRST_MAPPINGS, "genres": None, "persons": None}, IndexPlan.REBUILD),
        ({"movies": MOVIES_MAPPINGS, "genres": GENRES_MAPPINGS, "persons": None}, IndexPlan.REBUILD),
        ({"movies": None, "genres": GENRES_MAPPINGS, "persons": PERSONS_MAPPINGS}, IndexPlan.REBUILD),
    ],
)
def test_index_plan_creates_keeps_or_rebuilds_our_indices(
    found: dict[str, dict[str, Any] | None], plan: IndexPlan
) -> None:
    assert index_plan(found) is plan


@pytest.mark.parametrize(
    ("found", "message"),
    [
        ({"movies": STANDARD_MOVIES_GENRE, "genres": None, "persons": None}, "'movies' was written by another ETL"),
        ({"movies": MOVIES_MAPPINGS, "genres": STANDARD_GENRES, "persons": None}, "'genres' was written by another"),
        (
            {
                "movies": {**MOVIES_MAPPINGS, "_meta": {META_VERSION: SCHEMA_VERSION + 1}},
                "genres": None,
                "persons": None,
            },
            "newer",
        ),
    ],
)
def test_index_plan_never_writes_into_another_etls_index(found: dict[str, dict[str, Any] | None], message: str) -> None:
    with pytest.raises(ForeignIndex, match=message):
        index_plan(found)


# ----- film queries -----
def test_search_without_query_sorts_best_rated_first_unknown_last_ties_by_id() -> None:
    request = search_request(None, None, None, 2, 10, OUR_MOVIES_LAYOUT)
    assert request == {
        "query": {"bool": {"must": [{"match_all": {}}], "filter": []}},
        "sort": [
            {"imdb_rating": {"order": "desc", "missing": "_last", "unmapped_type": "float"}},
            {"id": {"order": "asc", "unmapped_type": "keyword"}},
        ],
        "from_": 10,
        "size": 10,
        "track_total_hits": True,
    }


@pytest.mark.parametrize(
    ("sort", "field", "order", "kind"),
    [
        ("-imdb_rating", "imdb_rating", "desc", "float"),
        ("imdb_rating", "imdb_rating", "asc", "float"),
        ("-year", "year", "desc", "integer"),
        ("year", "year", "asc", "integer"),
    ],
)
def test_sort_puts_unknown_last_survives_an_unmapped_field_and_breaks_ties_by_id(
    sort: Any, field: str, order: str, kind: str
) -> None:
    assert sort_clause(sort) == [{field: {"order": order, "missing": "_last", "unmapped_type": kind}}, TIE_BREAK]
    assert TIE_BREAK == {"id": {"order": "asc", "unmapped_type": "keyword"}}


def test_text_query_requires_every_word_boosts_the_title_and_ranks_by_relevance() -> None:
    request = search_request("Star Wars", None, None, 1, 20, GENRE_LAYOUT)
    assert request is not None
    assert request["query"]["bool"]["must"] == [
        {
            "multi_match": {
                "query": "Star Wars",
                "fields": ["title^3", "description"],
                "type": "cross_fields",
                "operator": "and",
            }
        }
    ]
    assert request["sort"] == ["_score", TIE_BREAK]
    sorted_request = search_request("Star Wars", None, "-year", 1, 20, GENRE_LAYOUT)
    assert sorted_request is not None and sorted_request["sort"] == sort_clause("-year")


def test_wordless_query_finds_nothing_and_blank_query_filters_nothing() -> None:
    assert search_request("the of !!!", None, None, 1, 20, OUR_MOVIES_LAYOUT) is None
    blank = search_request("   ", None, None, 1, 20, OUR_MOVIES_LAYOUT)
    assert blank is not None and blank["query"]["bool"]["must"] == [{"match_all": {}}]


def test_a_page_beyond_the_result_window_asks_for_the_total_only() -> None:
    request = search_request(None, None, None, MAX_RESULT_WINDOW // 10 + 1, 10, OUR_MOVIES_LAYOUT)
    assert request is not None and (request["from_"], request["size"], request["track_total_hits"]) == (0, 0, True)


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("ours", {"term": {"genre": {"value": "sci-fi", "case_insensitive": True}}}),
        ("genre", {"term": {"genre": {"value": "sci-fi", "case_insensitive": True}}}),
        ("genres", {"nested": {"path": "genres", "query": {"match_phrase": {"genres.name": "sci-fi"}}}}),
    ],
)
def test_genre_filter_ignores_case_in_either_variant(layout: str, expected: dict[str, Any]) -> None:
    assert genre_filter("sci-fi", LAYOUTS[layout]) == expected
    request = search_request("rebels", "sci-fi", None, 1, 20, LAYOUTS[layout])
    assert request is not None and request["query"]["bool"]["filter"] == [expected]


def test_genre_filter_without_genres_matches_nothing() -> None:
    bare = MoviesLayout(genre_names=False, genres_nested=False, roles=(), extras=frozenset())
    assert genre_filter("Drama", bare) == {"match_none": {}}


def test_person_films_query_looks_in_every_mapped_role() -> None:
    query = person_films_query("p1", GENRES_LAYOUT)
    assert query == {
        "bool": {
            "should": [
                {"nested": {"path": "directors", "query": {"term": {"directors.id": "p1"}}}},
                {"nested": {"path": "actors", "query": {"term": {"actors.id": "p1"}}}},
                {"nested": {"path": "writers", "query": {"term": {"writers.id": "p1"}}}},
            ],
            "minimum_should_match": 1,
        }
    }
    actors_only = replace(GENRES_LAYOUT, roles=(ACTOR,))
    assert person_films_query("p1", actors_only) == {
        "bool": {
            "should": [{"nested": {"path": "actors", "query": {"term": {"actors.id": "p1"}}}}],
            "minimum_should_match": 1,
        }
    }
    assert person_films_query("p1", replace(GENRES_LAYOUT, roles=())) is None


# ----- genres -----
def test_genres_aggregate_by_id_over_nested_genres_counting_films_once() -> None:
    assert genres_aggregation(OUR_MOVIES_LAYOUT) == genres_aggregation(GENRES_LAYOUT)
    assert genres_aggregation(GENRES_LAYOUT) == {
        "genres": {
            "nested": {"path": "genres"},
            "aggs": {
                "ids": {
                    "terms": {"field": "genres.id", "size": 1_000},
                    "aggs": {"films": {"reverse_nested": {}}, "name": {"top_hits": {"size": 1}}},
                }
            },
        }
    }
    answer = {
        "genres": {
            "doc_count": 7,
            "ids": {
                "buckets": [
                    {
                        "key": "id-scifi",
                        "doc_count": 4,  # one film listing the genre twice counts once
                        "films": {"doc_count": 3},
                        "name": {
                            "hits": {
                                "hits": [
                                    {"_nested": {"field": "genres"}, "_source": {"id": "id-scifi", "name": "Sci-Fi"}}
                                ]
                            }
                        },
                    },
                    {
                        "key": "id-action",
                        "doc_count": 3,
                        "films": {"doc_count": 3},
                        "name": {"hits": {"hits": [{"_source": {"genres": {"id": "id-action", "name": "Action"}}}]}},
                    },
                ]
            },
        }
    }
    assert genre_counts(answer, GENRES_LAYOUT, {}) == [
        GenreCount("id-action", "Action", 3),
        GenreCount("id-scifi", "Sci-Fi", 3),
    ]


def test_genres_over_names_take_ids_from_the_genres_index_else_derive_them() -> None:
    assert genres_aggregation(GENRE_LAYOUT) == {"genres": {"terms": {"field": "genre", "size": 1_000}}}
    bare = MoviesLayout(genre_names=False, genres_nested=False, roles=(), extras=frozenset())
    assert genres_aggregation(bare) is None
    answer = {"genres": {"buckets": [{"key": "Sci-Fi", "doc_count": 2}, {"key": "Action", "doc_count": 5}]}}
    ids = genre_ids_by_name([{"id": "id-scifi", "name": "Sci-Fi", "description": ""}, {"id": "x"}])
    assert ids == {"Sci-Fi": "id-scifi"}
    assert genre_counts(answer, GENRE_LAYOUT, ids) == [
        GenreCount(genre_id_for("Action"), "Action", 5),
        GenreCount("id-scifi", "Sci-Fi", 2),
    ]


def test_genre_sync_writes_new_and_renamed_genres_and_deletes_genres_without_films() -> None:
    current = [genre_document("g1", "Action"), genre_document("g2", "Scifi"), genre_document("g3", "Western")]
    counts = [GenreCount("g1", "Action", 2), GenreCount("g2", "Sci-Fi", 1), GenreCount("g4", "Drama", 1)]
    writes, gone = genre_sync(current, counts)
    assert writes == [genre_document("g2", "Sci-Fi"), genre_document("g4", "Drama")]
    assert gone == ["g3"]
    assert genre_document("g1", "Action") == {"id": "g1", "name": "Action", "description": ""}


# ----- people -----
def test_persons_search_requires_every_word_of_the_name_and_ranks_ties_by_id() -> None:
    assert persons_search_request("Harrison Ford", 2, 5, PersonsLayout("full_name")) == {
        "query": {"match": {"full_name": {"query": "Harrison Ford", "operator": "and"}}},
        "sort": ["_score", TIE_BREAK],
        "from_": 5,
        "size": 5,
        "track_total_hits": True,
    }
    by_name = persons_search_request("ford", 1, 5, PersonsLayout("name"))
    assert by_name is not None and by_name["query"] == {"match": {"name": {"query": "ford", "operator": "and"}}}
    assert persons_search_request("!!! -", 1, 5, PersonsLayout("full_name")) is None
    assert persons_search_request("ford", 1, 5, PersonsLayout(None)) is None


def test_persons_touching_a_write_are_found_by_film_and_by_person() -> None:
    assert persons_touching_query({"f2", "f1"}, {"p1"}) == {
        "bool": {
            "should": [
                {"nested": {"path": "films", "query": {"terms": {"films.id": ["f1", "f2"]}}}},
                {"terms": {"id": ["p1"]}},
            ],
            "minimum_should_match": 1,
        }
    }
    assert persons_touching_query({"f1"}, set()) == {
        "bool": {
            "should": [{"nested": {"path": "films", "query": {"terms": {"films.id": ["f1"]}}}}],
            "minimum_should_match": 1,
        }
    }
    assert persons_touching_query(set(), set()) == {"match_none": {}}


def _person_doc(person_id: str, name: str, *films: tuple[str, list[str]]) -> dict[str, Any]:
    return {"id": person_id, "full_name": name, "films": [{"id": f, "roles": roles} for f, roles in films]}


def test_person_documents_follow_an_upsert() -> None:
    current = [
        _person_doc("pa", "Ann", ("f1", [ACTOR]), ("f2", [WRITER])),  # f2 is not touched: kept
        _person_doc("pb", "Bob", ("f1", [DIRECTOR])),  # no longer on f1
        _person_doc("pd", "Dan", ("f9", [ACTOR])),  # credited on the new f1 as before f9: unchanged
    ]
    f1 = Film(
        "f1",
        "First",
        directors=(Person("pa", "Ann B."),),
        actors=(Person("pa", "Ann B."), Person("pc", "Cid")),
    )
    f3 = Film("f3", "Third", writers=(Person("pc", "Cid"),), actors=(Person("pd", "Dan"),))
    documents, gone = person_documents(current, {"f1", "f3"}, [f1, f3])
    assert documents == [
        _person_doc("pa", "Ann B.", ("f1", [DIRECTOR, ACTOR]), ("f2", [WRITER])),
        _person_doc("pc", "Cid", ("f1", [ACTOR]), ("f3", [WRITER])),
        _person_doc("pd", "Dan", ("f3", [ACTOR]), ("f9", [ACTOR])),
    ]
    assert gone == ["pb"]


def test_person_documents_follow_a_delete_and_leave_unchanged_people_alone() -> None:
    current = [_person_doc("pa", "Ann", ("f1", [ACTOR]), ("f2", [WRITER])), _person_doc("pb", "Bob", ("f1", [ACTOR]))]
    documents, gone = person_documents(current, {"f1"}, [])
    assert documents == [_person_doc("pa", "Ann", ("f2", [WRITER]))]
    assert gone == ["pb"]
    same = Film("f1", "First", actors=(Person("pa", "Ann"), Person("pb", "Bob")))
    assert person_documents(current, {"f1"}, [same]) == ([], [])  # written again as it was
    assert person_documents(current[1:], {"f7"}, []) == ([], [])
