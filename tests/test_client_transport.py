"""RestConnector's transport (issue 14, part 1): one kept connection per thread, reopened
when the server has closed it, with the retry and idempotency rules of every call."""

import os
import socket
import ssl
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.factories import make_resource, make_token, make_user
from tests.rest_support import FlakyProxy, LoopbackServer, read_http_message
from tracking.client import AccessDeniedError, RestConnector
from tracking.connector import DjangoConnector
from tracking.interface import BackendError
from tracking.models import IdempotencyKey, IntermediateResult

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eid(executor_user):
    make_user("alice")
    return DjangoConnector().start_experiment("alice", {"name": "kept"})


@pytest.fixture
def jid(eid):
    return DjangoConnector().start_job(eid, make_resource("cpu").pk, {})


def through(proxy, user, **options):
    _, secret = make_token(user, "proxied")
    options.setdefault("backoff", 0.01)
    return RestConnector(proxy.url, secret, **options)


def wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.01)


def scores(jid):
    return list(IntermediateResult.objects.filter(job_id=jid).order_by("number").values_list("score", flat=True))


def test_it_sends_many_calls_on_one_connection(flaky_proxy, executor_user, eid, jid, served):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)

    for step in range(30):
        irid = connector.save_intermediate_result(jid, step / 100)
        connector.save_multiple_results(jid, irid, eid, ["acc"], [step / 100])
    assert connector.get_intermediate_results_job(jid) == [step / 100 for step in range(30)]

    assert served.requests == 61
    assert proxy.connections == 1


def test_it_opens_a_new_connection_when_the_server_closed_the_idle_one(flaky_proxy, executor_user, jid, served):
    # As a server whose keep-alive timeout passed between two calls: the client finds the
    # connection closed before sending, and sends on a new one.
    proxy = flaky_proxy(["pass-one", "pass-one"])
    connector = through(proxy, executor_user, retries=0)

    connector.save_intermediate_result(jid, 0.1)
    wait_for(lambda: proxy.closed == 1)  # closed while idle, before the next call
    connector.save_intermediate_result(jid, 0.2)
    wait_for(lambda: proxy.closed == 2)
    connector.save_intermediate_result(jid, 0.3)

    assert scores(jid) == [0.1, 0.2, 0.3]
    assert served.requests == 3
    assert proxy.connections == 3


def test_it_sends_again_a_request_that_met_a_connection_closing_under_it(flaky_proxy, executor_user, jid, served):
    # The server closes the kept connection just as the request goes out: no answer.
    # Sent again at once on a new connection, and not counted as a retry (retries=0).
    proxy = flaky_proxy([("pass", "close")])
    connector = through(proxy, executor_user, retries=0)

    connector.save_intermediate_result(jid, 0.1)
    connector.save_intermediate_result(jid, 0.2)

    assert scores(jid) == [0.1, 0.2]
    assert served.requests == 2
    assert proxy.connections == 2


def test_it_writes_once_when_a_kept_connection_drops_after_the_server_wrote(flaky_proxy, executor_user, jid, served):
    # The server carried the write out, and the connection dropped before its answer came
    # back: the copy sent again carries the same Idempotency-Key and gets the first answer.
    proxy = flaky_proxy([("pass", "drop-response")])
    connector = through(proxy, executor_user, retries=0)

    first = connector.save_intermediate_result(jid, 0.1)
    second = connector.save_intermediate_result(jid, 0.2)

    assert list(IntermediateResult.objects.filter(job_id=jid).values_list("pk", "score")) == [
        (first, 0.1),
        (second, 0.2),
    ]
    assert served.requests == 3  # the first call, the write, and its replay
    assert IdempotencyKey.objects.count() == 2


def test_it_sends_again_at_once_only_once(flaky_proxy, executor_user, jid):
    # On a new connection, a failure is a failure: with no retries left, it is raised.
    proxy = flaky_proxy([("pass", "close"), "refuse"])
    connector = through(proxy, executor_user, retries=0)
    connector.save_intermediate_result(jid, 0.1)

    with pytest.raises(BackendError, match="no answer after 1 attempts"):
        connector.save_intermediate_result(jid, 0.2)

    assert scores(jid) == [0.1]
    assert proxy.connections == 2


def test_it_retries_a_write_on_a_kept_connection_as_any_other(flaky_proxy, executor_user, jid, served):
    # The kept connection drops after the write (the copy sent at once is lost too):
    # the retries that follow still write once.
    proxy = flaky_proxy([("pass", "drop-response"), "drop-response", "refuse"])
    connector = through(proxy, executor_user, retries=2)

    connector.save_intermediate_result(jid, 0.1)
    connector.save_intermediate_result(jid, 0.2)

    assert scores(jid) == [0.1, 0.2]
    assert proxy.connections == 4
    assert IdempotencyKey.objects.count() == 2


def test_it_gives_each_thread_its_own_connection(flaky_proxy, executor_user, served):
    make_user("alice")
    django = DjangoConnector()
    eid = django.start_experiment("alice", {"name": "threads"})
    jids = [django.start_job(eid, make_resource("cpu").pk, {}) for _ in range(4)]
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)
    barrier = threading.Barrier(4)
    failures = []

    def report(jid):
        try:
            barrier.wait()
            for step in range(20):
                connector.save_intermediate_result(jid, step)
        except Exception as exc:  # noqa: BLE001 - shown by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=report, args=(jid,)) for jid in jids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    for jid in jids:
        assert scores(jid) == [float(step) for step in range(20)]
    assert served.requests == 80
    assert proxy.connections == 4


def test_it_closes_its_connections_when_closed(flaky_proxy, executor_user, jid):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)
    connector.save_intermediate_result(jid, 0.1)
    called, done = threading.Event(), threading.Event()

    def call_and_wait():  # a thread's connection lives as long as the thread
        connector.save_intermediate_result(jid, 0.2)
        called.set()
        done.wait(30)

    thread = threading.Thread(target=call_and_wait)
    thread.start()
    called.wait(30)
    connections = list(connector._connections)
    assert len(connections) == 2 and all(connection.sock is not None for connection in connections)

    connector.close()

    assert all(connection.sock is None for connection in connections)
    done.set()
    thread.join()


def test_it_does_not_share_a_connection_with_a_forked_child(flaky_proxy, executor_user, jid):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)
    connector.save_intermediate_result(jid, 0.1)

    child = os.fork()
    if child == 0:  # the child: one call, on a connection of its own, then out
        try:
            connector.save_intermediate_result(jid, 0.2)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(child, 0)
    connector.save_intermediate_result(jid, 0.3)

    assert os.waitstatus_to_exitcode(status) == 0
    assert scores(jid) == [0.1, 0.2, 0.3]
    assert proxy.connections == 2


def test_it_refuses_a_revoked_token_on_the_next_call(flaky_proxy, executor_user, jid):
    token, secret = make_token(executor_user, "soon revoked")
    proxy = flaky_proxy()
    connector = RestConnector(proxy.url, secret, backoff=0.01)
    connector.save_intermediate_result(jid, 0.1)

    token.revoke()

    with pytest.raises(AccessDeniedError, match="Invalid token"):
        connector.save_intermediate_result(jid, 0.2)
    assert scores(jid) == [0.1]
    assert proxy.connections == 1  # refused on the kept connection: nothing cached it


def test_it_refuses_the_token_of_a_user_deactivated_meanwhile(flaky_proxy, executor_user, jid):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)
    connector.save_intermediate_result(jid, 0.1)

    executor_user.is_active = False
    executor_user.save(update_fields=["is_active"])

    with pytest.raises(AccessDeniedError):
        connector.save_intermediate_result(jid, 0.2)
    assert scores(jid) == [0.1]


def test_it_says_where_a_redirect_points_and_does_not_follow_it(live_server, executor_user):
    _, secret = make_token(executor_user)
    # The admin's login page redirects (to the login page, with next=): not the API.
    connector = RestConnector(live_server.url + "/admin/login/?next=", secret, backoff=0.01)

    with pytest.raises(BackendError, match=f"redirected to {live_server.url}/.*; use that address as base_url"):
        connector.get_resource_type()


# -- through a proxy named in the environment, as urllib took them ---------------------------


@pytest.fixture
def forward_proxy(gunicorn_url):
    """A plain-HTTP forward proxy in front of gunicorn: it passes the request line as the
    client wrote it, which gunicorn reads in its absolute form (http://host/path)."""
    proxy = FlakyProxy(gunicorn_url)
    yield proxy
    proxy.close()


def test_it_goes_through_the_proxy_the_environment_names(forward_proxy, gunicorn_url, executor_user, jid, monkeypatch):
    monkeypatch.setenv("http_proxy", forward_proxy.url)
    monkeypatch.setenv("no_proxy", "")
    _, secret = make_token(executor_user)
    connector = RestConnector(gunicorn_url, secret, backoff=0.01)

    connector.save_intermediate_result(jid, 0.1)

    assert scores(jid) == [0.1]
    assert forward_proxy.connections == 1


def test_it_bypasses_the_proxy_for_the_hosts_no_proxy_names(
    forward_proxy, gunicorn_url, executor_user, jid, monkeypatch
):
    monkeypatch.setenv("http_proxy", forward_proxy.url)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    _, secret = make_token(executor_user)
    connector = RestConnector(gunicorn_url, secret, backoff=0.01)

    connector.save_intermediate_result(jid, 0.1)

    assert scores(jid) == [0.1]
    assert forward_proxy.connections == 0


# -- https: the same kept connection, inside TLS ------------------------------------------------

TLS = Path(__file__).resolve().parent / "tls"


class TlsFront(LoopbackServer):
    """TLS in front of the live server, as a proxy terminating it: a test certificate for
    127.0.0.1 (tests/tls/, made for these tests only; its key protects nothing else).
    Request by request, on one thread per connection."""

    def __init__(self, target_url):
        parts = urlsplit(target_url)
        self.target = (parts.hostname, parts.port)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(TLS / "loopback-cert.pem", TLS / "loopback-key.pem")
        super().__init__()
        self.url = self.url.replace("http://", "https://")

    def handle(self, client, index):
        threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client):
        upstream = None
        try:
            client.settimeout(30)
            client = self.context.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(self.target, timeout=30)
            while (request := read_http_message(client)) is not None:
                upstream.sendall(request)
                client.sendall(read_http_message(upstream))
        except (OSError, TypeError):
            pass  # a refused handshake, or a connection closed: the test says what it expected
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    sock.close()


@pytest.fixture
def tls_front(live_server):
    front = TlsFront(live_server.url)
    yield front
    front.close()


def test_it_keeps_one_tls_connection_for_many_calls(tls_front, executor_user, jid, served, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "loopback-cert.pem"))  # trusted, as a CA would make it
    _, secret = make_token(executor_user)
    connector = RestConnector(tls_front.url, secret, backoff=0.01)

    for step in range(10):
        connector.save_intermediate_result(jid, step / 10)

    assert scores(jid) == [step / 10 for step in range(10)]
    assert served.requests == 10
    assert tls_front.connections == 1


def test_it_refuses_a_certificate_it_cannot_verify(tls_front, executor_user, jid, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    _, secret = make_token(executor_user)
    connector = RestConnector(tls_front.url, secret, retries=0)

    with pytest.raises(BackendError, match="no answer after 1 attempts .*CERTIFICATE_VERIFY_FAILED"):
        connector.save_intermediate_result(jid, 0.5)

    assert scores(jid) == []
