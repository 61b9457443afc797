"""An experiment's controls: stop, restart, delete and share, for its owner and staff only,
each a confirmation page (GET) and a change (POST behind CSRF)."""

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.factories import make_experiment, make_recorded_job, make_resource, make_share, make_user
from tracking.models import Experiment, ExperimentShare, IntermediateResult, Job

pytestmark = pytest.mark.django_db

ACTIONS = ["stop", "restart", "delete"]


@pytest.fixture
def bob(db):
    return make_user("bob")


def client_of(user, csrf=False):
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def url(experiment, action):
    return f"/experiments/{experiment.pk}/{action}/"


def state(experiment):
    experiment = Experiment.objects.filter(pk=experiment.pk).values("status", "start_time").first()
    return experiment, Job.objects.count()


# -- stop -----------------------------------------------------------------------------


def test_it_confirms_then_requests_a_stop_that_the_executor_sees(alice, connector):
    eid = connector.start_experiment("alice", {"name": "mine"})
    experiment = Experiment.objects.get(pk=eid)
    client = client_of(alice)
    response = client.get(url(experiment, "stop"))
    assert response.status_code == 200
    assert "Request the stop" in response.content.decode()
    assert connector.maybe_get_experiment_status(eid) == "RUNNING"  # a GET changes nothing

    response = client.post(url(experiment, "stop"))
    assert response.status_code == 302 and response.url == f"/experiments/{eid}/"
    # What Auptimizer's executor polls for.
    assert connector.maybe_get_experiment_status(eid) == "REQUEST_STOP"


@pytest.mark.parametrize(
    "status, message",
    [
        ("FINISHED", "This experiment is FINISHED: only a RUNNING experiment can be asked to stop"),
        ("CREATED", "This experiment is CREATED: only a RUNNING experiment can be asked to stop"),
        ("REQUEST_STOP", "A stop has already been requested"),
    ],
)
def test_it_refuses_to_stop_an_experiment_that_is_not_running(alice, status, message):
    experiment = make_experiment(alice, "mine", status=status)
    client = client_of(alice)
    response = client.get(url(experiment, "stop"))
    assert message in response.content.decode()
    assert "<form" not in response.content.decode().split("<main")[1]
    response = client.post(url(experiment, "stop"))
    assert response.status_code == 409
    assert message in response.content.decode()
    assert Experiment.objects.get(pk=experiment.pk).status == status


# -- restart --------------------------------------------------------------------------


def test_it_restarts_an_ended_experiment_deleting_its_jobs(alice):
    experiment = make_experiment(alice, "mine", status="FAILED")
    make_recorded_job(experiment, None, status="FINISHED", steps=3)
    make_recorded_job(experiment, None, status="FAILED")
    client = client_of(alice)
    body = client.get(url(experiment, "restart")).content.decode()
    assert "Restarting deletes its 2 jobs" in body
    assert Job.objects.count() == 2

    response = client.post(url(experiment, "restart"))
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.status == "RUNNING" and experiment.end_time is None
    assert not Job.objects.exists() and not IntermediateResult.objects.exists()


@pytest.mark.parametrize("action", ["restart", "delete"])
@pytest.mark.parametrize("status", ["RUNNING", "REQUEST_STOP", "STOPPING"])
def test_it_refuses_to_restart_or_delete_while_an_executor_may_be_at_work(alice, action, status):
    experiment = make_experiment(alice, "mine", status=status)
    make_recorded_job(experiment, make_resource())
    before = state(experiment)
    client = client_of(alice)
    response = client.post(url(experiment, action))
    assert response.status_code == 409
    assert f"This experiment is {status}: its executor may still be writing to it" in response.content.decode()
    assert state(experiment) == before


# -- delete ---------------------------------------------------------------------------


def test_it_confirms_then_deletes_an_experiment_with_its_record(alice):
    experiment = make_experiment(alice, "mine", status="FINISHED")
    make_recorded_job(experiment, None, status="FINISHED", steps=4)
    client = client_of(alice)
    body = client.get(url(experiment, "delete")).content.decode()
    assert "its 1 job" in body and "4 intermediate results" in body
    assert Experiment.objects.filter(pk=experiment.pk).exists()

    response = client.post(url(experiment, "delete"))
    assert response.status_code == 302 and response.url == "/"
    assert not Experiment.objects.exists() and not Job.objects.exists() and not IntermediateResult.objects.exists()


# -- who may ------------------------------------------------------------------------


@pytest.mark.parametrize("action", [*ACTIONS, "share"])
def test_it_hides_the_controls_from_other_researchers(alice, bob, action):
    experiment = make_experiment(alice, "alice's", status="FINISHED")
    before = state(experiment)
    client = client_of(bob)
    assert client.get(url(experiment, action)).status_code == 404
    assert client.post(url(experiment, action), {"username": "bob"}).status_code == 404
    assert state(experiment) == before
    assert not ExperimentShare.objects.exists()


@pytest.mark.parametrize("action", [*ACTIONS, "share"])
def test_it_hides_the_controls_from_users_it_is_shared_with(alice, bob, action):
    experiment = make_experiment(alice, "alice's", status="RUNNING")
    make_share(experiment, user=bob)
    client = client_of(bob)
    assert Experiment.objects.visible_to(bob).filter(pk=experiment.pk).exists()  # bob sees it ...
    assert client.get(url(experiment, action)).status_code == 404  # ... and cannot change it
    assert client.post(url(experiment, action), {"username": "bob"}).status_code == 404
    assert Experiment.objects.get(pk=experiment.pk).status == "RUNNING"


def test_it_hides_the_controls_from_members_of_a_group_it_is_shared_with(alice, bob):
    team = Group.objects.create(name="team")
    bob.groups.add(team)
    experiment = make_experiment(alice, "alice's")
    make_share(experiment, group=team)
    client = client_of(bob)
    assert Experiment.objects.visible_to(bob).filter(pk=experiment.pk).exists()
    assert client.post(url(experiment, "stop")).status_code == 404
    assert Experiment.objects.get(pk=experiment.pk).status == "RUNNING"


def test_it_lets_staff_control_anyones_experiment(alice):
    experiment = make_experiment(alice, "alice's")
    staff = make_user("root", is_staff=True)
    response = client_of(staff).post(url(experiment, "stop"))
    assert response.status_code == 302
    assert Experiment.objects.get(pk=experiment.pk).status == "REQUEST_STOP"


@pytest.mark.parametrize("action", [*ACTIONS, "share"])
def test_it_sends_anonymous_users_to_the_login_page(alice, client, action):
    experiment = make_experiment(alice, "alice's", status="FINISHED")
    for method in (client.get, client.post):
        response = method(url(experiment, action))
        assert response.status_code == 302 and response.url.startswith("/accounts/login/?next=")
    assert Experiment.objects.get(pk=experiment.pk).status == "FINISHED"


@pytest.mark.parametrize("action", [*ACTIONS, "share"])
def test_it_refuses_a_change_without_the_csrf_token(alice, action):
    experiment = make_experiment(alice, "mine")
    make_recorded_job(experiment, None, status="FINISHED")
    before = state(experiment)
    client = client_of(alice, csrf=True)
    assert client.get(url(experiment, action)).status_code == 200
    response = client.post(url(experiment, action), {"username": "bob"})
    assert response.status_code == 403
    assert state(experiment) == before
    assert not ExperimentShare.objects.exists()


def test_it_accepts_a_change_with_the_token_of_its_confirmation_page(alice):
    experiment = make_experiment(alice, "mine")
    client = client_of(alice, csrf=True)
    page = client.get(url(experiment, "stop"))
    token = page.context["csrf_token"]
    response = client.post(url(experiment, "stop"), {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert Experiment.objects.get(pk=experiment.pk).status == "REQUEST_STOP"


def test_it_answers_404_for_an_experiment_that_does_not_exist(alice):
    client = client_of(alice)
    for action in [*ACTIONS, "share"]:
        assert client.get(f"/experiments/999/{action}/").status_code == 404


@pytest.mark.parametrize(
    "action, title, heading, button, style",
    [
        ("stop", "Stop toy · aupsite", "Request a stop of toy", "Request the stop", "primary"),
        ("restart", "Restart toy · aupsite", "Restart toy", "Delete its jobs and restart", "danger"),
        ("delete", "Delete toy · aupsite", "Delete toy", "Delete the experiment", "danger"),
        ("share", "Share toy · aupsite", "Share toy", "Share read-only", "primary"),
    ],
)
def test_it_titles_each_control_page_with_its_action_and_the_site_once(alice, action, title, heading, button, style):
    experiment = make_experiment(alice, "toy", status="RUNNING" if action == "stop" else "FINISHED")
    body = client_of(alice).get(url(experiment, action)).content.decode()
    assert f"<title>{title}</title>" in body
    assert f"<h1>{heading}</h1>" in body
    assert f'<button type="submit" class="button {style}">{button}</button>' in body


def test_it_escapes_the_experiment_name_on_a_confirmation_page(alice):
    experiment = make_experiment(alice, "<b>bold</b>", status="FINISHED")
    body = client_of(alice).get(url(experiment, "delete")).content.decode()
    assert "<b>bold</b>" not in body
    assert "<h1>Delete &lt;b&gt;bold&lt;/b&gt;</h1>" in body


# -- sharing ------------------------------------------------------------------------


def test_it_shares_with_a_user_and_a_group_and_stops_sharing(alice, bob):
    team = Group.objects.create(name="team")
    carol = make_user("carol")
    carol.groups.add(team)
    experiment = make_experiment(alice, "mine")
    client = client_of(alice)

    assert client.post(url(experiment, "share"), {"username": "bob"}).status_code == 302
    assert client.post(url(experiment, "share"), {"group": "team"}).status_code == 302
    assert Experiment.objects.visible_to(bob).get() == experiment
    assert Experiment.objects.visible_to(carol).get() == experiment
    body = client.get(url(experiment, "share")).content.decode()
    assert "user bob" in body and "group team" in body

    share = ExperimentShare.objects.get(user=bob)
    response = client.post(f"/experiments/{experiment.pk}/share/{share.pk}/remove/")
    assert response.status_code == 302
    assert not Experiment.objects.visible_to(bob).exists()
    assert Experiment.objects.visible_to(carol).exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "Give a user name or a group name (one of the two)."),
        ({"username": "bob", "group": "team"}, "Give a user name or a group name (one of the two)."),
        ({"username": "nobody"}, "There is no user named &#x27;nobody&#x27;."),
        ({"group": "nogroup"}, "There is no group named &#x27;nogroup&#x27;."),
        ({"username": "alice"}, "alice owns this experiment already."),
        ({"username": "carol"}, "The experiment is already shared with carol."),
    ],
)
def test_it_refuses_a_bad_share_and_writes_nothing(alice, bob, data, message):
    Group.objects.create(name="team")
    experiment = make_experiment(alice, "mine")
    make_share(experiment, user=make_user("carol"))
    response = client_of(alice).post(url(experiment, "share"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert ExperimentShare.objects.count() == 1


def test_it_removes_only_shares_of_the_experiment_in_the_url(alice, bob):
    mine = make_experiment(alice, "mine")
    theirs = make_experiment(bob, "theirs")
    their_share = make_share(theirs, user=make_user("carol"))
    client = client_of(alice)
    # Alice owns `mine`, but the share belongs to bob's experiment.
    assert client.post(f"/experiments/{mine.pk}/share/{their_share.pk}/remove/").status_code == 404
    assert client.get(f"/experiments/{mine.pk}/share/{their_share.pk}/remove/").status_code == 405
    assert ExperimentShare.objects.filter(pk=their_share.pk).exists()


def test_it_tells_whether_a_name_exists_only_to_who_may_share(alice, bob):
    # Deliberate: the share form names an unknown user or group (a typo must not become a
    # share that goes nowhere), as GitHub's and GitLab's "add member" do. Only who may
    # change the experiment (its owner, staff) reaches the form; to anyone else, and to
    # an anonymous visitor, a real name and an unknown one get the same answer.
    Group.objects.create(name="team")
    make_user("carol")
    experiment = make_experiment(alice, "mine")
    answers = {}
    for who, client in [("bob", client_of(bob)), ("anonymous", Client())]:
        for data in [{"username": "carol"}, {"username": "nobody"}, {"group": "team"}, {"group": "nogroup"}]:
            response = client.post(url(experiment, "share"), data)
            # The CSRF token is masked afresh in every page: not part of the answer.
            page = re.sub(r"[A-Za-z0-9]{64}", "<csrf>", response.content.decode())
            answers.setdefault(who, set()).add((response.status_code, response.headers.get("Location"), page))
    assert {who: len(seen) for who, seen in answers.items()} == {"bob": 1, "anonymous": 1}
    assert next(iter(answers["bob"]))[0] == 404
    assert next(iter(answers["anonymous"]))[0] == 302
    assert ExperimentShare.objects.count() == 0
    owner = client_of(alice).post(url(experiment, "share"), {"username": "nobody"})
    assert owner.status_code == 400 and "There is no user named" in owner.content.decode()
