"""Notes and tags on the pages: shown rendered and sanitised on the experiment and job
pages, edited by who may change the experiment (htmx or plain forms), tags filtering the
experiments list without revealing anyone else's (tracking/notes_pages.py)."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    make_configured_experiment,
    make_experiment,
    make_job,
    make_jobs,
    make_share,
    make_user,
    tag_experiment,
)
from tests.test_notes import XSS_NOTES, Markup
from tracking import notes
from tracking.models import Experiment, Job, Tag

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
EVIL = "\n\n".join(XSS_NOTES)


@pytest.fixture
def experiment(alice):
    return make_configured_experiment(alice, name="mnist", status="FINISHED", n_samples=2)


@pytest.fixture
def job(experiment):
    return make_job(experiment, status="FINISHED", score=0.5)


def notes_url(experiment):
    return f"/experiments/{experiment.pk}/notes/"


def tags_url(experiment):
    return f"/experiments/{experiment.pk}/tags/"


def section(html, element_id):
    """The inside of the page's element with `element_id` (a <section>)."""
    match = re.search(rf'<section id="{element_id}"[^>]*>(.*?)</section>\s*(?:\n|$|<)', html, re.S)
    assert match, f"no section #{element_id}"
    return match.group(1)


def rendered_notes(html):
    return re.search(r'<div class="prose notes-body"[^>]*>(.*?)</div>', html, re.S).group(1)


# -- shown, sanitised --------------------------------------------------------------------------


def test_it_shows_notes_rendered_on_the_experiment_page_and_the_job_page(client, alice, experiment, job):
    Experiment.objects.filter(pk=experiment.pk).update(notes="Try **smaller** learning rates.")
    Job.objects.filter(pk=job.pk).update(notes="Diverged after `step 40`.")
    client.force_login(alice)

    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    job_page = client.get(f"/jobs/{job.pk}/").content.decode()

    assert "<p>Try <strong>smaller</strong> learning rates.</p>" in rendered_notes(page)
    assert "<p>Diverged after <code>step 40</code>.</p>" in rendered_notes(job_page)


@pytest.mark.parametrize("where", ["experiment", "job"])
def test_it_never_puts_a_notes_markup_into_the_page(client, alice, experiment, job, where):
    Experiment.objects.filter(pk=experiment.pk).update(notes=EVIL)
    Job.objects.filter(pk=job.pk).update(notes=EVIL)
    client.force_login(alice)

    response = client.get(f"/experiments/{experiment.pk}/" if where == "experiment" else f"/jobs/{job.pk}/")

    html = response.content.decode()
    markup = Markup(rendered_notes(html))
    assert set(markup.elements) <= notes.ALLOWED_TAGS
    assert {(tag, name) for tag, name, value in markup.attributes} <= {("a", "href"), ("a", "rel")}
    assert all(re.match(r"https?:", value) for tag, name, value in markup.attributes if name == "href")
    # The page as a whole: no script but our own files, no event handler, no style
    # attribute, no javascript: or data: link anywhere (the textarea holds the note
    # as escaped text).
    page = Markup(html)
    assert all(value and value.startswith("/static/") for tag, name, value in page.attributes if tag == "script" and name == "src")
    assert not [name for tag, name, value in page.attributes if name.startswith("on") or name == "style"]
    assert not [value for tag, name, value in page.attributes if name in ("href", "src", "action") and value and
                re.match(r"\s*(javascript|data|vbscript):", value, re.I)]
    assert "<textarea" in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert response["Content-Security-Policy"].startswith("default-src 'self'")


def test_it_shows_a_reader_the_notes_and_tags_without_any_control(client, alice, experiment, job):
    bob = make_user("bob")
    make_share(experiment, user=bob)
    Experiment.objects.filter(pk=experiment.pk).update(notes="Read me")
    Job.objects.filter(pk=job.pk).update(notes="Job note")
    tag_experiment(experiment, "baseline")
    client.force_login(bob)

    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    job_page = client.get(f"/jobs/{job.pk}/").content.decode()

    assert "<p>Read me</p>" in page and "<p>Job note</p>" in job_page
    assert '<a class="tag" href="/?tag=baseline">baseline</a>' in page
    for html in (page, job_page):
        assert "<textarea" not in html and "Add a tag" not in html and "tag-remove" not in html
        assert "/notes/" not in html and "/tags/" not in html


def test_it_shows_a_reader_nothing_of_empty_notes_and_tags(client, alice, experiment, job):
    bob = make_user("bob")
    make_share(experiment, user=bob)
    client.force_login(bob)

    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    job_page = client.get(f"/jobs/{job.pk}/").content.decode()

    assert 'id="notes"' not in page and 'id="tags"' not in page and 'id="notes"' not in job_page


def test_it_offers_the_owner_the_forms_when_there_is_nothing_yet(client, alice, experiment, job):
    client.force_login(alice)

    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    job_page = client.get(f"/jobs/{job.pk}/").content.decode()

    notes_section = section(page, "notes")
    assert "No notes yet." in notes_section and "<summary>Add notes</summary>" in notes_section
    assert f'hx-post="/experiments/{experiment.pk}/notes/"' in notes_section
    assert '<label for="notes-text">' in notes_section and 'maxlength="20000"' in notes_section
    assert "No tags." in section(page, "tags") and '<label for="tag-add">Add a tag</label>' in page
    assert f'action="/jobs/{job.pk}/notes/"' in job_page
    assert "aupsite/notes.js" in page and "aupsite/notes.js" in job_page


# -- editing notes ----------------------------------------------------------------------------


def test_it_saves_notes_and_goes_back_to_the_page(client, alice, experiment):
    client.force_login(alice)

    response = client.post(notes_url(experiment), {"notes": "Learning rate *matters*.\r\nA lot."})

    assert response.status_code == 302
    assert response["Location"] == f"/experiments/{experiment.pk}/#notes"
    experiment.refresh_from_db()
    assert experiment.notes == "Learning rate *matters*.\nA lot."
    page = client.get(response["Location"]).content.decode()
    assert "Notes saved." in page and "<em>matters</em>" in page


def test_it_saves_notes_through_htmx_and_answers_with_the_fragment(client, alice, experiment, job):
    client.force_login(alice)

    response = client.post(notes_url(experiment), {"notes": "# Result\nok"}, **HX)
    job_response = client.post(f"/jobs/{job.pk}/notes/", {"notes": "retry me"}, **HX)

    assert response.status_code == 200 and job_response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "Notes saved." in html and "<h3>Result</h3>" in html
    assert "data-focus-after-swap" in html
    job.refresh_from_db()
    experiment.refresh_from_db()
    assert (experiment.notes, job.notes) == ("# Result\nok", "retry me")


def test_it_lets_staff_edit_anyones_notes(client, experiment, job):
    client.force_login(make_user("root", is_staff=True))

    assert client.post(notes_url(experiment), {"notes": "staff note"}).status_code == 302
    assert client.post(f"/jobs/{job.pk}/notes/", {"notes": "staff job note"}).status_code == 302
    assert client.post(tags_url(experiment), {"add": "reviewed"}).status_code == 302

    experiment.refresh_from_db()
    job.refresh_from_db()
    assert (experiment.notes, job.notes, list(experiment.tags.values_list("name", flat=True))) == (
        "staff note", "staff job note", ["reviewed"]
    )


def test_it_refuses_a_share_reader_with_403_and_a_stranger_with_404(client, alice, experiment, job):
    reader, stranger = make_user("bob"), make_user("carol")
    make_share(experiment, user=reader)
    Experiment.objects.filter(pk=experiment.pk).update(notes="original")
    tag_experiment(experiment, "kept")
    urls = [
        (notes_url(experiment), {"notes": "changed"}),
        (f"/jobs/{job.pk}/notes/", {"notes": "changed"}),
        (tags_url(experiment), {"add": "new"}),
        (tags_url(experiment), {"remove": "kept"}),
    ]
    for user, status in ((reader, 403), (stranger, 404)):
        client.force_login(user)
        for url, data in urls:
            assert client.get(url).status_code == status, (user, url)
            assert client.post(url, data).status_code == status, (user, url)
            response = client.post(url, data, **HX)
            assert response.status_code == status and b"original" not in response.content

    experiment.refresh_from_db()
    job.refresh_from_db()
    assert (experiment.notes, job.notes) == ("original", "")
    assert list(experiment.tags.values_list("name", flat=True)) == ["kept"]
    assert list(Tag.objects.values_list("name", flat=True)) == ["kept"]


def test_it_refuses_a_change_without_the_csrf_token(alice, experiment, job):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    for url, data in ((notes_url(experiment), {"notes": "x"}), (f"/jobs/{job.pk}/notes/", {"notes": "x"}),
                      (tags_url(experiment), {"add": "x"})):
        assert client.post(url, data).status_code == 403
        assert client.post(url, data, **HX).status_code == 403

    experiment.refresh_from_db()
    job.refresh_from_db()
    assert (experiment.notes, job.notes, experiment.tags.count()) == ("", "", 0)


def test_it_refuses_notes_that_are_too_long_and_writes_nothing(client, alice, experiment, job):
    Experiment.objects.filter(pk=experiment.pk).update(notes="kept")
    client.force_login(alice)
    too_long = "x" * (notes.MAX_NOTES_CHARS + 1)

    page = client.post(notes_url(experiment), {"notes": too_long})
    fragment = client.post(notes_url(experiment), {"notes": too_long}, **HX)
    job_page = client.post(f"/jobs/{job.pk}/notes/", {"notes": too_long})

    for response in (page, fragment, job_page):
        assert response.status_code == 400
        html = response.content.decode()
        assert "Notes are at most 20,000 characters; these are 20,001. Nothing was saved." in html
        assert 'aria-invalid="true"' in html and too_long in html  # the text is given back to fix
    assert "<html" in page.content.decode() and "<html" not in fragment.content.decode()
    experiment.refresh_from_db()
    job.refresh_from_db()
    assert (experiment.notes, job.notes) == ("kept", "")


def test_it_refuses_a_post_without_notes_and_keeps_them(client, alice, experiment):
    Experiment.objects.filter(pk=experiment.pk).update(notes="kept")
    client.force_login(alice)

    response = client.post(notes_url(experiment), {})

    assert response.status_code == 400 and "sent no notes" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.notes == "kept"


def test_it_previews_notes_without_saving_them(client, alice, experiment):
    Experiment.objects.filter(pk=experiment.pk).update(notes="old")
    client.force_login(alice)

    response = client.post(notes_url(experiment), {"notes": "**new** <script>alert(1)</script>", "preview": "1"}, **HX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Preview, not saved yet" in html and "<strong>new</strong> &lt;script&gt;" in html
    assert "<details class=\"notes-edit\" open>" in html
    experiment.refresh_from_db()
    assert experiment.notes == "old"


def test_it_removes_notes_saved_empty(client, alice, experiment):
    Experiment.objects.filter(pk=experiment.pk).update(notes="old")
    client.force_login(alice)

    assert client.post(notes_url(experiment), {"notes": ""}).status_code == 302
    experiment.refresh_from_db()
    assert experiment.notes == ""


def test_it_shows_the_form_on_a_page_of_its_own(client, alice, experiment, job):
    client.force_login(alice)

    for url, title in ((notes_url(experiment), "Notes of mnist"), (tags_url(experiment), "Tags of mnist"),
                       (f"/jobs/{job.pk}/notes/", f"Notes of job {job.number} of mnist")):
        response = client.get(url)
        assert response.status_code == 200
        assert f"<title>{title} · aupsite</title>" in response.content.decode()


# -- tags ---------------------------------------------------------------------------------------


def test_it_adds_and_removes_tags(client, alice, experiment):
    client.force_login(alice)

    added = client.post(tags_url(experiment), {"add": "  Baseline  "})
    fragment = client.post(tags_url(experiment), {"add": "ResNet 50"}, **HX)
    removed = client.post(tags_url(experiment), {"remove": "baseline"}, **HX)

    assert added.status_code == 302 and added["Location"] == f"/experiments/{experiment.pk}/#tags"
    assert fragment.status_code == 200 and "Tagged resnet 50." in fragment.content.decode()
    html = removed.content.decode()
    assert removed.status_code == 200 and "Removed the tag baseline." in html
    assert '<a class="tag" href="/?tag=resnet%2050">resnet 50</a>' in html
    assert 'aria-label="Remove the tag resnet 50"' in html
    assert list(experiment.tags.values_list("name", flat=True)) == ["resnet 50"]


@pytest.mark.parametrize("data", [{"add": "no/slashes"}, {"add": "x" * 51}, {"add": ""}, {}, {"add": "a", "remove": "b"}])
def test_it_refuses_a_bad_tag_change_and_writes_nothing(client, alice, experiment, data):
    tag_experiment(experiment, "kept")
    client.force_login(alice)

    page = client.post(tags_url(experiment), data)
    fragment = client.post(tags_url(experiment), data, **HX)

    for response in (page, fragment):
        assert response.status_code == 400
        assert 'class="field-error"' in response.content.decode()
    assert list(experiment.tags.values_list("name", flat=True)) == ["kept"]
    assert list(Tag.objects.values_list("name", flat=True)) == ["kept"]


def test_it_says_the_tag_rule_when_a_name_breaks_it(client, alice, experiment):
    client.force_login(alice)

    html = client.post(tags_url(experiment), {"add": "a/b"}, **HX).content.decode()

    assert "&#x27;a/b&#x27; is not a tag. A tag is 1 to 50 characters: letters, digits" in html
    assert 'value="a/b"' in html and 'aria-invalid="true"' in html


def test_it_refuses_a_tag_past_the_limit(client, alice, experiment):
    tag_experiment(experiment, *[f"t{i:02d}" for i in range(notes.MAX_TAGS)])
    client.force_login(alice)

    response = client.post(tags_url(experiment), {"add": "one more"}, **HX)

    assert response.status_code == 400
    assert "carries 20 tags, the most it may" in response.content.decode()
    assert experiment.tags.count() == notes.MAX_TAGS
    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "the most an experiment carries" in page and 'id="tag-add"' not in page


def test_it_suggests_only_tags_of_experiments_the_person_may_see(client, alice, experiment):
    bob = make_user("bob")
    tag_experiment(make_experiment(alice, "hers"), "alice-word")
    tag_experiment(make_experiment(bob, "his"), "bobs-secret")
    tag_experiment(experiment, "on-this-one")
    client.force_login(alice)

    page = client.get(f"/experiments/{experiment.pk}/").content.decode()

    assert '<option value="alice-word"></option>' in page
    assert "on-this-one</a>" in page and '<option value="on-this-one">' not in page
    assert "bobs-secret" not in page


# -- the experiments list ----------------------------------------------------------------------


def test_it_shows_tag_chips_in_the_list_that_filter_it(client, alice):
    first, second = make_experiment(alice, "first"), make_experiment(alice, "second")
    tag_experiment(first, "baseline", "resnet")
    tag_experiment(second, "resnet")
    client.force_login(alice)

    page = client.get("/", {"status": "RUNNING"}).content.decode()
    filtered = client.get("/", {"tag": "Baseline"}).content.decode()

    assert '<a class="tag" href="?status=RUNNING&amp;tag=baseline">baseline</a>' in page
    assert '<a class="tag" href="?status=RUNNING&amp;tag=resnet">resnet</a>' in page
    assert ">first</a>" in filtered and ">second</a>" not in filtered
    assert '<input type="hidden" name="tag" value="baseline">' in filtered
    assert "Remove the tag filter" in filtered and "1 experiment match" in filtered


def test_it_searches_names_and_tags(client, alice):
    tag_experiment(make_experiment(alice, "alpha"), "convnet")
    make_experiment(alice, "conv sweep")
    make_experiment(alice, "other")
    client.force_login(alice)

    page = client.get("/", {"q": "conv"}).content.decode()

    assert ">alpha</a>" in page and ">conv sweep</a>" in page and ">other</a>" not in page


def test_it_never_reveals_a_tag_only_someone_elses_experiment_carries(client, alice):
    bob = make_user("bob")
    tag_experiment(make_experiment(bob, "bob's search"), "bobs-secret", "common")
    tag_experiment(make_experiment(alice, "alice's search"), "common")
    client.force_login(alice)

    everything = client.get("/").content.decode()
    by_secret = client.get("/", {"tag": "bobs-secret"})
    by_unknown = client.get("/", {"tag": "no-such-tag"})
    by_search = client.get("/", {"q": "bobs-secret"}).content.decode()
    common = client.get("/", {"tag": "common"}).content.decode()

    assert "bobs-secret" not in everything and "bob&#x27;s search" not in everything
    # A tag only bob's experiments carry answers exactly as a tag nobody uses.
    assert by_secret.status_code == by_unknown.status_code == 200

    def strip(response, tag):
        # The tag asked for, and the CSRF tokens (new on each page), set aside.
        html = response.content.decode().replace(tag, "TAG")
        return re.sub(r'"X-CSRFToken": "[^"]*"|name="csrfmiddlewaretoken" value="[^"]*"', "", html)

    assert strip(by_secret, "bobs-secret") == strip(by_unknown, "no-such-tag")
    assert "No experiment matches these filters." in by_secret.content.decode()
    assert "bob&#x27;s search" not in by_search
    assert "alice&#x27;s search" in common and "bob&#x27;s search" not in common


def test_it_ignores_a_malformed_tag_filter(client, alice):
    make_experiment(alice, "mine")
    client.force_login(alice)

    response = client.get("/", {"tag": "<script>"})

    assert response.status_code == 200 and ">mine</a>" in response.content.decode()
    assert "Remove the tag filter" not in response.content.decode()


@pytest.mark.parametrize("count", [2, 20])
def test_it_lists_tagged_experiments_in_the_same_queries_at_any_size(client, alice, django_assert_num_queries, count):
    for index in range(count):
        experiment = make_configured_experiment(alice, name=f"exp {index}")
        make_jobs(experiment, 2)
        tag_experiment(experiment, "common", f"only-{index}", f"group-{index % 3}")
    client.force_login(alice)
    # Queries: session, user, count, the page with its progress and best-score
    # subqueries, the signs of life of its running ones, the tags of its experiments.
    with django_assert_num_queries(6):
        html = client.get("/", {"tag": "common"}).content.decode()
    assert html.count('<a class="tag"') == 3 * min(count, 25)


def test_it_adds_two_queries_to_the_experiment_page_whatever_its_tags(client, alice, experiment):
    make_jobs(experiment, 3, steps=2)
    client.force_login(alice)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/experiments/{experiment.pk}/").status_code == 200
        return len(captured)

    Tag.objects.create(name="elsewhere")  # no experiment carries it: never suggested
    queries()  # an ended experiment's charts are cached from its first view on
    untagged = queries()
    tag_experiment(experiment, "one")
    tag_experiment(make_experiment(alice, "other"), "suggested")
    one = queries()
    tag_experiment(experiment, *[f"t{i}" for i in range(notes.MAX_TAGS - 2)])  # room for one more
    for index in range(30):
        tag_experiment(make_experiment(alice, f"other {index}"), f"s{index}")
    many = queries()
    # Its tags and the tags its owner may pick from: a query each, whatever their number
    # (the rest of the page is the same in all three).
    assert one == many == untagged
    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert page.count('<a class="tag"') == notes.MAX_TAGS - 1 and len(re.findall(r'<option value="s[0-9]+">', page)) == 30
