"""Notes and tags, the rules (tracking/notes.py): Markdown rendered without letting any
markup of the note's own through, tag names, limits, and all-or-nothing writes."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group

from tests.factories import make_experiment, make_job, make_share, make_user
from tracking import notes
from tracking.models import Experiment, Tag

# What must never come out of a note, whatever it holds.
XSS_NOTES = [
    "<script>alert('x')</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<a href='#' onclick=\"alert(1)\">click</a>",
    "<svg onload=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">styled</div>",
    "<iframe src=\"https://evil.example/\"></iframe>",
    "[link](javascript:alert(1))",
    "[link](JaVaScRiPt:alert(1))",
    "[link](&#106;avascript:alert(1))",
    "[link](java\tscript:alert(1))",
    "[link](vbscript:msgbox(1))",
    "[link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[link](data:image/png;base64,iVBORw0KGgo=)",
    "<https://ok.example/><javascript:alert(1)>",
    "![image](https://evil.example/pixel.png)",
    "<!-- <script>alert(1)</script> -->",
    "```html\n<script>alert(1)</script>\n```",
    "<details open ontoggle=alert(1)>x</details>",
    "[x](https://ok.example/ \"title\" onmouseover=alert(1))",
    "<form action=https://evil.example/><button>go</button></form>",
    "<p style='color:red'>red</p>",
]


class Markup(HTMLParser):
    """The elements and attributes of an HTML text, as a browser parses it (text that
    merely looks like markup, escaped, is text)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.elements, self.attributes = [], []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append(tag)
        self.attributes.extend((tag, name, value) for name, value in attrs)


@pytest.mark.parametrize("text", XSS_NOTES)
def test_it_never_lets_markup_of_the_note_through(text):
    markup = Markup(notes.render_markdown(text))

    assert set(markup.elements) <= notes.ALLOWED_TAGS
    assert not {"script", "img", "iframe", "svg", "form", "button", "details", "style"} & set(markup.elements)
    for tag, name, value in markup.attributes:
        assert (tag, name) in {("a", "href"), ("a", "title"), ("a", "rel"), ("ol", "start")}, (tag, name)
        if name == "href":
            assert re.match(r"(https?|mailto):|/", value), value
        if name == "rel":
            assert value == "noopener noreferrer nofollow"


def test_it_shows_raw_html_as_text():
    assert notes.render_markdown("<b onclick=x>bold</b>") == "<p>&lt;b onclick=x&gt;bold&lt;/b&gt;</p>\n"


def test_it_refuses_javascript_and_data_links_but_keeps_web_and_mail_links():
    html = notes.render_markdown("[a](https://a.example/) [b](mailto:b@example.org) [c](/jobs/3/) [d](javascript:x)")

    assert re.findall(r'href="([^"]*)"', html) == ["https://a.example/", "mailto:b@example.org", "/jobs/3/"]
    assert html.count('rel="noopener noreferrer nofollow"') == 3
    assert "[d](javascript:x)" in html  # left as the text it was


def test_it_renders_the_markdown_a_researcher_writes():
    text = "\n".join(
        [
            "# Findings",
            "",
            "The *learning rate* matters, **momentum** does not; `lr=0.01` is best. ~~Old idea~~",
            "",
            "- first",
            "- second",
            "",
            "3. third",
            "",
            "> a quote",
            "",
            "| lr | score |",
            "|---:|:-----:|",
            "| 0.01 | 0.93 |",
            "",
            "```",
            "python train.py --lr 0.01",
            "```",
        ]
    )
    html = notes.render_markdown(text)

    # Headings sit under the notes' own <h2>: "#" is an <h3>.
    assert "<h3>Findings</h3>" in html
    for fragment in ("<em>learning rate</em>", "<strong>momentum</strong>", "<code>lr=0.01</code>", "<s>Old idea</s>",
                     "<li>first</li>", '<ol start="3">', "<blockquote>", "<th>lr</th>", "<td>0.93</td>",
                     "<pre><code>python train.py --lr 0.01\n</code></pre>"):
        assert fragment in html, fragment
    # Table alignment would be a style attribute, which the page's policy refuses: dropped.
    assert "style" not in html


def test_it_renders_nothing_for_empty_notes():
    assert notes.render_markdown("") == ""
    assert notes.render_markdown("  \n ") == ""


def test_its_sanitiser_alone_stops_what_a_parser_might_let_through():
    html = notes.sanitise(
        '<p style="color:red" onclick="x()">a<script>alert(1)</script></p>'
        '<a href="javascript:alert(1)">j</a><a href="data:text/html,x">d</a><a href="https://ok.example/">ok</a>'
        '<img src="x" onerror="alert(1)"><h1>top</h1><iframe src="https://evil.example/"></iframe>'
    )

    assert html == (
        '<p>a</p><a rel="noopener noreferrer nofollow">j</a><a rel="noopener noreferrer nofollow">d</a>'
        '<a href="https://ok.example/" rel="noopener noreferrer nofollow">ok</a>top'
    )


def test_it_keeps_notes_up_to_the_limit_and_counts_a_line_break_once():
    assert notes.clean_notes("a\r\nb\rc") == "a\nb\nc"
    assert len(notes.clean_notes("x" * notes.MAX_NOTES_CHARS)) == notes.MAX_NOTES_CHARS
    assert notes.clean_notes("x\r\n" * (notes.MAX_NOTES_CHARS // 2)) == "x\n" * (notes.MAX_NOTES_CHARS // 2)
    with pytest.raises(notes.AnnotationError, match=r"at most 20,000 characters; these are 20,001"):
        notes.clean_notes("x" * (notes.MAX_NOTES_CHARS + 1))
    with pytest.raises(notes.AnnotationError, match="NUL"):
        notes.clean_notes("a\x00b")
    with pytest.raises(notes.AnnotationError, match="must be text"):
        notes.clean_notes(3)


@pytest.mark.parametrize(
    "given, name",
    [
        ("baseline", "baseline"),
        ("  ResNet-50  ", "resnet-50"),
        ("paper   2", "paper 2"),
        ("v1.2_final", "v1.2_final"),
        ("Über", "über"),
        ("x" * 50, "x" * 50),
    ],
)
def test_it_spells_tag_names_one_way(given, name):
    assert notes.tag_name(given) == name


@pytest.mark.parametrize("given", ["", "   ", "x" * 51, "<script>", "a/b", "a,b", "tab\there" + "!", "new\nline!", "#1", None, 5])
def test_it_refuses_a_tag_name_that_breaks_the_rule(given):
    with pytest.raises(notes.AnnotationError):
        notes.tag_name(given)


def test_it_takes_a_list_of_tags_once_each_and_at_most_the_limit():
    assert notes.tag_names(["B", "a", "b ", "A"]) == ["b", "a"]
    assert notes.tag_names([f"t{i}" for i in range(notes.MAX_TAGS)] + ["T0"]) == [f"t{i}" for i in range(notes.MAX_TAGS)]
    with pytest.raises(notes.AnnotationError, match="at most 20 tags"):
        notes.tag_names([f"t{i}" for i in range(notes.MAX_TAGS + 1)])
    with pytest.raises(notes.AnnotationError, match="list"):
        notes.tag_names("baseline")


@pytest.mark.django_db
def test_it_writes_notes_and_tags_all_or_nothing():
    experiment = make_experiment(make_user("alice"), "search")
    notes.set_experiment_annotations(experiment.pk, notes="first", tags=["a", "b"])

    with pytest.raises(notes.AnnotationError):
        notes.set_experiment_annotations(experiment.pk, notes="second", tags=["ok", "not ok!"])
    with pytest.raises(notes.AnnotationError):
        notes.set_experiment_annotations(experiment.pk, notes="x" * (notes.MAX_NOTES_CHARS + 1), tags=["c"])

    experiment.refresh_from_db()
    assert experiment.notes == "first"
    assert [tag.name for tag in experiment.tags.all()] == ["a", "b"]


@pytest.mark.django_db
def test_it_writes_only_the_notes_column(django_assert_num_queries):
    experiment = make_experiment(make_user("alice"), "search")
    job = make_job(experiment)
    # An executor ends the experiment while the page still holds the old row.
    Experiment.objects.filter(pk=experiment.pk).update(status="FINISHED")

    with django_assert_num_queries(1):
        notes.set_experiment_notes(experiment.pk, "done")
    notes.set_job_notes(job.pk, "a good one")

    experiment.refresh_from_db()
    job.refresh_from_db()
    assert (experiment.status, experiment.notes, job.notes) == ("FINISHED", "done", "a good one")


@pytest.mark.django_db
def test_it_adds_and_removes_tags_sharing_them_by_name():
    alice = make_user("alice")
    first, second = make_experiment(alice, "first"), make_experiment(alice, "second")

    assert notes.add_experiment_tag(first.pk, " Baseline ") == "baseline"
    assert notes.add_experiment_tag(second.pk, "BASELINE") == "baseline"
    assert notes.add_experiment_tag(first.pk, "baseline") == "baseline"  # once

    assert Tag.objects.count() == 1
    assert list(first.tags.values_list("name", flat=True)) == ["baseline"]
    assert notes.remove_experiment_tag(first.pk, "Baseline") is True
    assert notes.remove_experiment_tag(first.pk, "baseline") is False
    assert notes.remove_experiment_tag(first.pk, "not a tag!") is False
    assert list(second.tags.values_list("name", flat=True)) == ["baseline"]


@pytest.mark.django_db
def test_it_refuses_a_tag_past_the_limit():
    experiment = make_experiment(make_user("alice"), "search")
    notes.set_experiment_tags(experiment.pk, [f"t{i}" for i in range(notes.MAX_TAGS)])

    with pytest.raises(notes.AnnotationError, match="carries 20 tags"):
        notes.add_experiment_tag(experiment.pk, "one more")
    assert notes.add_experiment_tag(experiment.pk, "t3") == "t3"  # one it has: nothing to add
    assert experiment.tags.count() == notes.MAX_TAGS
    assert not Tag.objects.filter(name="one more").exists()


@pytest.mark.django_db
def test_it_shows_each_person_only_the_tags_of_experiments_they_may_see():
    alice, bob, root = make_user("alice"), make_user("bob"), make_user("root", is_staff=True)
    notes.set_experiment_tags(make_experiment(alice, "hers").pk, ["shared-word", "alices"])
    notes.set_experiment_tags(make_experiment(bob, "his").pk, ["shared-word", "bobs-secret"])

    def visible(user):
        return sorted(Tag.objects.visible_to(user).values_list("name", flat=True))

    assert visible(alice) == ["alices", "shared-word"]
    assert visible(bob) == ["bobs-secret", "shared-word"]
    assert visible(root) == ["alices", "bobs-secret", "shared-word"]
    # A share, to the user or to one of their groups, shows that experiment's tags.
    carol, dave = make_user("carol"), make_user("dave")
    group = Group.objects.create(name="team")
    dave.groups.add(group)
    make_share(Experiment.objects.get(name="his"), user=carol)
    make_share(Experiment.objects.get(name="hers"), group=group)
    assert visible(carol) == ["bobs-secret", "shared-word"]
    assert visible(dave) == ["alices", "shared-word"]


@pytest.mark.django_db(transaction=True)
def test_the_demo_gives_its_searches_notes_and_tags():
    from tracking.demo import DEMO_TAGS, DemoExecutor

    executor = DemoExecutor(make_user("alice").username, jobs=1, steps=1, step_delay=0)
    eid = executor.start()
    executor.connector.close()

    experiment = Experiment.objects.get(pk=eid)
    assert sorted(experiment.tags.values_list("name", flat=True)) == sorted(DEMO_TAGS)
    assert "<strong>simulated</strong>" in notes.render_markdown(experiment.notes)
