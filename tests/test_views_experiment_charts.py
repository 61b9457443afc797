"""charts.json: the experiment page's chart data and its live deltas."""

import pytest
from django.utils import timezone

from tests.factories import make_configured_experiment, make_jobs, make_user
from tracking.connector import DjangoConnector
from tracking.models import IntermediateResult, MultipleResult

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment(alice):
    return make_configured_experiment(alice, resource_args={"multi_res_labels": ["accuracy"]})


def charts_url(experiment):
    return f"/experiments/{experiment.pk}/charts.json"


def test_it_is_a_404_for_foreign_experiments(client, experiment):
    client.force_login(make_user("bob"))
    assert client.get(charts_url(experiment)).status_code == 404


def test_it_rejects_malformed_parameters_clearly(client, alice, experiment):
    client.force_login(alice)
    for params, message in (
        ({"since": "yesterday"}, "since must be"),
        ({"select": "1,x"}, "select must be"),
        ({"select": ",".join(str(i) for i in range(30))}, "at most 20"),
        ({"series": "7"}, "series must be"),
    ):
        response = client.get(charts_url(experiment), params)
        assert response.status_code == 400 and message in response.json()["error"]


def test_it_sends_the_best_jobs_curves_history_and_parameters(client, alice, experiment):
    jobs = make_jobs(experiment, 12, steps=4)
    client.force_login(alice)
    payload = client.get(charts_url(experiment)).json()
    ids = [job["id"] for job in payload["curves"]["jobs"]]
    assert ids == [job.pk for job in reversed(jobs)][:10]  # best 10, best first
    xs, ys = payload["curves"]["data"][str(jobs[-1].pk)]
    assert xs == [0, 1, 2, 3] and ys == pytest.approx([11 / 12 + step / 4 for step in range(4)], abs=1e-6)
    assert "Best 10 jobs" in payload["curves"]["note"]
    # x is each job's number within the experiment; jids (a click opens the job) its id.
    assert payload["history"]["points"][0] == [job.number for job in jobs] == list(range(1, 13))
    assert payload["history"]["jids"] == [job.pk for job in jobs]
    assert payload["history"]["best"][1][-1] == 1.0
    assert [axis["name"] for axis in payload["history"]["params"]["axes"]] == ["lr", "optimizer"]
    assert payload["history"]["params"]["series"]["optimizer"][0].count(0) == 6


def test_it_adds_selected_jobs_and_the_running_ones(client, alice, experiment):
    jobs = make_jobs(experiment, 15, steps=2)
    [running] = make_jobs(experiment, 1, status="RUNNING", score=None, steps=2)
    client.force_login(alice)
    payload = client.get(charts_url(experiment), {"select": f"{jobs[0].pk},999999"}).json()
    ids = {job["id"] for job in payload["curves"]["jobs"]}
    assert jobs[0].pk in ids and running.pk in ids and len(ids) == 12  # foreign id ignored


def test_it_sends_only_what_changed_since_the_cursor(client, alice, experiment):
    first, second = make_jobs(experiment, 2, steps=3)
    client.force_login(alice)
    initial = client.get(charts_url(experiment)).json()

    IntermediateResult.objects.create(job=second, number=3, score=5.0, receive_time=timezone.now())
    delta = client.get(
        charts_url(experiment),
        {"since": initial["cursor"], "have": f"{first.pk},{second.pk}", "history": initial["history_version"]},
    ).json()
    assert list(delta["curves"]["data"]) == [str(second.pk)]
    assert delta["curves"]["data"][str(second.pk)][1][-1] == 5.0
    assert delta["cursor"] > initial["cursor"]
    assert delta["history"] is None  # no job ended: history not sent again

    nothing = client.get(
        charts_url(experiment),
        {"since": delta["cursor"], "have": f"{first.pk},{second.pk}", "history": delta["history_version"]},
    ).json()
    assert nothing["curves"]["data"] == {} and nothing["history"] is None


def test_it_sends_a_curve_the_client_does_not_hold_yet(client, alice, experiment):
    first, second = make_jobs(experiment, 2, steps=3)
    client.force_login(alice)
    initial = client.get(charts_url(experiment)).json()
    delta = client.get(charts_url(experiment), {"since": initial["cursor"], "have": str(first.pk)}).json()
    assert list(delta["curves"]["data"]) == [str(second.pk)]


def test_it_resends_everything_and_says_so_once_ended(client, alice, experiment):
    make_jobs(experiment, 2, steps=3)
    client.force_login(alice)
    initial = client.get(charts_url(experiment)).json()
    experiment.status = "FINISHED"
    experiment.save()
    final = client.get(charts_url(experiment), {"since": initial["cursor"]}).json()
    assert final["ended"] is True and len(final["curves"]["data"]) == 2


def test_it_plots_a_labeled_series_and_nan_as_a_gap(client, alice, experiment):
    [job] = make_jobs(experiment, 1, steps=3, labels=1)
    MultipleResult.objects.filter(job=job, intermediate_result__number=1).update(value=None, value_text="nan")
    client.force_login(alice)
    payload = client.get(charts_url(experiment), {"series": "1"}).json()
    assert payload["series"]["name"] == "accuracy"
    assert payload["curves"]["data"][str(job.pk)][1][1] is None


def test_it_shows_all_with_a_tighter_budget(client, alice, experiment):
    make_jobs(experiment, 25, steps=120)
    client.force_login(alice)
    payload = client.get(charts_url(experiment), {"all": "1"}).json()
    assert len(payload["curves"]["data"]) == 25 and payload["show_all"] is True
    assert all(len(xs) <= 50 and xs[-1] == 119 for xs, _ in payload["curves"]["data"].values())


@pytest.mark.parametrize("count", [2, 20])
def test_it_takes_the_same_queries_for_2_or_20_jobs(client, alice, experiment, django_assert_num_queries, count):
    make_jobs(experiment, count, steps=6, labels=1)
    make_jobs(experiment, 1, status="RUNNING", score=None, steps=2)
    client.force_login(alice)
    first = client.get(charts_url(experiment)).json()
    IntermediateResult.objects.create(
        job_id=first["curves"]["jobs"][0]["id"], number=6, score=9.0, receive_time=timezone.now()
    )
    have = ",".join(str(job["id"]) for job in first["curves"]["jobs"])
    # Queries: session, user, experiment, labels, cursor, curve set, changed jobs,
    # longest curve, reduced curves, history version (unchanged: no rows).
    with django_assert_num_queries(10):
        delta = client.get(
            charts_url(experiment), {"since": first["cursor"], "have": have, "history": first["history_version"]}
        )
    assert len(delta.json()["curves"]["data"]) == 1
    # Queries: as the first load, for a labeled series: session, user, experiment,
    # labels, cursor, curve set, longest curve, reduced curves, history counts, rows.
    with django_assert_num_queries(10):
        assert client.get(charts_url(experiment), {"series": "1"}).status_code == 200


def test_it_serves_an_ended_experiments_charts_from_the_cache(client, alice, experiment, django_assert_num_queries):
    jobs = make_jobs(experiment, 3, steps=4)
    DjangoConnector().end_experiment(experiment.pk)
    client.force_login(alice)
    first = client.get(charts_url(experiment)).json()
    # Queries: session, user, experiment, labels, the cache read. Nothing else: no
    # curve, history or count is computed again.
    with django_assert_num_queries(5):
        again = client.get(charts_url(experiment)).json()
    assert again == first
    assert sorted(first["curves"]["data"]) == sorted(str(job.pk) for job in jobs)


def test_it_computes_a_restarted_experiments_charts_afresh(client, alice, experiment):
    connector = DjangoConnector()
    make_jobs(experiment, 3, steps=4)
    connector.end_experiment(experiment.pk)
    client.force_login(alice)
    assert len(client.get(charts_url(experiment)).json()["curves"]["data"]) == 3

    # A restart wipes the jobs and starts a new run: the cached charts must not survive it.
    connector.start_experiment_by_eid(experiment.pk)
    make_jobs(experiment, 1, steps=2)
    connector.end_experiment(experiment.pk)
    assert len(client.get(charts_url(experiment)).json()["curves"]["data"]) == 1


def test_it_tells_the_page_its_limits_so_none_is_typed_in_javascript(client, alice, experiment):
    make_jobs(experiment, 1, steps=2)
    client.force_login(alice)
    limits = client.get(charts_url(experiment)).json()["limits"]
    assert limits == {"selected": 20, "table_rows": 200}
    # The selection limit the page keeps to is the one the server enforces.
    too_many = ",".join(str(i) for i in range(limits["selected"] + 1))
    assert client.get(charts_url(experiment), {"select": too_many}).status_code == 400
    assert client.get(charts_url(experiment), {"select": too_many.rsplit(",", 1)[0]}).status_code == 200
