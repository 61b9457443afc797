import configparser
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.factories import make_resource, make_resources, make_user
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
    assert output.splitlines() == [
        "user alice: created, without a usable password: give one with manage.py changepassword alice "
        "(or in the admin, or create it with --password-prompt)",
        "gpu: 2 in all, 2 added: 0, 1",
        "node: 2 in all, 2 added: me@host1, me@host2:2222",
        "aws: 1 in all, 1 added: i-1",
        "cpu: 2 slot(s) on localhost in all, 2 added",
        "passive: 1 in all, 1 added: localhost",
    ]


def test_it_duplicates_nothing_when_run_twice():
    arguments = ("--user", "alice", "--cpu", "3", "--gpu", "0", "--passive")
    setup(*arguments)
    before = resources()
    output = setup(*arguments)
    assert resources() == before
    assert get_user_model().objects.filter(username="alice").count() == 1
    # It still says what exists, and that it added nothing.
    assert output.splitlines() == [
        "user alice: existing, password unchanged",
        "gpu: 1 in all, none added",
        "node: 0 in all, none added",
        "aws: 0 in all, none added",
        "cpu: 3 slot(s) on localhost in all, none added",
        "passive: 1 in all, none added",
    ]


def test_it_adds_only_the_missing_cpu_slots():
    setup("--user", "alice", "--cpu", "2")
    setup("--user", "alice", "--cpu", "5")
    assert Resource.objects.filter(type="cpu").count() == 5


def test_it_says_what_exists_when_another_slot_counts_and_leaves_the_demos_slots_out():
    # The demo's own CPU slots (tracking/demo.py) are busy while it runs: counting them
    # would leave the executor being set up beside it nothing free.
    make_resources(4, "cpu", "demo")
    make_resource("cpu")
    make_resource("gpu", "0")

    output = setup("--user", "alice", "--cpu", "4", "--gpu", "0,1")

    assert Resource.objects.filter(type="cpu", name="localhost").count() == 4
    assert output.splitlines()[1:] == [
        "gpu: 2 in all, 1 added: 1",
        "node: 0 in all, none added",
        "aws: 0 in all, none added",
        "cpu: 4 slot(s) on localhost in all, 3 added; 4 cpu slot(s) of other names (demo) not counted",
        "passive: 0 in all, none added",
    ]
    # Asked again for fewer, it removes nothing and says so.
    assert "cpu: 4 slot(s) on localhost in all, none added; 4 cpu slot(s) of other names (demo) not counted" in setup(
        "--user", "alice", "--cpu", "2"
    )


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


# -- --password-prompt -----------------------------------------------------------------------

GOOD_PASSWORD = "tangerine elephant 42 rowing"


@pytest.fixture
def typed(monkeypatch):
    """What the person types at each password prompt, in order; the prompts are kept."""
    answers, prompts = [], []

    def fake_getpass(prompt):
        prompts.append(prompt)
        if not answers:
            raise EOFError
        return answers.pop(0)

    monkeypatch.setattr("tracking.management.commands.aup_setup.getpass", fake_getpass)

    def type_in(*values):
        answers.extend(values)
        return prompts

    return type_in


def test_it_asks_twice_for_a_new_users_password_and_she_can_log_in(client, typed):
    prompts = typed(GOOD_PASSWORD, GOOD_PASSWORD)

    output = setup("--user", "alice", "--password-prompt", "--cpu", "1")

    assert prompts == ["Password for alice: ", "Password (again): "]
    assert output.splitlines()[0] == "user alice: created, with the password given"
    assert client.login(username="alice", password=GOOD_PASSWORD)


@pytest.mark.parametrize(
    "answers, message",
    [
        ((GOOD_PASSWORD, GOOD_PASSWORD + "x"), "the two passwords differ"),
        (("", ""), "must not be empty"),
        (("alice", "alice"), "too short"),
        (("password1234", "password1234"), "too common"),
        (("83749261530", "83749261530"), "entirely numeric"),
        ((), "no password was given"),
    ],
)
def test_it_refuses_a_bad_password_and_writes_nothing(typed, answers, message):
    typed(*answers)
    with pytest.raises(CommandError, match=message):
        setup("--user", "alice", "--password-prompt", "--cpu", "2")
    assert not get_user_model().objects.exists()
    assert resources() == []


def test_it_refuses_to_change_an_existing_users_password_unless_asked(typed):
    alice = make_user("alice")
    alice.set_password("a long passphrase")
    alice.save()
    prompts = typed(GOOD_PASSWORD, GOOD_PASSWORD)

    with pytest.raises(CommandError, match="add --change-password"):
        setup("--user", "alice", "--password-prompt", "--cpu", "1")

    assert prompts == []  # refused before asking
    alice.refresh_from_db()
    assert alice.check_password("a long passphrase")
    assert resources() == []


def test_it_changes_an_existing_users_password_when_asked(typed):
    alice = make_user("alice")
    alice.set_password("a long passphrase")
    alice.save()
    typed(GOOD_PASSWORD, GOOD_PASSWORD)

    output = setup("--user", "alice", "--password-prompt", "--change-password")

    assert output.splitlines()[0] == "user alice: existing, password changed"
    alice.refresh_from_db()
    assert alice.check_password(GOOD_PASSWORD)


def test_it_refuses_change_password_without_the_prompt():
    make_user("alice")
    with pytest.raises(CommandError, match="--change-password needs --password-prompt"):
        setup("--user", "alice", "--change-password")
