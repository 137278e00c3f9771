"""Request size limits of the Movies API (413, 431 as problem documents), and a rating's body read
only after authentication: an anonymous upload is refused without a single read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app
from recsys_common.ids import film_id_for
from recsys_common.web import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES, PROBLEM_MEDIA_TYPE

URL = f"/api/v1/films/{film_id_for('api:1')}/rating"
JSON = {"Content-Type": "application/json"}
HUGE = 100_000_000
#: A body chunk and how many the fake client would send (far more than the limit).
CHUNK = b" " * 4096
CHUNKS = 1000
ASGI_TIMEOUT_S = 5.0


def call_asgi(app, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, int]:
    """POST the rating route straight through ASGI; returns (status, how many times the app read the body)."""
    reads = 0
    started: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}
        await asyncio.sleep(ASGI_TIMEOUT_S)  # a client that keeps the request open
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), ASGI_TIMEOUT_S))
    return started[0]["status"], reads


@pytest.fixture
def app(settings, catalog, publisher):
    return create_app(settings, catalog=catalog, publisher=publisher)


def bearer(auth) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", auth()["Authorization"].encode())]


def test_an_anonymous_streamed_upload_is_refused_without_reading_it(app) -> None:
    assert call_asgi(app, [(b"transfer-encoding", b"chunked")], [CHUNK] * CHUNKS) == (401, 0)


def test_an_announced_oversized_upload_is_refused_without_reading_it(app, auth) -> None:
    for headers in ([], bearer(auth)):
        assert call_asgi(app, [*headers, (b"content-length", str(HUGE).encode())], [CHUNK]) == (413, 0)


def test_an_authenticated_upload_is_read_then_stopped_at_the_limit(app, auth, publisher) -> None:
    status, reads = call_asgi(app, [*bearer(auth), (b"transfer-encoding", b"chunked")], [CHUNK] * CHUNKS)
    assert status == 413
    assert 0 < reads <= DEFAULT_MAX_BODY_BYTES // len(CHUNK) + 1
    assert call_asgi(app, bearer(auth), [b'{"score": 7}']) == (202, 1)
    assert [event.rating for event in publisher.events] == [7.0]


def test_oversized_bodies_are_413_problem_documents(client, auth, publisher) -> None:
    big = b'{"score": 5' + b" " * DEFAULT_MAX_BODY_BYTES + b"}"
    response = client.post(URL, content=big, headers={**JSON, **auth()})
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["detail"] == f"request body exceeds {DEFAULT_MAX_BODY_BYTES} bytes"

    def streamed() -> Iterator[bytes]:
        yield b'{"score": 5'
        for _ in range(CHUNKS):
            yield CHUNK
        yield b"}"

    assert client.post(URL, content=streamed(), headers={**JSON, **auth()}).status_code == 413
    assert publisher.events == []


def test_oversized_headers_are_431_problem_documents(client) -> None:
    response = client.get("/api/v1/genres", headers={"X-Padding": "p" * DEFAULT_MAX_HEADER_BYTES})
    assert response.status_code == 431
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["detail"] == f"request headers exceed {DEFAULT_MAX_HEADER_BYTES} bytes"
    assert client.get("/api/v1/genres").status_code == 200


def test_the_limits_are_settings(settings, catalog, publisher, auth) -> None:
    small = settings.model_copy(update={"movies_api_max_body_bytes": 8, "movies_api_max_header_bytes": 4096})
    with TestClient(create_app(small, catalog=catalog, publisher=publisher)) as client:
        assert client.post(URL, json={"score": 5}, headers=auth()).status_code == 413
        assert client.get("/health/live", headers={"X-Padding": "p" * 4096}).status_code == 431
    spec = create_app(small, catalog=catalog, publisher=publisher).openapi()
    responses = spec["paths"]["/api/v1/films/{film_id}/rating"]["post"]["responses"]
    assert responses["413"]["description"] == "The request body exceeds 8 bytes"
    assert responses["431"]["content"] == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
