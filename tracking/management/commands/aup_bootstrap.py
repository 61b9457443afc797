"""First-run set-up for `make run`: make sure someone can log in, and say how.

With no superuser in the database it creates `admin` with a random password and prints
it once; there is no fixed default password. Later runs only remind how to log in.

With --check-port it first makes sure the server will be able to listen where --url
says (make run's HOST and PORT), and otherwise stops with one line saying what to run
instead, before anything is created and before runserver would fail with a traceback.
"""

import errno
import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

# How many ports above a taken one are tried, to suggest a free one.
PORTS_TRIED = 20


def listen_problem(host, port):
    """Why a server could not listen on host:port, as runserver would (SO_REUSEADDR, so a
    port a stopped server has just left counts as free), or None. The socket is closed
    again: runserver, started right after, may in principle still lose a race for it."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        return f"HOST={host} is neither an address nor a known name of this machine"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc
    return None


def port_message(host, port, problem):
    if isinstance(problem, str):
        return problem
    if problem.errno == errno.EADDRINUSE:
        free = next((other for other in range(port + 1, port + 1 + PORTS_TRIED)
                     if other < 65536 and listen_problem(host, other) is None), None)
        hint = f"; run make run PORT={free}" if free else "; run make run PORT=<another port>"
        return f"port {port} is already in use on {host}{hint}"
    if problem.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; run make run HOST=127.0.0.1 (or HOST=0.0.0.0 for all of them)"
    if problem.errno == errno.EACCES:
        return f"port {port} needs root (ports below 1024 do); run make run PORT=8000"
    return f"cannot listen on {host}:{port}: {problem.strerror}"


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Command(BaseCommand):
    help = "Create an admin with a random password if the database has none, and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="the address the server will answer on")
        parser.add_argument(
            "--check-port", action="store_true",
            help="first make sure the server can listen on --url's host and port (make run's HOST and PORT)",
        )

    def handle(self, *args, url, check_port, **options):
        parts = urlsplit(url)
        try:
            host, port = parts.hostname, parts.port or 80
        except ValueError:
            raise CommandError(f"--url {url!r}: the port is not a number from 0 to 65535") from None
        if check_port:
            if not host:
                raise CommandError(f"--url {url!r} names no host")
            problem = listen_problem(host, port)
            if problem is not None:
                raise CommandError(port_message(host, port, problem))
        self.stdout.write(f"aupsite: {url}")
        if host and not is_loopback(host):
            self.stdout.write(self.style.WARNING(
                f"{host} lets other machines reach this development server, over plain HTTP and with local "
                "settings: they must name it in ALLOWED_HOSTS (e.g. make run HOST=0.0.0.0 ALLOWED_HOSTS=myhost). "
                "For a shared server use make run-production (README, Running in production)."
            ))
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "Log in with your admin account (forgot the password? "
                ".venv/bin/python manage.py changepassword <name>)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username="admin", email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created user 'admin' with password: {password}"))
        self.stdout.write("It is shown only this once; change it with .venv/bin/python manage.py changepassword admin.")
