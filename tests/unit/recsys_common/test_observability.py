"""One log format and the request id: JSON lines carrying the id of the request being handled; the
id is the caller's when it is plain, a new one otherwise, and comes back in the response."""

from __future__ import annotations

import json
import logging
import os

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from recsys_common.observability import REQUEST_ID_HEADER, RequestIdMiddleware, configure_logging, current_request_id


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestIdMiddleware)

    @app.get("/where")
    def where() -> dict[str, str | None]:
        logging.getLogger("test.handler").info("handling", extra={"film": "f1"})
        return {"request_id": current_request_id()}

    return app


def test_a_plain_caller_id_is_kept_and_returned(app: FastAPI) -> None:
    with TestClient(app) as client:
        response = client.get("/where", headers={REQUEST_ID_HEADER: "abc-123"})
    assert response.headers[REQUEST_ID_HEADER] == "abc-123"
    assert response.json() == {"request_id": "abc-123"}


@pytest.mark.parametrize("given", [None, "", "x" * 200, "has space", "new\nline"])
def test_a_missing_or_odd_id_is_replaced_by_a_new_one(app: FastAPI, given: str | None) -> None:
    headers = {} if given is None else {REQUEST_ID_HEADER: given}
    with TestClient(app) as client:
        response = client.get("/where", headers=headers)
    made = response.headers[REQUEST_ID_HEADER]
    assert made != given and len(made) == 32
    assert response.json() == {"request_id": made}


def test_json_lines_carry_the_request_id_and_extras(app: FastAPI, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(logging.INFO, "json")
    try:
        with TestClient(app) as client:
            client.get("/where", headers={REQUEST_ID_HEADER: "req-7"})
        logging.getLogger("test.outside").warning("no request here")
    finally:
        configure_logging(logging.WARNING, "text")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    handling = next(line for line in lines if line["message"] == "handling")
    assert handling["request_id"] == "req-7" and handling["film"] == "f1"
    assert {"time", "level", "logger"} <= set(handling) and handling["logger"] == "test.handler"
    outside = next(line for line in lines if line["message"] == "no request here")
    assert outside["request_id"] is None and outside["level"] == "WARNING"


def test_new_request_ids_differ_within_a_process_and_across_a_fork():
    from recsys_common.observability import new_request_id

    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 32 for i in ids)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports its first id and leaves at once
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 64).decode()[:16] != new_request_id()[:16]
