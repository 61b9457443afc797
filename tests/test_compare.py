"""Compare (issue 13, item 5): the jobs comparison and experiments comparison pages, the
picking controls on the experiment page and the list, and their shaping in charts.py."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    make_configured_experiment,
    make_experiment,
    make_intermediate_results,
    make_jobs,
    make_recorded_job,
    make_resource,
    make_share,
    make_user,
)
from tracking import charts, compare
from tracking.models import Experiment, Job

pytestmark = pytest.mark.django_db

PARAMETERS = [
    {"name": "lr", "range": [0.001, 0.1], "type": "float"},
    {"name": "optimizer", "range": ["sgd", "adam"], "type": "choice"},
]


@pytest.fixture
def experiment(alice):
    return make_configured_experiment(
        alice,
        name="mnist",
        proposer="random",
        n_samples=8,
        parameter_config=PARAMETERS,
        resource_args={"multi_res_labels": ["accuracy", "loss"]},
    )


def jobs_url(experiment, ids):
    return f"/experiments/{experiment.pk}/compare/?jobs={','.join(str(i) for i in ids)}"


def chart_data(html, element_id="compare-data"):
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert found, f"no {element_id} in the page"
    return json.loads(found.group(1))


def alert(html):
    """The page's error message."""
    found = re.search(r'<p class="alert" role="alert" id="compare-error">(.*?)</p>', html, re.S)
    assert found, "no error message on the page"
    return found.group(1)


def diff_rows(html):
    """{row name: (its class, the marked name, [cell texts])} of the page's configuration rows."""
    rows = {}
    for kind, head, cells in re.findall(
        r'<tr class="(differs|same)">\s*<th scope="row">((?:(?!</th>).)*)</th>\s*((?:(?!</tr>).)*)</tr>', html, re.S
    ):
        name = re.sub(r"<span[^>]*>[^<]*</span>", "", head).strip()
        values = [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        rows[name] = (kind, head, values)
    return rows


# -- the jobs comparison ------------------------------------------------------------------


def test_it_shows_jobs_side_by_side_with_the_differences_marked(client, alice, experiment):
    jobs = make_jobs(experiment, 4, steps=5, labels=2)
    # make_jobs: lr 0.01, 0.02, 0.03, 0.04; optimizer sgd, adam, sgd, adam.
    client.force_login(alice)
    response = client.get(jobs_url(experiment, [jobs[2].pk, jobs[0].pk]))
    assert response.status_code == 200
    html = response.content.decode()
    # In job-number order, each linked, with a swatch of its curve's colour.
    first, third = html.index(f'id="compare-job-{jobs[0].pk}"'), html.index(f'id="compare-job-{jobs[2].pk}"')
    assert first < third
    assert '<span class="swatch drawn c0" aria-hidden="true"></span><a href="/jobs/' in html
    # lr differs: marked by a sign and words, not by colour alone; optimizer (sgd, sgd) does not.
    rows = diff_rows(html)
    kind, head, values = rows["lr"]
    assert kind == "differs" and "≠" in head and "(differs)" in head and values == ["0.01", "0.03"]
    assert rows["optimizer"] == ("same", "optimizer", ["sgd", "sgd"])
    assert "1 of 2 parameters differs" in html
    # Score, status, duration, attempts, final labeled results.
    assert "<th scope=\"row\">Score</th><td class=\"num strong\">0.25</td><td class=\"num strong\">0.75</td>" in html
    assert html.count('<span class="badge status-finished">finished</span>') == 2
    assert '<th scope="row">Attempts</th><td class="num">1</td><td class="num">1</td>' in html
    assert '<th scope="row">accuracy</th><td class="num">0.8</td><td class="num">1.3</td>' in html
    # The curves: the score and each label, one curve per job, for the chart and its table.
    data = chart_data(html)
    assert [job["number"] for job in data["jobs"]] == [jobs[0].number, jobs[2].number]
    assert [series["name"] for series in data["series"]] == ["score", "accuracy", "loss"]
    assert set(data["series"][0]["curves"]) == {str(jobs[0].pk), str(jobs[2].pk)}
    assert data["series"][2]["curves"][str(jobs[2].pk)][0] == [0, 1, 2, 3, 4]
    assert '<option value="1">accuracy</option>' in html
    assert 'id="compare-curves-table"' in html and html.count("<td>Job ") == 6


def test_it_marks_a_key_absent_from_one_job_as_a_difference(client, alice, experiment):
    cpu = make_resource()
    one = make_recorded_job(experiment, cpu, status="FINISHED", config={"lr": 0.1, "optimizer": "sgd", "seed": 1})
    two = make_recorded_job(experiment, cpu, status="FINISHED", config={"lr": 0.1, "optimizer": "sgd"})
    client.force_login(alice)
    html = client.get(jobs_url(experiment, [one.pk, two.pk])).content.decode()
    kind, head, values = diff_rows(html)["seed"]
    assert kind == "differs" and values == ["1", "absent"]
    assert "1 of 3 parameters differs" in html


def test_it_keeps_the_draws_bounded_for_long_curves(client, alice, experiment):
    cpu = make_resource()
    jobs = [make_recorded_job(experiment, cpu, status="FINISHED") for _ in range(2)]
    for job in jobs:
        make_intermediate_results(job, [step / 3000 for step in range(3000)])
    client.force_login(alice)
    data = chart_data(client.get(jobs_url(experiment, [job.pk for job in jobs])).content.decode())
    for curve in data["series"][0]["curves"].values():
        assert len(curve[0]) <= compare.CURVE_BUDGET and curve[0][-1] == 2999


@pytest.mark.parametrize(
    "query, message",
    [
        ("", "Pick 2 to 6 jobs to compare."),
        ("?jobs=", "Pick 2 to 6 jobs to compare."),
        ("?jobs={a}", "A comparison takes 2 to 6 jobs; 1 given."),
        ("?jobs={a},{a}", "A comparison takes 2 to 6 jobs; 1 given."),
        ("?jobs={a},{b},{c},{d},{e},{f},{g}", "A comparison takes 2 to 6 jobs; 7 given."),
        ("?jobs={a},x", "jobs takes job ids (whole numbers), comma-separated; &#x27;x&#x27; is not one."),
        ("?jobs={a},-3", "is not one."),
        ("?jobs={a},99999999999999999999", "is not one."),
        ("?jobs={a},%EF%BC%91", "is not one."),
    ],
)
def test_it_says_what_is_wrong_with_the_ids_and_never_fails(client, alice, experiment, query, message):
    jobs = make_jobs(experiment, 7)
    names = dict(zip("abcdefg", (job.pk for job in jobs)))
    client.force_login(alice)
    response = client.get(f"/experiments/{experiment.pk}/compare/" + query.format(**names))
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'role="alert"' in html
    assert 'id="compare-data"' not in html


def test_it_refuses_a_query_too_long_or_with_a_nul(client, alice, experiment):
    jobs = make_jobs(experiment, 2)
    client.force_login(alice)
    for query in ("?jobs=" + "1," * 3000, f"?jobs={jobs[0].pk},%00{jobs[1].pk}"):
        response = client.get(f"/experiments/{experiment.pk}/compare/{query}")
        assert response.status_code == 400


def test_it_accepts_the_ids_as_a_get_form_sends_them(client, alice, experiment):
    jobs = make_jobs(experiment, 3)
    client.force_login(alice)
    response = client.get(f"/experiments/{experiment.pk}/compare/", {"jobs": [jobs[0].pk, jobs[1].pk]})
    assert response.status_code == 200
    assert [job["id"] for job in chart_data(response.content.decode())["jobs"]] == [jobs[0].pk, jobs[1].pk]


def test_it_answers_a_job_of_another_experiment_as_an_unknown_one(client, alice, experiment):
    mine = make_jobs(experiment, 2)
    other_of_mine = make_jobs(make_configured_experiment(alice, name="other"), 1)[0]
    bobs = make_jobs(make_configured_experiment(make_user("bob"), name="bob's"), 1)[0]
    client.force_login(alice)
    answers = []
    for stranger in (other_of_mine.pk, bobs.pk, 987654):
        response = client.get(jobs_url(experiment, [mine[0].pk, stranger]))
        assert response.status_code == 404
        answers.append(alert(response.content.decode()).replace(str(stranger), "N"))
    # The same page whatever the job is: nothing tells another experiment's or user's job from a missing one.
    assert answers[0] == answers[1] == answers[2]
    assert f"No job N in experiment {experiment.pk} among those you can see." in answers[0]
    assert "bob" not in answers[1]


def test_it_is_a_404_for_another_users_experiment(client, alice, experiment):
    jobs = make_jobs(experiment, 2)
    client.force_login(make_user("bob"))
    response = client.get(jobs_url(experiment, [job.pk for job in jobs]))
    assert response.status_code == 404
    assert b"mnist" not in response.content


def test_it_shows_a_shared_experiments_jobs_and_staff_anyones(client, experiment):
    jobs = make_jobs(experiment, 2)
    carol = make_user("carol")
    make_share(experiment, user=carol)
    for user in (carol, make_user("root", is_staff=True)):
        client.force_login(user)
        assert client.get(jobs_url(experiment, [job.pk for job in jobs])).status_code == 200


@pytest.mark.parametrize("steps", [3, 60])
@pytest.mark.parametrize("count", [2, 6])
def test_it_takes_the_same_queries_for_2_or_6_jobs_of_any_length(
    client, alice, experiment, django_assert_num_queries, count, steps
):
    jobs = make_jobs(experiment, count, steps=steps, labels=2, resource=make_resource())
    client.force_login(alice)
    # Queries: session, user, experiment; the jobs (with attempts and duration), the
    # labels shown, the final labeled values; the score curves (longest, rows); the
    # labeled curves (longest, rows).
    with django_assert_num_queries(10):
        assert client.get(jobs_url(experiment, [job.pk for job in jobs])).status_code == 200


def test_it_takes_two_queries_less_without_labels(client, alice, django_assert_num_queries):
    experiment = make_configured_experiment(alice, name="plain")
    jobs = make_jobs(experiment, 3, steps=4)
    client.force_login(alice)
    # Queries: session, user, experiment, jobs, labels (none), score curves (longest, rows).
    with django_assert_num_queries(7):
        assert client.get(jobs_url(experiment, [job.pk for job in jobs])).status_code == 200


# -- picking jobs in the experiment page ----------------------------------------------------


def test_it_offers_a_compare_checkbox_per_job_beside_the_pin(client, alice, experiment):
    jobs = make_jobs(experiment, 3, steps=2)
    client.force_login(alice)
    html = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert f'action="/experiments/{experiment.pk}/compare/"' in html and 'id="compare-jobs-form"' in html
    assert 'data-min="2" data-max="6"' in html
    for job in jobs:
        assert (
            f'<input type="checkbox" name="jobs" value="{job.pk}" id="compare-{job.pk}" form="compare-jobs-form" '
            f'data-number="{job.number}" aria-label="Compare job {job.number}">'
        ) in html
        assert f'name="plot" value="{job.pk}"' in html
    # The table alone (htmx refresh) keeps its checkboxes; the bar is outside it, never swapped.
    fragment = client.get(
        f"/experiments/{experiment.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="jobs"
    ).content.decode()
    assert f'id="compare-{jobs[0].pk}" form="compare-jobs-form"' in fragment and 'id="compare-jobs-form"' not in fragment
    assert "aupsite/compare.js" in html


# -- the experiments comparison --------------------------------------------------------------


def experiments_url(*experiments):
    return "/experiments/compare/?ids=" + ",".join(str(e.pk) for e in experiments)


def test_it_compares_experiments_each_best_in_its_own_direction(client, alice):
    start = timezone.now() - timedelta(hours=1)
    high = make_configured_experiment(alice, name="maximised", proposer="random", n_samples=4, parameter_config=PARAMETERS)
    low = make_configured_experiment(alice, name="minimised", target="min", proposer="bayes", n_samples=4,
                                     parameter_config=PARAMETERS[:1])
    Experiment.objects.filter(pk__in=[high.pk, low.pk]).update(start_time=start)
    cpu = make_resource()
    for experiment, scores in ((high, [0.2, 0.5, 0.4, 0.9]), (low, [0.7, 0.3, 0.6, 0.1])):
        for index, score in enumerate(scores):
            make_recorded_job(
                experiment, cpu, status="FINISHED", score=score, config={"lr": score, "optimizer": "sgd"},
                started=start, ended=start + timedelta(minutes=10 * (index + 1)),
            )
    client.force_login(alice)
    response = client.get(experiments_url(high, low))
    assert response.status_code == 200
    html = response.content.decode()
    best_high = Job.objects.get(experiment=high, score=0.9)
    best_low = Job.objects.get(experiment=low, score=0.1)
    assert f'<a href="/jobs/{best_high.pk}/" id="compare-best-{high.pk}">Job 4</a>' in html
    assert f'<a href="/jobs/{best_low.pk}/" id="compare-best-{low.pk}">Job 4</a>' in html
    assert '<span class="k">lr</span>=0.9' in html
    data = chart_data(html)
    lines = {e["name"]: e for e in data["experiments"]}
    # Only the improvements, and the last job: max keeps 0.2, 0.5, 0.9; min 0.7, 0.3, 0.1.
    assert lines["maximised"]["by_index"] == [[1, 2, 4], [0.2, 0.5, 0.9]]
    assert lines["minimised"]["by_index"] == [[1, 2, 4], [0.7, 0.3, 0.1]]
    assert lines["maximised"]["by_time"] == [[600.0, 1200.0, 2400.0], [0.2, 0.5, 0.9]]
    assert lines["minimised"]["maximize"] is False
    # The configurations' diff: proposer and the parameter space differ, n_samples does not.
    rows = diff_rows(html)
    kind, head, values = rows["proposer"]
    assert kind == "differs" and "≠" in head and values == ["random", "bayes"]
    assert rows["n_samples"] == ("same", "n_samples", ["4", "4"])
    assert rows["target"][0] == "differs" and rows["target"][2] == ["max", "min"]
    assert rows["parameter optimizer"][0] == "differs" and rows["parameter optimizer"][2][1] == "absent"
    # Both charts with their tables.
    assert 'id="compare-index-chart"' in html and 'id="compare-time-chart"' in html
    assert 'id="compare-index-table"' in html and "<td class=\"num\">40m 00s</td>" in html


def test_it_reads_at_most_the_first_jobs_of_each_experiment(client, alice, monkeypatch):
    monkeypatch.setattr(compare, "JOBS_PER_EXPERIMENT", 3)
    one = make_configured_experiment(alice, name="one")
    two = make_configured_experiment(alice, name="two")
    make_jobs(one, 5)
    make_jobs(two, 2)
    client.force_login(alice)
    html = client.get(experiments_url(one, two)).content.decode()
    lines = {e["name"]: e for e in chart_data(html)["experiments"]}
    assert lines["one"]["by_index"][0] == [1, 2, 3]
    assert "of one only the first 3 jobs are read" in html


@pytest.mark.parametrize(
    "query, message",
    [
        ("", "Pick 2 to 5 experiments to compare."),
        ("?ids={a}", "A comparison takes 2 to 5 experiments; 1 given."),
        ("?ids={a},{b},{c},{d},{e},{f}", "A comparison takes 2 to 5 experiments; 6 given."),
        ("?ids={a},1.5", "is not one."),
        ("?ids={a}&ids=abc", "is not one."),
    ],
)
def test_it_says_what_is_wrong_with_the_experiment_ids(client, alice, query, message):
    experiments = [make_configured_experiment(alice, name=f"e{index}") for index in range(6)]
    names = dict(zip("abcdef", (e.pk for e in experiments)))
    client.force_login(alice)
    response = client.get("/experiments/compare/" + query.format(**names))
    assert response.status_code == 400
    assert message in response.content.decode()


def test_it_answers_another_users_experiment_as_an_unknown_one(client, alice):
    mine = make_configured_experiment(alice, name="mine")
    also = make_configured_experiment(alice, name="also mine")
    bobs = make_configured_experiment(make_user("bob"), name="bob secret")
    client.force_login(alice)
    foreign = client.get(f"/experiments/compare/?ids={mine.pk},{bobs.pk}")
    unknown = client.get(f"/experiments/compare/?ids={mine.pk},987654")
    assert foreign.status_code == unknown.status_code == 404
    assert alert(foreign.content.decode()).replace(str(bobs.pk), "N") == alert(unknown.content.decode()).replace("987654", "N")
    assert b"bob secret" not in foreign.content
    assert client.get(f"/experiments/compare/?ids={mine.pk},{also.pk}").status_code == 200


@pytest.mark.parametrize("count", [2, 40])
def test_it_takes_the_same_queries_for_any_number_of_jobs(client, alice, django_assert_num_queries, count):
    experiments = [make_configured_experiment(alice, name=f"e{index}", target=target) for index, target in enumerate(("max", "min", "max"))]
    for experiment in experiments:
        make_jobs(experiment, count, steps=2)
    client.force_login(alice)
    # Queries: session, user; the experiments (with counts, best score, best job id),
    # their best jobs, every job's (number, score, end).
    with django_assert_num_queries(5):
        assert client.get(experiments_url(*experiments)).status_code == 200


def test_it_offers_a_compare_checkbox_per_experiment_in_the_list(client, alice):
    experiments = [make_configured_experiment(alice, name=f"e{index}") for index in range(3)]
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert 'id="compare-experiments-form" class="compare-bar card" method="get" action="/experiments/compare/"' in html
    for experiment in experiments:
        assert (
            f'<input type="checkbox" name="ids" value="{experiment.pk}" id="compare-experiment-{experiment.pk}" '
            f'form="compare-experiments-form" aria-label="Compare {experiment.name}">'
        ) in html


# -- the shaping (tracking/charts.py) ------------------------------------------------------------


def test_it_tells_values_of_different_types_apart():
    rows, hidden = charts.config_diff([{"a": 1, "b": True, "c": [1, 2]}, {"a": 1.0, "b": 1, "c": [1, 2]}])
    assert [(row["name"], row["differs"]) for row in rows] == [("a", True), ("b", True), ("c", False)]
    assert hidden == 0


def test_it_lists_declared_names_first_and_cuts_at_the_limit():
    rows, hidden = charts.config_diff([{"z": 1, "a": 2, "m": 3}, "not a dict"], names=["m", "nope"], limit=2)
    assert [row["name"] for row in rows] == ["m", "z"] and hidden == 1
    assert rows[0]["cells"][1] == {"value": None, "absent": True} and rows[0]["differs"]


def test_it_flattens_an_experiment_config_for_its_diff():
    entries = charts.experiment_config_entries(
        {"name": "x", "script": "t.py", "target": "min", "parameter_config": PARAMETERS, "workers": 2}
    )
    assert list(entries) == ["target", "script", "parameter lr", "parameter optimizer", "workers"]
    assert entries["parameter lr"] == {"range": [0.001, 0.1], "type": "float"}


def test_it_keeps_only_the_improvements_and_the_last_point():
    origin = timezone.now()
    rows = [
        (1, 0.5, origin + timedelta(seconds=30)),
        (2, None, origin + timedelta(seconds=10)),
        (3, 0.4, origin + timedelta(seconds=20)),
        (4, 0.7, origin + timedelta(seconds=20)),
        (5, 0.6, None),
    ]
    by_index, by_time = charts.best_so_far_lines(rows, True, origin)
    assert by_index == [[1, 4, 5], [0.5, 0.7, 0.7]]
    # By end time: 10 s no score, 20 s 0.4 then 0.7 (one point, the best), 30 s 0.5 (no better).
    assert by_time == [[20.0, 30.0], [0.7, 0.7]]
    assert charts.best_so_far_lines(rows, False, origin)[0] == [[1, 3, 5], [0.5, 0.4, 0.4]]
    assert charts.best_so_far_lines([], True, None) == ([[], []], [[], []])


def test_it_copes_with_configs_that_are_not_objects(client, alice):
    odd = Experiment.objects.create(owner=alice, name="odd", config=["not", "a", "dict"], status="FINISHED")
    plain = make_experiment(alice, "plain", status="CREATED")  # never started: no start time, no job
    jobs = make_jobs(odd, 2, steps=2)
    Job.objects.filter(pk=jobs[0].pk).update(config=[1, 2])
    client.force_login(alice)
    response = client.get(jobs_url(odd, [job.pk for job in jobs]))
    assert response.status_code == 200
    assert diff_rows(response.content.decode())["lr"][2] == ["absent", "0.02"]
    response = client.get(experiments_url(odd, plain))
    assert response.status_code == 200
    lines = {e["name"]: e for e in chart_data(response.content.decode())["experiments"]}
    assert lines["plain"]["by_index"] == [[], []] and lines["plain"]["by_time"] == [[], []]
    assert "none yet" in response.content.decode()


def test_it_shows_differing_floats_in_full(client, alice, experiment):
    cpu = make_resource()
    one = make_recorded_job(experiment, cpu, status="FINISHED", config={"lr": 0.0123451})
    two = make_recorded_job(experiment, cpu, status="FINISHED", config={"lr": 0.0123449})
    client.force_login(alice)
    kind, head, values = diff_rows(client.get(jobs_url(experiment, [one.pk, two.pk])).content.decode())["lr"]
    assert kind == "differs" and values == ["0.0123451", "0.0123449"]
