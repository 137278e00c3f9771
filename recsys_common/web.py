"""HTTP pieces both FastAPI services share: RFC 9457 problem details and request size limits.

Every 4xx/5xx answer is a problem document (``application/problem+json``): ``type``, ``title``,
``status``, ``detail`` and, for invalid requests, ``errors`` (where and why, never the value sent:
a client's 100 MB body does not come back in its 422). ``install_problem_handlers`` installs the
handlers and rewrites the OpenAPI document so every error response declares that schema.

``RequestLimits`` is a pure ASGI middleware that refuses oversized requests before the application
reads them: 431 when the request's headers exceed ``max_header_bytes``, 413 when the body exceeds
``max_body_bytes`` (announced by ``Content-Length`` or counted while it streams in).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Longest excerpt of a message or a location part that an error answer carries.
MAX_EXCERPT = 200
#: How many invalid fields one answer lists.
MAX_ERRORS = 20
#: Defaults of the request limits (settings of each API override them).
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "film 1a5b... not found"}
            ]
        }
    )

    type: str = Field(default="about:blank", description="A URI naming the kind of problem")
    title: str = Field(description="The HTTP status phrase")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong, for a human")


class InvalidField(BaseModel):
    loc: list[str | int] = Field(description="Where: `query`, `path`, `body` or `header`, then the field")
    msg: str
    type: str = Field(description="The kind of error (pydantic's error type)")


class ValidationProblem(Problem):
    """A request that does not follow the documented parameters or body (422)."""

    errors: list[InvalidField] = Field(description="Each invalid field; the values sent are never echoed")


def excerpt(text: str, limit: int = MAX_EXCERPT) -> str:
    """``text`` cut to ``limit`` characters (marked with an ellipsis when cut); lone surrogates escaped."""
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def problem_body(status: int, detail: str, **extensions: Any) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": excerpt(detail),
        **extensions,
    }


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extensions: Any) -> JSONResponse:
    """A problem details response."""
    return JSONResponse(
        problem_body(status, detail, **extensions), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _invalid_fields(errors: Sequence[Any]) -> list[dict[str, Any]]:
    fields = []
    for error in list(errors)[:MAX_ERRORS]:
        loc = [part if isinstance(part, int) else excerpt(str(part), MAX_EXCERPT // 4) for part in error.get("loc", ())]
        fields.append({"loc": loc, "msg": excerpt(str(error.get("msg", ""))), "type": str(error.get("type", ""))})
    return fields


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, default=str)
    return problem(exc.status_code, detail, headers=dict(exc.headers) if exc.headers else None)


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = _invalid_fields(exc.errors())
    first = fields[0] if fields else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    return problem(422, f"invalid request: {detail}", errors=fields)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal error; it was logged")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every HTTP error, invalid request and unexpected exception with problem details, and
    declare the problem schemas in the app's OpenAPI document."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)
    app.openapi = _problem_openapi(app)  # type: ignore[method-assign]


def _problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The app's OpenAPI document with every 4xx/5xx response declared as problem details."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        validation = ValidationProblem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(validation.pop("$defs", {}))
        components["ValidationProblem"] = validation
        for components_name in ("HTTPValidationError", "ValidationError"):
            components.pop(components_name, None)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for code, response in operation.get("responses", {}).items():
                    if code[:1] not in ("4", "5"):
                        continue
                    content = response.setdefault("content", {})
                    body = content.pop("application/json", None)
                    ref = "ValidationProblem" if code == "422" else "Problem"
                    keep = (
                        body is not None
                        and "Problem" not in json.dumps(body)
                        and "HTTPValidationError" not in json.dumps(body)
                    )
                    if keep:  # a route that documents its own error shape (the legacy route)
                        content["application/json"] = body
                    else:
                        content[PROBLEM_MEDIA_TYPE] = {"schema": {"$ref": f"#/components/schemas/{ref}"}}
        app.openapi_schema = schema
        return schema

    return openapi


class BodyTooLarge(HTTPException):
    """The body grew past the limit while it streamed in (an HTTP error, so FastAPI's body parsing
    passes it on unchanged and the problem handler answers it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


class RequestLimits:
    """Refuse requests whose headers or body are too large, before the application sees them."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        if sum(len(name) + len(value) for name, value in headers) > self.max_header_bytes:
            await _send_problem(send, 431, f"request headers exceed {self.max_header_bytes} bytes")
            return
        announced = next((value for name, value in headers if name == b"content-length"), None)
        if announced is not None and announced.isdigit() and int(announced) > self.max_body_bytes:
            await _send_problem(send, 413, f"request body exceeds {self.max_body_bytes} bytes")
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        await self.app(scope, limited_receive, send)


async def _send_problem(send: Send, status: int, detail: str) -> None:
    body = json.dumps(problem_body(status, detail)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
