import os
import socket
import subprocess
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.factories import make_user
from tests.test_connector_concurrency import PROJECT_DIR

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


@pytest.fixture
def taken_port():
    """A port some other server listens on, as another `make run` would."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_it_stops_before_anything_when_the_port_is_taken(taken_port):
    with pytest.raises(CommandError) as refusal:
        call_command("aup_bootstrap", "--check-port", "--url", f"http://127.0.0.1:{taken_port}/", stdout=StringIO())
    message = str(refusal.value)
    assert message.startswith(f"port {taken_port} is already in use on 127.0.0.1; run make run PORT=")
    suggested = int(message.rsplit("PORT=", 1)[1])
    assert taken_port < suggested <= taken_port + 20
    with socket.socket() as probe:  # the port it suggests is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", suggested))
    assert not get_user_model().objects.exists()  # no admin made whose password would scroll away


def test_it_goes_on_when_the_port_is_free():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    output = StringIO()
    call_command("aup_bootstrap", "--check-port", "--url", f"http://127.0.0.1:{free}/", stdout=output)
    assert "password: " in output.getvalue()


def test_it_names_a_host_it_cannot_listen_on():
    for url, message in [
        ("http://no-such-host.invalid:8000/", "HOST=no-such-host.invalid is neither an address nor a known name"),
        ("http://192.0.2.1:8000/", "192.0.2.1 is not an address of this machine; run make run HOST=127.0.0.1"),
        ("http://127.0.0.1:99999/", "the port is not a number"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("aup_bootstrap", "--check-port", "--url", url, stdout=StringIO())


def test_it_says_what_a_host_other_machines_reach_means():
    output = StringIO()
    call_command("aup_bootstrap", "--url", "http://0.0.0.0:8000/", stdout=output)
    assert "ALLOWED_HOSTS" in output.getvalue() and "make run-production" in output.getvalue()
    assert "ALLOWED_HOSTS" not in bootstrap()


def test_make_run_stops_with_one_line_before_the_server_when_the_port_is_taken(taken_port):
    # The Makefile's own run recipe, its install and migrate steps taken as done (-o), as
    # a person's shell runs it: not as a sub-make of `make test`, whose level would make
    # make's own line "make[1]: ***".
    env = {**os.environ, "DATABASE_URL": "sqlite:////nonexistent/never-opened.sqlite3"}
    for variable in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS"):
        env.pop(variable, None)
    result = subprocess.run(
        ["make", "-o", "install", "-o", "migrate", "run", "HOST=127.0.0.1", f"PORT={taken_port}"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(errors) == 1, result.stderr  # no traceback
    assert errors[0].startswith(f"CommandError: port {taken_port} is already in use on 127.0.0.1; run make run PORT=")
    # make echoes each recipe line it runs: neither the demo nor the server started.
    assert "aup_bootstrap --check-port" in result.stdout and "runserver" not in result.stdout
