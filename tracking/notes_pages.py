"""The pages' side of notes and tags (rules and writes: tracking/notes.py).

The experiment page shows its tags and notes, the job page its notes, each as a
fragment (aupsite/templates/tracking/_tags.html, _notes.html) that its page includes and that
these views render alone for htmx. Only who may change the experiment (its owner,
staff: Experiment.is_changeable_by) edits them; to someone it is shared with, a change
is refused with 403 (they see the experiment, so a 404 would only puzzle them), and to
anyone else the experiment does not exist (404), as everywhere.

Each change is a POST behind CSRF, to a URL of its own that also answers GET with a
small page holding the same form (the way without JavaScript, and where a refused
change is shown with its reason). With htmx, the form's answer is the fragment again:
saved, or with the reason it was refused (status 400, nothing written; notes.js swaps
it in all the same). Without htmx, a saved change redirects to the page.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from tracking import notes
from tracking.models import Experiment, Job, Tag


def _htmx(request):
    return request.headers.get("HX-Request") == "true"


def _refuse_unless_changeable(request, experiment):
    if not experiment.is_changeable_by(request.user):
        raise PermissionDenied("This experiment is shared with you to read, not to change.")


def _changeable_experiment(request, eid):
    experiment = Experiment.objects.visible_to(request.user).select_related("owner").filter(pk=eid).first()
    if experiment is None:
        raise Http404("No such experiment")
    _refuse_unless_changeable(request, experiment)
    return experiment


def _changeable_job(request, jid):
    job = Job.objects.visible_to(request.user).select_related("experiment__owner").filter(pk=jid).first()
    if job is None:
        raise Http404("No such job")
    _refuse_unless_changeable(request, job.experiment)
    return job


# -- what the fragments show -------------------------------------------------------------


def notes_panel(saved, url, can_edit, text=None, error=None, preview=False, saved_now=False, open_form=False):
    """The notes fragment's context: the `saved` notes (shown rendered), and for those
    who `can_edit`, the form posting to `url` with `text` (the saved notes, or what was
    sent), the `error` that refused it, a `preview` of it, and whether it was just saved."""
    return {
        "saved": saved,
        "url": url,
        "can_edit": can_edit,
        "text": saved if text is None else text,
        "error": error,
        "preview": preview,
        "saved_now": saved_now,
        "open": bool(open_form or error or preview),
        "max": notes.MAX_NOTES_CHARS,
    }


def tags_panel(experiment, user, can_edit, error=None, value="", message=None):
    """The tags fragment's context: the experiment's tags, by name, and for those who
    `can_edit`, the names they may pick from (the tags of the experiments they can see:
    never a tag only others' experiments carry), the `value` of the field and the
    `error` that refused it. One query; two for those who can edit."""
    tags = [tag.name for tag in experiment.tags.all()]
    suggestions = []
    if can_edit:
        suggestions = list(
            Tag.objects.visible_to(user)
            .exclude(name__in=tags)
            .order_by("name")
            .values_list("name", flat=True)[: notes.MAX_TAG_SUGGESTIONS]
        )
    return {
        "tags": tags,
        "url": reverse("tracking:experiment-tags", kwargs={"eid": experiment.pk}),
        "can_edit": can_edit,
        "suggestions": suggestions,
        "error": error,
        "value": value,
        "message": message,
        "full": len(tags) >= notes.MAX_TAGS,
        "max": notes.MAX_TAGS,
        "max_chars": notes.MAX_TAG_CHARS,
        "rule": notes.TAG_RULE,
    }


def experiment_context(experiment, user):
    """What the experiment page needs to show its tags and notes. One query (its tags),
    two for those who may change it (the tags they may pick from)."""
    can_edit = experiment.is_changeable_by(user)
    url = reverse("tracking:experiment-notes", kwargs={"eid": experiment.pk})
    return {
        "notes_panel": notes_panel(experiment.notes, url, can_edit),
        "tags_panel": tags_panel(experiment, user, can_edit),
    }


def job_context(job, user):
    """What the job page needs to show its notes: no query (the job row holds them)."""
    url = reverse("tracking:job-notes", kwargs={"jid": job.pk})
    return {"notes_panel": notes_panel(job.notes, url, job.experiment.is_changeable_by(user))}


# -- the changes ---------------------------------------------------------------------------


def _answer(request, fragment, page, context, status=200):
    """The fragment alone for htmx, else the page with the form (its own URL's page)."""
    return render(request, fragment if _htmx(request) else "tracking/annotations.html", {**context, "page": page}, status=status)


def _notes_view(request, owner, experiment, url, write, back, title):
    """The notes of `owner` (an experiment, or a job of `experiment`): GET shows the
    form on a page of its own; POST saves (write), or previews with ``preview``."""
    page = {"title": title, "experiment": experiment, "job": owner if owner is not experiment else None,
            "back": back, "fragment": "notes"}
    if request.method == "GET":
        return _answer(request, "tracking/_notes.html", page, {"notes_panel": notes_panel(owner.notes, url, True, open_form=True)})
    sent = request.POST.get("notes")
    if sent is None:
        panel = notes_panel(owner.notes, url, True, error="The form sent no notes: nothing was saved.")
        return _answer(request, "tracking/_notes.html", page, {"notes_panel": panel}, status=400)
    try:
        text = notes.clean_notes(sent)
    except notes.AnnotationError as exc:
        panel = notes_panel(owner.notes, url, True, text=sent, error=str(exc))
        return _answer(request, "tracking/_notes.html", page, {"notes_panel": panel}, status=400)
    if request.POST.get("preview"):
        panel = notes_panel(owner.notes, url, True, text=text, preview=True)
        return _answer(request, "tracking/_notes.html", page, {"notes_panel": panel})
    write(owner.pk, text)
    if _htmx(request):
        panel = notes_panel(text, url, True, saved_now=True)
        return render(request, "tracking/_notes.html", {"notes_panel": panel})
    messages.success(request, "Notes saved.")
    return redirect(back + "#notes")


@require_http_methods(["GET", "POST"])
def experiment_notes(request, eid):
    """An experiment's notes: the form (GET), a save or a preview (POST)."""
    experiment = _changeable_experiment(request, eid)
    url = reverse("tracking:experiment-notes", kwargs={"eid": experiment.pk})
    return _notes_view(
        request, experiment, experiment, url, notes.set_experiment_notes, experiment.get_absolute_url(),
        f"Notes of {experiment}",
    )


@require_http_methods(["GET", "POST"])
def job_notes(request, jid):
    """A job's notes: the form (GET), a save or a preview (POST)."""
    job = _changeable_job(request, jid)
    url = reverse("tracking:job-notes", kwargs={"jid": job.pk})
    return _notes_view(
        request, job, job.experiment, url, notes.set_job_notes, job.get_absolute_url(),
        f"Notes of job {job.number} of {job.experiment}",
    )


@require_http_methods(["GET", "POST"])
def experiment_tags(request, eid):
    """An experiment's tags: the form (GET); POST ``add`` adds one tag, ``remove``
    removes one."""
    experiment = _changeable_experiment(request, eid)
    page = {"title": f"Tags of {experiment}", "experiment": experiment, "job": None,
            "back": experiment.get_absolute_url(), "fragment": "tags"}
    if request.method == "GET":
        return _answer(request, "tracking/_tags.html", page, {"tags_panel": tags_panel(experiment, request.user, True)})
    add, remove = request.POST.get("add"), request.POST.get("remove")
    status, error, value, message = 200, None, "", None
    if (add is None) == (remove is None):
        status, error = 400, "Give one tag to add, or one to remove."
    elif add is not None:
        try:
            name = notes.add_experiment_tag(experiment.pk, add)
        except notes.AnnotationError as exc:
            status, error, value = 400, str(exc), add
        else:
            message = f"Tagged {name}."
    else:
        removed = notes.remove_experiment_tag(experiment.pk, remove)
        shown = " ".join(remove.split()).lower()
        message = f"Removed the tag {shown}." if removed else f"It is not tagged {shown}."
    if status == 200 and not _htmx(request):
        messages.success(request, message)
        return redirect(experiment.get_absolute_url() + "#tags")
    panel = tags_panel(experiment, request.user, True, error=error, value=value, message=message)
    return _answer(request, "tracking/_tags.html", page, {"tags_panel": panel}, status=status)
