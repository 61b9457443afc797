"""Chart data: the pure shaping functions (tracking.charts) and the database reduction
behind them (tracking.models CurveQuerySet, JobQuerySet and tracking.views.history), up to an experiment
too big to send whole."""

import json
import math
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_configured_experiment, make_jobs, make_user
from tracking import charts, views
from tracking.models import IntermediateResult, Job, MultipleResult

# -- downsampling ----------------------------------------------------------------------


def wave(count, gaps=()):
    return [(x, None if x in gaps else math.sin(x / 40) + x / 500) for x in range(count)]


def test_it_keeps_short_curves_whole():
    points = wave(50)
    assert charts.downsample(points, 200) == points


@pytest.mark.parametrize("count,budget", [(1000, 200), (1000, 50), (10_000, 200), (201, 200), (7, 3)])
def test_it_keeps_the_budget_and_both_ends(count, budget):
    points = wave(count)
    kept = charts.downsample(points, budget)
    assert len(kept) <= budget
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert [x for x, _ in kept] == sorted({x for x, _ in kept})
    assert set(kept) <= set(points)


def test_it_keeps_a_spike_that_uniform_sampling_would_miss():
    points = [(x, 0.0) for x in range(1000)]
    points[503] = (503, 10.0)
    kept = charts.downsample(points, 100)
    assert (503, 10.0) in kept
    assert [p for p in points[::10]].count((503, 10.0)) == 0  # every 10th point would lose it


def test_it_keeps_gaps_as_gaps():
    points = wave(1000, gaps=set(range(400, 420)) | {700})
    kept = charts.downsample(points, 100)
    gap_xs = [x for x, y in kept if y is None]
    assert gap_xs == [400, 700]  # one marker per run of NaN, at its start
    assert len(kept) <= 100


def test_it_keeps_the_last_point_even_when_it_is_a_gap():
    points = wave(1000, gaps={999})
    kept = charts.downsample(points, 50)
    assert kept[-1] == (999, None) and kept[0] == (0, points[0][1]) and len(kept) <= 50


def test_it_bounds_gap_markers_of_a_curve_that_is_mostly_nan():
    points = [(x, None if x % 2 else 1.0) for x in range(1000)]
    kept = charts.downsample(points, 40)
    assert len(kept) <= 40 and kept[-1] == points[-1] and kept[0] == points[0]


def test_lttb_keeps_the_shape_of_a_step():
    points = [(x, 0.0 if x < 500 else 1.0) for x in range(1000)]
    kept = charts.lttb(points, 20)
    assert len(kept) == 20
    assert (499, 0.0) in kept or (500, 1.0) in kept


# -- best so far, ETA, parameters --------------------------------------------------------


def test_it_draws_best_so_far_from_finite_scores_only():
    points = [(1, 0.5), (2, None), (3, 0.4), (4, 0.9), (5, None), (6, 0.7)]
    assert charts.best_so_far(points, maximize=True) == [(1, 0.5), (4, 0.9), (6, 0.9)]
    assert charts.best_so_far(points, maximize=False) == [(1, 0.5), (3, 0.4), (6, 0.4)]
    assert charts.best_so_far([(1, None)], maximize=True) == []


def test_it_reads_nan_inf_and_text_as_gaps():
    assert [charts.finite_or_none(v) for v in (1, 2.5, float("nan"), float("inf"), "x", None, True)] == [
        1.0, 2.5, None, None, None, None, None
    ]


def test_it_estimates_eta_from_throughput():
    assert charts.eta_seconds(100, done=10, planned=30) == 200
    assert charts.eta_seconds(100, done=0, planned=30) is None
    assert charts.eta_seconds(100, done=30, planned=30) is None
    assert charts.eta_seconds(100, done=5, planned=None) is None


def test_it_derives_parameter_axes_and_scatter_series():
    configs = [{"lr": 0.1, "opt": "adam", "deep": True}, {"lr": 0.01, "opt": "sgd", "deep": False}]
    axes = charts.parameter_axes(None, configs)
    assert axes == [("lr", "number", []), ("opt", "category", ["adam", "sgd"]), ("deep", "category", ["True", "False"])]
    declared = charts.parameter_axes([{"name": "opt"}, {"name": "lr"}], configs)
    assert [name for name, _, _ in declared] == ["opt", "lr"]
    series = charts.parameter_series(axes, [(7, 1, configs[0], 0.9), (8, 2, configs[1], 0.5)])
    assert series["lr"] == [[0.01, 0.1], [0.5, 0.9], [8, 7], [2, 1]]
    assert series["opt"] == [[0, 1], [0.9, 0.5], [7, 8], [1, 2]]


# -- shaping for the pages and the API -------------------------------------------------------


def test_it_shapes_a_set_of_curves_once_for_both_envelopes():
    rows = [(7, 0, 0.5), (7, 1, float("nan")), (7, 2, 0.25), (9, 0, None), (9, 1, 1.123456789)]
    shaped = charts.curves(rows, 200)
    assert shaped == {7: [(0, 0.5), (1, None), (2, 0.25)], 9: [(0, None), (1, 1.123456789)]}
    # The dashboard's envelope: uPlot columns keyed by the id as text, numbers compacted.
    assert charts.curve_columns(shaped) == {"7": [[0, 1, 2], [0.5, None, 0.25]], "9": [[0, 1], [None, 1.123457]]}
    long = [(1, step, math.sin(step / 30)) for step in range(1000)]
    curve = charts.curves(long, 100)[1]
    assert len(curve) <= 100 and curve[0] == (0, 0.0) and curve[-1][0] == 999


def test_it_says_what_the_curves_chart_leaves_out():
    assert charts.curves_note(False, 12, 12, 200, best=10) == ""
    assert charts.curves_note(False, 12, 40, 200, best=10) == "Best 10 jobs, running jobs and your selection: 12 of 40."
    shown_all = charts.curves_note(True, 200, 10_000, 50, best=10)
    assert shown_all == "Showing the 200 best of 10,000 jobs, 50 points per curve."
    assert charts.curves_note(True, 30, 30, 50, best=10) == "All 30 jobs, 50 points per curve."


def test_it_places_timeline_bars_in_percent_with_a_minimum_width():
    origin = datetime(2026, 1, 1, 12, 0, 0)
    second = timedelta(seconds=1)
    bars = charts.timeline_bars(
        [(origin, origin + 30 * second), (origin + 50 * second, origin + 100 * second), (origin + 60 * second,) * 2],
        origin,
        origin + 100 * second,
    )
    assert bars == [(0.0, 30.0), (50.0, 50.0), (60.0, charts.MIN_BAR_WIDTH)]
    # Thirds round to 3 decimals; an empty span does not divide by zero.
    thirds = charts.timeline_bars([(origin + second, origin + 2 * second)], origin, origin + 3 * second)
    assert thirds == [(33.333, 33.333)]
    assert charts.timeline_bars([(origin, origin)], origin, origin) == [(0.0, charts.MIN_BAR_WIDTH)]


def test_it_lists_the_job_pages_series_score_first_then_labels_in_order():
    series = charts.job_series([(0, 0.5)], {2: [(0, 3.0)], 1: [(0, 2.0)], 5: []}, {1: "accuracy", 2: "loss"})
    assert [s["name"] for s in series] == ["score", "accuracy", "loss", "label 5"]
    assert series[0]["data"] == [[0], [0.5]] and series[3]["data"] == [[], []]


# -- the database's share -----------------------------------------------------------------


@pytest.fixture
def experiment(db):
    return make_configured_experiment(make_user("alice"), resource_args={"multi_res_labels": ["accuracy"]})


def test_it_reduces_long_curves_in_the_database_and_keeps_their_ends(experiment, django_assert_num_queries):
    [job] = make_jobs(experiment, 1)
    now = timezone.now()
    IntermediateResult.objects.bulk_create(
        IntermediateResult(
            job=job, number=step, receive_time=now,
            score=None if step == 300 else math.sin(step / 30),
            score_text="nan" if step == 300 else None,
        )
        for step in range(1000)
    )
    # Queries: the longest curve's last step, then the reduced rows.
    with django_assert_num_queries(2):
        curves = charts.curves(IntermediateResult.objects.curve_rows([job.pk], 200), 200)
    curve = curves[job.pk]
    assert len(curve) <= 200
    assert curve[0] == (0, 0.0) and curve[-1] == (999, pytest.approx(math.sin(999 / 30)))
    assert (300, None) in curve  # the NaN stays a gap
    peak = max(y for _, y in curve if y is not None)
    assert peak == pytest.approx(max(math.sin(s / 30) for s in range(1000) if s != 300), abs=1e-4)


def test_it_draws_labeled_curves_at_the_steps_they_were_reported_with(experiment):
    [job] = make_jobs(experiment, 1, steps=5, labels=1)
    curves = charts.curves(MultipleResult.objects.label(1).curve_rows([job.pk], 200), 200)
    assert [x for x, _ in curves[job.pk]] == [0, 1, 2, 3, 4]


def test_it_sends_only_curves_with_rows_after_the_cursor(experiment):
    first, second = make_jobs(experiment, 2, steps=3)
    cursor = IntermediateResult.objects.cursor()
    IntermediateResult.objects.create(job=second, number=3, score=1.0, receive_time=timezone.now())
    assert IntermediateResult.objects.changed_jobs([first.pk, second.pk], cursor) == {second.pk}
    assert IntermediateResult.objects.cursor() > cursor


def test_it_picks_the_best_running_and_selected_jobs_in_the_target_direction(db):
    owner = make_user("alice")
    for target, best in (("max", [5, 4]), ("min", [1, 2])):
        experiment = make_configured_experiment(owner, name=f"direction {target}", target=target)
        jobs = make_jobs(experiment, 5)
        running = make_jobs(experiment, 1, status="RUNNING", score=None)
        chosen = experiment.jobs.curve_set(maximize=target == "max", best=2, running=1, selected=[jobs[2].pk])
        ids = [row[0] for row in chosen]
        assert ids[:2] == [jobs[index - 1].pk for index in best]
        assert jobs[2].pk in ids and running[0].pk in ids and len(ids) == 4


def test_it_samples_the_history_of_a_big_experiment_keeping_the_extremes(experiment):
    jobs = make_jobs(experiment, 60)
    Job.objects.filter(pk=jobs[17].pk).update(score=99.0)
    Job.objects.filter(pk=jobs[41].pk).update(score=-99.0)
    Job.objects.filter(pk=jobs[5].pk).update(score=None, score_text="nan")
    history = views.history(experiment.jobs.all(), budget=20, buckets=5)
    assert history["sampled"] and history["total"] == 60 and history["non_finite"] == 1
    ids = [row[0] for row in history["rows"]]
    assert len(ids) <= 4 * 5 and ids == sorted(ids)
    assert jobs[17].pk in ids and jobs[41].pk in ids and jobs[0].pk in ids and jobs[-1].pk in ids
    # Unchanged since the version the client holds: one query, no rows.
    with CaptureQueriesContext(connection) as queries:
        again = views.history(experiment.jobs.all(), budget=20, buckets=5, unless_version=history["version"])
    assert "rows" not in again and len(queries) == 1


# -- an experiment too big to send whole ----------------------------------------------------

BIG_JOBS = 10_000
LONG_JOBS = 250
LONG_STEPS = 1_000


def build_big_experiment(owner):
    """10,000 jobs, of which 250 have 1,000-step curves: built with INSERT ... SELECT over
    a recursive counter, so the database does the work (both SQLite and PostgreSQL)."""
    experiment = make_configured_experiment(owner, name="big", n_samples=BIG_JOBS)
    now = timezone.now()
    job_table, result_table = Job._meta.db_table, IntermediateResult._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
            f"INSERT INTO {job_table} (experiment_id, number, config, score, status, start_time, end_time, notes) "
            f"SELECT %s, i, %s, (i * 7919 %% 10007) / 10007.0, 'FINISHED', %s, %s, '' FROM n",
            [BIG_JOBS, experiment.pk, json.dumps({"lr": 0.01, "layers": 3}), now, now],
        )
        long_ids = list(experiment.jobs.order_by("-score").values_list("pk", flat=True)[:LONG_JOBS])
        cursor.execute(
            f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
            f"INSERT INTO {result_table} (job_id, number, score, receive_time) "
            f"SELECT j.id, n.i, (n.i * 1.0 / %s) * j.score, %s FROM {job_table} j CROSS JOIN n "
            f"WHERE j.id IN ({', '.join(str(pk) for pk in long_ids)})",
            [LONG_STEPS - 1, LONG_STEPS, now],
        )
    return experiment


@pytest.mark.django_db
def test_it_keeps_a_10000_job_experiment_bounded(client, django_assert_num_queries):
    owner = make_user("alice")
    experiment = build_big_experiment(owner)
    client.force_login(owner)
    url = f"/experiments/{experiment.pk}/charts.json"

    # Queries: session, user, experiment, labels, cursor, curve set, longest curve,
    # reduced curves, history counts, every job's id and score (sampled history), the
    # kept jobs' rows.
    with django_assert_num_queries(11):
        default = client.get(url)
    with django_assert_num_queries(11):
        everything = client.get(url, {"all": "1"})
    assert default.status_code == everything.status_code == 200

    payload = default.json()
    curves = payload["curves"]["data"]
    assert len(curves) == 10  # the best 10; none running, none selected
    for xs, ys in curves.values():
        assert len(xs) <= charts.CURVE_BUDGET and xs[0] == 0 and xs[-1] == LONG_STEPS - 1
    assert len(payload["history"]["points"][0]) <= 4 * charts.HISTORY_BUCKETS
    assert "10,000 jobs" in payload["history"]["note"]
    # The contour bins the same bounded sample, at most 30 x 30 cells, and says so.
    assert len(payload["history"]["contour"]["cells"]) <= charts.CONTOUR_CELLS**2
    assert "the history draws of 10,000" in payload["history"]["contour_note"]

    all_payload = everything.json()
    assert len(all_payload["curves"]["jobs"]) == 200
    assert all(len(xs) <= charts.ALL_CURVE_BUDGET for xs, _ in all_payload["curves"]["data"].values())
    assert "200 best of 10,000" in all_payload["curves"]["note"]

    # Bytes stay bounded: ~2,000 points by default, ~10,000 with "show all", ~1,000 in history.
    default_bytes, all_bytes = len(default.content), len(everything.content)
    print(f"\ncharts.json of 10,000 jobs: default {default_bytes:,} bytes, show all {all_bytes:,} bytes")
    assert default_bytes < 120_000
    assert all_bytes < 400_000

    page = client.get(f"/experiments/{experiment.pk}/")
    assert page.status_code == 200 and len(page.content) < 250_000


def test_it_keeps_the_first_last_lowest_and_highest_point_of_each_bucket():
    points = [(0, 5.0), (1, 1.0), (2, 9.0), (3, 4.0), (4, 3.0), (5, 8.0), (6, 2.0), (7, 6.0), (8, 7.0)]
    # 3 buckets of width 3: x 0-2, 3-5, 6-8.
    assert charts.bucket_extremes(points, 3) == [
        (0, 5.0), (1, 1.0), (2, 9.0),
        (3, 4.0), (4, 3.0), (5, 8.0),
        (6, 2.0), (8, 7.0),  # (7, 6.0) is neither first, last, lowest nor highest
    ]
    wide = [(x, float((x * 37) % 101)) for x in range(1000)]
    kept = charts.bucket_extremes(wide, 10)
    assert len(kept) <= 40 and kept[0] == wide[0] and kept[-1] == wide[-1]
    assert max(y for _, y in kept) == max(y for _, y in wide)
    assert min(y for _, y in kept) == min(y for _, y in wide)
    assert charts.bucket_extremes([], 10) == []

