import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.db import IntegrityError, transaction

from tests.factories import make_experiment, make_job, make_resource, make_share, make_user
from tracking.models import Experiment, ExperimentShare, Job, Resource

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


def test_it_shows_experiments_shared_with_a_user_or_their_groups_once_each(django_assert_num_queries):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    red, blue = Group.objects.create(name="red"), Group.objects.create(name="blue")
    bob.groups.add(red, blue)
    everywhere = Experiment.objects.create(owner=alice, name="everywhere")
    by_group = Experiment.objects.create(owner=alice, name="by group")
    Experiment.objects.create(owner=alice, name="private")
    own = Experiment.objects.create(owner=bob, name="own")
    # Shared with bob directly and through both his groups: listed once.
    make_share(everywhere, user=bob)
    make_share(everywhere, group=red)
    make_share(everywhere, group=blue)
    make_share(by_group, group=blue)
    make_share(by_group, user=carol)

    # 1. SELECT experiments WHERE owner = bob OR EXISTS (share to bob) OR EXISTS (share to a group of bob)
    with django_assert_num_queries(1):
        names = sorted(Experiment.objects.visible_to(bob).values_list("name", flat=True))
    assert names == ["by group", "everywhere", "own"]
    assert Experiment.objects.visible_to(bob).count() == 3
    assert sorted(Experiment.objects.visible_to(carol).values_list("name", flat=True)) == ["by group"]
    assert own not in Experiment.objects.visible_to(carol)


def test_it_lets_only_owners_and_staff_change_an_experiment():
    alice, bob = make_user("alice"), make_user("bob")
    staff = make_user("root", is_staff=True)
    mine = Experiment.objects.create(owner=alice, name="mine")
    make_share(mine, user=bob)
    assert list(Experiment.objects.changeable_by(alice)) == [mine]
    assert not Experiment.objects.changeable_by(bob).exists()
    assert list(Experiment.objects.changeable_by(staff)) == [mine]
    assert not Experiment.objects.changeable_by(AnonymousUser()).exists()
    alice.is_active = False
    assert not Experiment.objects.changeable_by(alice).exists()


@pytest.mark.parametrize("with_user, with_group", [(True, True), (False, False)])
def test_it_refuses_a_share_with_both_or_neither_in_the_database(with_user, with_group):
    alice, bob = make_user("alice"), make_user("bob")
    group = Group.objects.create(name="team")
    experiment = Experiment.objects.create(owner=alice, name="mine")
    share = ExperimentShare(experiment=experiment, user=bob if with_user else None, group=group if with_group else None)
    with pytest.raises(IntegrityError), transaction.atomic():
        share.save()
    assert not ExperimentShare.objects.exists()


def test_it_refuses_the_same_share_twice_in_the_database():
    alice, bob = make_user("alice"), make_user("bob")
    experiment = Experiment.objects.create(owner=alice, name="mine")
    make_share(experiment, user=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_share(experiment, user=bob)
    assert ExperimentShare.objects.count() == 1
