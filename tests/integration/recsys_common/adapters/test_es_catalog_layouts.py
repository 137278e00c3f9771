"""The Elasticsearch catalogue and indices it did not write (only when RECSYS_ELASTICSEARCH_URL is set):
an index a standard ETL wrote, in either genre variant, is read as it is (and never written to);
our first layout is refused to readers and rebuilt by a writer; a standard index takes our documents."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

from recsys_common.adapters.es_catalog import ElasticsearchCatalog
from recsys_common.adapters.es_layout import EXTRA_FIELDS, film_document, film_from_source
from recsys_common.domain import Film, Person
from recsys_common.ids import film_id_for
from recsys_common.ports.catalog import CatalogUnavailable, GenreCount, PersonPage
from recsys_common.settings import CommonSettings
from tests.standard_es_layout import (
    ACTION,
    ADVENTURE,
    FORD,
    OUR_FIRST_MAPPINGS,
    OUR_FIRST_SETTINGS,
    SCI_FI,
    STANDARD_FILMS,
    STANDARD_GENRE_DOCUMENTS,
    STANDARD_GENRES,
    STANDARD_MOVIES_GENRE,
    STANDARD_MOVIES_VARIANTS,
    STANDARD_PERSONS,
    STANDARD_PERSONS_NAME,
    STANDARD_SETTINGS,
    standard_document,
    standard_persons,
)

pytestmark = pytest.mark.integration

FIRST, SECOND, THIRD = (document["id"] for document, _ in STANDARD_FILMS)
NEW_FILM = Film(film_id_for("layouts:1"), "A New Film", genres=("Drama",), actors=(Person("p-new", "New Actor"),))

Indices = dict[str, str]


@pytest.fixture
def es() -> Iterator[tuple[Elasticsearch, str, Indices]]:
    """A client, the server's URL and index names of this test only (deleted afterwards)."""
    url = CommonSettings().elasticsearch_url
    if not url:
        pytest.skip("set RECSYS_ELASTICSEARCH_URL to read indices of other layouts from Elasticsearch")
    suffix = uuid.uuid4().hex
    names = {kind: f"test-{kind}-{suffix}" for kind in ("movies", "genres", "persons")}
    client = Elasticsearch(url)
    try:
        yield client, url, names
    finally:
        client.indices.delete(index=list(names.values()), ignore_unavailable=True)
        client.close()


def load(
    client: Elasticsearch, index: str, settings: dict[str, Any], mappings: dict[str, Any], docs: list[Any]
) -> None:
    client.indices.create(index=index, settings=settings, mappings=mappings)
    helpers.bulk(client, ({"_index": index, "_id": d.get("id") or d["film_id"], "_source": d} for d in docs))
    client.indices.refresh(index=index)


def ids(films: Iterable[Film]) -> list[str]:
    return [f.film_id for f in films]


def catalog_of(url: str, names: Indices, tmp_path: Path) -> ElasticsearchCatalog:
    return ElasticsearchCatalog(
        url,
        state_file=tmp_path / "etl_state.json",
        index=names["movies"],
        genres_index=names["genres"],
        persons_index=names["persons"],
    )


@pytest.mark.parametrize("variant", sorted(STANDARD_MOVIES_VARIANTS))
@pytest.mark.parametrize("name_field", ["full_name", "name"])
def test_reads_an_index_a_standard_etl_wrote(
    es: tuple[Elasticsearch, str, Indices], tmp_path: Path, variant: str, name_field: str
) -> None:
    client, url, names = es
    documents = [standard_document(i, variant) for i in range(len(STANDARD_FILMS))]
    load(client, names["movies"], STANDARD_SETTINGS, STANDARD_MOVIES_VARIANTS[variant], documents)
    load(client, names["genres"], STANDARD_SETTINGS, STANDARD_GENRES, STANDARD_GENRE_DOCUMENTS)
    persons_mappings = STANDARD_PERSONS if name_field == "full_name" else STANDARD_PERSONS_NAME
    load(client, names["persons"], STANDARD_SETTINGS, persons_mappings, standard_persons(name_field))
    catalog = catalog_of(url, names, tmp_path)
    films: dict[str, Film] = {d["id"]: film_from_source(d) for d in documents}

    catalog.ping()
    assert catalog.get(FIRST) == films[FIRST]
    assert list(catalog.films()) == [films[i] for i in sorted(films)]
    assert ids(catalog.search().films) == [SECOND, FIRST, THIRD]  # best rated first, unknown last
    assert ids(catalog.search(sort="-year").films) == sorted(films)  # no year mapped: all unknown, by id
    assert ids(catalog.search("empire").films) == [SECOND]
    assert catalog.search(genre="sci-fi").total == len(films)
    assert ids(catalog.search(genre="ADVENTURE").films) == [FIRST]
    assert catalog.genres() == [
        GenreCount(ACTION["id"], "Action", 2),
        GenreCount(ADVENTURE["id"], "Adventure", 1),
        GenreCount(SCI_FI["id"], "Sci-Fi", 3),
    ]
    assert ids(catalog.person_films(FORD["id"])) == [SECOND, FIRST]
    ford = Person(FORD["id"], FORD["name"])
    assert catalog.search_persons("harrison FORD") == PersonPage((ford,), 1)
    assert catalog.person(FORD["id"]) == ford
    with pytest.raises(CatalogUnavailable, match="another ETL"):
        catalog.upsert([NEW_FILM])
    assert catalog.get(NEW_FILM.film_id) is None
    catalog.close()


def test_our_first_layout_is_refused_to_readers_and_rebuilt_by_a_writer(
    es: tuple[Elasticsearch, str, Indices], tmp_path: Path
) -> None:
    client, url, names = es
    old = {"film_id": "old-film", "title": "Old Film", "genres": ["Drama"], "description": ""}
    load(client, names["movies"], OUR_FIRST_SETTINGS, OUR_FIRST_MAPPINGS, [old])
    catalog = catalog_of(url, names, tmp_path)
    with pytest.raises(CatalogUnavailable, match="first layout"):
        catalog.search()
    assert catalog.upsert([NEW_FILM]) == 1
    assert catalog.etl_state() is None
    assert [f.film_id for f in catalog.films()] == [NEW_FILM.film_id]
    assert catalog.search_persons("new actor").total == 1
    catalog.close()


def test_a_standard_index_takes_our_documents_without_our_extras(es: tuple[Elasticsearch, str, Indices]) -> None:
    client, _url, names = es
    document = {k: v for k, v in film_document(NEW_FILM).items() if k not in EXTRA_FIELDS and k != "genres"}
    load(client, names["movies"], STANDARD_SETTINGS, STANDARD_MOVIES_GENRE, [document])
    found = client.get(index=names["movies"], id=NEW_FILM.film_id)
    assert film_from_source(found["_source"]).actors == NEW_FILM.actors
