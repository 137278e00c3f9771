"""HTTP pieces both FastAPI services share: RFC 9457 problem details and request size limits.

Every 4xx/5xx answer is a problem document (``application/problem+json``): ``type``, ``title``,
``status``, ``detail`` and, for invalid requests, ``errors`` (where and why, never the value sent:
a client's 100 MB body does not come back in its 422). ``install_problem_handlers`` installs the
handlers and rewrites the OpenAPI document so every error response declares that schema.

``RequestLimits`` is a pure ASGI middleware that refuses oversized requests before the application
reads them: 431 when the request's headers exceed ``max_header_bytes``, 413 when the body exceeds
``max_body_bytes`` (announced by ``Content-Length`` or counted while it streams in).
``install_request_limits`` adds it and declares both answers on every operation.

Also here: readable operation ids (``operation_id``), a 422 about one field (``invalid``), and
``read_json_body`` for routes that must authenticate before they read a body (FastAPI reads a
declared body before it solves the dependencies, so an anonymous client's body would be read first).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recsys_common.ids import USER_ID_MAX_LEN

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Longest excerpt of a message or a location part that an error answer carries.
MAX_EXCERPT = 200
#: How many invalid fields one answer lists.
MAX_ERRORS = 20
#: Defaults of the request limits (settings of each API override them).
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
JSON_MEDIA_TYPE = "application/json"
FASTAPI_422_DESCRIPTION = "Validation Error"
VALIDATION_DESCRIPTION = "Invalid request: `errors` says where and why (the values sent are never echoed)"
#: Where ``install_request_limits`` leaves the limits for the OpenAPI document (``app.state``).
_LIMITS_STATE = "recsys_request_limits"

_M = TypeVar("_M", bound=BaseModel)

#: ``recsys_common.ids.validate_user_id`` as a JSON Schema for path parameters (ECMA-262 pattern). A URL
#: path cannot carry a lone surrogate (it is percent-decoded as UTF-8), so the pattern leaves them out.
USER_ID_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029/]+$"
USER_ID_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": USER_ID_MAX_LEN, "pattern": USER_ID_PATTERN}


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


def invalid(loc: Sequence[str | int], message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 about one field, answered like FastAPI's own (``loc`` starts with ``path``, ``query``,
    ``header`` or ``body``; ``message`` says what is allowed)."""
    return RequestValidationError([{"loc": tuple(loc), "msg": message, "type": kind}])


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operation id: its endpoint function's name (``get_user_recommendations``), so
    generated clients read well. Pass it as FastAPI's ``generate_unique_id_function``; FastAPI warns
    when two routes of one app share a name."""
    return route.name


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, with any parameters (``; charset=utf-8``)."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or (media_type.startswith("application/") and media_type.endswith("+json"))


async def read_json_body(request: Request, model: type[_M]) -> _M:
    """The request's JSON body validated by ``model``: 415 for another media type, 422 naming the
    invalid fields (``body``, then the field). Read it only once the caller may send one (after
    authentication); ``RequestLimits`` stops it at its limit while it streams in."""
    content_type = request.headers.get("content-type")
    if content_type is not None and not is_json_media_type(content_type):
        raise HTTPException(415, f"the body must be {JSON_MEDIA_TYPE}")
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in errors]) from None


def json_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a route that reads its body with ``read_json_body``: the body it documents
    (list ``model`` in ``install_problem_handlers(documented_models=...)`` so its schema is a component)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {JSON_MEDIA_TYPE: {"schema": schema}}}}


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


def install_problem_handlers(app: FastAPI, documented_models: Sequence[type[BaseModel]] = ()) -> None:
    """Answer every HTTP error, invalid request and unexpected exception with problem details, and
    declare the problem schemas in the app's OpenAPI document (with ``documented_models``: bodies
    that routes read themselves, see ``json_body_openapi``)."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)
    app.openapi = _problem_openapi(app, documented_models)  # type: ignore[method-assign]


@dataclass(frozen=True)
class _Limits:
    max_body_bytes: int
    max_header_bytes: int


def install_request_limits(app: FastAPI, max_body_bytes: int, max_header_bytes: int) -> None:
    """Add ``RequestLimits`` to the app and declare its 413 and 431 on every operation (any request
    can carry a body or headers)."""
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes, max_header_bytes=max_header_bytes)
    setattr(app.state, _LIMITS_STATE, _Limits(max_body_bytes, max_header_bytes))


def _component(model: type[BaseModel], components: dict[str, Any]) -> None:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema


def _problem_openapi(app: FastAPI, documented_models: Sequence[type[BaseModel]]) -> Callable[[], dict[str, Any]]:
    """The app's OpenAPI document with every 4xx/5xx response declared as problem details."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
            servers=app.servers,
            separate_input_output_schemas=app.separate_input_output_schemas,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        models: list[type[BaseModel]] = [Problem, ValidationProblem, *documented_models]
        for model in models:
            _component(model, components)
        for components_name in ("HTTPValidationError", "ValidationError"):
            components.pop(components_name, None)
        limits: _Limits | None = getattr(app.state, _LIMITS_STATE, None)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if limits is not None:
                    _declare_limits(operation.setdefault("responses", {}), limits)
                for code, response in operation.get("responses", {}).items():
                    if code[:1] not in ("4", "5"):
                        continue
                    if code == "422" and response.get("description") == FASTAPI_422_DESCRIPTION:
                        response["description"] = VALIDATION_DESCRIPTION
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


def _declare_limits(responses: dict[str, Any], limits: _Limits) -> None:
    described = {
        "413": f"The request body exceeds {limits.max_body_bytes} bytes",
        "431": f"The request headers exceed {limits.max_header_bytes} bytes",
    }
    for code, description in described.items():
        responses.setdefault(code, {"description": description})


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
