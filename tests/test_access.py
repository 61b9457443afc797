"""Every URL pattern refuses anonymous users and users who do not own what it names.

The test walks the whole URLconf, so a page, fragment or API endpoint added later is
checked without anyone remembering to: it fills each path parameter with the id of an
object owned by someone else, requests the URL with every method as an anonymous user
and as another (non-staff) researcher, and fails on any answer that is not a refusal,
or that shows the owner's data. A parameter it does not know fails the test with a
message saying where to add it.

Refusals: an anonymous user gets a redirect to a login page, or 401/403. Another
researcher gets that, 404 (the object does not exist for them) or 405 (the method is
refused before anything is looked up) for any URL naming a private object; a URL
naming none (a list, a shared resource) may answer, but never with the owner's data.
Nobody gets a 500, and no request changes the owner's record.
"""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django.utils.regex_helper import normalize

from tests import factories
from tests.factories import make_experiment, make_recorded_job, make_resource, make_share, make_user
from tracking.models import ApiToken, Experiment, ExperimentShare, IntermediateResult, Job, MultipleResult, Resource, ResultLabel, Tag

pytestmark = pytest.mark.django_db

# Patterns anyone may use, by full name: logging in and out, and /favicon.ico (a
# redirect to a static file, asked for by the login page too).
EXCLUDED = {"login", "logout", "admin:login", "admin:logout", "favicon"}

# Every string of the owner's record that another user must never be shown.
SECRET = "zq7secret"

METHODS = ["get", "post", "put", "patch", "delete"]

# What a parameter names, by its name. Kinds in PRIVATE belong to a user; a URL naming
# one must be refused to everyone else. The others are shared (resources) or not
# objects at all; such URLs may answer, but never with the owner's data.
PARAMETERS = {
    "eid": "experiment",
    "jid": "job",
    "rid": "resource",
    "resource_id": "resource",
    "share_id": "share",
    "token_id": "token",
    "user_id": "user",
    "content_type_id": "content type",
    "app_label": "app label",
    "url": "any path",
    "format": "format",
    # issue 13: a label's order within the experiment the path also names
    "order": "label order",
}
# Parameters whose meaning depends on the path segment before them
# (experiments/<pk>/, admin/tracking/job/<object_id>/, api/tokens/<pk>/ ...).
BY_SEGMENT = {"pk", "id", "object_id"}
SEGMENTS = {
    "experiment": "experiment",
    "job": "job",
    "jobattempt": "attempt",
    "attempt": "attempt",
    "resource": "resource",
    "experimentshare": "share",
    "share": "share",
    "intermediateresult": "intermediate result",
    "multipleresult": "multiple result",
    "resultlabel": "label",
    "label": "label",
    "token": "token",
    "apitoken": "token",
    "user": "user",
    "group": "group",
    "tag": "tag",  # notes and tags: the admin's tags
}
PRIVATE = {"experiment", "job", "attempt", "share", "intermediate result", "multiple result", "label", "token", "user", "group", "content type"}
# Notes and tags: a tag only someone else's experiments carry is never shown.
PRIVATE |= {"tag"}


class World:
    """The owner's objects, and a researcher who owns none of them."""

    def __init__(self):
        self.owner = make_user(f"{SECRET}owner")
        self.group = Group.objects.create(name=f"{SECRET}group")
        self.owner.groups.add(self.group)
        self.other = make_user("bob")
        # bob's own experiment: his pages are not empty.
        make_experiment(self.other, "bob's search")
        self.resource = make_resource("gpu", "0")
        self.experiment = make_experiment(
            self.owner, f"{SECRET} experiment", config={"name": f"{SECRET} experiment"}, error_msg=f"{SECRET} error"
        )
        self.job = make_recorded_job(self.experiment, self.resource, config={"lr": f"{SECRET}-config"}, steps=2)
        self.attempt = self.job.attempts.get()
        self.step = IntermediateResult.objects.filter(job=self.job).first()
        self.label = ResultLabel.objects.create(experiment=self.experiment, label_order=1, name=f"{SECRET}label")
        self.multiple = MultipleResult.objects.create(
            job=self.job, experiment=self.experiment, label_order=1, value=1.0, receive_time=timezone.now()
        )
        self.share = make_share(self.experiment, group=self.group)
        # Notes and tags: the owner's notes and a tag only the owner's experiment carries.
        self.tag = Tag.objects.create(name=f"{SECRET}tag")
        self.experiment.tags.add(self.tag)
        Experiment.objects.filter(pk=self.experiment.pk).update(notes=f"{SECRET} notes")
        Job.objects.filter(pk=self.job.pk).update(notes=f"{SECRET} job notes")

    def value(self, kind, where):
        simple = {
            "experiment": self.experiment.pk,
            "job": self.job.pk,
            "attempt": self.attempt.pk,
            "resource": self.resource.pk,
            "share": self.share.pk,
            "intermediate result": self.step.pk,
            "multiple result": self.multiple.pk,
            "label": self.label.pk,
            "user": self.owner.pk,
            "group": self.group.pk,
            "content type": ContentType.objects.get_for_model(Experiment).pk,
            "app label": "tracking",
            "any path": "no-such-page",
            "format": "json",
            "label order": self.label.label_order,
            "tag": self.tag.pk,
        }
        if kind in simple:
            return simple[kind]
        if kind == "token":
            # The API branch's tokens: a builder in tests/factories.py makes one.
            make_token = getattr(factories, "make_api_token", None)
            if make_token is None:
                pytest.fail(f"{where} names an API token: add make_api_token(user) to tests/factories.py")
            return make_token(self.owner).pk
        raise AssertionError(kind)

    def snapshot(self):
        return (
            list(Experiment.objects.order_by("pk").values_list("pk", "name", "status", "end_time", "error_msg")),
            list(Job.objects.order_by("pk").values_list("pk", "status", "end_time", "score")),
            list(Resource.objects.order_by("pk").values_list("pk", "status", "in_service", "holder")),
            list(ExperimentShare.objects.order_by("pk").values_list("pk", "user", "group")),
            IntermediateResult.objects.count(),
            MultipleResult.objects.count(),
            # issue 13: the labels' directions (the directions form, PATCH labels/<order>/).
            list(ResultLabel.objects.order_by("pk").values_list("pk", "direction")),
            # The walk issues the owner a token for each URL naming one; none may be revoked.
            ApiToken.objects.filter(user=self.owner, revoked__isnull=False).count(),
            # Notes and tags.
            list(Experiment.objects.order_by("pk").values_list("pk", "notes")),
            list(Job.objects.order_by("pk").values_list("pk", "notes")),
            list(Experiment.tags.through.objects.order_by("pk").values_list("experiment", "tag")),
            list(Tag.objects.order_by("pk").values_list("pk", "name")),
        )


def walk(patterns, prefix="", namespaces=()):
    """(full name, regex of the whole path, pattern) for every URL pattern."""
    for pattern in patterns:
        regex = pattern.pattern.regex.pattern.removeprefix("^")
        if isinstance(pattern, URLResolver):
            inner = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
            yield from walk(pattern.url_patterns, prefix + regex, inner)
        elif isinstance(pattern, URLPattern):
            name = ":".join((*namespaces, pattern.name)) if pattern.name else None
            yield name, prefix + regex, pattern


def fill(world, name, regex):
    """A concrete path for the pattern, or a failure naming the unknown parameter."""
    template, parameters = normalize(regex)[0]
    where = f"URL pattern {name or regex!r}"
    values = {}
    for parameter in parameters:
        if parameter in BY_SEGMENT:
            before = template.split(f"%({parameter})s")[0].rstrip("/").rsplit("/", 1)[-1]
            segment = before.lower().removesuffix("s").replace("-", "").replace("_", "")
            kind = SEGMENTS.get(segment)
            if before == "%(content_type_id)s":
                # The admin's view_on_site: r/<content type>/<object id>/, of an experiment.
                kind = "experiment"
            if kind is None:
                pytest.fail(
                    f"{where} takes <{parameter}> after {before!r}/, which tests/test_access.py cannot tell the "
                    f"object of: add {segment!r} to SEGMENTS with what it names."
                )
        else:
            kind = PARAMETERS.get(parameter)
            if kind is None:
                pytest.fail(
                    f"{where} takes a parameter <{parameter}> that tests/test_access.py does not know: add it to "
                    "PARAMETERS with the kind of object it names (and create one owned by another user in World), "
                    "so that this page is checked too."
                )
        values[parameter] = (kind, world.value(kind, where))
    path = "/" + template % {parameter: value for parameter, (kind, value) in values.items()}
    private = {kind for kind, value in values.values()} & PRIVATE
    return path, private


def login_redirect(response):
    """A redirect to the site's login page or the admin's."""
    if response.status_code not in (301, 302, 303, 307, 308):
        return False
    target = response.headers["Location"]
    return target.startswith((resolve_url(settings.LOGIN_URL), "/admin/login/"))


def shows_secrets(response):
    # A streamed answer (the exports, tracking/exports.py) is read to its end.
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return SECRET in content.decode("utf-8", errors="replace")


def find_failures(world, urlconf=None):
    """Request every URL of `urlconf` as both users; returns (failures, names checked)."""
    anonymous = Client(raise_request_exception=False)
    researcher = Client(raise_request_exception=False)
    researcher.force_login(world.other)
    failures, checked = [], []
    for name, regex, pattern in walk(get_resolver(urlconf).url_patterns):
        if name in EXCLUDED:
            continue
        path, private = fill(world, name, regex)
        assert resolve(path, urlconf).func == pattern.callback, f"{path} does not reach {name or regex}"
        checked.append(name or regex)
        for method in METHODS:
            response = getattr(anonymous, method)(path)
            if not (login_redirect(response) or response.status_code in (401, 403)):
                failures.append(f"anonymous {method.upper()} {path} ({name}): {response.status_code}")

            response = getattr(researcher, method)(path)
            status = response.status_code
            if status >= 500:
                failures.append(f"researcher {method.upper()} {path} ({name}): {status}")
            elif private and not (login_redirect(response) or status in (403, 404, 405)):
                failures.append(f"researcher {method.upper()} {path} ({name}) names {sorted(private)}: {status}")
            elif shows_secrets(response):
                failures.append(f"researcher {method.upper()} {path} ({name}): shows the owner's data")
    return failures, checked


def test_it_refuses_every_url_to_anonymous_users_and_other_peoples_objects_to_researchers():
    world = World()
    before = world.snapshot()
    failures, checked = find_failures(world)
    assert failures == []
    # Nothing of the owner's was changed by all those requests.
    assert world.snapshot() == before
    # The walk did reach the pages it exists for.
    assert {
        "tracking:experiment-stop",
        "tracking:experiment-restart",
        "tracking:experiment-delete",
        "tracking:experiment-share",
        "tracking:experiment-unshare",
        "tracking:experiment-notes",
        "tracking:experiment-tags",
        "tracking:job-notes",
    } <= set(checked)
    assert "admin:tracking_experiment_change" in checked and "admin:tracking_resource_bulk_add" in checked


def test_it_fails_on_a_parameter_it_does_not_know():
    world = World()
    with pytest.raises(pytest.fail.Exception, match=r"parameter <colour> that tests/test_access.py does not know"):
        fill(world, "paint", r"paint/(?P<colour>[a-z]+)/\Z")
    with pytest.raises(pytest.fail.Exception, match=r"add 'widget' to SEGMENTS"):
        fill(world, "widgets", r"widgets/(?P<pk>[0-9]+)/\Z")
    path, private = fill(world, "jobs", r"api/jobs/(?P<pk>[0-9]+)/\Z")
    assert (path, private) == (f"/api/jobs/{world.job.pk}/", {"job"})


def test_it_catches_pages_that_forget_to_check(settings):
    # tests/leaky_urls.py: the mistakes the walk exists to catch.
    world = World()
    settings.ROOT_URLCONF = "tests.leaky_urls"
    failures, checked = find_failures(world, "tests.leaky_urls")
    eid = world.experiment.pk
    assert f"anonymous GET /leak/anonymous/{eid}/ (anonymous_leak): 200" in failures
    assert f"researcher GET /leak/owner/{eid}/ (owner_leak) names ['experiment']: 200" in failures
    assert "researcher GET /leak/list/ (list_leak): shows the owner's data" in failures
    assert f"researcher POST /leak/crash/{eid}/ (crash): 500" in failures
    assert not any("/leak/safe/" in failure for failure in failures)
