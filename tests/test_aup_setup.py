import configparser
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.factories import make_user
from tracking.connector import DjangoConnector
from tracking.interop.loader import import_auptimizer
from tracking.models import Resource

pytestmark = pytest.mark.django_db


def setup(*args):
    out = StringIO()
    call_command("aup_setup", *args, stdout=out)
    return out.getvalue()


def resources():
    return sorted(Resource.objects.values_list("type", "name"))


def test_it_creates_the_user_without_a_usable_password():
    setup("--user", "alice", "--cpu", "2")
    alice = get_user_model().objects.get(username="alice")
    assert not alice.has_usable_password()


def test_it_creates_every_kind_of_resource():
    output = setup("--user", "alice", "--cpu", "2", "--gpu", "0,1", "--node", "me@host1,me@host2:2222", "--aws", "i-1", "--passive")
    assert resources() == [
        ("aws", "i-1"),
        ("cpu", "localhost"),
        ("cpu", "localhost"),
        ("gpu", "0"),
        ("gpu", "1"),
        ("node", "me@host1"),
        ("node", "me@host2:2222"),
        ("passive", "localhost"),
    ]
    assert Resource.objects.filter(status="free", in_service=True).count() == 8
    assert "added gpu 0" in output


def test_it_duplicates_nothing_when_run_twice():
    arguments = ("--user", "alice", "--cpu", "3", "--gpu", "0", "--passive")
    setup(*arguments)
    before = resources()
    output = setup(*arguments)
    assert resources() == before
    assert get_user_model().objects.filter(username="alice").count() == 1
    assert "nothing to do" in output


def test_it_adds_only_the_missing_cpu_slots():
    setup("--user", "alice", "--cpu", "2")
    setup("--user", "alice", "--cpu", "5")
    assert Resource.objects.filter(type="cpu").count() == 5


def test_it_keeps_an_existing_users_password():
    alice = make_user("alice")
    alice.set_password("a long passphrase")
    alice.save()
    setup("--user", "alice", "--cpu", "1")
    alice.refresh_from_db()
    assert alice.check_password("a long passphrase")


@pytest.mark.parametrize(
    "arguments",
    [
        ("--user", "alice", "--cpu", "-1"),
        ("--user", "alice", "--gpu", "0,,1"),
        ("--user", "alice", "--gpu", "0,0"),
        ("--user", "bad name!", "--cpu", "1"),
        ("--user", " ", "--cpu", "1"),
    ],
)
def test_it_refuses_bad_input_and_writes_nothing(arguments):
    with pytest.raises(CommandError):
        setup(*arguments)
    assert resources() == []
    assert not get_user_model().objects.exists()


def test_it_creates_resources_in_auptimizers_order(tmp_path):
    # Auptimizer's own setup (aup.setupdb.sqlite.create_database) inserts GPUs, nodes,
    # AWS instances, CPU slots, then the passive resource; its get_resource_type()
    # lists the types in that order.
    import_auptimizer()
    from aup.ET.Connector.SQLiteConnector import SQLiteConnector
    from aup.setupdb import sqlite as setupdb

    config = configparser.ConfigParser()
    config["Auptimizer"] = {
        "SQLITE_FILE": str(tmp_path / "sqlite3.db"),
        "gpu_mapping": "[10, 11]",
        "node_mapping": "[20]",
        "aws_mapping": "[30]",
    }
    setupdb.create_database(config, ["alice"], 2, "localhost")
    auptimizer = SQLiteConnector(str(tmp_path / "sqlite3.db"))
    try:
        expected = auptimizer.get_resource_type()
    finally:
        auptimizer.close()

    setup("--user", "alice", "--cpu", "2", "--gpu", "0,1", "--node", "me@host1", "--aws", "i-1", "--passive")

    assert expected == ["gpu", "node", "aws", "cpu", "passive"]
    assert DjangoConnector().get_resource_type() == expected
    assert list(Resource.objects.order_by("pk").values_list("type", flat=True)) == [
        "gpu", "gpu", "node", "aws", "cpu", "cpu", "passive",
    ]
