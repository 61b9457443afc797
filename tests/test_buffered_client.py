"""The buffered client, RestConnector(..., buffered=True) (tracking/buffering.py), over real
HTTP to a live test server on SQLite: order across batches, flush before reads, job ends,
close() and interpreter exit, an outage held and then sent exactly once, the bound that
blocks, provisional ids, refusals raised, several writing threads, and Auptimizer's
Experiment recording through it."""

import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest

from tests.factories import make_experiment, make_job, make_resource, make_user
from tests.rest_support import LoopbackServer, _pump, rest_connector
from tests.test_connector_concurrency import PROJECT_DIR
from tracking.buffering import ResultsRefusedError
from tracking.interface import BackendError, InvalidInputError, NotFoundError
from tracking.models import IntermediateResult, Job, MultipleResult, ResultLabel

pytestmark = pytest.mark.django_db(transaction=True)


def buffered(url_or_server, user, **options):
    """A buffered RestConnector of `user` to the live server (or any address: a proxy)."""
    options.setdefault("flush_interval", 0.05)
    if isinstance(url_or_server, str):
        from tests.factories import make_token
        from tracking.client import RestConnector

        _, secret = make_token(user, "test")
        options.setdefault("backoff", 0.01)
        return RestConnector(url_or_server, secret, buffered=True, **options)
    return rest_connector(url_or_server, user, buffered=True, **options)


@pytest.fixture
def alice(transactional_db):
    return make_user("alice")


@pytest.fixture
def job(alice):
    experiment = make_experiment(alice, config={"resource_args": {"multi_res_labels": ["accuracy", "loss"]}})
    return make_job(experiment, make_resource("cpu"))


def steps_of(job):
    return list(IntermediateResult.objects.filter(job=job).order_by("number").values_list("number", "score"))


def labeled_of(job):
    rows = MultipleResult.objects.filter(job=job).order_by("intermediate_result__number", "label_order")
    return list(rows.values_list("intermediate_result__number", "label_order", "value"))


def test_it_sends_every_result_in_order_across_many_batches(live_server, alice, job):
    connector = buffered(live_server, alice, flush_size=7, flush_interval=0.01)
    for step in range(200):
        irid = connector.save_intermediate_result(job.pk, step / 10)
        connector.save_multiple_results(job.pk, irid, job.experiment_id, ["accuracy", "loss"], [step, -step])
    connector.flush()

    assert steps_of(job) == [(step, step / 10) for step in range(200)]
    assert labeled_of(job) == [(step, order, value) for step in range(200) for order, value in ((1, step), (2, -step))]
    assert list(ResultLabel.objects.values_list("name", flat=True)) == ["accuracy", "loss"]
    connector.close()


def test_it_returns_at_once_and_sends_nothing_until_the_interval_or_the_size(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600, flush_size=10)
    for step in range(9):
        connector.save_intermediate_result(job.pk, step)
    time.sleep(0.3)
    assert steps_of(job) == []  # neither an interval nor a batch's worth yet
    connector.save_intermediate_result(job.pk, 9)  # the tenth: a batch
    deadline = time.monotonic() + 10
    while len(steps_of(job)) < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [step for step, _ in steps_of(job)] == list(range(10))
    connector.close()


def test_it_sends_after_the_interval_without_a_flush(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=0.1)
    connector.save_intermediate_result(job.pk, 0.5)
    deadline = time.monotonic() + 10
    while not steps_of(job) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert steps_of(job) == [(0, 0.5)]
    connector.close()


def test_it_flushes_before_a_read(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600)
    for step in range(5):
        connector.save_intermediate_result(job.pk, step)

    assert connector.get_intermediate_results_job(job.pk) == [0, 1, 2, 3, 4]
    assert connector.get_intermediate_results_experiment(job.experiment_id, "RUNNING") == {job.pk: [0, 1, 2, 3, 4]}
    connector.close()


@pytest.mark.parametrize("ending", ["end_job", "job_finished"])
def test_it_flushes_before_the_job_ends(live_server, alice, job, ending):
    connector = buffered(live_server, alice, flush_interval=3600)
    for step in range(5):
        irid = connector.save_intermediate_result(job.pk, step)
        connector.save_multiple_results(job.pk, irid, job.experiment_id, None, [step, step])
    connector.set_last_multiple_results(job.experiment_id, job.pk, 2)
    if ending == "end_job":
        connector.end_job(job.pk, 4, "FINISHED")
    else:
        connector.job_finished(job.attempts.get().resource_id, job.pk, 4, "FINISHED")

    assert [step for step, _ in steps_of(job)] == [0, 1, 2, 3, 4]
    # The job ended after its steps, and the last labeled values are the last step's.
    job.refresh_from_db()
    assert job.status == "FINISHED"
    assert all(result.receive_time <= job.end_time for result in IntermediateResult.objects.filter(job=job))
    last = MultipleResult.objects.filter(job=job, is_last=True)
    assert {result.intermediate_result.number for result in last} == {4}
    connector.close()


def test_it_flushes_on_close(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600)
    irids = [connector.save_intermediate_result(job.pk, step) for step in range(50)]
    connector.close()

    assert len(steps_of(job)) == 50
    assert connector.is_closed()
    assert all(irid < 0 for irid in irids)  # provisional until sent


def test_it_maps_provisional_ids_to_the_servers(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600)
    provisional = [connector.save_intermediate_result(job.pk, step) for step in range(3)]
    # save_multiple_results takes a provisional id, of a step still queued or already sent.
    connector.save_multiple_results(job.pk, provisional[0], job.experiment_id, None, [1.0])
    connector.flush()
    connector.save_multiple_results(job.pk, provisional[1], job.experiment_id, None, [2.0])
    connector.save_multiple_results(job.pk, provisional[1], job.experiment_id, None, [3.0])

    real = [connector.real_irid(irid) for irid in provisional]
    assert real == list(IntermediateResult.objects.filter(job=job).order_by("number").values_list("pk", flat=True))
    assert connector.real_irid(real[2]) == real[2]  # a real id is its own
    connector.flush()
    by_step = sorted(MultipleResult.objects.filter(job=job).values_list("intermediate_result_id", "value"))
    assert by_step == [(real[0], 1.0), (real[1], 2.0), (real[1], 3.0)]
    # A real id from elsewhere is taken too.
    connector.save_multiple_results(job.pk, real[2], job.experiment_id, None, [4.0])
    connector.flush()
    assert MultipleResult.objects.get(value=4.0).intermediate_result_id == real[2]
    connector.close()


def test_it_refuses_ids_it_never_gave_at_once(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600)
    irid = connector.save_intermediate_result(job.pk, 1)
    other = make_job(job.experiment)
    with pytest.raises(NotFoundError, match="does not exist"):
        connector.save_multiple_results(job.pk, -5, job.experiment_id, None, [1.0])
    with pytest.raises(NotFoundError, match=f"intermediate result {irid} of job {other.pk}"):
        connector.save_multiple_results(other.pk, irid, job.experiment_id, None, [1.0])
    with pytest.raises(InvalidInputError):
        connector.save_intermediate_result(job.pk, [1])
    connector.close()
    assert steps_of(job) == [(0, 1.0)]
    assert not MultipleResult.objects.exists()


# -- interpreter exit ---------------------------------------------------------------------

EXIT_SCRIPT = """
import sys
sys.path.insert(0, {project!r})
from tracking.client import RestConnector

connector = RestConnector({url!r}, {secret!r}, buffered=True, flush_interval=3600)
for step in range({steps}):
    irid = connector.save_intermediate_result({jid}, step)
    connector.save_multiple_results({jid}, irid, {eid}, None, [step, -step])
print("written", flush=True)
{ending}
"""


@pytest.mark.parametrize(
    "ending, returncode",
    [("pass", 0), ("sys.exit(3)", 3), ("raise RuntimeError('the training crashed')", 1)],
    ids=["end", "exit", "exception"],
)
def test_it_flushes_at_interpreter_exit_without_close(live_server, alice, job, ending, returncode):
    from tests.factories import make_token

    _, secret = make_token(alice, "exit")
    script = EXIT_SCRIPT.format(
        project=str(PROJECT_DIR), url=live_server.url, secret=secret, steps=300, jid=job.pk, eid=job.experiment_id, ending=ending
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)

    assert result.returncode == returncode, result.stderr
    assert result.stdout == "written\n"
    assert steps_of(job) == [(step, float(step)) for step in range(300)]
    assert MultipleResult.objects.filter(job=job).count() == 600


# -- outages ------------------------------------------------------------------------------


class Switch(LoopbackServer):
    """A TCP proxy in front of the live server, as a network that goes down and comes back.

    `mode` (set with switch()): "pass"; "refuse" (new connections are closed at once, and
    those open are cut: nothing reaches the server); "lose-answers" (requests reach the
    server, which writes and answers, but each answer is lost, and its connection with it).
    Connections are cut rather than left open, since a client may keep one for many requests.
    """

    def __init__(self, target_url):
        parts = urlsplit(target_url)
        self.target = (parts.hostname, parts.port)
        self.mode = "pass"
        self._open = set()
        self._open_lock = threading.Lock()
        super().__init__()

    def switch(self, mode):
        self.mode = mode
        if mode != "pass":
            with self._open_lock:
                cut = list(self._open)
            for sock in cut:
                _shut(sock)

    def handle(self, client, index):
        if self.mode == "refuse":
            _shut(client)
            client.close()
            return
        threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client):
        try:
            upstream = socket.create_connection(self.target, timeout=30)
        except OSError:
            client.close()
            return
        with self._open_lock:
            self._open.update((client, upstream))
        threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
        try:
            while data := upstream.recv(65536):
                if self.mode != "pass":
                    break  # the answer is lost on the way back
                client.sendall(data)
        except OSError:
            pass
        finally:
            with self._open_lock:
                self._open.difference_update((client, upstream))
            for sock in (upstream, client):
                _shut(sock)  # shutdown, not just close: the other direction's thread reads it
                sock.close()


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


@pytest.fixture
def switch(live_server):
    proxy = Switch(live_server.url)
    yield proxy
    proxy.close()


def outage_options(**options):
    # flush() gives up after about 1 s without progress; the sender retries every 50 ms.
    return {"timeout": 1.0, "retries": 2, "backoff": 0.01, "max_backoff": 0.05, **options}


def test_it_holds_results_through_an_outage_and_sends_each_once_when_the_network_is_back(switch, alice, job):
    connector = buffered(switch.url, alice, flush_size=10, **outage_options())
    for step in range(30):
        connector.save_intermediate_result(job.pk, step)
    connector.flush()

    switch.switch("refuse")
    for step in range(30, 130):
        irid = connector.save_intermediate_result(job.pk, step)  # returns at once, down or not
        connector.save_multiple_results(job.pk, irid, job.experiment_id, None, [step])
    with pytest.raises(BackendError, match="buffered results not sent yet"):
        connector.flush()
    with pytest.raises(BackendError):
        connector.get_intermediate_results_job(job.pk)  # a read flushes first
    assert len(steps_of(job)) == 30
    # Back, but losing every answer: the server writes batches whose answers never arrive,
    # and the client, trying them again with their keys, gets each written once.
    switch.switch("lose-answers")
    deadline = time.monotonic() + 30
    while len(steps_of(job)) == 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(steps_of(job)) > 30
    switch.switch("pass")
    connector.flush()

    assert steps_of(job) == [(step, float(step)) for step in range(130)]
    labeled = MultipleResult.objects.filter(job=job).order_by("intermediate_result__number")
    assert list(labeled.values_list("intermediate_result__number", "value")) == [(step, step) for step in range(30, 130)]
    connector.close()


def test_it_blocks_the_writer_at_the_bound_and_lets_it_go_when_the_server_is_back(switch, alice, job):
    connector = buffered(switch.url, alice, flush_size=2, max_buffered=5, **outage_options())
    switch.switch("refuse")
    written = []

    def write():
        for step in range(20):
            connector.save_intermediate_result(job.pk, step)
            written.append(step)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    deadline = time.monotonic() + 30
    while len(written) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # room for a sixth write, were it not held back
    assert written == [0, 1, 2, 3, 4]  # five held, and the sixth write waits: nothing dropped
    assert writer.is_alive()
    assert steps_of(job) == []

    switch.switch("pass")
    writer.join(timeout=30)
    assert not writer.is_alive()
    connector.close()
    assert written == list(range(20))
    assert steps_of(job) == [(step, float(step)) for step in range(20)]


# -- refusals -----------------------------------------------------------------------------


def test_it_raises_refused_results_on_the_next_call_and_records_the_rest(live_server, alice, job):
    other = make_job(job.experiment)
    elsewhere = make_experiment(alice, name="elsewhere")
    connector = buffered(live_server, alice, flush_interval=3600)
    kept, doomed = [], []
    for step in range(5):
        kept.append(connector.save_intermediate_result(job.pk, step))
        doomed.append(connector.save_intermediate_result(other.pk, step))
    # Labeled values naming an experiment that is not the job's: the server refuses them.
    connector.save_multiple_results(job.pk, kept[2], elsewhere.pk, None, [0.5])
    Job.objects.filter(pk=other.pk).delete()  # deleted from the dashboard meanwhile

    with pytest.raises(ResultsRefusedError) as refusal:
        connector.flush()

    refused = refusal.value.results
    assert [(result["jid"], result["irid"], result["score"]) for result in refused if result["jid"] == other.pk] == [
        (other.pk, irid, step) for step, irid in enumerate(doomed)
    ]
    assert any(result["irid"] == kept[2] and result["scores"] == [0.5] for result in refused)
    assert f"job {other.pk}" in str(refusal.value) and "does not exist" in str(refusal.value)
    assert f"job {job.pk} is not part of experiment {elsewhere.pk}" in str(refusal.value)
    # Everything else was recorded, the refused step's score included.
    assert steps_of(job) == [(step, float(step)) for step in range(5)]
    assert not MultipleResult.objects.exists()
    assert connector.refused_results == refused
    with pytest.raises(NotFoundError, match="refused"):
        connector.real_irid(doomed[0])
    # Raised once; later results of the deleted job are refused without a request.
    connector.flush()
    connector.save_intermediate_result(other.pk, 5)
    with pytest.raises(ResultsRefusedError, match=f"job {other.pk}"):
        connector.close()
    assert connector.is_closed()


# -- threads ------------------------------------------------------------------------------


def test_it_takes_results_from_several_threads_at_once(live_server, alice, job):
    jobs = [job] + [make_job(job.experiment) for _ in range(3)]
    connector = buffered(live_server, alice, flush_size=50, flush_interval=0.02)
    errors = []

    def train(index):
        try:
            this = jobs[index % len(jobs)]
            for step in range(150):
                irid = connector.save_intermediate_result(this.pk, index * 1000 + step)
                connector.save_multiple_results(this.pk, irid, this.experiment_id, None, [step])
                if step % 50 == 49:
                    connector.get_intermediate_results_job(this.pk)  # a read in between flushes
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=train, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connector.close()

    assert errors == []
    for position, this in enumerate(jobs):
        scores = [score for _, score in steps_of(this)]
        assert [step for step, _ in steps_of(this)] == list(range(300))
        # Each thread's steps arrived in its order (two threads share each job).
        for index in (position, position + 4):
            mine = [score - index * 1000 for score in scores if index * 1000 <= score < index * 1000 + 1000]
            assert mine == list(range(150))
        for step, value in MultipleResult.objects.filter(job=this).values_list("intermediate_result__score", "value"):
            assert step % 1000 == value


# -- Auptimizer ---------------------------------------------------------------------------

# aup_run's machinery (tracking.interop.runner, as manage.py aup_run uses it) with Auptimizer's
# own Experiment, recording through a buffered RestConnector instead of DjangoConnector: an
# executor on another machine, without the database.
AUPTIMIZER_SCRIPT = """
import json, sys, tempfile
sys.path.insert(0, {project!r})
from tracking.client import RestConnector
from tracking.interop.loader import import_auptimizer
from tracking.interop.runner import ExperimentRun, write_env

aup = import_auptimizer()
with open("experiment.json") as stream:
    config = json.load(stream)
connector = RestConnector({url!r}, {secret!r}, buffered=True, flush_interval=0.05, backoff=0.01)
with tempfile.TemporaryDirectory() as auppath:
    write_env(auppath, {resources!r})
    run = ExperimentRun(aup, config, "alice", connector, auppath, poll_seconds=0.2, sleep_seconds=0.2)
    outcome = run.run()
print(json.dumps({{"closed": connector.is_closed(), "refused": connector.refused_results}}))
"""


def test_it_records_auptimizers_experiment_through_the_buffered_client_as_auptimizer_does(live_server, tmp_path):
    from tests.auptimizer import support
    from tests.factories import make_resources, make_token
    from tracking.models import Experiment, Resource

    # The same experiment twice, same seed: Auptimizer alone on its own database, then
    # Auptimizer's Experiment through the buffered client against the live server.
    reference = support.run_reference(support.project(tmp_path / "auptimizer", "experiment.json"), "experiment.json", "alice")
    alice = make_user("alice")
    make_resources(2)
    _, secret = make_token(alice, "executor")
    folder = support.project(tmp_path / "aupsite", "experiment.json")
    resources = list(Resource.objects.order_by("pk").values_list("pk", "type", "name"))
    script = AUPTIMIZER_SCRIPT.format(project=str(PROJECT_DIR), url=live_server.url, secret=secret, resources=resources)

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, timeout=support.RUN_TIMEOUT
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == '{"closed": true, "refused": []}'
    experiment = Experiment.objects.get()
    ours, theirs = support.aupsite_summary(experiment), support.auptimizer_summary(reference)
    assert ours == theirs
    # What the comparison covers: retried attempts, an early stop (which reads the
    # buffered steps), two labeled results per step.
    assert theirs["attempt_count"] > theirs["job_count"]
    assert [job["status"] for job in theirs["jobs"].values()].count("EARLY_STOPPED") == 1
    assert theirs["labels"] == ["accuracy", "loss"]
    assert experiment.status == "FINISHED"
    assert not Resource.objects.filter(status="busy").exists()


# -- the rest of the surface --------------------------------------------------------------


def test_it_queues_save_intermediate_results_too(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600)
    irids = connector.save_intermediate_results(
        [{"jid": job.pk, "score": 0.1, "scores": [1, 2], "labels": ["accuracy", "loss"]}, {"jid": job.pk, "score": "nan"}]
    )
    assert all(irid < 0 for irid in irids)
    assert steps_of(job) == []
    connector.flush()

    real = [connector.real_irid(irid) for irid in irids]
    assert [result.pk for result in IntermediateResult.objects.filter(job=job).order_by("number")] == real
    assert labeled_of(job) == [(0, 1, 1.0), (0, 2, 2.0)]
    assert connector.get_intermediate_results_job(job.pk)[0] == 0.1
    connector.close()


@pytest.mark.parametrize(
    "options, named",
    [
        ({"flush_interval": 0}, "flush_interval"),
        ({"flush_interval": "1"}, "flush_interval"),
        ({"flush_size": 0}, "flush_size"),
        ({"flush_size": 1.5}, "flush_size"),
        ({"max_buffered": True}, "max_buffered"),
    ],
)
def test_it_refuses_a_bad_setting(live_server, alice, options, named):
    with pytest.raises(InvalidInputError, match=named):
        buffered(live_server, alice, **options)


def test_it_is_a_plain_connector_unbuffered(live_server, alice, job):
    connector = rest_connector(live_server, alice)
    irid = connector.save_intermediate_result(job.pk, 0.5)
    connector.flush()  # nothing to wait for

    assert irid == IntermediateResult.objects.get().pk
    assert connector.real_irid(irid) == irid
    assert connector.refused_results == []


FORK_SCRIPT = """
import os, sys
sys.path.insert(0, {project!r})
from tracking.client import RestConnector
from tracking.interface import ConnectorError

connector = RestConnector("http://127.0.0.1:9", "secret", buffered=True, flush_interval=3600)
pid = os.fork()
if pid == 0:
    try:
        connector.save_intermediate_result(1, 0.5)
    except ConnectorError as error:
        print("child:", error, flush=True)
        os._exit(0)
    os._exit(1)
_, status = os.waitpid(pid, 0)
print("parent:", os.waitstatus_to_exitcode(status), flush=True)
"""


def test_it_refuses_to_be_used_in_a_forked_child(tmp_path):
    # The child holds a copy of the parent's queue, which the parent sends: it must not.
    result = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT.format(project=str(PROJECT_DIR))], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "child: a buffered RestConnector belongs to the process that made it" in result.stdout
    assert "parent: 0" in result.stdout


def test_it_sends_what_a_dropped_connector_held_and_ends_its_thread(live_server, alice, job):
    import gc

    connector = buffered(live_server, alice, flush_interval=3600)
    connector.save_intermediate_result(job.pk, 0.5)
    thread = connector._buffer._thread
    del connector
    gc.collect()

    thread.join(timeout=30)
    assert not thread.is_alive()
    assert steps_of(job) == [(0, 0.5)]
