"""What the pages say of an active experiment's executor: "waiting for an executor" until
its first job, "no sign of life for N minutes" once it has been silent for longer than
its own jobs take (tracking.recovery.liveness, by recovery's signs of life), with the
repair: the aup_reset line for its owner, a reset control for staff. Times are set in
the data and `now` is passed in: nothing waits."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import make_experiment, make_recorded_job, make_resource, make_share, make_user
from tracking import recovery
from tracking.connector import DjangoConnector
from tracking.models import Experiment, IntermediateResult, Job, JobAttempt, Resource

pytestmark = pytest.mark.django_db

# The rule's tests pass this as `now`. The pages read the real clock: their tests set
# times back from the moment they run (ago), and allow the minute to tick while they do.
NOW = timezone.now().replace(microsecond=0)


def minutes_ago(minutes, now=NOW):
    return now - timedelta(minutes=minutes)


def ago(minutes):
    return minutes_ago(minutes, now=timezone.now())


def with_ended_jobs(experiment, durations, started, now=NOW):
    """Ended jobs of these durations (minutes), the first started `started` minutes
    before `now`, one after the other."""
    start = minutes_ago(started, now)
    for minutes in durations:
        make_recorded_job(experiment, None, status="FINISHED", started=start, ended=start + timedelta(minutes=minutes))
        start += timedelta(minutes=minutes)
    return start


def liveness_of(experiment, now=NOW):
    return recovery.liveness(Experiment.objects.filter(pk=experiment.pk), now).get(experiment.pk)


@pytest.fixture
def alice(db):
    return make_user("alice")


# -- the rule ---------------------------------------------------------------------------


def test_it_expects_three_times_its_longest_recent_job(alice):
    experiment = make_experiment(alice, "search", start_time=minutes_ago(100))
    last_end = with_ended_jobs(experiment, [2, 6, 4], started=100)  # ended 88 minutes ago

    alive = liveness_of(experiment, now=last_end + timedelta(minutes=18))
    quiet = liveness_of(experiment, now=last_end + timedelta(minutes=19))

    assert alive.expected_silence == quiet.expected_silence == timedelta(minutes=18) and alive.from_history
    assert not alive.quiet
    assert quiet.quiet and quiet.silent_minutes == 19 and quiet.last_sign_of_life == last_end


def test_it_expects_at_least_the_floor_of_short_jobs(alice):
    experiment = make_experiment(alice, "quick", start_time=minutes_ago(30))
    last_end = with_ended_jobs(experiment, [0.2, 0.5], started=30)

    assert liveness_of(experiment, now=last_end + timedelta(minutes=4)).quiet is False
    assert liveness_of(experiment, now=last_end + timedelta(minutes=6)).quiet is True
    assert liveness_of(experiment).expected_silence == recovery.QUIET_FLOOR


def test_it_goes_by_the_last_20_ended_jobs_only(alice):
    experiment = make_experiment(alice, "long ago long", start_time=minutes_ago(500))
    # A 100-minute job first, then 20 jobs of one minute: the long one is no longer recent.
    with_ended_jobs(experiment, [100] + [1] * recovery.QUIET_HISTORY_JOBS, started=500)

    assert liveness_of(experiment).expected_silence == recovery.QUIET_FLOOR


def test_it_falls_back_to_aup_resets_default_before_any_job_has_ended(alice):
    experiment = make_experiment(alice, "first job", start_time=minutes_ago(90))
    make_recorded_job(experiment, None, started=minutes_ago(59))

    sign = liveness_of(experiment)
    assert not sign.from_history and sign.expected_silence == timedelta(minutes=recovery.DEFAULT_STALE_MINUTES)
    assert not sign.quiet
    assert liveness_of(experiment, now=NOW + timedelta(minutes=2)).quiet


def test_it_counts_every_sign_of_life_recovery_counts(alice):
    experiment = make_experiment(alice, "reporting", start_time=minutes_ago(300))
    with_ended_jobs(experiment, [1], started=300)
    running = make_recorded_job(experiment, None, started=minutes_ago(200))
    assert liveness_of(experiment).quiet
    # A step of its running job a minute ago: alive, though the job started long ago.
    IntermediateResult.objects.create(job=running, number=0, score=0.5, receive_time=minutes_ago(1))

    sign = liveness_of(experiment)
    assert not sign.quiet and sign.silent_minutes == 1
    stale = recovery.last_signs_of_life(Experiment.objects.filter(pk=experiment.pk)).get()
    assert sign.last_sign_of_life == stale.last_sign_of_life  # the one notion of it


def test_it_says_nothing_of_ended_experiments_and_reads_in_one_query(alice, django_assert_num_queries):
    experiments = [make_experiment(alice, f"search {n}", start_time=minutes_ago(100)) for n in range(5)]
    for experiment in experiments:
        with_ended_jobs(experiment, [3] * 30, started=100)
    ended = make_experiment(alice, "ended", status="FINISHED", start_time=minutes_ago(100))

    with django_assert_num_queries(1):
        signs = recovery.liveness(Experiment.objects.all(), NOW)

    assert set(signs) == {experiment.pk for experiment in experiments} and ended.pk not in signs


# -- the experiment page -----------------------------------------------------------------


def client_of(user, csrf=False):
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def summary(client, experiment):
    response = client.get(f"/experiments/{experiment.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="summary")
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_a_running_experiment_without_jobs_waiting_for_an_executor(alice):
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "fresh"})
    experiment = Experiment.objects.get(pk=eid)
    client = client_of(alice)

    page = client.get(f"/experiments/{eid}/").content.decode()
    assert 'id="experiment-waiting"' in page and "waiting for an executor" in page
    assert f"Experiment(exp_config, eid={eid})" in page and f"connector.job_started({eid}, rid, config)" in page
    assert "live</span>" not in page  # not "running live"
    assert 'id="repair-command"' not in page  # a fresh wait is no fault yet

    # The first job arrives: the next poll of the summary no longer waits.
    connector.job_started(eid, make_resource().pk, {})
    assert "waiting for an executor" not in summary(client, experiment)
    assert "waiting for an executor" not in client.get("/").content.decode()
    connector.close()


def test_it_says_what_a_restart_needs_and_waits_after_it(alice):
    experiment = make_experiment(alice, "again", status="FAILED")
    make_recorded_job(experiment, None, status="FINISHED")
    client = client_of(alice)

    confirmation = client.get(f"/experiments/{experiment.pk}/restart/").content.decode()
    assert "It starts no executor" in confirmation
    assert f"Experiment(exp_config, eid={experiment.pk})" in confirmation

    response = client.post(f"/experiments/{experiment.pk}/restart/", follow=True)
    page = response.content.decode()
    assert "Nothing runs until an executor works on it again" in page  # the message
    assert 'id="experiment-waiting"' in page
    row = re.search(r"<tr>(?:(?!</tr>).)*?<a class=\"strong\"[^>]*>again</a>.*?</tr>", client.get("/").content.decode(), re.S)
    assert "waiting for an executor" in row.group(0)


def test_it_shows_no_sign_of_life_with_the_repair_for_its_owner(alice):
    experiment = make_experiment(alice, "crashed", start_time=ago(120))
    with_ended_jobs(experiment, [5, 5], started=120, now=timezone.now())  # expects 15 minutes of silence at most
    make_recorded_job(experiment, make_resource(), started=ago(100))  # then nothing for 100 minutes
    client = client_of(alice)

    page = summary(client, experiment)

    assert re.search(r"No sign of life for (99|100|101) minutes", page)
    assert "its recent jobs took at most 5 min, so after 15 min of silence" in page
    assert f'<code id="repair-command">.venv/bin/python manage.py aup_reset --experiment {experiment.pk}</code>' in page
    assert 'id="experiment-reset"' not in page  # the button is staff's
    assert "live</span>" not in page
    listed = client.get("/").content.decode()
    assert re.search(r"no sign of life for (99|100|101) min", listed)


def test_it_shows_staff_the_reset_button_and_shared_users_neither(alice):
    experiment = make_experiment(alice, "crashed", start_time=ago(120))
    make_recorded_job(experiment, None, started=ago(100))  # no ended job: quiet after 60
    staff, bob = make_user("root", is_staff=True), make_user("bob")
    make_share(experiment, user=bob)

    as_staff = summary(client_of(staff), experiment)
    assert f'href="/experiments/{experiment.pk}/reset/"' in as_staff and 'id="repair-command"' in as_staff
    as_bob = summary(client_of(bob), experiment)
    assert "No sign of life" in as_bob
    assert 'id="repair-command"' not in as_bob and "/reset/" not in as_bob


def test_it_stays_live_while_it_writes(alice):
    experiment = make_experiment(alice, "healthy", start_time=ago(120))
    with_ended_jobs(experiment, [5, 5], started=120, now=timezone.now())
    job = make_recorded_job(experiment, None, started=ago(100))
    IntermediateResult.objects.create(job=job, number=0, score=0.5, receive_time=timezone.now())

    page = summary(client_of(alice), experiment)
    assert "No sign of life" not in page and "live</span>" in page


# -- the staff reset --------------------------------------------------------------------


def crashed(owner):
    experiment = make_experiment(owner, "crashed", start_time=ago(120))
    cpu = make_resource()
    job = make_recorded_job(experiment, cpu, started=ago(100))
    return experiment, job, cpu


def test_it_confirms_with_a_dry_run_then_resets_as_aup_reset_does(alice):
    experiment, job, cpu = crashed(alice)
    client = client_of(make_user("root", is_staff=True), csrf=True)
    url = f"/experiments/{experiment.pk}/reset/"

    confirmation = client.get(url)
    page = confirmation.content.decode()
    assert confirmation.status_code == 200
    assert f"aup_reset --experiment {experiment.pk}" in page and "RUNNING -&gt; FAILED" in page
    assert f"failed 1 running job(s) [job {job.number} #{job.pk}]" in page and f"freed 1 resource(s) [#{cpu.pk}]" in page
    assert Experiment.objects.get(pk=experiment.pk).status == "RUNNING"  # the dry run wrote nothing
    assert Resource.objects.get(pk=cpu.pk).status == "busy"

    assert client.post(url).status_code == 403  # no CSRF token
    assert Experiment.objects.get(pk=experiment.pk).status == "RUNNING"
    response = client.post(url, {"csrfmiddlewaretoken": str(confirmation.context["csrf_token"])})

    assert response.status_code == 302 and response.url == f"/experiments/{experiment.pk}/"
    experiment.refresh_from_db()
    assert experiment.status == "FAILED" and experiment.error_msg == recovery.RESET_MESSAGE
    assert Job.objects.get(pk=job.pk).status == "FAILED"
    assert not JobAttempt.objects.filter(job=job, end_time__isnull=True).exists()
    assert Resource.objects.get(pk=cpu.pk).status == "free"


def test_it_refuses_a_reset_with_nothing_to_repair(alice):
    experiment = make_experiment(alice, "done", status="FINISHED", start_time=ago(10))
    client = client_of(make_user("root", is_staff=True))

    assert "Nothing to repair" in client.get(f"/experiments/{experiment.pk}/reset/").content.decode()
    response = client.post(f"/experiments/{experiment.pk}/reset/")
    assert response.status_code == 409 and "Nothing to repair" in response.content.decode()


def test_it_keeps_the_reset_to_staff(alice):
    experiment, job, _ = crashed(alice)
    bob, carol = make_user("bob"), make_user("carol")
    make_share(experiment, user=bob)
    url = f"/experiments/{experiment.pk}/reset/"

    for user in (alice, bob):  # its owner, and a user it is shared with: they see it
        for method in ("get", "post"):
            assert getattr(client_of(user), method)(url).status_code == 403
    for method in ("get", "post"):  # anyone else: it does not exist
        assert getattr(client_of(carol), method)(url).status_code == 404
    anonymous = Client().post(url)
    assert anonymous.status_code == 302 and anonymous.url.startswith("/accounts/login/")
    assert Experiment.objects.get(pk=experiment.pk).status == "RUNNING"
    assert Job.objects.get(pk=job.pk).status == "RUNNING"
