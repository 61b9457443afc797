"""The read API: experiments, jobs, a job, curves, labeled results, resources.

Each list is tested for what it shows, to whom, and for a number of queries that does
not grow with its rows.
"""

import math

import pytest

from tests.factories import (
    make_experiment,
    make_intermediate_results,
    make_job,
    make_multiple_results,
    make_recorded_job,
    make_resource,
    make_share,
    make_user,
)
from tracking.models import IntermediateResult, JobAttempt, ResultLabel

pytestmark = pytest.mark.django_db


def names(response):
    return [row["name"] for row in response.json()["results"]]


# -- experiments ------------------------------------------------------------------------------


def test_it_lists_the_experiments_a_researcher_may_see(api, staff_api, user, other_user):
    mine = make_experiment(user, "mine")
    shared = make_experiment(other_user, "shared with alice")
    make_experiment(other_user, "bob's own")
    make_share(shared, user=user)

    assert sorted(names(api.get("/api/experiments/"))) == ["mine", "shared with alice"]
    assert sorted(names(staff_api.get("/api/experiments/"))) == ["bob's own", "mine", "shared with alice"]
    row = api.get("/api/experiments/", {"search": "MIN"}).json()["results"][0]
    assert row == {
        "eid": mine.pk,
        "name": "mine",
        "owner": "alice",
        "status": "RUNNING",
        "start_time": row["start_time"],
        "end_time": None,
        "error_msg": None,
        "jobs_total": 0,
        "jobs_done": 0,
        "best_score": None,
        "tags": [],
    }


def test_it_filters_sorts_and_pages_experiments(staff_api, user, other_user, cpu):
    low = make_experiment(user, "low", status="FINISHED")
    high = make_experiment(user, "high", status="FINISHED")
    # A "min" target: the best is the lowest score.
    minimizing = make_experiment(other_user, "minimizing", status="FAILED", config={"target": "min"})
    for experiment, scores in [(low, [0.1, 0.2]), (high, [0.9, None]), (minimizing, [0.5, 0.05])]:
        for score in scores:
            make_job(experiment, cpu, status="FINISHED" if score is not None else "RUNNING", score=score)

    assert names(staff_api.get("/api/experiments/", {"sort": "-best"})) == ["high", "low", "minimizing"]
    assert names(staff_api.get("/api/experiments/", {"sort": "name"})) == ["high", "low", "minimizing"]
    assert names(staff_api.get("/api/experiments/", {"status": "FINISHED", "sort": "-name"})) == ["low", "high"]
    assert names(staff_api.get("/api/experiments/", {"owner": "bob"})) == ["minimizing"]
    page = staff_api.get("/api/experiments/", {"sort": "name", "page": 2, "page_size": 2}).json()
    assert (page["count"], page["page"], page["page_size"], [row["name"] for row in page["results"]]) == (
        3,
        2,
        2,
        ["minimizing"],
    )
    by_name = {row["name"]: row for row in staff_api.get("/api/experiments/").json()["results"]}
    assert (by_name["high"]["jobs_total"], by_name["high"]["jobs_done"], by_name["high"]["best_score"]) == (2, 1, 0.9)
    assert by_name["minimizing"]["best_score"] == 0.05


@pytest.mark.parametrize(
    "query, field",
    [
        ({"sort": "score"}, "sort"),
        ({"status": "DONE"}, "status"),
        ({"page": 0}, "page"),
        ({"page_size": 201}, "page_size"),
    ],
)
def test_it_refuses_a_bad_list_query_with_400(api, query, field):
    response = api.get("/api/experiments/", query)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def warm_up(client):
    # A token's first request also records its use (one UPDATE a minute): not counted.
    client.get("/api/resources/types/")


def test_it_lists_experiments_in_a_fixed_number_of_queries(staff_api, staff_user, user, cpu, django_assert_num_queries):
    warm_up(staff_api)

    def add(count):
        for index in range(count):
            experiment = make_experiment(user, f"e{index}-{count}")
            make_job(experiment, cpu, status="FINISHED", score=index)
            make_job(experiment, cpu)

    add(2)
    # 1. the token and its user, 2. the count, 3. the page, with owners and summaries,
    # 4. the page's tags (notes and tags).
    with django_assert_num_queries(4):
        assert staff_api.get("/api/experiments/").json()["count"] == 2
    add(20)
    with django_assert_num_queries(4):
        assert len(staff_api.get("/api/experiments/").json()["results"]) == 22


def test_it_details_an_experiment(api, user, other_user, cpu):
    experiment = make_experiment(user, "detailed", config={"target": "min", "lr": 0.1})
    for status, score in [("FINISHED", 0.3), ("FINISHED", 0.1), ("FAILED", None), (None, None), ("RUNNING", None)]:
        make_job(experiment, cpu, status=status, score=score)
    ResultLabel.objects.create(experiment=experiment, label_order=1, name="accuracy")
    best = experiment.jobs.get(score=0.1)

    detail = api.get(f"/api/experiments/{experiment.pk}/").json()

    assert detail["config"] == {"target": "min", "lr": 0.1}
    assert detail["jobs_by_status"] == {"FINISHED": 2, "FAILED": 1, "none": 1, "RUNNING": 1}
    assert detail["best"] == {"jid": best.pk, "number": 2, "score": 0.1}
    assert detail["labels"] == [{"order": 1, "name": "accuracy"}]
    assert (detail["jobs_total"], detail["jobs_done"], detail["best_score"]) == (5, 4, 0.1)


def test_it_hides_another_users_experiment_and_shows_a_shared_one(api, user, other_user):
    private = make_experiment(other_user, "private")
    shared = make_experiment(other_user, "shared")
    make_share(shared, user=user)

    assert api.get(f"/api/experiments/{private.pk}/").status_code == 404
    assert api.get(f"/api/experiments/{private.pk}/jobs/").status_code == 404
    assert api.get(f"/api/experiments/{private.pk}/curves/").status_code == 404
    assert api.get(f"/api/experiments/{private.pk}/multiple-results/", {"order": 1}).status_code == 404
    assert api.get(f"/api/experiments/{shared.pk}/").json()["best"] is None


# -- jobs ---------------------------------------------------------------------------------------


def test_it_lists_the_jobs_of_an_experiment(api, user, cpu):
    experiment = make_experiment(user, "jobs")
    done = make_job(experiment, cpu, status="FINISHED", score=0.5, attempts=2, config={"lr": 0.1})
    nan = make_job(experiment, cpu, status="FINISHED", score=None, score_text="nan")
    cancelled = make_job(experiment, None, status=None)
    make_intermediate_results(done, [0.1, 0.2, 0.5])

    rows = api.get(f"/api/experiments/{experiment.pk}/jobs/").json()

    assert rows["count"] == 3
    first = rows["results"][0]
    assert first == {
        "jid": done.pk,
        "number": 1,
        "eid": experiment.pk,
        "status": "FINISHED",
        "score": 0.5,
        "start_time": first["start_time"],
        "end_time": None,
        "duration": first["duration"],
        "config": {"lr": 0.1},
        "attempts_total": 2,
        "resource": "cpu localhost",
    }
    assert first["duration"] >= 0  # running: until now
    assert rows["results"][1]["score"] == "nan"
    assert rows["results"][2]["resource"] is None
    by_score = api.get(f"/api/experiments/{experiment.pk}/jobs/", {"sort": "-score"}).json()["results"]
    assert [row["jid"] for row in by_score] == [done.pk, nan.pk, cancelled.pk]
    none = api.get(f"/api/experiments/{experiment.pk}/jobs/", {"status": "none"}).json()["results"]
    assert [row["jid"] for row in none] == [cancelled.pk]
    paged = api.get(f"/api/experiments/{experiment.pk}/jobs/", {"page_size": 1, "page": 3}).json()["results"]
    assert [row["jid"] for row in paged] == [cancelled.pk]


def test_it_lists_jobs_in_a_fixed_number_of_queries(api, user, cpu, django_assert_num_queries):
    warm_up(api)
    experiment = make_experiment(user, "many jobs")

    def add(count):
        for index in range(count):
            job = make_job(experiment, cpu, status="FINISHED", score=index, attempts=2)
            make_intermediate_results(job, [0.1, 0.2])

    add(2)
    # 1. the token, 2. the experiment is visible, 3. the count, 4. the page, with
    # attempt counts and resources.
    with django_assert_num_queries(4):
        api.get(f"/api/experiments/{experiment.pk}/jobs/")
    add(20)
    with django_assert_num_queries(4):
        assert len(api.get(f"/api/experiments/{experiment.pk}/jobs/").json()["results"]) == 22


def test_it_shows_a_job_with_its_attempts_and_final_values(api, user, other_user, cpu, django_assert_num_queries):
    warm_up(api)
    gpu = make_resource("gpu", "0")
    experiment = make_experiment(user, "one job")
    job = make_job(experiment, cpu, status="FINISHED", score=None, score_text="EARLY STOPPED", attempts=1)
    JobAttempt.objects.create(job=job, number=1, resource=gpu, start_time=job.start_time)
    ResultLabel.objects.create(experiment=experiment, label_order=1, name="accuracy")
    make_multiple_results(job, [0.5, 0.6])
    make_multiple_results(job, [0.7, float("inf")], is_last=True)

    # 1. the token, 2. the job (visible, as in the jobs table), 3. attempts and their
    # resources, 4. label names, 5. final values.
    with django_assert_num_queries(5):
        detail = api.get(f"/api/jobs/{job.pk}/").json()

    assert (detail["jid"], detail["eid"], detail["status"], detail["score"]) == (
        job.pk,
        experiment.pk,
        "FINISHED",
        "EARLY STOPPED",
    )
    assert [(a["number"], a["rid"], a["resource"]) for a in detail["attempts"]] == [
        (0, cpu.pk, f"cpu localhost (#{cpu.pk})"),
        (1, gpu.pk, f"gpu 0 (#{gpu.pk})"),
    ]
    assert detail["final_values"] == [
        {"order": 1, "name": "accuracy", "value": 0.7},
        {"order": 2, "name": None, "value": "inf"},
    ]
    assert api.get(f"/api/jobs/{make_job(make_experiment(other_user, 'theirs'), cpu).pk}/").status_code == 404


def test_it_gives_a_jobs_intermediate_results_after_a_step(api, user, cpu):
    job = make_job(make_experiment(user, "curve"), cpu)
    steps = make_intermediate_results(job, [0.1, float("nan"), "EARLY STOPPED", 0.4])

    everything = api.get(f"/api/jobs/{job.pk}/intermediate-results/").json()["results"]
    newer = api.get(f"/api/jobs/{job.pk}/intermediate-results/", {"after": 1}).json()["results"]

    assert [(row["irid"], row["step"], row["score"]) for row in everything] == [
        (steps[0].pk, 0, 0.1),
        (steps[1].pk, 1, "nan"),
        (steps[2].pk, 2, "EARLY STOPPED"),
        (steps[3].pk, 3, 0.4),
    ]
    assert [row["step"] for row in newer] == [2, 3]


# -- curves ---------------------------------------------------------------------------------------


def test_it_downsamples_long_curves_keeping_ends_and_peaks(api, user, cpu):
    experiment = make_experiment(user, "long")
    job = make_job(experiment, cpu)
    scores = [math.sin(step / 50) for step in range(1000)]
    scores[500] = 9.0  # a spike must survive
    make_intermediate_results(job, scores)
    short = make_job(experiment, cpu)
    make_intermediate_results(short, [0.1, float("nan"), "EARLY STOPPED", 0.3])

    [long_curve] = api.get(f"/api/experiments/{experiment.pk}/curves/", {"points": 100, "jid": job.pk}).json()["curves"]
    [short_curve] = api.get(f"/api/experiments/{experiment.pk}/curves/", {"jid": short.pk}).json()["curves"]

    assert long_curve["jid"] == job.pk
    assert 50 <= len(long_curve["steps"]) <= 100
    assert long_curve["steps"] == sorted(long_curve["steps"])
    assert long_curve["steps"][0] == 0 and long_curve["steps"][-1] == 999
    assert 9.0 in long_curve["scores"]
    assert all(long_curve["scores"][i] == scores[step] for i, step in enumerate(long_curve["steps"]))
    # Gaps where the score is not a finite number, as the charts draw them.
    assert short_curve == {"jid": short.pk, "steps": [0, 1, 2, 3], "scores": [0.1, None, None, 0.3]}


def test_it_sends_only_the_curves_that_changed_since_a_cursor(api, user, cpu):
    experiment = make_experiment(user, "live")
    quiet, busy = make_job(experiment, cpu), make_job(experiment, cpu)
    make_intermediate_results(quiet, [0.1, 0.2])
    make_intermediate_results(busy, [0.3])

    first = api.get(f"/api/experiments/{experiment.pk}/curves/").json()
    nothing = api.get(f"/api/experiments/{experiment.pk}/curves/", {"since": first["cursor"]}).json()
    IntermediateResult.objects.create(job=busy, number=1, score=0.4, receive_time=busy.start_time)
    changed = api.get(f"/api/experiments/{experiment.pk}/curves/", {"since": first["cursor"]}).json()

    assert [curve["jid"] for curve in first["curves"]] == [quiet.pk, busy.pk]
    assert nothing["curves"] == [] and nothing["cursor"] == first["cursor"]
    assert changed["curves"] == [{"jid": busy.pk, "steps": [0, 1], "scores": [0.3, 0.4]}]
    assert changed["cursor"] > first["cursor"]
    only = api.get(f"/api/experiments/{experiment.pk}/curves/", {"jid": [quiet.pk]}).json()["curves"]
    assert [curve["jid"] for curve in only] == [quiet.pk]


def test_it_reads_curves_in_a_fixed_number_of_queries(api, user, cpu, django_assert_num_queries):
    warm_up(api)
    experiment = make_experiment(user, "curves")

    def add(jobs, steps):
        for _ in range(jobs):
            make_intermediate_results(make_job(experiment, cpu), [step / steps for step in range(steps)])

    add(2, 10)
    # 1. the token, 2. the experiment is visible, 3. the cursor, 4. the jobs counted,
    # 5. the page of jobs, 6. the longest curve, 7. the (downsampled) rows.
    with django_assert_num_queries(7):
        api.get(f"/api/experiments/{experiment.pk}/curves/", {"points": 40})
    add(10, 300)
    with django_assert_num_queries(7):
        answer = api.get(f"/api/experiments/{experiment.pk}/curves/", {"points": 40}).json()
    curves = answer["curves"]
    assert len(curves) == 12 and max(len(curve["steps"]) for curve in curves) <= 40
    assert (answer["count"], answer["page"], answer["pages"]) == (12, 1, 1)
    # 8. with since: the jobs of the page that changed.
    with django_assert_num_queries(8):
        api.get(f"/api/experiments/{experiment.pk}/curves/", {"points": 40, "since": 0})
    # A page at a time: an experiment's curves never come back whole in one answer.
    second = api.get(f"/api/experiments/{experiment.pk}/curves/", {"points": 40, "page_size": 5, "page": 3}).json()
    assert (second["count"], second["page"], second["pages"]) == (12, 3, 3)
    assert [curve["jid"] for curve in second["curves"]] == [curve["jid"] for curve in curves][10:]


# -- labeled results -----------------------------------------------------------------------------


def test_it_gives_one_labels_values_a_page_at_a_time(api, user, cpu, django_assert_num_queries):
    warm_up(api)
    experiment = make_experiment(user, "labeled")
    ResultLabel.objects.create(experiment=experiment, label_order=1, name="accuracy")
    ResultLabel.objects.create(experiment=experiment, label_order=2, name="loss")
    job = make_job(experiment, cpu)
    steps = make_intermediate_results(job, [0.1, 0.2, 0.3])
    rows = [make_multiple_results(job, [step.score, 1 - step.score], intermediate_result=step) for step in steps]
    loose = make_multiple_results(job, [0.9, 0.1], is_last=True)  # reported without a step

    # 1. the token, 2. the experiment is visible, 3. the label, 4. the rows.
    with django_assert_num_queries(4):
        page = api.get(f"/api/experiments/{experiment.pk}/multiple-results/", {"label": "accuracy", "limit": 3}).json()

    assert page["label"] == {"order": 1, "name": "accuracy"}
    assert [(row["id"], row["step"], row["value"]) for row in page["results"]] == [
        (rows[index][0].pk, index, steps[index].score) for index in range(3)
    ]
    assert page["next_after"] == rows[2][0].pk
    rest = api.get(
        f"/api/experiments/{experiment.pk}/multiple-results/", {"order": 1, "after": page["next_after"]}
    ).json()
    assert [(row["id"], row["step"], row["irid"], row["is_last"]) for row in rest["results"]] == [
        (loose[0].pk, None, None, True)
    ]
    assert rest["next_after"] is None


def test_it_gives_values_of_a_label_without_a_name_by_order(api, user, cpu):
    job = make_job(make_experiment(user, "unnamed"), cpu)
    make_multiple_results(job, [0.5])

    page = api.get(f"/api/experiments/{job.experiment_id}/multiple-results/", {"order": 1}).json()

    assert page["label"] == {"order": 1, "name": None}
    assert [row["value"] for row in page["results"]] == [0.5]


@pytest.mark.parametrize("query, status", [({}, 400), ({"label": "nope"}, 404), ({"order": 0}, 400)])
def test_it_refuses_a_label_it_does_not_know(api, user, query, status):
    experiment = make_experiment(user, "labeled")

    assert api.get(f"/api/experiments/{experiment.pk}/multiple-results/", query).status_code == status


# -- resources ------------------------------------------------------------------------------------


def test_it_shows_what_runs_on_a_resource_only_to_who_may_see_it(
    api, other_api, user, other_user, django_assert_num_queries
):
    warm_up(api)
    gpu, cpu, spare = make_resource("gpu", "0"), make_resource("cpu"), make_resource("cpu", in_service=False)
    mine = make_recorded_job(make_experiment(user, "mine"), gpu)
    make_recorded_job(make_experiment(other_user, "theirs"), cpu)

    # 1. the token, 2. resources with their holders, 3. which holders are visible.
    with django_assert_num_queries(3):
        rows = api.get("/api/resources/").json()["resources"]

    assert [(row["rid"], row["status"], row["in_service"], row["running"]) for row in rows] == [
        (gpu.pk, "busy", True, {"jid": mine.pk, "number": mine.number, "eid": mine.experiment_id, "experiment": "mine"}),
        # Someone else's job: only that the resource is busy.
        (cpu.pk, "busy", True, None),
        (spare.pk, "free", False, None),
    ]
    assert other_api.get(f"/api/resources/{gpu.pk}/").json()["running"] is None
    assert api.get(f"/api/resources/{gpu.pk}/").json()["running"]["jid"] == mine.pk
    assert "mine" not in other_api.get("/api/resources/").content.decode()


def test_it_lists_resources_in_a_fixed_number_of_queries(api, user, django_assert_num_queries):
    warm_up(api)
    experiment = make_experiment(user, "busy")
    for _ in range(2):
        make_recorded_job(experiment, make_resource("cpu"))
    with django_assert_num_queries(3):
        api.get("/api/resources/")
    for _ in range(20):
        make_recorded_job(experiment, make_resource("cpu"))
        make_resource("gpu")
    with django_assert_num_queries(3):
        assert len(api.get("/api/resources/").json()["resources"]) == 42


def test_it_answers_an_empty_experiments_list(api, user):
    make_user("carol")
    assert api.get("/api/experiments/").json() == {"count": 0, "page": 1, "page_size": 50, "results": []}
