"""schemathesis drives every endpoint from the API's own OpenAPI schema: no answer is a 5xx, and
every answer matches what the schema says (status codes, content type, body, headers)."""

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ledgers.api.models import Scope
from tests.api_helpers import token_for
from tests.world import build_world, make_item

EXAMPLES = 25  # per endpoint: enough to reach each error path, small enough for well under a minute


@pytest.fixture(autouse=True)
def connection_kept_between_requests():
    """The real WSGI handler closes the connection around each request; inside the test's
    transaction that would end the test's connection (PostgreSQL). Django's own test client
    holds these signals back the same way."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def authorization(db):
    cache.clear()
    w = build_world()
    make_item(w)
    _token, client = token_for(w.C1, *Scope.values)
    return client.defaults["HTTP_AUTHORIZATION"]


# Read at collection: the schema view touches no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
# The coverage phase walks every boundary of every field: thousands of calls, minutes here.
schema.config.phases.coverage.enabled = False


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_endpoint_answers_as_its_schema_says(case, authorization):
    # Schema-valid is not always acceptable: a well-formed unit code may name no unit in scope (400).
    case.call_and_validate(headers={"Authorization": authorization}, excluded_checks=[positive_data_acceptance])
