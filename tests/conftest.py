import pytest
from django.test import override_settings

from tests.factories import make_resource, make_user
from tracking.connector import DjangoConnector

pytest_plugins = ["tests.api_support", "tests.rest_support"]


# -- ci (session 23): test speed
@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Passwords hashed with Django's MD5 hasher in the test process, as Django's testing
    docs advise: the production hasher (PBKDF2, a million rounds) costs 0.3 s of CPU per
    set_password or login, which no test is about. Every login path still hashes and
    checks a real password; processes the tests start (make run, gunicorn) keep the
    project's settings."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield
# -- end ci


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
