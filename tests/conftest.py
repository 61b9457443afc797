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
    """The implementation under test; the contract suite runs against whatever this yields."""
    instance = DjangoConnector()
    yield instance
    instance.close()


@pytest.fixture
def second_connector(db):
    """Another connector instance, as another executor holds: what it takes is not ours.

    A test module that overrides `connector` with another implementation may override
    this too; left as is, the other executor is a DjangoConnector on the same database.
    """
    instance = DjangoConnector()
    yield instance
    instance.close()
