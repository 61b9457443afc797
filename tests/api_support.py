"""Fixtures for the API's tests (a pytest plugin, loaded by tests/conftest.py)."""

import pytest
from rest_framework.test import APIClient

from tests.factories import make_token, make_user


def client_for(user, **headers):
    """An API client that authenticates as `user` with a fresh token of theirs."""
    _, secret = make_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}", **headers)
    return client


@pytest.fixture
def api(user):
    """alice's API client (a researcher, not staff)."""
    return client_for(user)


@pytest.fixture
def other_api(other_user):
    """bob's API client."""
    return client_for(other_user)


@pytest.fixture
def staff_user(db):
    return make_user("root", is_staff=True)


@pytest.fixture
def staff_api(staff_user):
    return client_for(staff_user)
