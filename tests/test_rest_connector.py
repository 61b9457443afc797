"""RestConnector: the connector over HTTP, against a live server."""

import json
import math
import socket
import subprocess
import sys
import threading
import urllib.request
from types import SimpleNamespace

import pytest

from tests.factories import make_resource, make_token, make_user
from tests.rest_support import rest_connector
from tracking.client import MAX_BODY_BYTES, REQUEST_LINE_BUDGET, AccessDeniedError, RestConnector
from tracking.connector import DjangoConnector
from tracking.interface import BackendError, ConnectorClosedError, InvalidInputError, NotFoundError
from tracking.models import Experiment, IntermediateResult, Job, JobAttempt, MultipleResult, Resource

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_records_an_experiment_end_to_end(rest):
    make_user("alice")
    cpu = make_resource("cpu")
    config = {"name": "toy", "resource_args": {"multi_res_labels": ["acc", "loss"]}}

    eid = rest.start_experiment("alice", config)
    [rid] = rest.get_available_resource("alice", "cpu")
    jid = rest.job_started(eid, rid, {"lr": 0.1})
    irid = rest.save_intermediate_result(jid, 0.5)
    rest.save_multiple_results(jid, irid, eid, None, [0.5, float("nan")])
    rest.set_last_multiple_results(eid, jid, 2)
    rest.job_finished(rid, jid, 0.75, "FINISHED")
    rest.end_experiment(eid)

    experiment = Experiment.objects.get(pk=eid)
    assert (experiment.name, experiment.status, experiment.owner.username) == ("toy", "FINISHED", "alice")
    assert config["name"] == "toy"
    assert Job.objects.get(pk=jid).score_value == 0.75
    assert Resource.objects.get(pk=cpu.pk).status == "free"
    assert IntermediateResult.objects.get(pk=irid).score_value == 0.5
    values = [row.value_decoded for row in MultipleResult.objects.filter(job_id=jid).order_by("label_order")]
    assert values[0] == 0.5 and math.isnan(values[1])
    assert rest.get_best_result(eid) == [jid, 0.75]
    assert rest.get_intermediate_results_job(jid) == [0.5]
    assert rest.get_experiment_status(eid) == "FINISHED"


def test_it_raises_the_connectors_exceptions(rest):
    make_user("alice")
    eid = rest.start_experiment("alice", "toy", "{}")

    with pytest.raises(NotFoundError, match="999999"):
        rest.end_job(999999, 1.0, "FINISHED")
    with pytest.raises(InvalidInputError, match="DONE"):
        rest.change_experiment_status(eid, "DONE")
    with pytest.raises(NotFoundError, match="nobody"):
        rest.start_experiment("nobody", {"name": "x"})


# -- retries ---------------------------------------------------------------------------------


@pytest.fixture
def world(executor_user):
    make_user("alice")
    cpu = make_resource("cpu")
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "world"})
    return SimpleNamespace(eid=eid, jid=connector.start_job(eid, cpu.pk, {}), rid=cpu.pk)


def through(proxy, user, **options):
    _, secret = make_token(user, "proxied")
    options.setdefault("backoff", 0.01)
    return RestConnector(proxy.url, secret, **options)


def test_it_retries_a_write_whose_answer_was_lost_without_writing_twice(flaky_proxy, executor_user, world):
    proxy = flaky_proxy(["drop-response", "drop-response"])
    connector = through(proxy, executor_user)

    irid = connector.save_intermediate_result(world.jid, 0.5)

    assert proxy.connections == 3
    # The server wrote on the first try; the retries got its answer, not a second row.
    assert list(IntermediateResult.objects.values_list("pk", "job_id", "number")) == [(irid, world.jid, 0)]


def test_it_retries_every_kind_of_write_without_writing_twice(flaky_proxy, executor_user, world):
    # Every call's first answer is lost; its retry gets the answer, and the server then
    # closes that connection, so that the next call opens the next one of the plan.
    proxy = flaky_proxy(["drop-response", "pass-one"] * 8)
    connector = through(proxy, executor_user, retries=1, timeout=10)

    eid = connector.start_experiment("alice", {"name": "again"})
    jid = connector.job_started(eid, world.rid, {"lr": 0.1})
    connector.job_failed(world.rid, jid)
    jaid = connector.job_retry(world.rid, jid)
    irid = connector.save_intermediate_result(jid, 0.5)
    connector.save_multiple_results(jid, irid, eid, ["acc"], [0.5])
    connector.job_finished(world.rid, jid, 0.5, "FINISHED")
    assert connector.take_available_resource(world.rid) is True

    assert proxy.connections == 16  # every call: the lost answer, then the replay
    assert Experiment.objects.filter(name__startswith="again").count() == 1
    assert list(JobAttempt.objects.filter(job_id=jid).values_list("number", flat=True)) == [0, 1]
    assert JobAttempt.objects.filter(job_id=jid).last().pk == jaid
    assert IntermediateResult.objects.filter(job_id=jid).count() == 1
    assert MultipleResult.objects.filter(job_id=jid).count() == 1
    assert Resource.objects.get(pk=world.rid).status == "busy"


def test_it_retries_when_the_server_cannot_be_reached_yet(flaky_proxy, executor_user, world):
    proxy = flaky_proxy(["refuse", "refuse", "refuse"])
    connector = through(proxy, executor_user)

    assert connector.get_experiment_status(world.eid) == "RUNNING"
    assert proxy.connections == 4


def test_it_raises_a_readable_error_after_its_last_retry(flaky_proxy, executor_user, world):
    proxy = flaky_proxy(["refuse"] * 100)
    connector = through(proxy, executor_user, retries=3)

    with pytest.raises(BackendError) as info:
        connector.save_intermediate_result(world.jid, 0.5)

    assert proxy.connections == 4
    message = str(info.value)
    assert f"POST {proxy.url}/api/jobs/{world.jid}/intermediate-results/" in message
    assert "no answer after 4 attempts" in message
    assert not IntermediateResult.objects.exists()


def test_it_says_so_when_nothing_listens_at_the_address(executor_user):
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    _, secret = make_token(executor_user)
    connector = RestConnector(f"http://127.0.0.1:{port}", secret, retries=1, backoff=0.01)

    with pytest.raises(BackendError, match="no answer after 2 attempts .*Connection refused"):
        connector.log_error_message(1, "x" * 1000)


def test_it_retries_a_server_that_failed_and_then_writes_once(rest, world, monkeypatch):
    calls = []
    real = DjangoConnector.save_intermediate_result

    def fail_twice(self, *args):
        calls.append(args)
        if len(calls) <= 2:
            raise BackendError("save_intermediate_result: the database failed: database is locked")
        return real(self, *args)

    monkeypatch.setattr(DjangoConnector, "save_intermediate_result", fail_twice)

    irid = rest.save_intermediate_result(world.jid, 0.5)

    assert len(calls) == 3
    assert list(IntermediateResult.objects.values_list("pk", flat=True)) == [irid]


def test_it_gives_up_on_a_failing_server_with_its_message(live_server, executor_user, world, monkeypatch):
    def fail(self, *args):
        raise BackendError("end_experiment: the database failed: disk I/O error")

    monkeypatch.setattr(DjangoConnector, "end_experiment", fail)
    connector = rest_connector(live_server, executor_user, retries=2)

    with pytest.raises(BackendError, match=r"HTTP 503 after 3 attempts: .*disk I/O error"):
        connector.end_experiment(world.eid)


def test_it_does_not_retry_a_refusal(flaky_proxy, executor_user, world, served):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)

    other = DjangoConnector().start_experiment("alice", {"name": "other"})

    with pytest.raises(InvalidInputError):
        connector.save_multiple_results(world.jid, None, other, ["a"], [1.0])
    with pytest.raises(NotFoundError):
        connector.end_job(world.jid + 1000)

    assert served.requests == 2
    assert proxy.connections == 1  # a refusal keeps the connection


def test_it_sends_nothing_once_closed(flaky_proxy, executor_user, world):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)
    connector.close()

    with pytest.raises(ConnectorClosedError):
        connector.save_intermediate_result(world.jid, 0.5)
    assert connector.maybe_get_experiment_status(world.eid) is None
    assert proxy.connections == 0


def test_it_refuses_a_revoked_token_with_an_authentication_error(live_server, executor_user):
    token, secret = make_token(executor_user)
    token.revoke()
    connector = RestConnector(live_server.url, secret, backoff=0.01)

    with pytest.raises(AccessDeniedError, match="Invalid token"):
        connector.get_resource_type()


def test_it_says_so_when_base_url_is_not_an_aupsite(live_server, executor_user):
    _, secret = make_token(executor_user)
    # The admin's login page redirects: an address that is not the site's root.
    connector = RestConnector(live_server.url + "/admin/login/?next=", secret, backoff=0.01)

    with pytest.raises(BackendError):
        connector.get_resource_type()


def test_it_takes_the_api_address_too(live_server, executor_user, world):
    _, secret = make_token(executor_user)

    assert RestConnector(live_server.url + "/api/", secret).get_experiment_status(world.eid) == "RUNNING"


def test_it_reads_the_token_from_the_environment(live_server, executor_user, world, monkeypatch):
    _, secret = make_token(executor_user)
    monkeypatch.setenv("AUPSITE_TOKEN", secret)

    assert RestConnector(live_server.url).get_experiment_status(world.eid) == "RUNNING"


@pytest.mark.parametrize("base_url", ["aupsite.example.org", "ftp://aupsite.example.org", ""])
def test_it_refuses_a_base_url_that_is_not_http(base_url):
    with pytest.raises(InvalidInputError, match="base_url"):
        RestConnector(base_url, "aup_secret")


def test_it_writes_once_when_two_copies_of_a_write_race(live_server, executor_user, world):
    # Two deliveries of the same write at the same moment (a retry overtaking a slow
    # first try): the key's unique constraint lets one win, the other replays it.
    _, secret = make_token(executor_user)
    url = f"{live_server.url}/api/jobs/{world.jid}/intermediate-results/"
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json", "Idempotency-Key": "race"}
    barrier = threading.Barrier(4)
    answers = []

    def send():
        barrier.wait()
        request = urllib.request.Request(url, data=b'{"score": 0.5}', headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            answers.append((response.status, json.loads(response.read())))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [irid] = IntermediateResult.objects.values_list("pk", flat=True)
    assert answers == [(201, {"irid": irid})] * 4


def test_it_records_a_batch_in_one_request(flaky_proxy, executor_user, world, served):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)
    results = [{"jid": world.jid, "score": step / 10, "labels": ["acc"], "scores": [step / 10]} for step in range(25)]

    irids = connector.save_intermediate_results(results)

    assert served.requests == 1
    assert len(irids) == 25
    assert connector.get_intermediate_results_job(world.jid) == [step / 10 for step in range(25)]
    assert MultipleResult.objects.filter(job_id=world.jid).count() == 25


def test_it_runs_without_django(live_server, executor_user, world, tmp_path):
    _, secret = make_token(executor_user)
    script = (
        "import sys; sys.modules['django'] = None  # any import of Django now fails\n"
        "from tracking.client import RestConnector\n"
        f"connector = RestConnector({live_server.url!r}, {secret!r})\n"
        f"print(connector.get_experiment_status({world.eid}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "RUNNING\n"


# -- what a server takes: request lines and bodies --------------------------------------------


@pytest.fixture
def gunicorn(gunicorn_url, executor_user):
    """A RestConnector speaking to gunicorn (tests/rest_support.py), as in production."""
    _, secret = make_token(executor_user, "gunicorn")
    return RestConnector(gunicorn_url, secret, backoff=0.01)


def test_it_keeps_its_request_line_budget_below_gunicorns_limit():
    from gunicorn.config import LimitRequestLine

    assert REQUEST_LINE_BUDGET < LimitRequestLine.default  # 4,094 bytes


def test_it_reads_the_results_of_any_number_of_jobs_in_requests_gunicorn_takes(gunicorn, world):
    # 500 four-digit ids made a URL of 4.6 KB: gunicorn answered 414. Long ids too.
    for step in range(3):
        DjangoConnector().save_intermediate_result(world.jid, step / 10)
    for jids in ([world.jid, *range(1000, 1500)], [*range(2**63 - 2000, 2**63), world.jid]):
        assert gunicorn.get_intermediate_results_jobs(jids) == {world.jid: [0.0, 0.1, 0.2]}


def test_it_splits_a_list_of_ids_over_as_few_requests_as_fit(flaky_proxy, executor_user, world, served):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)
    prefix = len(f"GET {proxy.url}/api/intermediate-results/? HTTP/1.1")
    per_request = (REQUEST_LINE_BUDGET - prefix) // len("&jid=1000")

    connector.get_intermediate_results_jobs(list(range(1000, 1000 + 2 * per_request + 1)))

    assert served.requests == 3


def test_it_offers_resources_whatever_the_length_of_the_blacklist(gunicorn, world):
    cpus = [make_resource("cpu") for _ in range(3)]
    django = DjangoConnector()
    # Ids no resource has (a whole suite's transactional tests can take ids into the
    # thousands: had the filler named every cpu, the blacklist would be ignored).
    filler = range(10**9, 10**9 + 500)
    for blacklist in (
        [cpus[0].pk, *filler],  # 5.5 KB in a URL
        [cpus[0].pk, *range(2**63 - 10_000, 2**63 - 1)],  # 200 KB
        [cpu.pk for cpu in cpus] + [world.rid],  # all of them: blacklist ignored
        [2**70],  # matches nothing, but is a blacklist: the type must equal rtype
    ):
        for rtype in ("cpu", "gpu,cpu", "tpu"):
            expected = django.get_available_resource("alice", rtype, blacklist)
            assert gunicorn.get_available_resource("alice", rtype, blacklist) == expected
    assert gunicorn.get_available_resource("alice", "cpu", [cpus[0].pk, *filler]) == [
        world.rid,
        cpus[1].pk,
        cpus[2].pk,
    ]


def test_it_refuses_a_text_too_long_for_a_url_without_sending_it(flaky_proxy, executor_user):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)

    with pytest.raises(InvalidInputError, match="too long to send in a URL"):
        connector.get_all_experiment("x" * REQUEST_LINE_BUDGET)

    assert proxy.connections == 0


def error_message_of(size):
    """A message that makes log_error_message's body exactly `size` bytes long."""
    return "x" * (size - len(json.dumps({"msg": ""}).encode()))


def test_it_takes_bodies_up_to_the_servers_limit(gunicorn, world, settings):
    assert MAX_BODY_BYTES == settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    gunicorn.log_error_message(world.eid, error_message_of(MAX_BODY_BYTES))

    assert len(Experiment.objects.get(pk=world.eid).error_msg) > MAX_BODY_BYTES - 20


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 5_000_000, 50_000_000])
def test_it_refuses_a_body_over_the_servers_limit_without_sending_it(flaky_proxy, executor_user, world, size):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)

    with pytest.raises(InvalidInputError, match=f"body of {size:,} bytes.*at most {MAX_BODY_BYTES:,}"):
        connector.log_error_message(world.eid, error_message_of(size))

    assert proxy.connections == 0
    assert Experiment.objects.get(pk=world.eid).error_msg is None


def test_it_reads_the_answer_the_server_gave_before_the_body_was_sent_whole(gunicorn, world, monkeypatch):
    # As a client whose limit is not the server's: gunicorn's Django answers 400 without
    # reading the body and closes; the rest of the body meets a broken pipe.
    monkeypatch.setattr("tracking.client.MAX_BODY_BYTES", 100_000_000, raising=False)
    gunicorn.retries = 0

    with pytest.raises(InvalidInputError, match="DATA_UPLOAD_MAX_MEMORY_SIZE"):
        gunicorn.log_error_message(world.eid, "x" * 20_000_000)

    assert Experiment.objects.get(pk=world.eid).error_msg is None


def test_it_reads_a_proxys_refusal_of_a_large_body_without_retrying(early_answer, executor_user):
    proxy = early_answer(413, "Request Entity Too Large", b"<html><h1>413 Request Entity Too Large</h1></html>", "text/html")
    connector = through(proxy, executor_user)

    with pytest.raises(InvalidInputError, match="too large for the server .*413"):
        connector.log_error_message(1, "x" * 2_000_000)

    assert proxy.connections == 1


def test_it_reads_a_refusal_that_came_before_the_body_was_sent(early_answer, executor_user):
    refusal = json.dumps({"detail": "Invalid token.", "errors": {}}).encode()
    server = early_answer(401, "Unauthorized", refusal)
    connector = through(server, executor_user)

    with pytest.raises(AccessDeniedError, match="Invalid token"):
        connector.save_intermediate_results([{"jid": 1, "score": "x" * 2_000_000}])

    assert server.connections == 1


def test_it_splits_a_batch_over_bodies_the_server_takes(flaky_proxy, executor_user, world, served):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)
    texts = [f"{step:03}" + "x" * 100_000 for step in range(40)]  # 4 MB in all

    irids = connector.save_intermediate_results([{"jid": world.jid, "score": text} for text in texts])

    assert served.requests == 2
    assert list(IntermediateResult.objects.order_by("number").values_list("pk", "score_text")) == list(
        zip(irids, texts)
    )


def test_it_sends_nothing_of_a_batch_with_a_result_too_large_for_a_body(flaky_proxy, executor_user, world):
    proxy = flaky_proxy()
    connector = through(proxy, executor_user)
    results = [{"jid": world.jid, "score": 0.5}, {"jid": world.jid, "score": "x" * MAX_BODY_BYTES}]

    with pytest.raises(InvalidInputError, match="result 1 is too large"):
        connector.save_intermediate_results(results)

    assert proxy.connections == 0
    assert not IntermediateResult.objects.exists()
