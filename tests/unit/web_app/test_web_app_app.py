"""The web app's own answers, with no Movies API listening: sign-in and its cookie, where pages send
a visitor who is not signed in, bad input, and the page shown when the Movies API is down."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from movies_api.auth import decode_token
from web_app.auth import COOKIE, SignIn
from web_app.bootstrap import create_app
from web_app.settings import WebSettings

SECRET = "unit-secret-of-at-least-thirty-two-bytes!"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = WebSettings(web_movies_api_url=closed_port_url(), jwt_secret=SECRET, web_movies_api_timeout_s=1)
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


def test_sign_in_sets_an_http_only_same_site_cookie_holding_the_movies_api_token(client: TestClient) -> None:
    response = client.post("/signin", data={"name": "Ana", "next": "/films/x"})
    assert response.status_code == 303
    assert response.headers["location"] == "/films/x"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    token = cookie.split(";", 1)[0].split("=", 1)[1]
    assert decode_token(token, SECRET).user_id == "Ana"


def test_sign_in_never_sends_the_viewer_to_another_site(client: TestClient) -> None:
    response = client.post("/signin", data={"name": "Ana", "next": "//evil.example/"})
    assert response.headers["location"] == "/"


def test_a_name_that_is_no_user_id_is_refused_with_a_message(client: TestClient) -> None:
    response = client.post("/signin", data={"name": "a/b"})
    assert response.status_code == 422
    assert "That name cannot be used" in response.text
    assert "set-cookie" not in response.headers


def test_sign_out_forgets_the_token(client: TestClient) -> None:
    response = client.post("/signout")
    assert response.status_code == 303
    assert f'{COOKIE}=""' in response.headers["set-cookie"]


@pytest.mark.parametrize("path", ["/my/ratings", "/onboarding", "/onboarding/ready"])
def test_a_viewers_own_pages_ask_an_anonymous_visitor_to_sign_in_first(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/signin?next={path}"


def test_rating_needs_a_viewer_and_a_score_from_1_to_10(client: TestClient) -> None:
    film = "/films/5aae2260-99d6-5e73-bd20-fe79285425c2"
    referer = {"Referer": f"http://testserver{film}"}  # back to the page the form was on
    response = client.post(f"{film}/rating", data={"score": "8"}, headers=referer)
    assert response.headers["location"] == f"/signin?next={film}"
    client.cookies.set(COOKIE, "x")
    response = client.post(f"{film}/rating", data={"score": "11"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_film_id_that_is_no_uuid_is_404(client: TestClient) -> None:
    response = client.get("/films/not-a-film")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]


def test_the_movies_api_down_is_a_503_page_not_a_500(client: TestClient) -> None:
    response = client.get("/search?q=heat")
    assert response.status_code == 503
    assert "The film service is unavailable" in response.text


def test_liveness_needs_nothing_else(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}


def test_the_vendored_htmx_is_served_by_the_app(client: TestClient) -> None:
    page = client.get("/signin").text
    assert '<script src="/static/vendor/htmx-2.0.11.min.js"' in page
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200


def test_an_htmx_request_gets_the_error_alone_retargeted_to_the_alert_area(client: TestClient) -> None:
    client.cookies.set(COOKIE, SignIn(WebSettings(jwt_secret=SECRET)).mint("viewer"))
    film = "/films/5aae2260-99d6-5e73-bd20-fe79285425c2"
    response = client.post(f"{film}/rating", data={"score": "8"}, headers={"HX-Request": "true"})
    assert response.status_code == 503
    assert response.headers["HX-Retarget"] == "#flash"
    assert (
        response.text.strip() == '<p class="error">The film service is unavailable. Please try again in a moment.</p>'
    )
