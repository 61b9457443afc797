import pytest

from tests.factories import make_resource, make_user
from tracking.connector import DjangoConnector

pytest_plugins = ["tests.api_support", "tests.rest_support"]


@pytest.fixture
def user(db):
    return make_user("alice")


@pytest.fixture
def alice(user):
    """The same researcher as `user`, by name, for tests that tell several users apart."""
    return user


@pytest.fixture
def other_user(db):
    return make_user("bob")


@pytest.fixture
def cpu(db):
    return make_resource("cpu")


@pytest.fixture
def connector(db):
    """A DjangoConnector on the test database, for tests that record as an executor does.

    The contract suite (tests/contract/) has its own, run once per implementation.
    """
    instance = DjangoConnector()
    yield instance
    instance.close()
