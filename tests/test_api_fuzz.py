"""A property-based fuzz run of the whole API against its own OpenAPI schema (schemathesis).

Every operation gets generated requests (valid ones, and invalid ones of every kind the
schema allows to construct), sent in-process to the WSGI application with a staff token;
every response must be documented, of the documented type and shape, and never a 5xx.
Examples are derandomized, so a run is repeatable, and bounded, so it stays short.
"""

import itertools
import os
from types import SimpleNamespace

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import make_resource, make_token, make_user
from tracking.api.idempotency import KEY_PATTERN
from tracking.connector import DjangoConnector

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

KEYS = itertools.count()
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
application = get_wsgi_application()


@pytest.fixture
def keep_test_connection():
    # The WSGI handler closes the database connection around each request, as a server
    # does; here that connection holds the test's transaction (Django's test client
    # disconnects this handler the same way).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def fuzz_world(db, keep_test_connection):
    """A staff token (it reaches every endpoint), and rows for requests to land on."""
    staff = make_user("root", is_staff=True)
    make_user("alice")
    cpu = make_resource("cpu")
    connector = DjangoConnector()
    for owner in ("root", "alice"):
        eid = connector.start_experiment(owner, {"name": f"{owner}'s", "resource_args": {"multi_res_labels": ["acc"]}})
        jid = connector.job_started(eid, cpu.pk, {"lr": 0.1})
        irid = connector.save_intermediate_result(jid, 0.5)
        connector.save_multiple_results(jid, irid, eid, None, [0.5])
    token, secret = make_token(staff, "fuzz")
    ids = {"eid": eid, "jid": jid, "irid": irid, "rid": cpu.pk, "free_rid": cpu.pk, "token_id": token.pk}
    return SimpleNamespace(headers={"Authorization": f"Bearer {secret}"}, ids=ids)


def land_on_rows(value, ids, key=None):
    """Point about three generated ids in four at real rows (random 64-bit ids would
    hardly ever exist, and the request would stop at the 404); the rest stay unknown."""
    if isinstance(value, dict):
        return {name: land_on_rows(item, ids, name) for name, item in value.items()}
    if isinstance(value, list):
        return [land_on_rows(item, ids, key) for item in value]
    if key in ids and not isinstance(value, bool):
        try:
            number = int(value)  # path and query parameters may come as text
        except (TypeError, ValueError):
            return value
        if number % 4:
            return ids[key] if isinstance(value, int) else str(ids[key])
    return value


def call_and_validate(case, fuzz_world):
    ids = {**fuzz_world.ids, "blacklist": fuzz_world.ids["rid"]}
    case.path_parameters = land_on_rows(case.path_parameters, ids)
    case.query = land_on_rows(case.query, ids)
    case.body = land_on_rows(case.body, ids)
    if KEY_PATTERN.match(str(case.headers.get("Idempotency-Key", ""))):
        # A generated key repeats across requests, and a key reused with another body is
        # refused (422) before the view runs: each valid key is made unique, so that
        # requests get to the view; malformed keys stay, to probe their refusal.
        case.headers["Idempotency-Key"] = f"fuzz-{next(KEYS)}"
    case.call_and_validate(app=application, headers=fuzz_world.headers, checks=CHECKS)


# Writes take bodies with many fields, where a bad value hides deeper (a NUL in the third
# label): they get more examples than reads. AUPSITE_FUZZ_EXAMPLES scales both up.
SCALE = int(os.environ.get("AUPSITE_FUZZ_EXAMPLES", "1"))


@schema.include(method=["POST", "PATCH", "DELETE"]).parametrize()
@settings(max_examples=60 * SCALE, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_it_answers_every_write_as_its_schema_says(case, fuzz_world):
    call_and_validate(case, fuzz_world)


@schema.include(method="GET").parametrize()
@settings(max_examples=20 * SCALE, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_it_answers_every_read_as_its_schema_says(case, fuzz_world):
    call_and_validate(case, fuzz_world)
