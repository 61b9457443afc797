import pytest
from django.utils import timezone

from tests.factories import make_configured_experiment, make_jobs, make_resource, make_user
from tracking.models import JobAttempt

pytestmark = pytest.mark.django_db


def test_it_says_how_to_add_resources_when_there_are_none(client, alice):
    client.force_login(alice)
    html = client.get("/resources/").content.decode()
    assert "No resources yet" in html and "aup_setup --user alice" in html


def test_it_shows_what_runs_where_and_hides_other_peoples_jobs(client, alice):
    gpu0 = make_resource("gpu", "0", status="busy")
    gpu1 = make_resource("gpu", "1", status="busy")
    make_resource("cpu", "idle-box")
    mine = make_configured_experiment(alice, name="my sweep")
    [my_job] = make_jobs(mine, 1, status="RUNNING", score=None, resource=gpu0)
    theirs = make_configured_experiment(make_user("bob"), name="bobs secret sweep")
    [their_job] = make_jobs(theirs, 1, status="RUNNING", score=None, resource=gpu1)
    client.force_login(alice)
    html = client.get("/resources/").content.decode()
    assert f'<a href="/jobs/{my_job.pk}/">Job {my_job.number}</a>' in html and "my sweep" in html
    assert "busy (another user's job)" in html
    assert "bobs secret" not in html and f"/jobs/{their_job.pk}/" not in html
    assert "never used" in html and "idle" in html


def test_it_shows_staff_every_job(client, alice):
    gpu = make_resource("gpu", "0", status="busy")
    [job] = make_jobs(make_configured_experiment(alice, name="sweep"), 1, status="RUNNING", score=None, resource=gpu)
    client.force_login(make_user("root", is_staff=True))
    assert f"/jobs/{job.pk}/" in client.get("/resources/").content.decode()


def test_it_flags_a_resource_running_two_attempts(client, alice):
    gpu = make_resource("gpu", "0", status="busy")
    make_jobs(make_configured_experiment(alice), 2, status="RUNNING", score=None, resource=gpu)
    client.force_login(alice)
    html = client.get("/resources/").content.decode()
    assert "2 running attempts" in html and 'class="conflict"' in html


def test_it_bounds_the_timeline_to_recent_attempts(client, alice):
    gpu = make_resource("gpu", "0")
    jobs = make_jobs(make_configured_experiment(alice), 20, resource=gpu)
    base = timezone.now() - timezone.timedelta(hours=1)
    for index, job in enumerate(jobs):
        JobAttempt.objects.filter(job=job).update(start_time=base + timezone.timedelta(minutes=index))
    client.force_login(alice)
    html = client.get("/resources/").content.decode()
    assert html.count('<rect class="seg') == 12 and "12 attempts" in html
    assert f"/jobs/{jobs[-1].pk}/" in html and f"/jobs/{jobs[0].pk}/" not in html


@pytest.mark.parametrize("count", [2, 20])
def test_it_takes_the_same_queries_for_2_or_20_resources_and_attempts(client, alice, django_assert_num_queries, count):
    experiment = make_configured_experiment(alice)
    for index in range(count):
        make_jobs(experiment, 3, resource=make_resource("gpu", str(index)))
    client.force_login(alice)
    # Queries: session, user, count, page of resources, recent and running attempts.
    with django_assert_num_queries(5):
        assert client.get("/resources/").status_code == 200
