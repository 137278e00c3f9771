"""The Movies API as ``__main__`` serves it (uvicorn, head cap): an anonymous 100 MB rating upload is
answered before the client sent its body, announced (413) or streamed (401), and an oversized head
gets 431."""

from __future__ import annotations

import socket

import pytest

from movies_api.bootstrap import create_app
from movies_api.settings import MoviesApiSettings
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.serving import uvicorn_options
from recsys_common.web import DEFAULT_MAX_HEADER_BYTES
from tests.servers import serve_in_thread

pytestmark = pytest.mark.integration

SECRET = "integration-test-secret-32-bytes-long!"
SOCKET_TIMEOUT_S = 5.0
HUNDRED_MB = 100 * 1024 * 1024


def status_before_the_body(base_url: str, head: bytes, first_bytes: bytes = b"") -> int:
    """Send a request head (and the first bytes of its body), then wait for the status line."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(head + first_bytes)
        received = b""
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            assert chunk, "the server closed without answering"
            received += chunk
    return int(received.split(b" ", 2)[1])


@pytest.fixture
def base_url(tmp_path, films):
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    catalog.upsert(films)
    settings = MoviesApiSettings(data_dir=tmp_path, jwt_secret=SECRET)
    with serve_in_thread(create_app(settings, catalog=catalog), **uvicorn_options(DEFAULT_MAX_HEADER_BYTES)) as url:
        yield url


def test_an_anonymous_100_mb_upload_is_answered_before_it_is_sent(base_url, films) -> None:
    path = f"/api/v1/films/{films[0].film_id}/rating"
    announced = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {HUNDRED_MB}\r\n\r\n"
    )
    assert status_before_the_body(base_url, announced.encode(), b'{"score": ') == 413
    streamed = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    assert status_before_the_body(base_url, streamed.encode(), b"1000\r\n" + b" " * 4096 + b"\r\n") == 401


def test_an_oversized_head_is_431(base_url) -> None:
    head = b"GET /api/v1/genres HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * (4 * DEFAULT_MAX_HEADER_BYTES)
    assert status_before_the_body(base_url, head) == 431
