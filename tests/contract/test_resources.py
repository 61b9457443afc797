"""The contract, resources: their types, which are offered, taking and freeing them."""

import pytest

from tests.contract.support import UNKNOWN, refused, status_of
from tests.factories import make_experiment, make_job, make_resource
from tracking.interface import NotFoundError
from tracking.models import Resource


def test_it_lists_resource_types_in_first_seen_order(connector):
    assert connector.get_resource_type() == []

    for rtype in ["gpu", "cpu", "gpu", "node", "cpu", "aws"]:
        make_resource(rtype)

    assert connector.get_resource_type() == ["gpu", "cpu", "node", "aws"]


@pytest.fixture
def pool(db):
    """Named resources, in rid order: two free cpus, a free gpu, a busy cpu, an
    out-of-service cpu, a free node."""
    return {
        "c1": make_resource("cpu").pk,
        "c2": make_resource("cpu").pk,
        "g1": make_resource("gpu").pk,
        "busy": make_resource("cpu", status="busy").pk,
        "off": make_resource("cpu", in_service=False).pk,
        "n1": make_resource("node").pk,
    }


@pytest.mark.parametrize(
    "username, rtype, blacklist, expected",
    [
        pytest.param(None, "cpu", None, ["c1", "c2"], id="type"),
        pytest.param("nobody", "cpu", None, ["c1", "c2"], id="username-ignored"),
        pytest.param(None, "gpu,cpu", None, ["c1", "c2", "g1"], id="contained-in"),
        pytest.param(None, "cpu", [], ["c1", "c2"], id="empty-blacklist"),
        pytest.param(None, "cpu", ["c1"], ["c2"], id="blacklisted"),
        pytest.param(None, "cpu", ["busy", "off"], ["c1", "c2"], id="blacklist-of-unavailable"),
        # Everything of the type blacklisted: fall back to all of it, blacklist ignored.
        pytest.param(None, "cpu", ["c1", "c2"], ["c1", "c2"], id="all-blacklisted"),
        # No type *equals* "gpu,cpu": fall back to contained-in, blacklist ignored.
        pytest.param(None, "gpu,cpu", ["c1"], ["c1", "c2", "g1"], id="blacklist-fallback-contained-in"),
        pytest.param(None, "tpu", None, [], id="no-such-type"),
        pytest.param(None, "tpu", ["c1"], [], id="no-such-type-blacklisted"),
        # Auptimizer's instr(NULL, type) matches nothing.
        pytest.param(None, None, None, [], id="no-type"),
    ],
)
def test_it_offers_free_resources_as_auptimizer(connector, pool, username, rtype, blacklist, expected):
    blacklist = None if blacklist is None else [pool[name] for name in blacklist]

    rids = connector.get_available_resource(username, rtype, blacklist)

    assert rids == [pool[name] for name in expected]


def test_it_matches_the_type_exactly_with_a_blacklist(connector):
    cpu, gpu = make_resource("cpu").pk, make_resource("gpu").pk
    both = make_resource("gpu,cpu").pk

    # With a blacklist only a type *equal* to rtype counts, while it gives any.
    assert connector.get_available_resource(None, "gpu,cpu", [cpu]) == [both]
    assert connector.get_available_resource(None, "gpu,cpu") == [cpu, gpu, both]


def test_it_never_offers_busy_or_out_of_service_resources(connector):
    busy = make_resource("cpu", status="busy").pk
    off = make_resource("cpu", in_service=False).pk
    make_resource("gpu", status="busy", in_service=False)

    assert connector.get_available_resource(None, "cpu") == []
    assert connector.get_available_resource(None, "cpu", [busy]) == []
    assert connector.get_available_resource(None, "gpu,cpu", [off]) == []


def test_it_takes_a_free_resource_once(connector, cpu):
    assert connector.take_available_resource(cpu.pk) is True
    assert status_of(cpu) == "busy"

    assert connector.take_available_resource(cpu.pk) is False
    assert status_of(cpu) == "busy"


def test_it_gives_a_free_resource_to_one_connector_only(connector, second_connector, cpu):
    assert connector.take_available_resource(cpu.pk) is True
    assert second_connector.take_available_resource(cpu.pk) is False
    assert status_of(cpu) == "busy"


def test_it_does_not_take_an_out_of_service_resource(connector):
    off = make_resource("cpu", in_service=False)

    assert connector.take_available_resource(off.pk) is False
    assert status_of(off) == "free"


@pytest.mark.parametrize("method", ["take_available_resource", "free_used_resource"])
@pytest.mark.parametrize("rid", ["1", 1.0, None, True], ids=["str", "float", "none", "bool"])
def test_it_refuses_a_rid_that_is_not_an_int(connector, cpu, method, rid):
    # ValueError, as Auptimizer's isinstance(rid, int) check.
    refused(ValueError, lambda: getattr(connector, method)(rid), "rid")


@pytest.mark.parametrize("method", ["take_available_resource", "free_used_resource"])
def test_it_refuses_an_unknown_rid(connector, cpu, method):
    refused(NotFoundError, lambda: getattr(connector, method)(UNKNOWN), UNKNOWN)


def test_it_frees_a_used_resource(connector, cpu):
    Resource.objects.filter(pk=cpu.pk).update(status="busy")

    assert connector.free_used_resource(cpu.pk) is True
    assert status_of(cpu) == "free"
    # Freeing a free resource is harmless, as Auptimizer.
    assert connector.free_used_resource(cpu.pk) is True
    assert status_of(cpu) == "free"


def test_it_frees_only_the_resources_this_connector_took(connector, second_connector, user):
    experiment = make_experiment(user, name="mine")
    job = make_job(experiment)
    taken, started, retried, others, crashed, handed_over, crowded = (make_resource("cpu") for _ in range(7))
    assert connector.take_available_resource(taken.pk) is True
    connector.job_started(experiment.pk, started.pk, {})
    connector.job_retry(retried.pk, job.pk)
    assert second_connector.take_available_resource(others.pk) is True
    # Left busy by an executor that crashed: the admin's recovery command frees it.
    Resource.objects.filter(pk=crashed.pk).update(status="busy")
    # Taken and freed by this connector, then taken by another: no longer ours.
    assert connector.take_available_resource(handed_over.pk) is True
    connector.free_used_resource(handed_over.pk)
    assert second_connector.take_available_resource(handed_over.pk) is True
    # This connector's take loses the race, so the resource stays the other's.
    assert second_connector.take_available_resource(crowded.pk) is True
    connector.job_started(experiment.pk, crowded.pk, {})

    connector.free_all_resources()

    assert [status_of(r) for r in (taken, started, retried)] == ["free"] * 3
    assert [status_of(r) for r in (others, crashed, handed_over, crowded)] == ["busy"] * 4
    # A second call is harmless and frees nothing more.
    connector.free_all_resources()
    assert [status_of(r) for r in (others, crashed, handed_over, crowded)] == ["busy"] * 4
