"""Every read of the API is a bounded page, says where the rest begins, and costs the same
number of queries however much an experiment holds (issue 12, defect 11). RestConnector
follows the pages: an executor still gets everything."""

import pytest

from rest_framework.test import APIClient

from tests.factories import make_api_token, make_experiment, make_intermediate_results, make_jobs, make_resource, make_user
from tests.rest_support import rest_connector
from tracking.api import serializers as s
from tracking.connector import DjangoConnector
from tracking.models import JobAttempt, MultipleResult, ResultLabel

pytestmark = pytest.mark.django_db


def warm_up(client):
    # A token's first request also records its use (one UPDATE a minute): not counted.
    client.get("/api/resources/types/")


def pages(api, path, query, key):
    """Every page of a next_after read: (its rows, how many answers)."""
    rows, answers, query = [], 0, dict(query)
    while True:
        answer = api.get(path, query).json()
        rows += answer[key]
        answers += 1
        if answer["next_after"] is None:
            return rows, answers
        query["after"] = answer["next_after"]


def curve_pages(api, path, query):
    curves, answers, query = {}, 0, dict(query)
    while True:
        answer = api.get(path, query).json()
        for jid, scores in answer["curves"].items():
            curves.setdefault(jid, []).extend(scores)
        answers += 1
        if answer["next"] is None:
            return curves, answers
        query.update(answer["next"])


def test_it_pages_the_ids_and_the_history(api, user, cpu):
    experiment = make_experiment(user, "big")
    jobs = make_jobs(experiment, 7)
    eids = [experiment.pk] + [make_experiment(user, f"e{index}").pk for index in range(4)]
    base = f"/api/experiments/{experiment.pk}"

    assert pages(api, f"{base}/job-ids/", {"limit": 3}, "jids") == ([job.pk for job in jobs], 3)
    assert pages(api, "/api/experiments/ids/", {"limit": 2}, "eids") == (eids, 3)
    assert pages(api, "/api/experiments/ids/", {"limit": 2, "username": "alice"}, "eids") == (eids, 3)
    history, answers = pages(api, f"{base}/history/", {"limit": 4}, "jobs")
    assert ([row["jid"] for row in history], answers) == ([job.pk for job in jobs], 2)
    # The rows are the connector's, page after page.
    connector = DjangoConnector().get_all_history(experiment.pk)
    assert [(row["jid"], row["score"], row["status"], row["config_json"]) for row in history] == [
        (jid, score, status, config) for jid, score, _, _, _, status, config in connector
    ]
    whole = api.get(f"{base}/job-ids/").json()
    assert (len(whole["jids"]), whole["next_after"]) == (7, None)


def test_it_pages_intermediate_results_inside_a_job_too(api, user, cpu):
    experiment = make_experiment(user, "curves")
    jobs = make_jobs(experiment, 3, steps=5, status="FINISHED")
    make_intermediate_results(make_jobs(experiment, 1, status="RUNNING")[0], [0.5])
    expected = {str(jid): scores for jid, scores in DjangoConnector().get_intermediate_results_experiment(experiment.pk, "FINISHED").items()}

    path = f"/api/experiments/{experiment.pk}/intermediate-results/"
    assert curve_pages(api, path, {"status": "FINISHED", "limit": 4}) == (expected, 4)
    first = api.get(path, {"status": "FINISHED", "limit": 4}).json()
    assert first["next"] == {"after_jid": jobs[0].pk, "after_step": 3}
    assert first["curves"] == {str(jobs[0].pk): expected[str(jobs[0].pk)][:4]}
    jids = [job.pk for job in jobs]
    assert curve_pages(api, "/api/intermediate-results/", {"jid": jids, "limit": 7}) == (expected, 3)
    assert api.get(path).json() == {"curves": {}, "next": None}  # no status: no job

    steps, answers = pages(api, f"/api/jobs/{jobs[1].pk}/intermediate-results/", {"limit": 2}, "results")
    assert ([row["step"] for row in steps], answers) == ([0, 1, 2, 3, 4], 3)


def add_attempts(job, resource, count):
    start = job.attempts.count()
    JobAttempt.objects.bulk_create(
        JobAttempt(job=job, number=number, resource=resource, start_time=job.start_time)
        for number in range(start, start + count)
    )


def test_it_pages_the_resources(api, user):
    rids = [make_resource("cpu", str(index)).pk for index in range(5)]
    rows, answers = pages(api, "/api/resources/", {"limit": 2}, "resources")
    assert ([row["rid"] for row in rows], answers) == (rids, 3)


def add_labels(experiment, count):
    start = ResultLabel.objects.filter(experiment=experiment).count()
    ResultLabel.objects.bulk_create(
        ResultLabel(experiment=experiment, label_order=order, name=f"label {order}")
        for order in range(start + 1, start + count + 1)
    )


def test_it_shows_an_experiments_first_labels_and_pages_them_all(api, user, cpu, django_assert_num_queries):
    experiment = make_experiment(user, "many labels")
    add_labels(experiment, s.LABELS_LIMIT + 3)
    [job] = make_jobs(experiment, 1, resource=cpu)
    MultipleResult.objects.create(
        job=job, experiment=experiment, label_order=7, value=0.5, receive_time=job.start_time, is_last=True
    )

    detail = api.get(f"/api/experiments/{experiment.pk}/").json()
    assert (len(detail["labels"]), detail["labels_next_after"]) == (s.LABELS_LIMIT, s.LABELS_LIMIT)
    rows, answers = pages(api, f"/api/experiments/{experiment.pk}/labels/", {"limit": 400}, "labels")
    assert ([row["order"] for row in rows], answers) == (list(range(1, s.LABELS_LIMIT + 4)), 3)
    # Each with its direction (issue 13): "label 7" reads as no cost, so it follows the target.
    assert rows[6] == {"order": 7, "name": "label 7", "direction": "max", "declared": False}
    # A job's detail names only its own final values.
    assert api.get(f"/api/jobs/{job.pk}/").json()["final_values"] == [{"order": 7, "name": "label 7", "value": 0.5}]


def test_it_pages_a_users_tokens(user, django_assert_num_queries):
    client = APIClient()
    client.force_login(user)
    ids = [make_api_token(user, f"box {index}").pk for index in range(5)]
    make_api_token(make_user("bob"))
    rows, answers = pages(client, "/api/tokens/", {"limit": 2}, "tokens")
    assert ([row["id"] for row in rows], answers) == (ids, 3)
    # 1. the session, 2. its user, 3. the page.
    with django_assert_num_queries(3):
        client.get("/api/tokens/")


def test_it_shows_a_jobs_latest_attempts_and_pages_them_all(api, user, cpu):
    [job] = make_jobs(make_experiment(user, "retried"), 1, resource=cpu)
    add_attempts(job, cpu, s.ATTEMPTS_SHOWN + 4)
    total = s.ATTEMPTS_SHOWN + 5

    detail = api.get(f"/api/jobs/{job.pk}/").json()
    assert detail["attempts_total"] == total
    assert [attempt["number"] for attempt in detail["attempts"]] == list(range(5, total))
    rows, answers = pages(api, f"/api/jobs/{job.pk}/attempts/", {"limit": 50}, "attempts")
    assert ([row["number"] for row in rows], answers) == (list(range(total)), 3)
    assert rows[0]["rid"] == cpu.pk


@pytest.mark.parametrize(
    "path, query",
    [
        ("experiments/ids/", {"limit": s.IDS_LIMIT + 1}),
        ("experiments/{eid}/job-ids/", {"limit": s.IDS_LIMIT + 1}),
        ("experiments/{eid}/history/", {"limit": s.HISTORY_LIMIT + 1}),
        ("experiments/{eid}/intermediate-results/", {"status": "FINISHED", "limit": s.RESULTS_LIMIT + 1}),
        ("intermediate-results/", {"limit": s.RESULTS_LIMIT + 1}),
        ("jobs/{jid}/intermediate-results/", {"limit": s.JOB_RESULTS_LIMIT + 1}),
        ("experiments/{eid}/curves/", {"points": 5000, "page_size": 200}),
        ("jobs/{jid}/attempts/", {"limit": s.ATTEMPTS_LIMIT + 1}),
        ("resources/", {"limit": s.RESOURCES_LIMIT + 1}),
        ("tokens/", {"limit": s.TOKENS_LIMIT + 1}),
        ("experiments/{eid}/labels/", {"limit": s.LABELS_LIMIT + 1}),
        ("experiments/{eid}/multiple-results/", {"order": 1, "limit": 5001}),
        ("experiments/{eid}/jobs/", {"page_size": s.MAX_PAGE_SIZE + 1}),
        ("experiments/", {"page_size": s.MAX_PAGE_SIZE + 1}),
    ],
)
def test_it_refuses_a_page_larger_than_its_limit(api, user, path, query):
    experiment = make_experiment(user, "big")
    [job] = make_jobs(experiment, 1)

    if path == "tokens/":  # from a signed-in session only
        api = APIClient()
        api.force_login(user)
    response = api.get("/api/" + path.format(eid=experiment.pk, jid=job.pk), query)

    assert response.status_code == 400, response.json()
    assert set(response.json()["errors"]) & {"limit", "page_size"}


def test_it_reads_every_page_in_a_fixed_number_of_queries(api, user, cpu, django_assert_num_queries):
    warm_up(api)
    experiment = make_experiment(user, "grows")
    base = f"/api/experiments/{experiment.pk}"
    [busy] = make_jobs(experiment, 1, resource=cpu)
    reads = [
        # 1. the token, 2. the page of ids.
        (2, "/api/experiments/ids/", {}),
        # 1. the token, 2. the user named, 3. the page of ids.
        (3, "/api/experiments/ids/", {"username": "alice"}),
        # 1. the token, 2. the experiment is visible, 3. the page.
        (3, f"{base}/job-ids/", {}),
        (3, f"{base}/history/", {}),
        (3, f"{base}/intermediate-results/", {"status": "FINISHED"}),
        # 1. the token, 2. the scores of the jobs that are visible (one query).
        (2, "/api/intermediate-results/", {"jid": list(range(1, 40))}),
        # 1. the token, 2. the job is visible, 3. the page of attempts with their resources.
        (3, f"/api/jobs/{busy.pk}/attempts/", {}),
        # 1. the token, 2. the job, 3. its latest attempts, 4. final values (none: no label names read).
        (4, f"/api/jobs/{busy.pk}/", {}),
        # 1. the token, 2. the experiment is visible, 3. its target (for the labels' default
        # directions), 4. the page of label names.
        (4, f"{base}/labels/", {}),
        # 1. the token, 2. the experiment, 3. job counts, 4. the best job, 5. the first labels,
        # 6. its tags.
        (6, f"{base}/", {}),
    ]

    def read_all():
        for queries, path, query in reads:
            with django_assert_num_queries(queries):
                assert api.get(path, query).status_code == 200

    make_jobs(experiment, 2, steps=3)
    read_all()
    make_jobs(experiment, 30, steps=40)
    add_attempts(busy, cpu, 300)
    add_labels(experiment, 2000)
    read_all()


@pytest.mark.django_db(transaction=True)
def test_it_follows_the_pages_from_a_remote_executor(live_server, monkeypatch):
    # Small pages, so that a small experiment spans many of them.
    for name in ("IDS_LIMIT", "HISTORY_LIMIT", "RESULTS_LIMIT", "JOB_RESULTS_LIMIT"):
        monkeypatch.setattr(s, name, 3)
    alice = make_user("alice")
    rest = rest_connector(live_server, alice)
    local = DjangoConnector()
    experiment = make_experiment(alice, "remote")
    eids = [experiment.pk] + [make_experiment(alice, f"e{index}").pk for index in range(4)]
    jobs = make_jobs(experiment, 5, steps=4, status="FINISHED")
    jids = [job.pk for job in jobs]

    assert rest.get_all_experiment("alice") == eids == local.get_all_experiment("alice")
    assert rest.get_running_job(experiment.pk) == jids == local.get_running_job(experiment.pk)
    assert rest.get_all_history(experiment.pk) == local.get_all_history(experiment.pk)
    assert rest.get_intermediate_results_job(jids[2]) == local.get_intermediate_results_job(jids[2])
    expected = local.get_intermediate_results_experiment(experiment.pk, "FINISHED")
    assert sum(map(len, expected.values())) == 20
    assert rest.get_intermediate_results_experiment(experiment.pk, "FINISHED") == expected
    assert rest.get_intermediate_results_jobs(jids) == local.get_intermediate_results_jobs(jids)
    rest.close()
