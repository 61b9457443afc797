import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction

from tests.factories import make_experiment, make_job, make_resource, make_user
from tracking.models import Experiment, Job, Resource

pytestmark = pytest.mark.django_db


def test_it_shows_a_researcher_only_their_own_experiments_and_staff_all():
    alice, bob = make_user("alice"), make_user("bob")
    staff = make_user("root", is_staff=True)
    mine = Experiment.objects.create(owner=alice, name="mine")
    theirs = Experiment.objects.create(owner=bob, name="theirs")

    assert list(Experiment.objects.visible_to(alice)) == [mine]
    assert set(Experiment.objects.visible_to(staff)) == {mine, theirs}
    assert not Experiment.objects.visible_to(AnonymousUser()).exists()


def test_it_shows_an_inactive_user_nothing():
    alice = make_user("alice", is_active=False)
    Experiment.objects.create(owner=alice, name="mine")
    assert not Experiment.objects.visible_to(alice).exists()


@pytest.mark.parametrize(
    "model, field, value",
    [
        ("experiment", "status", "DONE"),
        ("job", "status", "SUCCEEDED"),
        ("resource", "status", "reserved"),
    ],
)
def test_it_refuses_an_unknown_status_in_the_database_itself(model, field, value):
    alice = make_user("alice")
    experiment = make_experiment(alice)
    rows = {
        "experiment": lambda: Experiment.objects.filter(pk=experiment.pk),
        "job": lambda: Job.objects.filter(pk=make_job(experiment).pk),
        "resource": lambda: Resource.objects.filter(pk=make_resource().pk),
    }
    queryset = rows[model]()
    # A bulk update skips every Python-side check: only the constraint stands.
    with pytest.raises(IntegrityError), transaction.atomic():
        queryset.update(**{field: value})


def test_it_refuses_two_experiments_of_one_name_in_the_database_itself():
    alice = make_user("alice")
    Experiment.objects.create(owner=alice, name="toy")
    Experiment.objects.create(owner=alice, name=None)
    Experiment.objects.create(owner=alice, name=None)  # NULL names never collide
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.create(owner=alice, name="toy")
