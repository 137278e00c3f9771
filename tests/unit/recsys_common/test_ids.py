"""User ids: opaque strings of a documented alphabet, refused with the reason at every edge."""

from __future__ import annotations

import pytest

from recsys_common.ids import USER_ID_MAX_LEN, genre_id_for, person_id_for, validate_user_id


@pytest.mark.parametrize(
    "user_id", ["42", "ml100k:1", "rt-critic:Émile Zola", "a" * USER_ID_MAX_LEN, "名前", "x?y#z%20"]
)
def test_opaque_ids_of_any_script_pass_unchanged(user_id: str) -> None:
    assert validate_user_id(user_id) == user_id


@pytest.mark.parametrize(
    ("user_id", "reason"),
    [
        ("", "must not be empty"),
        ("a" * (USER_ID_MAX_LEN + 1), "at most 128"),
        ("a/b", "'/'"),
        ("a\x00b", "control characters"),
        ("line\nbreak", "control characters"),
        ("\x85", "control characters"),
        ("para\u2029graph", "control characters"),
        ("\ud800", "lone surrogates"),
        ("ok\udfffok", "lone surrogates"),
    ],
)
def test_forbidden_ids_are_refused_saying_why(user_id: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_user_id(user_id)


def test_derived_ids_fold_names_and_refuse_blanks() -> None:
    assert person_id_for("Sergio  LEONE") == person_id_for("sergio leone")
    assert genre_id_for("Drama") != genre_id_for("drama")  # genre names are exact
    for derive in (person_id_for, genre_id_for):
        with pytest.raises(ValueError, match="blank"):
            derive("  ")
