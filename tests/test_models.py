import pytest
from django.contrib.auth.models import AnonymousUser

from tests.factories import make_user
from tracking.models import Experiment

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
