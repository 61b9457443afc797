"""RestConnector against a live test server (pytest-django's live_server), or gunicorn."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from tests.factories import make_token, make_user
from tracking.client import REQUEST_LINE_BUDGET, RestConnector


def rest_connector(live_server, user, **options):
    """A RestConnector speaking to the live server with a fresh token of `user`."""
    _, secret = make_token(user, "test")
    options.setdefault("backoff", 0.01)
    return RestConnector(live_server.url, secret, **options)


@pytest.fixture
def executor_user(transactional_db):
    """A staff account, as an executor service that records for several users runs with."""
    return make_user("executor", is_staff=True)


@pytest.fixture
def rest(live_server, executor_user):
    instance = rest_connector(live_server, executor_user)
    yield instance
    instance.close()


class LoopbackServer:
    """A TCP server on 127.0.0.1 that hands each connection to handle() in its own thread
    of accepting, and stops with close(). `listener` is a bound socket (created here when
    None), so a subclass can set socket options before it listens."""

    def __init__(self, listener=None):
        self.connections = 0
        self._listener = listener or socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self):
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self):
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self.handle(client, self.connections - 1)

    def handle(self, client, index):
        raise NotImplementedError


class FlakyProxy(LoopbackServer):
    """A TCP proxy in front of the live server that fails chosen connections, as a network does.

    `plan` gives, connection by connection, what happens to it; connections past the
    plan pass (kept open for as many requests as the client sends). "refuse": closed at
    once, before the request reaches the server. "drop-response": the request reaches the
    server, which answers, but the answer is lost (the connection closes before the client
    gets a byte). "pass-one": one answer passes, then the connection closes, as a server
    closes a kept connection that has been idle too long. A tuple of those, request by
    request on one connection, then it closes: ("pass", "drop-response") passes the
    first answer and loses the second; "close" closes the connection when a request
    arrives, without passing it on, as a server closing an idle connection just as the
    client sends on it. Traffic stays on 127.0.0.1, and the proxy stops with the test.
    """

    def __init__(self, target_url, plan=()):
        parts = urlsplit(target_url)
        self.target = (parts.hostname, parts.port)
        self.plan = list(plan)
        self.closed = 0  # connections of request-by-request plans closed so far
        super().__init__()

    def handle(self, client, index):
        action = self.plan[index] if index < len(self.plan) else "pass"
        if action == "refuse":
            client.shutdown(socket.SHUT_RDWR)
            client.close()
            return
        if action == "pass-one":
            action = ("pass",)  # request by request: a second request never reaches the server
        if isinstance(action, tuple):
            threading.Thread(target=self._exchanges, args=(client, action), daemon=True).start()
            return
        threading.Thread(target=self._relay, args=(client, action), daemon=True).start()

    def _exchanges(self, client, actions):
        upstream = socket.create_connection(self.target, timeout=30)
        client.settimeout(30)
        try:
            for action in actions:
                request = read_http_message(client)
                if request is None or action == "close":
                    break
                upstream.sendall(request)
                answer = read_http_message(upstream)
                if answer is None or action == "drop-response":
                    break
                client.sendall(answer)
        except OSError:
            pass
        finally:
            for sock in (upstream, client):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.closed += 1

    def _relay(self, client, action):
        upstream = socket.create_connection(self.target, timeout=30)
        forward = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
        forward.start()
        try:
            while data := upstream.recv(65536):
                if action == "drop-response":
                    break  # the server has answered, so it has carried the request out
                client.sendall(data)
        except OSError:
            pass
        finally:
            # shutdown, not just close: the other relay thread is blocked reading these
            # sockets, and a close alone would leave the connection open under it.
            for sock in (upstream, client):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


def read_http_message(sock):
    """One HTTP request or answer read whole from `sock` (head, and a body of its
    Content-Length), or None if the connection closes first."""
    data = b""
    while not _whole_answer(data):
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data


def _whole_answer(data):
    """Whether `data` holds an HTTP message's head and all of its body (Content-Length)."""
    head, found, body = data.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True  # no body (the live server gives every answer a Content-Length)


@pytest.fixture
def served():
    """Requests the live server (it runs in this process) has begun to handle, counted
    as they begin: over kept connections, a count of connections says little."""
    from django.core.signals import request_started

    count = SimpleNamespace(requests=0)

    def started(**kwargs):
        count.requests += 1

    request_started.connect(started, weak=False)
    yield count
    request_started.disconnect(started)


def _pump(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass


@pytest.fixture
def flaky_proxy(live_server):
    proxies = []

    def make(plan=()):
        proxy = FlakyProxy(live_server.url, plan)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture(scope="module")
def gunicorn_url(django_db_setup, tmp_path_factory):
    """The address of gunicorn, the production server, serving the test database.

    Unlike the live server (Django's, which reads a request line of any length and reads
    every body whole), it refuses a request line over its limit with 414 and answers a body
    over DATA_UPLOAD_MAX_MEMORY_SIZE before reading it. Its request-line limit is set to
    the client's REQUEST_LINE_BUDGET, below its default: every request a test sends
    through it shows that the client keeps its budget. One sync worker (gunicorn's
    default kind) on a loopback socket bound here (no race for a free port); stopped,
    and its database connections with it, when the module's tests are done.
    """
    from tests.test_connector_concurrency import PROJECT_DIR, database_url

    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "aupsite.settings"}
    log = open(tmp_path_factory.mktemp("gunicorn") / "server.log", "w+")
    command = [
        sys.executable, "-m", "gunicorn", "aupsite.wsgi",
        "--bind", f"fd://{listener.fileno()}", "--workers", "1",
        "--limit-request-line", str(REQUEST_LINE_BUDGET),
        "--no-control-socket",  # its default path is one per machine, shared by every gunicorn
    ]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        pass_fds=[listener.fileno()], start_new_session=True,
    )  # fmt: skip
    listener.close()  # gunicorn has its own copy
    try:
        for _ in range(240):  # connections wait in the socket's queue until the worker is up
            if server.poll() is not None:
                break
            try:
                urllib.request.urlopen(f"{url}/api/resources/types/", timeout=30)
            except urllib.error.HTTPError as error:
                assert error.code == 401
                break
            except OSError:
                time.sleep(0.5)
        log.seek(0)
        assert server.poll() is None, log.read()
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


class EarlyAnswer(LoopbackServer):
    """A server that answers every request as soon as it has its headers, reading none of
    its body, and closes: as a proxy refusing a body over its limit (nginx's 413), or a
    server refusing a request whatever its body (401). The client finds the connection
    broken while it is still sending; the answer is there to read. Its receive buffer
    is small, so a body of a few hundred KB cannot all be sent before it answers.
    """

    def __init__(self, status, reason, body, content_type="application/json"):
        self.answer = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # accepted sockets inherit it
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        super().__init__(listener)

    def handle(self, client, index):
        client.settimeout(10)
        received = b""
        try:
            while b"\r\n\r\n" not in received and (data := client.recv(4096)):
                received += data
            client.sendall(self.answer)
        except OSError:
            pass
        client.close()  # with the body unread: the client's next send fails


@pytest.fixture
def early_answer():
    servers = []

    def make(*args, **kwargs):
        server = EarlyAnswer(*args, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()
