"""Shared settings of the schemathesis contract tests (in process, over ASGI, bounded in examples).

Every response must not be a 5xx and must match what the OpenAPI document declares: the status code,
the media type and the body's schema. Generation covers valid and invalid requests (schemathesis'
positive and negative modes).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

#: Examples per operation and mode: enough to reach every documented error, small enough for CI.
MAX_EXAMPLES = 25

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

#: No deadline (a shared CI machine is slow at times), no example database written into the work tree.
BOUNDED = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
