"""Schemathesis against the Recommendations API's OpenAPI document, in process: valid and invalid
requests to every operation, no 5xx, every answer as documented (problem documents included; the
legacy route's own error shape too)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis

from recommendations_api.bootstrap import create_app
from recommendations_api.settings import ApiSettings
from tests.contract import BOUNDED, CHECKS
from tests.fakes import FakeRecStore
from tests.unit.recommendations_api.conftest import publish

# schemathesis reads the document when the tests are collected: the app is built at import (it connects
# to nothing; the fake store holds the documented example user, "42").
_store = FakeRecStore()
publish(_store, "v1", {"42": ([1, 2, 3], [[5, 6], [7]])})
_app = create_app(ApiSettings(data_dir=Path(tempfile.gettempdir()) / "never-created"), store=_store)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schema.parametrize()
@BOUNDED
def test_every_answer_is_documented(case) -> None:
    case.call_and_validate(checks=CHECKS)
