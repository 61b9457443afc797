"""RestConnector against a live test server (pytest-django's live_server)."""

import pytest

from tests.factories import make_token, make_user
from tracking.client import RestConnector


def rest_connector(live_server, user, **options):
    """A RestConnector speaking to the live server with a fresh token of `user`."""
    _, secret = make_token(user, "test")
    options.setdefault("backoff", 0.01)
    return RestConnector(live_server.url, secret, **options)


@pytest.fixture
def executor_user(transactional_db):
    """A staff account, as an executor service that records for several users runs with."""
    return make_user("executor", is_staff=True)


@pytest.fixture
def rest(live_server, executor_user):
    instance = rest_connector(live_server, executor_user)
    yield instance
    instance.close()
