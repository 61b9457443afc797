"""DjangoConnector's holder: the name under which an instance takes resources."""

import pytest

from tests.factories import make_resource
from tracking.connector import DjangoConnector
from tracking.models import Resource

pytestmark = pytest.mark.django_db


def test_it_takes_resources_under_the_holder_it_was_given():
    resource = make_resource("cpu")
    connector = DjangoConnector(holder="api-token-7:abc")
    assert connector.take_available_resource(resource.pk) is True
    assert Resource.objects.get(pk=resource.pk).holder == "api-token-7:abc"


def test_it_names_itself_when_given_no_holder():
    first, second = DjangoConnector(), DjangoConnector()
    assert first.holder_id.startswith("connector-") and first.holder_id != second.holder_id


def test_it_frees_all_only_what_its_holder_took():
    mine, theirs = make_resource("cpu"), make_resource("cpu")
    DjangoConnector(holder="mine").take_available_resource(mine.pk)
    DjangoConnector(holder="theirs").take_available_resource(theirs.pk)
    DjangoConnector(holder="mine").free_all_resources()
    assert dict(Resource.objects.values_list("pk", "status")) == {mine.pk: "free", theirs.pk: "busy"}
