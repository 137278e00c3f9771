"""uvicorn pieces both APIs share: a cap on the size of a request's head at the server.

uvicorn's httptools protocol (the one ``uvicorn[standard]`` selects) buffers a request's headers
without limit (a 64 MB header is read whole), and h11 answers its own cap,
``h11_max_incomplete_event_size``, with a bare 400. ``HeadCappedHttpTools`` is the httptools
protocol honouring that same setting: once more bytes than it allows have arrived while a request's
head (request line and headers) is incomplete, it answers 431 as a problem document and closes the
connection.

The parser reports no offsets, so bytes are counted per chunk read, less the body bytes parsed from
it: a chunk that also carries the end of an earlier request counts whole. The cap is therefore set
above the apps' own header limit (``server_head_limit``); ``RequestLimits`` answers the precise 431
and this cap stops a client before the server buffers much more.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from recsys_common.web import PROBLEM_MEDIA_TYPE, problem_body

#: Room above the apps' header limit for the request line (long URLs) and the header framing.
SERVER_HEAD_SLACK_BYTES = 16 * 1024
#: Head cap when the setting is unset (h11's own default).
DEFAULT_HEAD_LIMIT_BYTES = 16 * 1024
HEADERS_TOO_LARGE = 431


def server_head_limit(max_header_bytes: int) -> int:
    """The server's cap on a request head, for an app that refuses headers above ``max_header_bytes``."""
    return max_header_bytes + SERVER_HEAD_SLACK_BYTES


def uvicorn_options(max_header_bytes: int) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run`` that cap request heads at the server."""
    return {"http": HeadCappedHttpTools, "h11_max_incomplete_event_size": server_head_limit(max_header_bytes)}


class HeadCappedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``config.h11_max_incomplete_event_size`` as a head cap (431)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_limit = config.h11_max_incomplete_event_size or DEFAULT_HEAD_LIMIT_BYTES
        self._in_head = False
        self._head_bytes = 0
        self._body_bytes_parsed = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_bytes_parsed += len(body)
        super().on_body(body)

    def data_received(self, data: bytes) -> None:
        self._body_bytes_parsed = 0
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_bytes += len(data) - self._body_bytes_parsed
        if self._head_bytes > self._head_limit:
            self._refuse_head()

    def _refuse_head(self) -> None:
        self._in_head = False
        if self.cycle is None or self.cycle.response_complete:  # never write into another request's answer
            body = json.dumps(problem_body(HEADERS_TOO_LARGE, f"request head exceeds {self._head_limit} bytes"))
            head = (
                f"HTTP/1.1 {HEADERS_TOO_LARGE} Request Header Fields Too Large\r\n"
                f"content-type: {PROBLEM_MEDIA_TYPE}\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head.encode("ascii") + body.encode("ascii"))
        self.transport.close()
