"""The connector contract's result, score and lifetime tests, and its bad input tests
that concern results, run against a buffered RestConnector (tracking/buffering.py).

The contract's tests read the database right after a call, so the connector here flushes
after each buffered write and hands back what the server gave: the server's irid, and a
refusal as the exception the server answered (ResultsRefusedError.errors). What they read
went through the queue, the sending thread and the batch endpoint. (What is particular to
the buffer, such as provisional ids and refusals raised later, is tests/test_buffered_client.py.)
"""

import pytest

from tests.contract.test_bad_input import (  # noqa: F401 - collected here too
    test_it_refuses_a_write_naming_an_unknown_id,
    test_it_refuses_label_names_longer_than_the_dashboard_stores,
    test_it_refuses_more_labels_than_the_limit_as_bad_input,
    test_it_refuses_text_that_cannot_be_stored_or_shown_as_bad_input,
    test_it_stores_as_many_labels_as_the_limit,
    test_it_stores_or_refuses_text_with_a_nul_character,
)
from tests.contract.test_lifetime import *  # noqa: F403
from tests.contract.test_results import *  # noqa: F403
from tests.contract.test_scores import *  # noqa: F403
from tests.rest_support import rest_connector
from tracking.buffering import ResultsRefusedError

pytestmark = pytest.mark.django_db(transaction=True)


class Flushed:
    """A buffered RestConnector whose buffered writes wait until they are sent."""

    def __init__(self, connector):
        self._connector = connector

    def __getattr__(self, name):
        return getattr(self._connector, name)

    def _sent(self, value=None):
        try:
            self._connector.flush()
        except ResultsRefusedError as refusal:
            raise refusal.errors[0] from None
        return value

    def save_intermediate_result(self, jid, score):
        irid = self._connector.save_intermediate_result(jid, score)
        self._sent()
        return self._connector.real_irid(irid)

    def save_multiple_results(self, *args):
        self._connector.save_multiple_results(*args)
        self._sent()

    def save_intermediate_results(self, results):
        irids = self._connector.save_intermediate_results(results)
        self._sent()
        return [self._connector.real_irid(irid) for irid in irids]


@pytest.fixture
def implementation():
    return "rest"


def open_buffered(request):
    live_server, user = request.getfixturevalue("served_live_server"), request.getfixturevalue("executor_user")
    return Flushed(rest_connector(live_server, user, buffered=True, flush_interval=3600))


@pytest.fixture
def connector(request):
    instance = open_buffered(request)
    yield instance
    instance.close()


@pytest.fixture
def second_connector(request):
    instance = open_buffered(request)
    yield instance
    instance.close()
