"""Small rules of the pages: the reason line, where sign-in may send a viewer back to."""

from __future__ import annotations

import pytest

from web_app.movies import Reason
from web_app.pages import reason_text, safe_next


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (Reason(kind="rated", film_id="f", title="Heat", score=9.0), "Because you rated Heat 9/10"),
        (Reason(kind="rated", film_id="f", title="Heat", score=7.5), "Because you rated Heat 7.5/10"),
        (Reason(kind="top_in_genre", genre="Crime"), "Top rated in Crime"),
        (Reason(kind="top_rated"), "Top rated overall"),
        (None, ""),
    ],
)
def test_reason_text(reason, text):
    assert reason_text(reason) == text


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/films/x", "/films/x"),
        ("/", "/"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        (None, "/"),
        ("", "/"),
    ],
)
def test_sign_in_returns_only_to_a_local_path(target, expected):
    assert safe_next(target) == expected
