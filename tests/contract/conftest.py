"""The implementations the contract suite runs against, and the world its tests start from.

[orm] is a DjangoConnector on the test database. [rest] is a RestConnector talking to a
live test server with a staff member's token, as an executor service recording for several
users does: the suite records for alice and bob, and reads everyone's.
"""

from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.test.utils import modify_settings

from tests.factories import make_experiment, make_intermediate_results, make_job
from tests.rest_support import rest_connector
from tracking.connector import DjangoConnector

IMPLEMENTATIONS = [
    pytest.param("orm", id="orm"),
    # The live server answers on its own database connection, so it sees only what the test
    # committed: a REST test is transactional. The mark says so at collection: `connector`
    # asks for live_server only at setup, too late for pytest-django to find it among the
    # test's fixture names (which is also how it knows to run transactional tests last).
    pytest.param("rest", id="rest", marks=pytest.mark.django_db(transaction=True)),
]


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request):
    """The name of the implementation under test, "orm" or "rest"."""
    return request.param


@pytest.fixture
def served_live_server(live_server):
    """pytest-django's live server, its host allowed for the duration of the test.

    pytest-django allows the host only in tests that name live_server among their
    arguments; the contract tests reach it through `connector`, at setup.
    """
    with modify_settings(ALLOWED_HOSTS={"append": urlsplit(live_server.url).hostname}):
        yield live_server


def open_connector(request, implementation):
    """A new connector of the implementation under test, as one executor holds."""
    if implementation == "orm":
        request.getfixturevalue("db")
        return DjangoConnector()
    return rest_connector(request.getfixturevalue("served_live_server"), request.getfixturevalue("executor_user"))


@pytest.fixture
def connector(request, implementation):
    """The implementation under test: the contract suite runs once against each."""
    instance = open_connector(request, implementation)
    yield instance
    instance.close()


@pytest.fixture
def second_connector(request, implementation):
    """Another executor's connector, of the same implementation: what it takes is not ours."""
    instance = open_connector(request, implementation)
    yield instance
    instance.close()


@pytest.fixture
def world(user, cpu):
    """One of everything, as a running executor leaves it: experiment, job on the free
    cpu resource with its attempt 0, one intermediate result."""
    experiment = make_experiment(user, name="world")
    job = make_job(experiment, cpu)
    irid = make_intermediate_results(job, [0.1])[0].pk
    return SimpleNamespace(eid=experiment.pk, jid=job.pk, rid=cpu.pk, irid=irid)
