"""Someone else's object is, over the API, exactly an object that does not exist.

The test walks the API's URLconf: every operation that names an experiment, a job or a
token (in its path, or an experiment in its body beside one of the caller's own jobs) is
requested with every method with another user's ids, then again with the very same ids
once those objects are deleted. Both answers must be the same, status and body: nothing
tells "yours to see? no" from "there is none" (tests/test_access.py checks that the
answer is a refusal; this checks that the refusal says nothing more).
"""

import pytest
from django.urls import get_resolver
from django.utils.regex_helper import normalize

from tests.api_support import client_for
from tests.factories import make_api_token, make_experiment, make_recorded_job, make_resource, make_user
from tests.test_access import walk
from tracking.models import ApiToken, Experiment, ResultLabel

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete"]
NAMED = {"eid", "jid", "token_id"}


def api_patterns():
    """(name, path template, its parameters) of every API operation naming an object."""
    for name, regex, _ in walk(get_resolver().url_patterns):
        if not (name or "").startswith("tracking:api-"):
            continue
        template, parameters = normalize(regex)[0]
        if set(parameters) & NAMED:
            yield name, "/" + template, parameters


def body(eid, rid):
    # Valid for every write that names an experiment or job, so that an answer is
    # decided by who owns what, not by a missing field.
    return {
        "eid": eid,
        "rid": rid,
        "irid": None,
        "free_rid": None,
        "take_resource": False,
        "config": {},
        "score": 0.5,
        "scores": [1.0],
        "labels": ["accuracy"],
        "num_labels": 1,
        "status": "FINISHED",
        "msg": "an error",
        "results": [],
    }


def answers(client, requests):
    """status and decoded body of each request, by its description."""
    seen = {}
    for where, method, path, data in requests:
        response = getattr(client, method)(path, data, format="json") if method != "get" else client.get(path)
        content = response.json() if response.content and response.status_code >= 400 else None
        seen[where] = (response.status_code, content)
    return seen


def test_it_answers_another_users_objects_exactly_as_missing_ones(user, db):
    alice = client_for(user)
    bob = make_user("bob")
    gpu = make_resource("gpu", "0")
    # alice's own job: operations on it that name an experiment in the body.
    own_job = make_recorded_job(make_experiment(user, "alice's"), gpu, steps=1)
    theirs = make_experiment(bob, "bob's", config={"name": "bob's"})
    their_job = make_recorded_job(theirs, gpu, steps=2)
    their_token = make_api_token(bob)
    ids = {"eid": theirs.pk, "jid": their_job.pk, "token_id": their_token.pk}
    # issue 13: labels/<order>/ names one of their labels by its order.
    ResultLabel.objects.create(experiment=theirs, label_order=1, name="loss")
    ids["order"] = 1

    requests = []
    for name, template, parameters in api_patterns():
        path = template % {parameter: ids[parameter] for parameter in parameters}
        for method in METHODS:
            requests.append((f"{method.upper()} {name} (their ids)", method, path, body(theirs.pk, gpu.pk)))
            if "jid" in parameters:
                own = template % {**ids, "jid": own_job.pk}
                requests.append((f"{method.upper()} {name} (own job, their eid)", method, own, body(theirs.pk, gpu.pk)))
    assert len(requests) > 30  # the walk found the API

    theirs_answers = answers(alice, requests)
    Experiment.objects.filter(pk=theirs.pk).delete()
    ApiToken.objects.filter(pk=their_token.pk).delete()
    missing_answers = answers(alice, requests)

    differ = {
        where: (theirs_answers[where], missing_answers[where])
        for where in theirs_answers
        if theirs_answers[where] != missing_answers[where]
    }
    assert differ == {}
    # The oracle of issue 12: an own job with someone else's experiment in the body.
    assert theirs_answers["POST tracking:api-job-multiple-results (own job, their eid)"] == (
        404,
        {"detail": f"experiment {theirs.pk} does not exist", "errors": {}},
    )
