"""RestConnector against a live test server (pytest-django's live_server)."""

import socket
import threading
from urllib.parse import urlsplit

import pytest

from tests.factories import make_token, make_user
from tracking.client import RestConnector


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


class FlakyProxy:
    """A TCP proxy in front of the live server that fails chosen connections, as a network does.

    `plan` gives, connection by connection, what happens to it; connections past the
    plan pass. "refuse": closed at once, before the request reaches the server.
    "drop-response": the request reaches the server, which answers, but the answer is
    lost (the connection closes before the client gets a byte). Traffic stays on
    127.0.0.1, and the proxy stops with the test.
    """

    def __init__(self, target_url, plan=()):
        parts = urlsplit(target_url)
        self.target = (parts.hostname, parts.port)
        self.plan = list(plan)
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
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
            action = self.plan[self.connections] if self.connections < len(self.plan) else "pass"
            self.connections += 1
            if action == "refuse":
                client.shutdown(socket.SHUT_RDWR)
                client.close()
                continue
            threading.Thread(target=self._relay, args=(client, action == "drop-response"), daemon=True).start()

    def _relay(self, client, drop_response):
        upstream = socket.create_connection(self.target, timeout=30)
        forward = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
        forward.start()
        try:
            while data := upstream.recv(65536):
                if not drop_response:
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
