"""Problem details and request limits on a small app: errors are RFC 9457 documents that never echo
the input, oversized requests are refused before the app reads them, OpenAPI declares it all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from recsys_common.ids import validate_user_id
from recsys_common.web import (
    PROBLEM_MEDIA_TYPE,
    USER_ID_PATTERN,
    USER_ID_SCHEMA,
    RequestLimits,
    install_problem_handlers,
    install_request_limits,
    invalid,
    json_body_openapi,
    operation_id,
    read_json_body,
)

MAX_BODY = 1000
MAX_HEADERS = 2000


class Item(BaseModel):
    score: float = Field(allow_inf_nan=False)


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestLimits, max_body_bytes=MAX_BODY, max_header_bytes=MAX_HEADERS)

    @app.get("/things/{n}")
    def thing(n: int, q: Annotated[str, Query(max_length=5)] = "") -> dict[str, int]:
        if n == 0:
            raise HTTPException(404, "no thing 0", headers={"X-Why": "zero"})
        if n == 1:
            raise RuntimeError("boom")
        return {"n": n}

    @app.post("/items")
    def item(body: Item) -> dict[str, float]:
        return {"score": body.score}

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_http_errors_are_problem_documents_keeping_their_headers(client: TestClient) -> None:
    response = client.get("/things/0")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["x-why"] == "zero"
    assert response.json() == {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no thing 0"}


def test_invalid_requests_say_where_and_why_without_echoing_the_value(client: TestClient) -> None:
    secret = "x" * 5000
    response = client.get("/things/abc", params={"q": secret})
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422 and body["detail"].startswith("invalid request: ")
    assert {tuple(e["loc"]) for e in body["errors"]} == {("path", "n"), ("query", "q")}
    assert secret[:100] not in response.text and len(response.content) < 2000


def test_a_body_that_is_not_json_or_not_finite_is_422_not_500(client: TestClient) -> None:
    for raw in (b"{", b'{"score": NaN}', b'{"score": 1e400}', b'{"score": "\\ud800"}'):
        response = client.post("/items", content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 422, (raw, response.text)


def test_unexpected_errors_are_500_problems_without_internals(client: TestClient) -> None:
    response = client.get("/things/1")
    assert response.status_code == 500
    assert response.json()["detail"] == "internal error; it was logged"
    assert "boom" not in response.text


def test_an_announced_oversized_body_is_413_and_a_streamed_one_too(client: TestClient) -> None:
    big = b'{"score": 1}' + b" " * MAX_BODY
    assert client.post("/items", content=big, headers={"content-type": "application/json"}).status_code == 413

    def chunks() -> Iterator[bytes]:
        yield b'{"score": 1'
        for _ in range(10):
            yield b" " * 200
        yield b"}"

    streamed = client.post("/items", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert streamed.json()["detail"] == f"request body exceeds {MAX_BODY} bytes"


def test_oversized_headers_are_431(client: TestClient) -> None:
    response = client.get("/things/2", headers={"x-padding": "y" * MAX_HEADERS})
    assert response.status_code == 431
    assert client.get("/things/2").json() == {"n": 2}


def test_openapi_declares_problem_documents_for_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    responses = schema["paths"]["/things/{n}"]["get"]["responses"]
    assert responses["422"]["content"] == {
        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
    }
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert set(schema["components"]["schemas"]["ValidationProblem"]["properties"]) >= {
        "type",
        "title",
        "status",
        "detail",
        "errors",
    }


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: float = Field(ge=1, le=10, allow_inf_nan=False)


def _reading_app() -> FastAPI:
    app = FastAPI(generate_unique_id_function=operation_id, openapi_tags=[{"name": "things", "description": "All"}])
    install_problem_handlers(app, documented_models=[Rating])
    install_request_limits(app, max_body_bytes=MAX_BODY, max_header_bytes=MAX_HEADERS)

    @app.post("/ratings", tags=["things"], openapi_extra=json_body_openapi(Rating))
    async def post_rating(request: Request) -> dict[str, float]:
        return {"score": (await read_json_body(request, Rating)).score}

    return app


def test_read_json_body_validates_with_the_model_and_says_where() -> None:
    with TestClient(_reading_app()) as client:
        assert client.post("/ratings", json={"score": 5}).json() == {"score": 5.0}
        assert (
            client.post(
                "/ratings", content=b'{"score": 5}', headers={"content-type": "application/vnd.x+json"}
            ).status_code
            == 200
        )
        cases = {
            b'{"score": NaN}': ["body", "score"],
            b'{"score": 11}': ["body", "score"],
            b'{"score": 5, "extra": 1}': ["body", "extra"],
            b"{": ["body"],
            b"\xff": ["body"],
        }
        for raw, loc in cases.items():
            response = client.post("/ratings", content=raw, headers={"content-type": "application/json"})
            assert response.status_code == 422, raw
            assert response.json()["errors"][0]["loc"] == loc
        form = client.post("/ratings", content=b"score=5", headers={"content-type": "text/plain"})
        assert (form.status_code, form.json()["detail"]) == (415, "the body must be application/json")


def test_the_openapi_document_has_readable_ids_tags_bodies_and_the_limits() -> None:
    spec = _reading_app().openapi()
    operation = spec["paths"]["/ratings"]["post"]
    assert operation["operationId"] == "post_rating"
    assert spec["tags"] == [{"name": "things", "description": "All"}]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Rating"}
    assert spec["components"]["schemas"]["Rating"]["properties"]["score"]["maximum"] == 10
    assert operation["responses"]["413"]["description"] == f"The request body exceeds {MAX_BODY} bytes"
    assert operation["responses"]["431"]["content"] == {
        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }


def test_invalid_names_one_field() -> None:
    assert invalid(("path", "user_id"), "user id must not be empty").errors() == [
        {"loc": ("path", "user_id"), "msg": "user id must not be empty", "type": "value_error"}
    ]


@pytest.mark.parametrize(
    "value",
    [
        "42",
        "Łukasz K.",
        "a" * 128,
        "",
        "a" * 129,
        "a/b",
        "a\x00b",
        "\x1f",
        "\x7f",
        "\x85",
        "\u2028",
        "\u2029",
        "🎬",
        " ",
    ],
)
def test_the_documented_user_id_pattern_agrees_with_validate_user_id(value: str) -> None:
    try:
        validate_user_id(value)
        valid = True
    except ValueError:
        valid = False
    matches = USER_ID_SCHEMA["minLength"] <= len(value) <= USER_ID_SCHEMA["maxLength"]
    assert (matches and re.fullmatch(USER_ID_PATTERN, value) is not None) == valid
