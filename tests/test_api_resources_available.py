"""POST /api/resources/available/: get_available_resource with its blacklist in a body,
for blacklists longer than a URL can carry."""

import json

import pytest

from tests.factories import make_resource
from tracking.api.serializers import MAX_BLACKLIST
from tracking.models import IdempotencyKey, Resource

pytestmark = pytest.mark.django_db

PATH = "/api/resources/available/"


@pytest.fixture
def pool(db):
    return {name: make_resource(type, name).pk for name, type in [("c1", "cpu"), ("c2", "cpu"), ("g1", "gpu")]}


@pytest.mark.parametrize(
    "rtype, blacklist",
    [
        ("cpu", ["c1"]),
        ("cpu", ["c1", "c2"]),  # all blacklisted: blacklist ignored
        ("gpu,cpu", ["c1"]),  # no type equals it: contained-in
        ("cpu", []),
        ("tpu", ["c1"]),
    ],
)
def test_it_answers_as_the_get_does(api, pool, rtype, blacklist):
    rids = [pool[name] for name in blacklist]
    query = "&".join([f"rtype={rtype}", *(f"blacklist={rid}" for rid in rids)])

    answer = api.post(PATH, {"rtype": rtype, "blacklist": rids}, format="json")

    assert answer.status_code == 200
    assert answer.json() == api.get(f"{PATH}?{query}").json()


def test_it_takes_a_blacklist_no_url_holds_in_a_fixed_number_of_queries(api, pool, django_assert_num_queries):
    blacklist = [pool["c1"], *range(2**62, 2**62 + MAX_BLACKLIST - 1)]

    # Authentication (token, its last use), the free resources of the type not blacklisted.
    with django_assert_num_queries(3):
        answer = api.post(PATH, {"rtype": "cpu", "blacklist": blacklist}, format="json")

    assert answer.json() == {"rids": [pool["c2"]]}
    assert not IdempotencyKey.objects.exists()
    assert set(Resource.objects.values_list("status", flat=True)) == {"free"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"rtype": "cpu", "blacklist": list(range(MAX_BLACKLIST + 1))}, "blacklist"),
        ({"rtype": "cpu", "blacklist": ["1"]}, "blacklist.0"),
        ({"rtype": "cpu", "blacklist": [2**63]}, "blacklist.0"),
        ({"rtype": 5}, "rtype"),
        ({"rtype": "cpu\udfff"}, "rtype"),
        ({"rtype": "cpu\x00"}, "rtype"),
    ],
)
def test_it_refuses_a_bad_body_with_400(api, pool, body, field):
    # Encoded here: the test client's encoder cannot write a lone surrogate, JSON can.
    answer = api.post(PATH, json.dumps(body), content_type="application/json")

    assert answer.status_code == 400
    assert field in answer.json()["errors"]


def test_it_offers_nothing_without_a_type(api, pool):
    assert api.post(PATH, {}, format="json").json() == {"rids": []}
    assert api.post(PATH, {"rtype": None, "blacklist": [pool["c1"]]}, format="json").json() == {"rids": []}
    assert api.post(PATH, {"rtype": ""}, format="json").json() == {"rids": []}
