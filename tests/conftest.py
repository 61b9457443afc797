import pytest

from tests.factories import make_resource, make_user
from tracking.connector import DjangoConnector

pytest_plugins = ["tests.api_support", "tests.rest_support"]


@pytest.fixture
def user(db):
    return make_user("alice")


@pytest.fixture
def other_user(db):
    return make_user("bob")


@pytest.fixture
def cpu(db):
    return make_resource("cpu")


@pytest.fixture
def connector(db):
    """The implementation under test; the contract suite runs against whatever this yields."""
    instance = DjangoConnector()
    yield instance
    instance.close()
