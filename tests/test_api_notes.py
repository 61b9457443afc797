"""Notes and tags in the API: read with an experiment and a job, set with PATCH (all or
nothing), the experiments list filtered by tag without revealing anyone else's."""

import json

import pytest

from tests.api_support import client_for
from tests.factories import make_experiment, make_job, make_share, make_user, tag_experiment
from tracking import notes
from tracking.models import Experiment, Job, Tag

pytestmark = pytest.mark.django_db


def experiment_url(experiment):
    return f"/api/experiments/{experiment.pk}/"


def job_url(job):
    return f"/api/jobs/{job.pk}/"


@pytest.fixture
def experiment(user):
    return make_experiment(user, "mnist")


@pytest.fixture
def job(experiment):
    return make_job(experiment)


def test_it_reads_notes_and_tags_with_an_experiment_and_a_job(api, experiment, job):
    Experiment.objects.filter(pk=experiment.pk).update(notes="# Plan\n*lr* first")
    Job.objects.filter(pk=job.pk).update(notes="diverged")
    tag_experiment(experiment, "resnet", "baseline")

    detail = api.get(experiment_url(experiment)).json()
    job_detail = api.get(job_url(job)).json()
    row = api.get("/api/experiments/").json()["results"][0]

    assert (detail["notes"], detail["tags"]) == ("# Plan\n*lr* first", ["baseline", "resnet"])
    assert job_detail["notes"] == "diverged"
    assert row["tags"] == ["baseline", "resnet"] and "notes" not in row


def test_it_sets_notes_and_tags_in_one_request(api, experiment):
    tag_experiment(experiment, "old")

    response = api.patch(experiment_url(experiment), {"notes": "Best: **lr 0.01**", "tags": ["Baseline", " paper 2 ", "baseline"]}, format="json")

    assert response.status_code == 200
    assert (response.json()["notes"], response.json()["tags"]) == ("Best: **lr 0.01**", ["baseline", "paper 2"])
    experiment.refresh_from_db()
    assert experiment.notes == "Best: **lr 0.01**"
    assert list(experiment.tags.values_list("name", flat=True)) == ["baseline", "paper 2"]


def test_it_sets_either_part_alone_and_leaves_the_other(api, experiment):
    api.patch(experiment_url(experiment), {"notes": "kept", "tags": ["kept"]}, format="json")

    assert api.patch(experiment_url(experiment), {"tags": []}, format="json").json()["notes"] == "kept"
    assert api.patch(experiment_url(experiment), {"notes": ""}, format="json").json()["tags"] == []
    experiment.refresh_from_db()
    assert (experiment.notes, experiment.tags.count()) == ("", 0)


def test_it_sets_a_jobs_notes(api, job):
    response = api.patch(job_url(job), {"notes": "re-run with seed 2"}, format="json")

    assert response.status_code == 200 and response.json()["notes"] == "re-run with seed 2"
    job.refresh_from_db()
    assert job.notes == "re-run with seed 2"


def test_it_lets_staff_change_anyones(staff_api, experiment, job):
    assert staff_api.patch(experiment_url(experiment), {"tags": ["reviewed"]}, format="json").status_code == 200
    assert staff_api.patch(job_url(job), {"notes": "checked"}, format="json").status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"notes": "new", "tags": ["fine", "not/fine"]}, "tags"),
        ({"notes": "x" * (notes.MAX_NOTES_CHARS + 1), "tags": ["fine"]}, "notes"),
        ({"notes": 5, "tags": ["fine"]}, "notes"),
        ({"notes": None}, "notes"),
        ({"notes": "new", "tags": "fine"}, "tags"),
        ({"notes": "new", "tags": [5]}, "tags"),
        ({"notes": "new", "tags": [""]}, "tags"),
        ({"notes": "new", "tags": [f"t{i}" for i in range(notes.MAX_TAGS + 1)]}, "tags"),
        ({"notes": "new\x00"}, "notes"),
        ({}, "non_field_errors"),
        ({"note": "a typo"}, "non_field_errors"),
    ],
)
def test_it_refuses_bad_input_with_400_and_writes_nothing(api, experiment, body, field):
    api.patch(experiment_url(experiment), {"notes": "before", "tags": ["before"]}, format="json")

    response = api.patch(experiment_url(experiment), body, format="json")

    assert response.status_code == 400
    assert {key.split(".")[0] for key in response.json()["errors"]} == {field}
    experiment.refresh_from_db()
    assert experiment.notes == "before"
    assert list(experiment.tags.values_list("name", flat=True)) == ["before"]
    assert list(Tag.objects.values_list("name", flat=True)) == ["before"]


def test_it_refuses_bad_job_notes_with_400(api, job):
    for body in ({"notes": "x" * (notes.MAX_NOTES_CHARS + 1)}, {"notes": ["a"]}, {}):
        response = api.patch(job_url(job), body, format="json")
        assert response.status_code == 400 and "notes" in response.json()["errors"]
    job.refresh_from_db()
    assert job.notes == ""


def test_it_refuses_a_share_reader_with_403_and_anyone_else_with_404(experiment, job, other_user):
    make_share(experiment, user=other_user)
    reader = client_for(other_user)
    stranger = client_for(make_user("carol"))

    for client, status in ((reader, 403), (stranger, 404)):
        assert client.patch(experiment_url(experiment), {"notes": "mine now"}, format="json").status_code == status
        assert client.patch(job_url(job), {"notes": "mine now"}, format="json").status_code == status
        # Bad input too: who may not change it learns nothing from a 400.
        assert client.patch(experiment_url(experiment), {"tags": ["bad/tag"]}, format="json").status_code == status
    assert reader.get(experiment_url(experiment)).status_code == 200
    experiment.refresh_from_db()
    job.refresh_from_db()
    assert (experiment.notes, job.notes, experiment.tags.count()) == ("", "", 0)


def test_it_refuses_a_sessions_patch_without_its_csrf_token(user, experiment):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.patch(experiment_url(experiment), {"notes": "x"}, format="json")

    assert response.status_code == 403
    experiment.refresh_from_db()
    assert experiment.notes == ""


def test_it_filters_the_list_by_tag_among_visible_experiments_only(api, user, other_user):
    mine = make_experiment(user, "mine")
    tag_experiment(mine, "common")
    tag_experiment(make_experiment(other_user, "bob's"), "common", "bobs-secret")

    def names(query):
        response = api.get("/api/experiments/", query)
        assert response.status_code == 200
        return [row["name"] for row in response.json()["results"]]

    assert names({"tag": "Common"}) == ["mine"]
    # A tag only bob's experiment carries answers as one nobody uses: nothing.
    assert names({"tag": "bobs-secret"}) == names({"tag": "no-such-tag"}) == []
    assert names({"search": "bobs"}) == []
    assert names({"search": "comm"}) == ["mine"]
    response = api.get("/api/experiments/", {"tag": "not/a/tag"})
    assert response.status_code == 400 and "tag" in response.json()["errors"]


def test_it_documents_the_changes_in_the_schema(api):
    schema = json.loads(api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)

    experiment = schema["paths"]["/api/experiments/{eid}/"]["patch"]
    job = schema["paths"]["/api/jobs/{jid}/"]["patch"]
    assert experiment["summary"] == "Set an experiment's notes and tags"
    assert job["summary"] == "Set a job's notes"
    assert {"200", "400", "403", "404"} <= set(experiment["responses"]) and {"200", "400", "403", "404"} <= set(job["responses"])
    assert "at most 20,000 characters" in experiment["description"]
    change = schema["components"]["schemas"]["PatchedExperimentChangeInRequest"]["properties"]
    assert change["notes"]["maxLength"] == notes.MAX_NOTES_CHARS and change["tags"]["maxItems"] == notes.MAX_TAGS
    assert {"name": "tag", "in": "query"}.items() <= next(
        p for p in schema["paths"]["/api/experiments/"]["get"]["parameters"] if p["name"] == "tag"
    ).items()
    assert "tags" in schema["components"]["schemas"]["ExperimentOut"]["properties"]
    assert "notes" in schema["components"]["schemas"]["JobDetailOut"]["properties"]
