"""The server's cap on request heads (uvicorn with ``HeadCappedHttpTools``), over real sockets: a
head far over the cap gets a 431 problem document and the connection is closed, with the server
having read little more than the cap; heads under it reach the app (whose own limit answers 431)."""

from __future__ import annotations

import json
import socket

import pytest
from fastapi import FastAPI

from recsys_common.serving import server_head_limit, uvicorn_options
from recsys_common.web import PROBLEM_MEDIA_TYPE, install_problem_handlers, install_request_limits
from tests.servers import serve_in_thread

pytestmark = pytest.mark.integration

APP_HEADER_LIMIT = 2048
SOCKET_TIMEOUT_S = 5.0
READ_CHUNK = 65_536


def app() -> FastAPI:
    api = FastAPI()
    install_problem_handlers(api)
    install_request_limits(api, max_body_bytes=1024, max_header_bytes=APP_HEADER_LIMIT)

    @api.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return api


def exchange(base_url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes or answers; returns status, headers, body."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < _length(received):
            chunk = sock.recv(READ_CHUNK)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _length(received: bytes) -> int:
    for line in received.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_a_head_over_the_server_cap_is_431_and_the_connection_closed() -> None:
    with serve_in_thread(app(), **uvicorn_options(APP_HEADER_LIMIT)) as base_url:
        cap = server_head_limit(APP_HEADER_LIMIT)
        unfinished_head = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * (2 * cap)  # never ends
        status, headers, body = exchange(base_url, unfinished_head)
        assert status == 431
        assert headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert headers["connection"] == "close"
        assert json.loads(body)["detail"] == f"request head exceeds {cap} bytes"

        under_cap = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * (cap // 2) + b"\r\n\r\n"
        status, _, body = exchange(base_url, under_cap)
        assert status == 431  # over the app's own limit: its problem document
        assert json.loads(body)["detail"] == f"request headers exceed {APP_HEADER_LIMIT} bytes"
        status, _, body = exchange(base_url, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (status, json.loads(body)) == (200, {"pong": "yes"})


def test_pipelined_requests_under_the_cap_are_all_answered() -> None:
    with serve_in_thread(app(), **uvicorn_options(APP_HEADER_LIMIT)) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        requests = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" * 50
        with socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT_S) as sock:
            sock.sendall(requests)
            received = b""
            while received.count(b'{"pong":"yes"}') < 50:
                chunk = sock.recv(READ_CHUNK)
                assert chunk, f"closed after {received.count(b'HTTP/1.1 200')} answers"
                received += chunk
        assert received.count(b"HTTP/1.1 200 OK") == 50
