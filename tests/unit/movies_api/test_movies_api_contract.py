"""Schemathesis against the Movies API's OpenAPI document, in process: valid and invalid requests to
every operation with an operator's bearer token and without a valid one; no 5xx, every answer as
documented (problem documents for every error)."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import schemathesis

from movies_api.bootstrap import create_app
from movies_api.routers.films import FILM_ID_EXAMPLE
from movies_api.settings import MoviesApiSettings
from recsys_common.tokens import issue_token
from tests.contract import BOUNDED, CHECKS
from tests.unit.movies_api.conftest import FILMS, SECRET, FakeCatalog, FakePublisher, dead_url

# schemathesis reads the document when the tests are collected: the app is built at import (it connects
# to nothing). The catalogue holds a film with the documented example id, so examples reach the 2xx paths.
_films = [*FILMS, replace(FILMS[0], film_id=FILM_ID_EXAMPLE, title="Documented example")]
_settings = MoviesApiSettings(
    data_dir=Path(tempfile.gettempdir()) / "never-created", jwt_secret=SECRET, recommendations_api_url=dead_url()
)
_app = create_app(_settings, catalog=FakeCatalog({f.film_id: f for f in _films}), publisher=FakePublisher())
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schema.parametrize()
@BOUNDED
def test_every_answer_to_an_operator_is_documented(case) -> None:
    token = issue_token("contract-operator", SECRET, roles=["operator"])
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@schema.parametrize()
@BOUNDED
def test_every_answer_without_a_valid_token_is_documented(case) -> None:
    """Whatever schemathesis puts in the Authorization header (often nothing) is not a valid token."""
    case.call_and_validate(checks=CHECKS)
