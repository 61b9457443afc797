"""The export links in a real browser, under the strict Content-Security-Policy: a click
downloads the jobs the table shows, and the links follow the brush (aupsite:filter)."""

import csv
import io

import pytest

from tests.factories import make_configured_experiment, make_jobs
from tracking.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_downloads_the_jobs_the_table_shows(page, login):
    alice = login("alice")
    experiment = make_configured_experiment(alice, "to export", status="FINISHED", parameter_config=[{"name": "lr"}])
    jobs = make_jobs(experiment, 6)
    Job.objects.filter(pk__in=[job.pk for job in jobs[:2]]).update(status="FAILED")

    page.goto(f"/experiments/{experiment.pk}/")
    # Filter and sort the table as a person does: the links follow (the table is swapped in).
    page.click("#filter-finished")
    page.wait_for_url("**status=FINISHED**")
    page.click("#sort-score")
    page.wait_for_url("**sort=**")
    shown = [int(jid) for jid in page.eval_on_selector_all("#jobs tbody tr", "rows => rows.map(r => r.dataset.job)")]
    with page.expect_download() as download:
        page.click("#export-jobs-csv")

    assert download.value.suggested_filename == "to-export-jobs.csv"
    rows = list(csv.reader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert [int(row[1]) for row in rows[1:]] == shown and len(shown) == 4
    assert {row[2] for row in rows[1:]} == {"FINISHED"}


def test_it_keeps_the_links_on_the_brush(page, login):
    alice = login("alice")
    experiment = make_configured_experiment(alice, "brushed", status="FINISHED", parameter_config=[{"name": "lr"}])
    make_jobs(experiment, 3)

    page.goto(f"/experiments/{experiment.pk}/?status=FINISHED&b.lr=0.001..1")
    page.evaluate(
        "document.dispatchEvent(new CustomEvent('aupsite:filter', {detail: {query: 'b.lr=0.01..0.02&axes=lr'}}))"
    )

    base = f"/experiments/{experiment.pk}/jobs"
    assert page.get_attribute("#export-jobs-csv", "href") == f"{base}.csv?status=FINISHED&b.lr=0.01..0.02"
    assert page.get_attribute("#export-jobs-json", "href") == f"{base}.json?status=FINISHED&b.lr=0.01..0.02"
    page.evaluate("document.dispatchEvent(new CustomEvent('aupsite:filter', {detail: {query: ''}}))")
    assert page.get_attribute("#export-jobs-csv", "href") == f"{base}.csv?status=FINISHED"
