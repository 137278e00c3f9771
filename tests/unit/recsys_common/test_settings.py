"""Unknown ``RECSYS_*`` variables are warned about, with the closest known name as a hint; a name
any process of the platform reads is not (processes share one environment in compose)."""

from __future__ import annotations

import logging

import pytest

from recsys_common.settings import unknown_variables, warn_unknown_variables


def test_a_misspelt_variable_is_named_with_the_closest_known_one():
    found = unknown_variables({"RECSYS_MODLE__EPOCHS": "3", "RECSYS_REDIS_URL": "redis://x"})
    assert found == {"RECSYS_MODLE__EPOCHS": "RECSYS_MODEL__EPOCHS"}


def test_a_variable_unlike_any_known_one_has_no_hint():
    assert unknown_variables({"RECSYS_ZZZZZZZZZZZZZZZZZZZZ": "1"}) == {"RECSYS_ZZZZZZZZZZZZZZZZZZZZ": None}


def test_variables_of_every_process_are_known_whatever_their_case():
    environ = {
        "RECSYS_EXAM_SEED": "1",  # the exam API's
        "RECSYS_UGC_LOADER__BATCH_SIZE": "10",  # the UGC loader's, nested
        "RECSYS_MODEL": "{}",  # the engine's nested model, whole as JSON
        "recsys_jwt_secret": "x" * 32,  # pydantic-settings reads names case-insensitively
        "RECSYS_ETL_BATCH_SIZE": "5",
        "PATH": "/bin",  # not ours
        "XRECSYS_FOO": "1",
    }
    assert unknown_variables(environ) == {}


def test_the_known_names_can_be_given():
    found = unknown_variables({"RECSYS_ALPHA": "1", "RECSYS_OMEGA_9": "1"}, known={"RECSYS_ALPHA"})
    assert found == {"RECSYS_OMEGA_9": None}


def test_warn_logs_one_warning_per_unknown_variable(caplog: pytest.LogCaptureFixture):
    environ = {"RECSYS_API_PROT": "8001", "RECSYS_JWT_SECRT": "x", "RECSYS_API_PORT": "8001"}
    with caplog.at_level(logging.WARNING, logger="recsys_common.settings"):
        found = warn_unknown_variables(environ)
    assert set(found) == {"RECSYS_API_PROT", "RECSYS_JWT_SECRT"}
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 2
    assert any("RECSYS_API_PROT" in m and "did you mean RECSYS_API_PORT?" in m for m in messages)
    assert any("RECSYS_JWT_SECRT" in m and "did you mean RECSYS_JWT_SECRET?" in m for m in messages)
    assert all("8001" not in m for m in messages)  # values are never logged: they may be secrets
