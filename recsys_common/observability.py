"""What every process shares for operators: one log format (JSON lines, with the request id), the
request id itself (``X-Request-ID``: taken from the caller or made up, passed on to the services a
request calls, returned to the client) and the Prometheus HTTP server of the processes that have no
web app of their own.

Logs: ``configure_logging`` sends every logger (uvicorn's access log included, when uvicorn runs
with ``log_config=None``) to stderr, one JSON object per line (``time``, ``level``, ``logger``,
``message``, ``request_id`` and any ``extra``), or as plain text for a person at a terminal
(``RECSYS_LOG_FORMAT=auto``, the default, picks by whether stderr is a terminal).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
from contextvars import ContextVar
from typing import Literal

from prometheus_client import CollectorRegistry, start_http_server
from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LogFormat = Literal["auto", "json", "text"]

REQUEST_ID_HEADER = "X-Request-ID"
#: A caller's request id is kept when it is this short and plain; otherwise a new one is made.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
_JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


def current_request_id() -> str | None:
    """The id of the request being handled (None outside a request)."""
    return _request_id.get()


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (a test runner may swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: int | str = logging.INFO, log_format: LogFormat = "auto") -> None:
    """One stderr handler on the root logger, in the chosen format (it replaces the one an earlier
    call installed; other handlers, e.g. a test runner's, stay)."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    handler = _StderrHandler(sys.stderr)
    if use_json:
        handler.setFormatter(JsonFormatter(_JSON_FIELDS, rename_fields=_JSON_RENAMES, timestamp=False))
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


#: New request ids: a random prefix per process (drawn again in a forked child) and a counter, 32 hex
#: digits in all, without a system call per request.
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count()


def _new_prefix() -> None:
    global _ID_PREFIX
    _ID_PREFIX = os.urandom(8).hex()


os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


class RequestIdMiddleware:
    """Give every HTTP request an id (the caller's ``X-Request-ID`` when it is plain, else a new
    one), keep it in a context variable for the logs and the outgoing calls, and return it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", []) if k == b"x-request-id"), b"").decode("latin-1")
        request_id = given if _VALID_REQUEST_ID.fullmatch(given) else new_request_id()
        token = _request_id.set(request_id)
        header = (REQUEST_ID_HEADER.lower().encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> None:
    """Serve ``registry`` at ``http://host:port/metrics`` from a daemon thread (prometheus-client's
    server); port 0 serves nothing (e.g. a second process of the same kind on one machine)."""
    if port:
        start_http_server(port, host, registry=registry)
