"""The admin: its pages load for staff, and its actions on resources and experiments work."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import ago, make_experiment, make_recorded_job, make_resource, make_resources, make_share, make_user
from tracking.models import Experiment, IntermediateResult, Job, MultipleResult, Resource

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def world(db):
    alice = make_user("alice")
    cpus = make_resources(3)
    gpu = make_resource("gpu", "0")
    experiment = make_experiment(alice, "big search", config={"name": "big search", "x": [1, 2]})
    running = make_recorded_job(experiment, cpus[0], steps=4)
    finished = make_recorded_job(experiment, None, status="FINISHED", score=0.75, steps=2)
    return {"alice": alice, "cpus": cpus, "gpu": gpu, "experiment": experiment, "running": running, "finished": finished}


def test_it_loads_every_admin_page(client, root, world):
    experiment, job, cpu = world["experiment"], world["running"], world["cpus"][0]
    pages = [
        "/admin/",
        "/admin/tracking/resource/",
        "/admin/tracking/resource/?type=cpu&status__exact=busy&in_service__exact=1",
        "/admin/tracking/resource/?q=localhost",
        "/admin/tracking/resource/add/",
        "/admin/tracking/resource/add-bulk/",
        f"/admin/tracking/resource/{cpu.pk}/change/",
        "/admin/tracking/experiment/",
        "/admin/tracking/experiment/?q=big",
        "/admin/tracking/experiment/?q=notanumber",
        "/admin/tracking/experiment/?status__exact=RUNNING",
        f"/admin/tracking/experiment/{experiment.pk}/change/",
        f"/admin/tracking/experiment/{experiment.pk}/delete/",
        "/admin/tracking/job/",
        f"/admin/tracking/job/?experiment__id__exact={experiment.pk}",
        "/admin/tracking/job/?status__exact=RUNNING&q=big",
        f"/admin/tracking/job/{job.pk}/change/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        f"/admin/auth/user/{world['alice'].pk}/change/",
        "/admin/auth/group/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page


def test_it_shows_which_job_and_experiment_hold_a_resource_and_since_when(client, root, world):
    cpu = world["cpus"][0]
    body = client.get("/admin/tracking/resource/").content.decode()
    assert f'href="/admin/tracking/job/{world["running"].pk}/change/"' in body
    assert f'href="/admin/tracking/experiment/{world["experiment"].pk}/change/"' in body
    assert "big search (RUNNING)" in body
    resource = Resource.objects.with_holder().get(pk=cpu.pk)
    assert (resource.holder_job_id, resource.holder_experiment_id) == (world["running"].pk, world["experiment"].pk)
    assert resource.taken_at is not None


def test_it_lists_resources_in_a_constant_number_of_queries(client, root, world):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/tracking/resource/").status_code == 200
        return len(captured)

    before = queries()
    experiment = make_experiment(world["alice"], "more")
    for cpu in make_resources(10):
        make_recorded_job(experiment, cpu)
    assert queries() == before


def test_it_links_experiments_and_jobs_to_their_dashboard_pages(client, root, world):
    experiment, job = world["experiment"], world["running"]
    body = client.get(f"/admin/tracking/experiment/{experiment.pk}/change/").content.decode()
    assert f'href="/experiments/{experiment.pk}/"' in body
    assert f'href="/admin/tracking/job/?experiment__id__exact={experiment.pk}"' in body
    assert ">2 job(s)<" in body
    body = client.get(f"/admin/tracking/job/{job.pk}/change/").content.decode()
    assert f'href="/jobs/{job.pk}/"' in body


def test_it_keeps_the_executors_record_read_only(client, root, world):
    experiment, job = world["experiment"], world["running"]
    # Jobs: no add, change or delete, only a view.
    assert client.get("/admin/tracking/job/add/").status_code == 403
    response = client.post(f"/admin/tracking/job/{job.pk}/change/", {"status": "FINISHED"})
    assert response.status_code == 403
    assert client.post(f"/admin/tracking/job/{job.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Job.objects.get(pk=job.pk).status == "RUNNING"
    # Experiments: no add; the name may change, the status and config may not.
    assert client.get("/admin/tracking/experiment/add/").status_code == 403
    response = client.post(
        f"/admin/tracking/experiment/{experiment.pk}/change/",
        {
            "name": "renamed",
            "owner": world["alice"].pk,
            "status": "FINISHED",
            "config": "{}",
            "shares-TOTAL_FORMS": "0",
            "shares-INITIAL_FORMS": "0",
            "result_labels-TOTAL_FORMS": "0",
            "result_labels-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    experiment.refresh_from_db()
    assert (experiment.name, experiment.status, experiment.config["x"]) == ("renamed", "RUNNING", [1, 2])


def test_it_shares_an_experiment_from_the_admin(client, root, world):
    experiment, bob = world["experiment"], make_user("bob")
    response = client.post(
        f"/admin/tracking/experiment/{experiment.pk}/change/",
        {
            "name": experiment.name,
            "owner": world["alice"].pk,
            "shares-TOTAL_FORMS": "1",
            "shares-INITIAL_FORMS": "0",
            "shares-0-user": bob.pk,
            "shares-0-group": "",
            "result_labels-TOTAL_FORMS": "0",
            "result_labels-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert list(Experiment.objects.visible_to(bob)) == [experiment]


def test_it_refuses_a_share_with_both_a_user_and_a_group(client, root, world):
    from django.contrib.auth.models import Group

    experiment, bob, team = world["experiment"], make_user("bob"), Group.objects.create(name="team")
    response = client.post(
        f"/admin/tracking/experiment/{experiment.pk}/change/",
        {
            "name": experiment.name,
            "owner": world["alice"].pk,
            "shares-TOTAL_FORMS": "1",
            "shares-INITIAL_FORMS": "0",
            "shares-0-user": bob.pk,
            "shares-0-group": team.pk,
            "result_labels-TOTAL_FORMS": "0",
            "result_labels-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "Share with either a user or a group, not both and not neither." in response.content.decode()
    assert not experiment.shares.exists()


def run_action(client, model, action, pks, **extra):
    return client.post(
        f"/admin/tracking/{model}/", {"action": action, ACTION_CHECKBOX_NAME: [str(pk) for pk in pks], **extra}
    )


def statuses():
    return dict(Resource.objects.values_list("pk", "status"))


def test_it_frees_resources_whose_holder_has_ended_at_once(client, root, world):
    idle = world["cpus"][1]
    Resource.objects.filter(pk=idle.pk).update(status="busy", holder="gone", taken_at=ago(hours=1))
    response = run_action(client, "resource", "free_resources", [idle.pk])
    assert response.status_code == 302
    assert statuses()[idle.pk] == "free"
    assert Resource.objects.get(pk=idle.pk).holder is None


def test_it_asks_before_freeing_a_resource_a_running_job_holds(client, root, world):
    held, idle = world["cpus"][0], world["cpus"][1]
    Resource.objects.filter(pk=idle.pk).update(status="busy", holder="gone", taken_at=ago(hours=1))
    response = run_action(client, "resource", "free_resources", [held.pk, idle.pk])
    assert response.status_code == 200
    body = response.content.decode()
    assert "still held by a running job" in body
    assert f"job {world['running'].number} (id {world['running'].pk}) of" in body
    assert statuses()[held.pk] == statuses()[idle.pk] == "busy"  # nothing yet

    # "Only those whose holder has ended" keeps the held one.
    response = run_action(client, "resource", "free_resources", [held.pk, idle.pk], confirm="ended")
    assert response.status_code == 302
    assert (statuses()[held.pk], statuses()[idle.pk]) == ("busy", "free")

    response = run_action(client, "resource", "free_resources", [held.pk], confirm="all")
    assert response.status_code == 302
    assert statuses()[held.pk] == "free"


def test_it_counts_a_resource_taken_a_moment_ago_as_held(client, root, world):
    fresh = world["cpus"][2]
    Resource.objects.filter(pk=fresh.pk).update(status="busy", holder="x", taken_at=timezone.now())
    response = run_action(client, "resource", "free_resources", [fresh.pk])
    assert response.status_code == 200
    assert "no job recorded yet" in response.content.decode()


def test_it_takes_resources_out_of_service_and_back(client, root, world, connector):
    cpus = world["cpus"]
    run_action(client, "resource", "take_out_of_service", [cpus[1].pk, cpus[2].pk])
    assert not Resource.objects.filter(pk__in=[cpus[1].pk, cpus[2].pk], in_service=True).exists()
    # Executors are no longer given them.
    assert connector.get_available_resource("alice", "cpu") == []
    assert connector.take_available_resource(cpus[1].pk) is False
    run_action(client, "resource", "put_in_service", [cpus[1].pk])
    assert connector.get_available_resource("alice", "cpu") == [cpus[1].pk]


def test_it_adds_resources_in_bulk_like_aup_setup(client, root, world):
    response = client.post(
        "/admin/tracking/resource/add-bulk/",
        {"cpu": "5", "gpu": "0, 1", "node": "me@host1", "aws": "", "passive": "on"},
    )
    assert response.status_code == 302
    assert Resource.objects.filter(type="cpu").count() == 5  # 3 existed
    assert sorted(Resource.objects.filter(type="gpu").values_list("name", flat=True)) == ["0", "1"]
    assert Resource.objects.filter(type="node", name="me@host1").exists()
    assert Resource.objects.filter(type="passive").count() == 1
    messages = [str(message) for message in response.wsgi_request._messages]
    assert "cpu: 5 slot(s) on localhost in all, 2 added" in messages
    assert "gpu: 2 in all, 1 added: 1" in messages  # gpu 0 existed
    # Again: nothing is duplicated.
    before = Resource.objects.count()
    client.post("/admin/tracking/resource/add-bulk/", {"cpu": "5", "gpu": "0,1", "passive": "on"})
    assert Resource.objects.count() == before


@pytest.mark.parametrize(
    "data, error",
    [
        ({"cpu": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"cpu": "1", "gpu": "0,,1"}, "empty item"),
        ({"cpu": "1", "node": "a,a"}, "repeated item"),
        ({"cpu": "1", "aws": "x" * 300}, "name longer than 255 characters"),
    ],
)
def test_it_refuses_a_bad_bulk_add_and_adds_nothing(client, root, data, error):
    response = client.post("/admin/tracking/resource/add-bulk/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Resource.objects.exists()


def test_it_lets_only_staff_with_permissions_into_the_admin(client, world):
    client.force_login(world["alice"])
    response = client.get("/admin/tracking/resource/add-bulk/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
    staff = make_user("viewer", is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/tracking/resource/add-bulk/").status_code == 403


def test_it_summarises_what_goes_with_a_deleted_experiment_in_a_few_queries(client, root, world):
    experiment = world["experiment"]
    make_share(experiment, user=make_user("bob"))
    MultipleResult.objects.create(
        job=world["running"], experiment=experiment, label_order=1, value=1.0, receive_time=timezone.now()
    )

    def confirmation():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/admin/tracking/experiment/{experiment.pk}/delete/")
        assert response.status_code == 200
        return response.content.decode(), captured.captured_queries

    body, queries = confirmation()
    assert "2 jobs" in body and "2 job attempts" in body and "6 intermediate results" in body
    assert "1 multiple result" in body and "1 experiment share" in body
    # Rows of the big tables are counted, never fetched.
    for query in queries:
        sql = query["sql"]
        if "tracking_intermediateresult" in sql or "tracking_multipleresult" in sql:
            assert "COUNT(" in sql, sql

    # Ten times the rows, the same number of queries.
    for _ in range(10):
        make_recorded_job(experiment, None, status="FINISHED", steps=20)
    body, more_queries = confirmation()
    assert "12 jobs" in body and "206 intermediate results" in body
    assert len(more_queries) == len(queries)

    response = client.post(f"/admin/tracking/experiment/{experiment.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Experiment.objects.exists() and not Job.objects.exists()
    assert not IntermediateResult.objects.exists() and not MultipleResult.objects.exists()


def test_it_deletes_selected_experiments_with_the_same_summary(client, root, world):
    other = make_experiment(world["alice"], "other", status="FINISHED")
    make_recorded_job(other, None, status="FINISHED", steps=1)
    ids = [world["experiment"].pk, other.pk]
    response = run_action(client, "experiment", "delete_selected", ids)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<li>Jobs: 3</li>" in body and "<li>Intermediate results: 7</li>" in body
    assert "<li>2 jobs</li>" in body and "<li>1 job</li>" in body
    run_action(client, "experiment", "delete_selected", ids, post="yes")
    assert not Experiment.objects.exists()


def test_it_resets_experiments_from_the_admin_after_a_preview(client, root, world):
    experiment, cpu = world["experiment"], world["cpus"][0]
    response = run_action(client, "experiment", "reset_experiments", [experiment.pk])
    assert response.status_code == 200
    body = response.content.decode()
    assert "RUNNING -&gt; FAILED" in body
    assert Experiment.objects.get(pk=experiment.pk).status == "RUNNING"  # only previewed

    response = run_action(client, "experiment", "reset_experiments", [experiment.pk], post="yes")
    assert response.status_code == 302
    assert Experiment.objects.get(pk=experiment.pk).status == "FAILED"
    assert Job.objects.get(pk=world["running"].pk).status == "FAILED"
    assert Resource.objects.get(pk=cpu.pk).status == "free"


def test_it_creates_a_researcher_who_can_log_in_to_the_site(client, root):
    response = client.post(
        "/admin/auth/user/add/",
        {
            "username": "carol",
            "usable_password": "true",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
            "first_name": "Carol",
            "last_name": "Smith",
            "email": "carol@example.org",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    carol = get_user_model().objects.get(username="carol")
    assert (carol.first_name, carol.email, carol.is_staff) == ("Carol", "carol@example.org", False)
    client.logout()
    response = client.post("/accounts/login/", {"username": "carol", "password": "a long enough passphrase"})
    assert response.status_code == 302


def test_it_shows_how_many_experiments_each_user_owns(client, root, world):
    body = client.get("/admin/auth/user/").content.decode()
    assert '<td class="field-experiment_count">1</td>' in body
