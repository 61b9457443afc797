"""The connector contract suite (tests/connector_contract.py), run against RestConnector
talking to a live test server: the same calls, answers and exceptions over HTTP.

The connector speaks with a staff member's token, as an executor service recording for
several users does: the suite records for alice and bob, and reads everyone's.
"""

import pytest

from tests.connector_contract import *  # noqa: F401,F403
from tests.rest_support import rest_connector


@pytest.fixture
def connector(live_server, executor_user):
    instance = rest_connector(live_server, executor_user)
    yield instance
    instance.close()


@pytest.fixture
def second_connector(live_server, executor_user):
    """Another executor's connector: another instance, so what it takes is not ours."""
    instance = rest_connector(live_server, executor_user)
    yield instance
    instance.close()
