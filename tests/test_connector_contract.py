"""The connector contract suite, run against DjangoConnector (the `connector` fixture of
tests/conftest.py). The tests live in tests/connector_contract.py so that other
implementations can run them too: pytest collects only test_*.py files."""

from tests.connector_contract import *  # noqa: F401,F403
