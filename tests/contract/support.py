"""What the contract tests share: the unknown id, the check that a refused call wrote
nothing, and readers of the stored rows.

The readers go straight to the ORM, as the set-up does (tests/factories.py): a test of one
method does not lean on another method of the implementation under test.
"""

from datetime import timedelta

import pytest

from tracking.interface import ConnectorError
from tracking.models import Experiment, IntermediateResult, Job, JobAttempt, MultipleResult, Resource, ResultLabel

# An id no row reaches, even where PostgreSQL's sequences keep counting across test runs
# (a rolled-back test does not rewind them, nor does --reuse-db).
UNKNOWN = 999_999_999_999

TRACKED_MODELS = (Experiment, Job, JobAttempt, IntermediateResult, MultipleResult, ResultLabel, Resource)


def db_state():
    """Every tracked row with every field: equal before and after means nothing was written."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in TRACKED_MODELS}


def refused(exc_type, call, *mentions):
    """Assert that call() raises exc_type, an interface error naming `mentions`, having written nothing."""
    before = db_state()
    with pytest.raises(exc_type) as info:
        call()
    # No django.db (or driver) exception may reach the executor.
    assert isinstance(info.value, ConnectorError), f"{type(info.value).__name__} is not a ConnectorError"
    for mention in mentions:
        assert str(mention) in str(info.value), f"{str(mention)!r} not named in {str(info.value)!r}"
    assert db_state() == before, "a refused call wrote to the database"
    return info.value


def assert_now(moment, before, after):
    """`moment` was taken during the call (give or take a second of storage rounding)."""
    assert moment is not None
    assert before - timedelta(seconds=1) <= moment <= after + timedelta(seconds=1)


def status_of(resource):
    return Resource.objects.get(pk=resource.pk if isinstance(resource, Resource) else resource).status


def labels_of(eid):
    labels = ResultLabel.objects.filter(experiment_id=eid).order_by("label_order")
    return list(labels.values_list("label_order", "name"))


class Ref(str):
    """In a call table, stands for one of the world's ids (e.g. Ref("jid") -> world.jid)."""


EID, JID, RID, IRID = Ref("eid"), Ref("jid"), Ref("rid"), Ref("irid")
