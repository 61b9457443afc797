"""Notes and tags: the rules, the rendering and the writes, in one place for the pages,
the API and the admin.

Notes are the researchers' own words on an experiment or a job, in Markdown. They are
rendered on the server in two steps, each enough on its own to keep markup out:

1. markdown-it-py parses CommonMark with raw HTML turned off (``html=False``): a
   ``<script>`` or ``<img onerror=...>`` typed into a note comes out as text, escaped.
   Its link check already refuses ``javascript:``, ``vbscript:``, ``file:`` and
   ``data:`` URLs (they stay text, not links).
2. nh3 (the Python binding of ammonia, a maintained Rust HTML sanitiser) then keeps only
   an allow-list of tags and attributes and the http, https and mailto schemes (and
   links relative to this site), drops every ``style`` and event attribute, and sets
   ``rel="noopener noreferrer nofollow"`` on every link.

So nothing a note holds runs under the page's Content-Security-Policy, nor asks it for
an exception: no inline style (table alignment is dropped rather than written as a
``style`` attribute), no image (the policy loads none from elsewhere, and a remote image
would tell its server who read the note), no script.

Tags file experiments under short words. Names follow one rule (tag_name); tags are
shared by name across the database, but a person only ever sees the tags of the
experiments visible to them (TagQuerySet.visible_to).
"""

import re

import nh3
from django.db import IntegrityError, transaction
from markdown_it import MarkdownIt

from tracking.models import Experiment, Job, Tag

# The longest note, in characters (line breaks counted as one, as a browser's
# maxlength counts them): about ten pages of text, far more than a note needs, and small
# enough that a page with one renders in a few milliseconds.
MAX_NOTES_CHARS = 20_000
# The most tags one experiment carries: chips in a list row stay readable.
MAX_TAGS = 20
# A tag name's length, as the column holds it (Tag.name).
MAX_TAG_CHARS = Tag._meta.get_field("name").max_length
# The most tag names offered as suggestions beside the "add a tag" field.
MAX_TAG_SUGGESTIONS = 200

# Letters and digits of any script, "-", "_" and "."; single spaces between words.
_TAG_NAME = re.compile(r"[\w.\-]+(?: [\w.\-]+)*")
TAG_RULE = (
    f"A tag is 1 to {MAX_TAG_CHARS} characters: letters, digits, '-', '_', '.' and single spaces "
    "between words (kept in lower case)"
)


class AnnotationError(ValueError):
    """Notes or tags refused by the rules; the message says why, for a person."""


# -- notes -------------------------------------------------------------------------------


def clean_notes(text):
    """`text` as notes are stored: line breaks as "\\n", at most MAX_NOTES_CHARS
    characters. AnnotationError for anything else (not text, too long, a NUL)."""
    if not isinstance(text, str):
        raise AnnotationError("Notes must be text.")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        raise AnnotationError("Notes cannot hold a NUL character.")
    if len(text) > MAX_NOTES_CHARS:
        raise AnnotationError(
            f"Notes are at most {MAX_NOTES_CHARS:,} characters; these are {len(text):,}. Nothing was saved."
        )
    return text


# CommonMark with tables and ~~strikethrough~~; raw HTML off, no images (see above).
# maxNesting bounds how deep blockquotes and lists nest, so no note is slow to render.
_PARSER = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "maxNesting": 20})
    .enable(["table", "strikethrough"])
    .disable("image")
)
# A note sits under its section's <h2>: its "#" is an <h3>, and so on down, so that the
# page's headings keep their order.
HEADING_SHIFT = 2
ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"


def render_markdown(text):
    """The HTML of the Markdown `text`, sanitised: safe to put in a page as it is.
    "" for empty text."""
    if not text or not text.strip():
        return ""
    env = {}
    tokens = _PARSER.parse(text, env)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + HEADING_SHIFT, 6)}"
    return sanitise(_PARSER.renderer.render(tokens, _PARSER.options, env))


def sanitise(html):
    """`html` with only ALLOWED_TAGS, ALLOWED_ATTRIBUTES and links of ALLOWED_SCHEMES (or
    relative to this site) left, each link with rel=LINK_REL: the second of the two
    steps, which would stop markup even if the parser let some through."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def set_experiment_notes(eid, text):
    """Store `text` (clean_notes) as experiment `eid`'s notes. One UPDATE of that
    column only: an executor writing the experiment's status meanwhile is not undone."""
    Experiment.objects.filter(pk=eid).update(notes=clean_notes(text))


def set_job_notes(jid, text):
    """Store `text` (clean_notes) as job `jid`'s notes. One UPDATE of that column only."""
    Job.objects.filter(pk=jid).update(notes=clean_notes(text))


# -- tags --------------------------------------------------------------------------------


def tag_name(text):
    """`text` as a tag name: trimmed, inner runs of spaces made one, lower case, and
    checked against TAG_RULE. AnnotationError when it breaks the rule."""
    if not isinstance(text, str):
        raise AnnotationError("A tag must be text.")
    name = " ".join(text.split()).lower()
    if not name:
        raise AnnotationError("A tag cannot be empty.")
    if len(name) > MAX_TAG_CHARS or not _TAG_NAME.fullmatch(name):
        shown = name if len(name) <= MAX_TAG_CHARS else name[:MAX_TAG_CHARS] + "…"
        raise AnnotationError(f"{shown!r} is not a tag. {TAG_RULE}.")
    return name


def tag_names(texts):
    """The tag names of `texts`, in their order, duplicates (after tag_name) dropped; at
    most MAX_TAGS. AnnotationError naming the first name that breaks the rule."""
    if not isinstance(texts, (list, tuple)):
        raise AnnotationError("Tags must be a list of names.")
    names = list(dict.fromkeys(tag_name(text) for text in texts))
    if len(names) > MAX_TAGS:
        raise AnnotationError(f"An experiment carries at most {MAX_TAGS} tags; {len(names)} were given.")
    return names


def _tags_named(names):
    """The Tag rows of `names`, created where missing. Two queries (one INSERT ... ON
    CONFLICT DO NOTHING, one SELECT): a tag created by someone else at the same moment is
    simply found."""
    if not names:
        return []
    Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    return list(Tag.objects.filter(name__in=names))


def _locked(eid):
    # Concurrent tag changes of one experiment queue on its row, so that MAX_TAGS holds
    # (a no-op on SQLite, whose writes are serialised anyway).
    return Experiment.objects.select_for_update().filter(pk=eid).values_list("pk", flat=True).first()


def set_experiment_tags(eid, names):
    """Make `names` (already tag_names) experiment `eid`'s whole set of tags."""
    with transaction.atomic():
        _locked(eid)
        Experiment.objects.get(pk=eid).tags.set(_tags_named(names))


def add_experiment_tag(eid, text):
    """Add the tag `text` (tag_name) to experiment `eid`; return its name. Nothing
    changes when the experiment has it already. AnnotationError when the name breaks
    the rule or the experiment carries MAX_TAGS tags already."""
    name = tag_name(text)
    with transaction.atomic():
        _locked(eid)
        experiment = Experiment.objects.get(pk=eid)
        current = set(experiment.tags.values_list("name", flat=True))
        if name in current:
            return name
        if len(current) >= MAX_TAGS:
            raise AnnotationError(f"This experiment carries {MAX_TAGS} tags, the most it may: remove one first.")
        try:
            with transaction.atomic():
                experiment.tags.add(*_tags_named([name]))
        except IntegrityError:  # pragma: no cover - the same tag added at the same moment
            pass
    return name


def remove_experiment_tag(eid, text):
    """Remove the tag `text` from experiment `eid`; False when it does not carry it.
    The tag itself stays (other experiments may carry it); admins delete unused ones."""
    try:
        name = tag_name(text)
    except AnnotationError:
        return False
    through = Experiment.tags.through
    deleted, _ = through.objects.filter(experiment_id=eid, tag__name=name).delete()
    return deleted > 0


def set_experiment_annotations(eid, notes=None, tags=None):
    """Set experiment `eid`'s notes and/or its whole set of tags, all or nothing: both
    are checked before anything is written, and written in one transaction. None leaves
    that part as it is. AnnotationError (nothing written) when either breaks the rules."""
    notes = None if notes is None else clean_notes(notes)
    names = None if tags is None else tag_names(tags)
    with transaction.atomic():
        if notes is not None:
            Experiment.objects.filter(pk=eid).update(notes=notes)
        if names is not None:
            set_experiment_tags(eid, names)
