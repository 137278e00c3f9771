"""One contract for every Catalog adapter: SQLite FTS5 always, Elasticsearch when RECSYS_ELASTICSEARCH_URL is set."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recsys_common.adapters.es_catalog import ElasticsearchCatalog
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.domain import Film, Person
from recsys_common.ids import film_id_for, genre_id_for, person_id_for
from recsys_common.ports.catalog import (
    MAX_PAGE_SIZE,
    Catalog,
    CatalogUnavailable,
    EtlState,
    GenreCount,
    PersonPage,
    stored_genre_ids,
)
from tests.catalogs import CatalogFactory, catalog_factory

pytestmark = pytest.mark.integration

ADAPTERS = ("sqlite", "elasticsearch")
#: A port where nothing listens: the "server down" case.
DEAD_URL = "http://127.0.0.1:9"
#: More films than one read of ``films`` returns (SQLite reads 500, Elasticsearch 1,000 at a time).
MANY_FILMS = 1_234


def film(n: int, title: str, **kwargs: object) -> Film:
    return Film(film_id=film_id_for(f"contract:{n}"), title=title, **kwargs)  # type: ignore[arg-type]


def person(full_name: str) -> Person:
    return Person(person_id_for(full_name), full_name)


#: Genre ids as a movies database holds them (its own uuids); the other films' genre ids are derived.
DB_GENRE_IDS = {
    name: str(uuid.uuid5(uuid.NAMESPACE_URL, f"contract-genre:{name}"))
    for name in ("Comedy", "Romance", "Drama", "War", "Noir")
}


def db_genres(*names: str) -> dict[str, tuple[str, ...]]:
    """Film keyword arguments: genres with the movies database's ids."""
    return {"genres": names, "genre_ids": tuple(DB_GENRE_IDS[name] for name in names)}


def stored(films: Iterable[Film]) -> list[Film]:
    """The films as a catalogue gives them back: genre ids derived where the film had none."""
    return [replace(f, genre_ids=stored_genre_ids(f)) for f in films]


LUCAS = person("George Lucas")
HAMILL = person("Mark Hamill")
FORD = person("Harrison Ford")
FISHER = person("Carrie Fisher")
KERSHNER = person("Irvin Kershner")
BRACKETT = person("Leigh Brackett")
KASDAN = person("Lawrence Kasdan")
JEUNET = person("Jean-Pierre Jeunet")
TAUTOU = person("Audrey Tautou")
BENICHOU = person("Maurice Bénichou")
LAURANT = person("Guillaume Laurant")
SPIELBERG = person("Steven Spielberg")
NEESON = person("Liam Neeson")
ZAILLIAN = person("Steven Zaillian")
GLASER = person("Paul Michael Glaser")
SCHWARZENEGGER = person("Arnold Schwarzenegger")
CURTIZ = person("Michael Curtiz")
BOGART = person("Humphrey Bogart")
BERGMAN = person("Ingrid Bergman")
JULIUS_EPSTEIN = person("Julius J. Epstein")
PHILIP_EPSTEIN = person("Philip G. Epstein")
KOCH = person("Howard Koch")


STAR_WARS = film(
    1,
    "Star Wars",
    year=1977,
    genres=("Action", "Sci-Fi"),
    imdb_rating=8.6,
    imdb_votes=1_000_000,
    rt_rating=93.0,
    description="A farm boy joins the rebels against the Empire.",
    directors=(LUCAS,),
    actors=(HAMILL, FORD, FISHER),
    writers=(LUCAS,),
)
EMPIRE = film(
    2,
    "The Empire Strikes Back",
    year=1980,
    genres=("Action", "Sci-Fi"),
    imdb_rating=8.7,
    imdb_votes=900_000,
    description="The rebels flee across the galaxy.",
    directors=(KERSHNER,),
    actors=(HAMILL, FORD, FISHER),
    writers=(BRACKETT, KASDAN),
)
AMELIE = film(
    3,
    "Amélie",
    year=2001,
    **db_genres("Comedy", "Romance"),
    imdb_rating=8.3,
    imdb_votes=700_000,
    description="A shy waitress in Montmartre.",
    directors=(JEUNET,),
    actors=(TAUTOU, BENICHOU),
    writers=(LAURANT, JEUNET),
)
SCHINDLER = film(
    4,
    "Schindler's List",
    year=1993,
    **db_genres("Drama", "War"),
    imdb_rating=8.9,
    imdb_votes=1_200_000,
    description="A businessman saves his workers.",
    directors=(SPIELBERG,),
    actors=(NEESON,),
    writers=(ZAILLIAN,),
)
GEM = film(5, "Obscure Gem", year=2010, **db_genres("Drama"), imdb_rating=9.8, imdb_votes=50, description="Few saw it.")
UNRATED = film(6, "Unrated Wonder", **db_genres("Comedy"), description="Nobody rated this one.", actors=(FORD,))
RUNNING_MAN = film(
    7,
    "The Running Man",
    year=1987,
    genres=("Action",),
    imdb_rating=6.7,
    imdb_votes=150_000,
    description="A game show of life and death.",
    directors=(GLASER,),
    actors=(SCHWARZENEGGER,),
)
CASABLANCA = film(
    8,
    "Casablanca",
    year=1942,
    **db_genres("Drama", "Romance"),
    imdb_rating=8.5,
    imdb_votes=500_000,
    rt_rating=99.0,
    description="A cafe owner meets an old love.",
    directors=(CURTIZ,),
    actors=(BOGART, BERGMAN),
    writers=(JULIUS_EPSTEIN, PHILIP_EPSTEIN, KOCH),
)
FILMS = [STAR_WARS, EMPIRE, AMELIE, SCHINDLER, GEM, UNRATED, RUNNING_MAN, CASABLANCA]
STORED = stored(FILMS)


def ids(films: object) -> list[str]:
    return [f.film_id for f in films]  # type: ignore[attr-defined]


def by_rating_desc(films: list[Film]) -> list[str]:
    rated = sorted((f for f in films if f.imdb_rating is not None), key=lambda f: (-f.imdb_rating, f.film_id))  # type: ignore[operator]
    return ids(rated) + sorted(f.film_id for f in films if f.imdb_rating is None)


# ----- fixtures -----


@pytest.fixture(params=ADAPTERS)
def new_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CatalogFactory]:
    """Builds catalogues over the same fresh storage (a SQLite file, or an index of this test only)."""
    with catalog_factory(request.param, tmp_path, "the Catalog contract") as make:
        yield make


@pytest.fixture
def catalog(new_catalog: CatalogFactory) -> Catalog:
    catalog = new_catalog()
    assert catalog.upsert(FILMS) == len(FILMS)
    return catalog


@pytest.fixture(params=ADAPTERS)
def dead_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """A catalogue whose storage cannot be reached."""
    catalog: Catalog
    if request.param == "sqlite":
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("a file where the catalogue's directory should be")
        catalog = SqliteCatalog(blocker / "catalog.sqlite")
    else:
        catalog = ElasticsearchCatalog(DEAD_URL, state_file=tmp_path / "state.json", timeout_s=1.0)
    yield catalog
    catalog.close()


# ----- search -----
def test_without_query_lists_everything_best_rated_first_unknown_last(catalog: Catalog) -> None:
    page = catalog.search(size=MAX_PAGE_SIZE)
    assert page.total == len(FILMS)
    assert ids(page.films) == by_rating_desc(FILMS)
    assert set(page.films) == set(STORED)  # every field comes back as stored


@pytest.mark.parametrize("sort", ["-imdb_rating", "imdb_rating", "-year", "year"])
def test_sort_orders_known_values_and_puts_unknown_last(catalog: Catalog, sort: str) -> None:
    field = sort.lstrip("-")
    known = [f for f in FILMS if getattr(f, field) is not None]
    unknown = sorted(f.film_id for f in FILMS if getattr(f, field) is None)
    sign = -1 if sort.startswith("-") else 1
    expected = ids(sorted(known, key=lambda f: (sign * getattr(f, field), f.film_id))) + unknown
    assert ids(catalog.search(sort=sort, size=MAX_PAGE_SIZE).films) == expected  # type: ignore[arg-type]


def test_query_needs_every_word_in_title_or_description(catalog: Catalog) -> None:
    assert ids(catalog.search("star wars").films) == [STAR_WARS.film_id]
    assert ids(catalog.search("shy waitress").films) == [AMELIE.film_id]
    assert ids(catalog.search("casablanca old love").films) == [CASABLANCA.film_id]  # across fields
    assert catalog.search("star casablanca") == ((), 0)


def test_query_folds_case_diacritics_stems_and_possessives(catalog: Catalog) -> None:
    assert ids(catalog.search("STAR WARS").films) == [STAR_WARS.film_id]
    assert ids(catalog.search("amelie").films) == [AMELIE.film_id]
    assert ids(catalog.search("run").films) == [RUNNING_MAN.film_id]
    assert ids(catalog.search("schindler list").films) == [SCHINDLER.film_id]
    assert ids(catalog.search("Schindler's").films) == [SCHINDLER.film_id]


def test_title_match_ranks_above_description_match(catalog: Catalog) -> None:
    assert ids(catalog.search("empire").films) == [EMPIRE.film_id, STAR_WARS.film_id]


def test_blank_query_is_no_filter_and_wordless_query_finds_nothing(catalog: Catalog) -> None:
    assert catalog.search("   ").total == len(FILMS)
    assert catalog.search("!!! ...") == ((), 0)
    assert catalog.search("the of and") == ((), 0)


def test_genre_filter_ignores_case_and_combines_with_query(catalog: Catalog) -> None:
    page = catalog.search(genre="sci-fi", size=MAX_PAGE_SIZE)
    assert page.total == 2
    assert ids(page.films) == [EMPIRE.film_id, STAR_WARS.film_id]
    assert ids(catalog.search("rebels", genre="Sci-Fi", sort="year").films) == [STAR_WARS.film_id, EMPIRE.film_id]
    assert catalog.search("casablanca", genre="Action") == ((), 0)
    assert catalog.search(genre="Western") == ((), 0)


def test_pages_cover_every_match_once_and_past_the_end_is_empty(catalog: Catalog) -> None:
    size = 3
    seen = [f.film_id for page in range(1, 4) for f in catalog.search(page=page, size=size).films]
    assert seen == by_rating_desc(FILMS)
    past = catalog.search(page=10, size=size)
    assert past.films == ()
    assert past.total == len(FILMS)


@pytest.mark.parametrize(("page", "size"), [(0, 10), (1, 0), (1, MAX_PAGE_SIZE + 1)])
def test_bad_page_is_a_value_error(catalog: Catalog, page: int, size: int) -> None:
    with pytest.raises(ValueError, match="page"):
        catalog.search(page=page, size=size)


# ----- lookups -----
def test_get_returns_the_film_or_none(catalog: Catalog) -> None:
    assert catalog.get(UNRATED.film_id) == UNRATED
    assert catalog.get(film_id_for("contract:unknown")) is None


def test_films_round_trip_with_their_people_and_genre_ids_given_or_derived(catalog: Catalog) -> None:
    assert catalog.get(AMELIE.film_id) == AMELIE  # the movies database's genre ids are kept
    star_wars = catalog.get(STAR_WARS.film_id)
    assert star_wars is not None
    assert star_wars.genre_ids == (genre_id_for("Action"), genre_id_for("Sci-Fi"))  # derived from the names
    assert star_wars == replace(STAR_WARS, genre_ids=star_wars.genre_ids)
    assert (star_wars.directors, star_wars.actors, star_wars.writers) == ((LUCAS,), (HAMILL, FORD, FISHER), (LUCAS,))
    assert catalog.get_many([CASABLANCA.film_id, EMPIRE.film_id]) == stored([CASABLANCA, EMPIRE])


def test_get_many_keeps_the_asked_order_and_skips_unknown(catalog: Catalog) -> None:
    unknown = film_id_for("contract:unknown")
    asked = [CASABLANCA.film_id, unknown, AMELIE.film_id, STAR_WARS.film_id]
    assert catalog.get_many(asked) == stored([CASABLANCA, AMELIE, STAR_WARS])
    assert catalog.get_many([]) == []


def genre_counts(films: Iterable[Film]) -> list[GenreCount]:
    """What ``genres()`` answers for these films: each genre's id, name and number of films, by name."""
    counts: dict[tuple[str, str], int] = {}
    for f in films:
        for key in set(zip(stored_genre_ids(f), f.genres, strict=True)):
            counts[key] = counts.get(key, 0) + 1
    return [GenreCount(genre_id, name, n) for (genre_id, name), n in sorted(counts.items(), key=lambda kv: kv[0][::-1])]


def test_genres_lists_every_genre_with_its_id_and_count(catalog: Catalog) -> None:
    genres = catalog.genres()
    assert genres == genre_counts(FILMS)
    assert GenreCount(DB_GENRE_IDS["Drama"], "Drama", 3) in genres
    assert GenreCount(genre_id_for("Action"), "Action", 3) in genres


# ----- every film -----
def test_films_yields_every_film_once_by_film_id(catalog: Catalog) -> None:
    assert list(catalog.films()) == sorted(STORED, key=lambda f: f.film_id)


def test_films_pages_through_a_catalogue_larger_than_one_read(new_catalog: CatalogFactory) -> None:
    catalog = new_catalog()
    many = [film(1000 + n, f"Film number {n}", genres=("Drama",)) for n in range(MANY_FILMS)]
    catalog.upsert(many)
    assert [f.film_id for f in catalog.films()] == sorted(f.film_id for f in many)


# ----- writer side -----
def test_upsert_is_idempotent_and_replaces_by_id(new_catalog: CatalogFactory) -> None:
    catalog = new_catalog()
    catalog.upsert(FILMS)
    catalog.upsert(FILMS)
    assert catalog.search().total == len(FILMS)
    renamed = replace(CASABLANCA, title="Rick's Place", **db_genres("Drama", "Noir"))  # type: ignore[arg-type]
    assert catalog.upsert([renamed]) == 1
    assert catalog.get(CASABLANCA.film_id) == renamed
    assert catalog.search("casablanca") == ((), 0)  # the text index follows the new title
    assert ids(catalog.search("rick place").films) == [CASABLANCA.film_id]
    assert ids(catalog.search(genre="Romance").films) == [AMELIE.film_id]  # the old genre link is gone
    assert GenreCount(DB_GENRE_IDS["Noir"], "Noir", 1) in catalog.genres()
    assert catalog.genres() == genre_counts([f for f in FILMS if f != CASABLANCA] + [renamed])


def test_delete_removes_films_everywhere_and_ignores_unknown_ids(new_catalog: CatalogFactory) -> None:
    catalog = new_catalog()
    catalog.upsert(FILMS)
    assert catalog.delete([CASABLANCA.film_id, AMELIE.film_id, film_id_for("contract:nowhere")]) == 2
    assert catalog.get(CASABLANCA.film_id) is None
    assert catalog.search("casablanca") == ((), 0)  # gone from the text index
    assert CASABLANCA.film_id not in ids(catalog.films())
    assert all(g.name != "Romance" for g in catalog.genres())  # its only films are gone
    assert catalog.genres() == genre_counts(f for f in FILMS if f not in (CASABLANCA, AMELIE))
    assert catalog.search().total == len(FILMS) - 2
    assert catalog.delete([]) == 0
    catalog.upsert([CASABLANCA])  # a deleted film can come back
    assert catalog.get(CASABLANCA.film_id) == CASABLANCA


def test_etl_state_is_saved_with_a_batch_and_kept_by_a_batch_without_one(new_catalog: CatalogFactory) -> None:
    catalog = new_catalog()
    assert catalog.etl_state() is None
    state = EtlState(datetime(2026, 11, 23, 12, 30, 15, 123456, tzinfo=UTC), FILMS[3].film_id)
    catalog.upsert(FILMS[:4], state)
    assert catalog.etl_state() == state
    catalog.upsert(FILMS[4:])
    assert catalog.etl_state() == state
    assert new_catalog().etl_state() == state  # another client of the same storage sees it


def test_ping_fails_on_an_empty_catalogue_and_passes_once_loaded(new_catalog: CatalogFactory) -> None:
    catalog = new_catalog()
    with pytest.raises(CatalogUnavailable, match="ETL"):
        catalog.ping()
    catalog.upsert(FILMS[:1])
    catalog.ping()


def test_unreachable_storage_raises_catalog_unavailable(dead_catalog: Catalog) -> None:
    with pytest.raises(CatalogUnavailable):
        dead_catalog.ping()
    with pytest.raises(CatalogUnavailable):
        dead_catalog.search("star")
    with pytest.raises(CatalogUnavailable):
        dead_catalog.get(STAR_WARS.film_id)


# ----- people -----
def test_search_persons_needs_every_word_folding_case_and_diacritics(catalog: Catalog) -> None:
    assert catalog.search_persons("harrison ford") == PersonPage((FORD,), 1)
    assert catalog.search_persons("FORD") == PersonPage((FORD,), 1)
    assert catalog.search_persons("benichou") == PersonPage((BENICHOU,), 1)
    assert catalog.search_persons("Maurice Bénichou") == PersonPage((BENICHOU,), 1)
    assert catalog.search_persons("julius epstein") == PersonPage((JULIUS_EPSTEIN,), 1)
    assert catalog.search_persons("epstein koch") == PersonPage((), 0)
    assert catalog.search_persons("nobody at all") == PersonPage((), 0)


def test_search_persons_pages_equal_matches_by_person_id_and_reports_the_total(catalog: Catalog) -> None:
    epsteins = sorted([JULIUS_EPSTEIN, PHILIP_EPSTEIN], key=lambda p: p.person_id)
    assert catalog.search_persons("epstein") == PersonPage(tuple(epsteins), 2)
    assert catalog.search_persons("Epstein", page=1, size=1) == PersonPage((epsteins[0],), 2)
    assert catalog.search_persons("Epstein", page=2, size=1) == PersonPage((epsteins[1],), 2)
    assert catalog.search_persons("Epstein", page=3, size=1) == PersonPage((), 2)
    steven = catalog.search_persons("steven", size=MAX_PAGE_SIZE)
    assert set(steven.persons) == {SPIELBERG, ZAILLIAN}
    assert steven.total == 2


@pytest.mark.parametrize("query", ["", "   ", "!!! ...", "-"])
def test_search_persons_without_a_word_finds_nobody(catalog: Catalog, query: str) -> None:
    assert catalog.search_persons(query) == PersonPage((), 0)


@pytest.mark.parametrize(("page", "size"), [(0, 10), (1, 0), (1, MAX_PAGE_SIZE + 1)])
def test_search_persons_bad_page_is_a_value_error(catalog: Catalog, page: int, size: int) -> None:
    with pytest.raises(ValueError, match="page"):
        catalog.search_persons("ford", page=page, size=size)


def test_person_is_found_by_id_or_none(catalog: Catalog) -> None:
    assert catalog.person(BENICHOU.person_id) == BENICHOU
    assert catalog.person(LUCAS.person_id) == LUCAS
    assert catalog.person(person_id_for("Nobody Credited")) is None


def test_person_films_lists_every_role_best_rated_first_unknown_last(catalog: Catalog) -> None:
    assert ids(catalog.person_films(FORD.person_id)) == [EMPIRE.film_id, STAR_WARS.film_id, UNRATED.film_id]
    assert catalog.person_films(LUCAS.person_id) == stored([STAR_WARS])  # director and writer: once
    assert catalog.person_films(JEUNET.person_id) == [AMELIE]
    assert catalog.person_films(person_id_for("Nobody Credited")) == []


def test_person_films_orders_ties_by_film_id(new_catalog: CatalogFactory) -> None:
    catalog = new_catalog()
    star = person("Contract Star")
    films = [
        film(100, "Directed", imdb_rating=7.0, directors=(star,)),
        film(101, "Acted", imdb_rating=8.0, actors=(star,)),
        film(102, "Written", imdb_rating=8.0, writers=(star,)),
        film(103, "Acted unrated", actors=(FORD, star)),
        film(104, "Directed unrated", directors=(star,), writers=(star,)),
        film(105, "Everything", imdb_rating=9.0, directors=(star,), actors=(star,), writers=(star,)),
        film(106, "Not credited", imdb_rating=9.9, actors=(FORD,)),
    ]
    catalog.upsert(films)
    credited = [f for f in films if f.roles_of(star.person_id)]
    assert catalog.person_films(star.person_id) == [
        *sorted((f for f in credited if f.imdb_rating is not None), key=lambda f: (-f.imdb_rating, f.film_id)),  # type: ignore[operator]
        *sorted((f for f in credited if f.imdb_rating is None), key=lambda f: f.film_id),
    ]


def test_upsert_replaces_a_films_people_and_drops_the_uncredited(new_catalog: CatalogFactory) -> None:
    catalog = new_catalog()
    catalog.upsert(FILMS)
    renamed_koch = Person(KOCH.person_id, "Howard W. Koch")
    recast = replace(CASABLANCA, writers=(renamed_koch,), actors=(BOGART, BERGMAN, FORD))
    catalog.upsert([recast])
    assert catalog.get(CASABLANCA.film_id) == recast
    assert catalog.person(JULIUS_EPSTEIN.person_id) is None
    assert catalog.search_persons("epstein") == PersonPage((), 0)
    assert catalog.person(KOCH.person_id) == renamed_koch
    assert catalog.search_persons("howard w koch") == PersonPage((renamed_koch,), 1)
    assert ids(catalog.person_films(FORD.person_id)) == [
        EMPIRE.film_id,
        STAR_WARS.film_id,
        CASABLANCA.film_id,
        UNRATED.film_id,
    ]


def test_delete_keeps_people_and_genres_consistent(new_catalog: CatalogFactory) -> None:
    catalog = new_catalog()
    catalog.upsert(FILMS)
    catalog.delete([CASABLANCA.film_id, AMELIE.film_id, STAR_WARS.film_id])
    for gone in (JULIUS_EPSTEIN, BENICHOU, JEUNET, LUCAS):  # credited only on deleted films
        assert catalog.person(gone.person_id) is None
        assert catalog.search_persons(gone.full_name) == PersonPage((), 0)
        assert catalog.person_films(gone.person_id) == []
    assert catalog.person(FORD.person_id) == FORD  # still credited on other films
    assert ids(catalog.person_films(FORD.person_id)) == [EMPIRE.film_id, UNRATED.film_id]
    assert catalog.search_persons("mark hamill") == PersonPage((HAMILL,), 1)
    assert all(g.name != "Romance" for g in catalog.genres())
    catalog.upsert([CASABLANCA])  # the people of a film that comes back come back with it
    assert catalog.person(PHILIP_EPSTEIN.person_id) == PHILIP_EPSTEIN
    assert catalog.person_films(PHILIP_EPSTEIN.person_id) == [CASABLANCA]
