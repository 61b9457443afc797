from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def bootstrap():
    out = StringIO()
    call_command("aup_bootstrap", "--url", "http://127.0.0.1:8000/", stdout=out)
    return out.getvalue()


def test_it_creates_an_admin_with_a_random_password_printed_once():
    output = bootstrap()
    password = output.split("password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert "http://127.0.0.1:8000/" in output

    again = bootstrap()
    assert "password: " not in again
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


def test_it_makes_no_two_admins_the_same_password():
    first = bootstrap().split("password: ")[1].split()[0]
    get_user_model().objects.all().delete()
    second = bootstrap().split("password: ")[1].split()[0]
    assert first != second


def test_it_leaves_a_database_with_a_superuser_alone():
    make_user("root", is_superuser=True, is_staff=True)
    output = bootstrap()
    assert not get_user_model().objects.filter(username="admin").exists()
    assert "Log in with your admin account" in output
