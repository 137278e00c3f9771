from __future__ import annotations

import uuid

from movies_db.ids import genre_ids_of, genre_link_id_for, person_link_id_for
from recsys_common.domain import ACTOR, DIRECTOR, Film
from recsys_common.ids import film_id_for, genre_id_for

FILM = film_id_for("test:0")


def test_genre_ids_of_a_film_are_its_own_else_derived_from_the_names() -> None:
    own = (str(uuid.uuid4()), str(uuid.uuid4()))
    assert genre_ids_of(Film(FILM, "F", genres=("Drama", "Comedy"), genre_ids=own)) == own
    assert genre_ids_of(Film(FILM, "F", genres=("Drama", "Comedy"))) == (genre_id_for("Drama"), genre_id_for("Comedy"))
    assert genre_ids_of(Film(FILM, "F")) == ()


def test_link_ids_are_stable_and_distinct_per_film_genre_person_and_role() -> None:
    genre, person = genre_id_for("Drama"), str(uuid.uuid4())
    other_film = film_id_for("test:1")
    assert genre_link_id_for(FILM, genre) == genre_link_id_for(FILM, genre) != genre_link_id_for(other_film, genre)
    ids = {person_link_id_for(f, person, role) for f in (FILM, other_film) for role in (DIRECTOR, ACTOR)}
    assert len(ids) == 4
    assert uuid.UUID(person_link_id_for(FILM, person, DIRECTOR)).version == 5
