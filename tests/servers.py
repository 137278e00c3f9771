"""Run an ASGI app under uvicorn in a thread on a free loopback port (tests only)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp

#: How long to wait for the server to start or stop.
START_TIMEOUT_S = 10.0


@contextmanager
def serve_in_thread(app: ASGIApp, lifespan: Literal["auto", "on", "off"] = "off", **options: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its base URL; stop it on exit. ``options`` go to ``uvicorn.Config``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the server for {app!r} did not start")
            time.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        sock.close()
