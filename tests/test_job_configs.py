"""Job configs that are not dicts: Auptimizer stores any JSON value as a job's config (its
own connector tests pass strings such as "job1"). A dict's keys are the hyperparameters the
dashboard shows; any other value is shown as the configuration itself, as JSON. The
connectors' side is the contract's (tests/contract/test_jobs_and_attempts.py)."""

import json
import sqlite3
from io import StringIO

import pytest
from django.core.management import call_command

from tracking.interop.loader import import_auptimizer
from tracking.models import Job

pytestmark = pytest.mark.django_db


CONFIGS = [("text", "job1", 0.9), ("dict", {"lr": 0.1}, 0.5), ("null", None, 0.2), ("list", [1, "two"], 0.1)]


@pytest.fixture
def recorded(connector, user, cpu):
    """An experiment whose best job's config is the string "job1", beside a dict, a null
    and a list config."""
    eid = connector.start_experiment(user.username, {"name": "configs"})
    jids = {}
    for kind, config, score in CONFIGS:
        jid = connector.job_started(eid, cpu.pk, config)
        connector.job_finished(cpu.pk, jid, score, "FINISHED")
        jids[kind] = jid
    return eid, jids


def test_it_shows_a_config_that_is_not_a_dict_as_itself_on_the_job_page(client, user, recorded):
    _, jids = recorded
    client.force_login(user)

    assert '<code class="job-config">&quot;job1&quot;</code>' in client.get(f"/jobs/{jids['text']}/").content.decode()
    assert '<code class="job-config">null</code>' in client.get(f"/jobs/{jids['null']}/").content.decode()
    assert '<code class="job-config">[1, &quot;two&quot;]</code>' in client.get(f"/jobs/{jids['list']}/").content.decode()
    dict_page = client.get(f"/jobs/{jids['dict']}/").content.decode()
    assert '<th scope="row">lr</th>' in dict_page and "job-config" not in dict_page


def test_it_shows_the_best_jobs_config_and_a_config_column_on_the_experiment_page(client, user, recorded):
    eid, _ = recorded
    client.force_login(user)

    html = client.get(f"/experiments/{eid}/").content.decode()

    assert '<span class="kv"><code>&quot;job1&quot;</code></span>' in html  # the best job's config
    assert '<th scope="col" class="param">lr</th>' in html  # a dict's keys stay the parameters
    assert '<th scope="col" class="param">Config</th>' in html
    assert "<code>&quot;job1&quot;</code></td>" in html and "<code>null</code></td>" in html


def test_it_draws_parameter_charts_from_the_dict_configs_only(client, user, recorded):
    eid, _ = recorded
    client.force_login(user)

    response = client.get(f"/experiments/{eid}/charts.json")

    assert response.status_code == 200
    params = response.json()["history"]["params"]
    assert [axis["name"] for axis in params["axes"]] == ["lr"]
    assert params["series"]["lr"][1] == [0.5]


def test_it_answers_any_json_config_over_the_api(api, recorded, cpu):
    eid, jids = recorded

    created = api.post(f"/api/experiments/{eid}/jobs/", {"rid": cpu.pk, "config": "job2"}, format="json")
    null = api.post(f"/api/experiments/{eid}/jobs/", {"rid": cpu.pk, "config": None}, format="json")
    default = api.post(f"/api/experiments/{eid}/jobs/", {"rid": cpu.pk}, format="json")

    assert (created.status_code, null.status_code, default.status_code) == (201, 201, 201)
    assert Job.objects.get(pk=created.json()["jid"]).config == "job2"
    assert Job.objects.get(pk=null.json()["jid"]).config is None
    assert Job.objects.get(pk=default.json()["jid"]).config == {}
    assert api.get(f"/api/jobs/{jids['text']}/").json()["config"] == "job1"
    assert api.get(f"/api/experiments/{eid}/best/").json()["config_json"] == '"job1"'


def test_it_exports_any_json_config_as_auptimizer_stores_it_and_imports_it_back(recorded, tmp_path):
    eid, jids = recorded
    path = tmp_path / "export.db"
    call_command("aup_export", str(path), stdout=StringIO(), stderr=StringIO())

    stored = dict(sqlite3.connect(path).execute("SELECT jid, job_config FROM job"))
    assert stored == {jids[kind]: json.dumps(config) for kind, config, _ in CONFIGS}  # json.dumps, as Auptimizer's start_job
    import_auptimizer()
    from aup.ET.Connector.SQLiteConnector import SQLiteConnector

    auptimizer = SQLiteConnector(str(path))
    try:
        assert auptimizer.get_best_result_config(eid) == ('"job1"',)
    finally:
        auptimizer.close()

    Job.objects.all().delete()
    call_command("aup_import", str(path), stdout=StringIO(), stderr=StringIO())
    imported = sorted(Job.objects.values_list("config", flat=True), key=json.dumps)
    assert imported == sorted(["job1", {"lr": 0.1}, None, [1, "two"]], key=json.dumps)
