"""An experiment's controls: request a stop, restart, delete, and share it read-only;
for staff, reset it as aup_reset does when its executor is gone.

Only its owner and staff may use them (ExperimentQuerySet.changeable_by); to anyone
else, including users it is shared with, the experiment does not exist here (404).
Reset is staff's alone: whoever may see the experiment but is not staff gets 403.
Each change is a POST behind CSRF, after a GET confirmation page. Status changes go
through DjangoConnector, the one writer of experiment records, inside a transaction
that locks the experiment row, so the status checked is still the status changed
(an executor ending the experiment meanwhile waits for us, or we see its end).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods, require_POST

from tracking import recovery
from tracking.connector import DjangoConnector
from tracking.models import (
    Experiment,
    ExperimentShare,
    ExperimentStatus,
    IntermediateResult,
    Job,
)


def _changeable(request, eid, lock=False):
    experiments = Experiment.objects.changeable_by(request.user)
    if lock:
        experiments = experiments.select_for_update()
    return get_object_or_404(experiments, pk=eid)


def _confirm(request, experiment, refusal, page):
    # A refused POST answers 409 Conflict: the request was valid, the state is not.
    status = 409 if request.method == "POST" and refusal else 200
    context = {**page, "experiment": experiment, "refusal": refusal, "experiment_url": experiment.get_absolute_url()}
    return render(request, "tracking/confirm.html", context, status=status)


def _stop_refusal(experiment):
    if experiment.status == ExperimentStatus.RUNNING:
        return None
    if experiment.status in (ExperimentStatus.REQUEST_STOP, ExperimentStatus.STOPPING):
        return "A stop has already been requested; its executor ends the experiment after its running jobs."
    return (
        f"This experiment is {experiment.status}: only a RUNNING experiment can be asked to stop "
        "(its executor watches for the request)."
    )


def _control(request, eid, page_of, refusal_of, act, done):
    """The shape of every control: GET shows the confirmation page; POST, under a lock on
    the experiment row, checks `refusal_of` (a message, or None) and then `act`s, and
    answers with `done` (a redirect); a refused POST shows the page again with 409.

    What the page says is `page_of(experiment)`: its `title`, `heading`, `consequence`
    (what the change does), the label of its `button`, and `destroys` when the change
    deletes recorded results (a red button; tracking/confirm.html)."""
    if request.method == "GET":
        experiment = _changeable(request, eid)
    else:
        with transaction.atomic():
            experiment = _changeable(request, eid, lock=True)
            refusal = refusal_of(experiment)
            if refusal is None:
                act(experiment)
        if refusal is None:
            return done(experiment)
    return _confirm(request, experiment, refusal_of(experiment), page_of(experiment))


@require_http_methods(["GET", "POST"])
def stop(request, eid):
    """Ask the executor to stop: status REQUEST_STOP, which Auptimizer's executor polls
    (maybe_get_experiment_status) before ending the experiment as STOPPED."""

    def done(experiment):
        messages.success(request, f"Stop requested for {experiment}; its executor stops after its running jobs.")
        return redirect(experiment)

    def page_of(experiment):
        return {
            "title": f"Stop {experiment}",
            "heading": f"Request a stop of {experiment}",
            "consequence": (
                "Its executor is asked to stop (status REQUEST_STOP): it stops starting new jobs and ends the "
                "experiment as STOPPED once its running jobs are over. Results recorded so far are kept."
            ),
            "button": "Request the stop",
        }

    return _control(
        request, eid, page_of, _stop_refusal,
        lambda experiment: DjangoConnector().change_experiment_status(experiment.pk, ExperimentStatus.REQUEST_STOP),
        done,
    )


def _busy_refusal(action):
    def refusal(experiment):
        if experiment.busy_reason() is not None:  # the page's rule too (Experiment.busy_reason)
            return (
                f"This experiment is {experiment.status}: its executor may still be writing to it, so it cannot be "
                f"{action}. Request a stop and wait for it to end, or, if its executor is gone, ask an admin to run "
                "aup_reset."
            )
        return None

    return refusal


@require_http_methods(["GET", "POST"])
def restart(request, eid):
    """Restart the record as Auptimizer does when an executor resumes an experiment
    (DjangoConnector.start_experiment_by_eid): its jobs and their results are deleted,
    it is RUNNING again with a new start time. Refused while an executor may be at work."""

    def done(experiment):
        messages.success(
            request,
            f"{experiment} restarted. Nothing runs until an executor works on it again: {recovery.executor_needed(experiment.pk)}",
        )
        return redirect(experiment)

    def page_of(experiment):
        jobs = Job.objects.filter(experiment=experiment).count()
        return {
            "title": f"Restart {experiment}",
            "heading": f"Restart {experiment}",
            "consequence": (
                f"Restarting deletes its {jobs} job{pluralize(jobs)} with their attempts and results, and marks the "
                "experiment RUNNING again with a new start time, as Auptimizer does when an executor resumes it. "
                "It starts no executor: aupsite records experiments, it does not run them. Until an executor works "
                "on it again its page says it is waiting for one. "
                f"{recovery.executor_needed(experiment.pk)}"
            ),
            "button": "Delete its jobs and restart",
            "destroys": True,
        }

    return _control(
        request, eid, page_of, _busy_refusal("restarted"),
        lambda experiment: DjangoConnector().start_experiment_by_eid(experiment.pk),
        done,
    )


@require_http_methods(["GET", "POST"])
def delete(request, eid):
    """Delete the experiment with everything recorded for it. Refused while an
    executor may be at work (its next write would fail)."""

    def done(experiment):
        messages.success(request, f"{experiment} deleted.")
        return redirect("tracking:experiment-list")

    def page_of(experiment):
        # Two counts, each answered by an index (jobs by experiment; steps by job).
        jobs = Job.objects.filter(experiment=experiment).count()
        steps = IntermediateResult.objects.filter(job__experiment=experiment).count()
        return {
            "title": f"Delete {experiment}",
            "heading": f"Delete {experiment}",
            "consequence": (
                f"This deletes the experiment for good, with its {jobs} job{pluralize(jobs)}, their attempts, "
                f"{steps} intermediate result{pluralize(steps)}, the labeled results and its shares. "
                "It cannot be undone."
            ),
            "button": "Delete the experiment",
            "destroys": True,
        }

    return _control(
        request, eid, page_of, _busy_refusal("deleted"),
        lambda experiment: DjangoConnector().delete_experiment(experiment.pk),
        done,
    )


@require_http_methods(["GET", "POST"])
def reset(request, eid):
    """Staff only: repair what a gone executor left of this experiment, exactly as
    ``manage.py aup_reset --experiment EID`` does (recovery.reset with its id): its open
    attempts end, its running jobs fail, an active experiment ends (STOPPED if a stop was
    requested, FAILED otherwise), the resources they held are freed, and so is any busy
    resource whose holder has ended. The confirmation page shows a dry run of it."""
    experiment = get_object_or_404(Experiment.objects.visible_to(request.user), pk=eid)
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may reset an experiment.")
    if request.method == "POST":
        report = recovery.reset(eids=[experiment.pk])
        if report.changed:
            messages.success(request, "Reset: " + "; ".join(report.lines()))
            return redirect(experiment)
        refusal = "Nothing to repair: it has no open attempt, no running job, and it has ended."
    else:
        report = recovery.reset(eids=[experiment.pk], dry_run=True)
        refusal = None if report.changed else "Nothing to repair: it has no open attempt, no running job, and it has ended."
    experiment.refresh_from_db()
    page = {
        "title": f"Reset {experiment}",
        "heading": f"Reset {experiment}",
        "consequence": (
            "Do this only when its executor is gone: a live executor's jobs would be marked FAILED under it. "
            "This does what aup_reset --experiment " + str(experiment.pk) + " does; now it would change: "
            + "; ".join(line for line in report.lines() if line != "dry run: nothing was written") + "."
        ),
        "button": "Reset the experiment",
        "destroys": True,
    }
    return _confirm(request, experiment, refusal, page)


class ShareForm(forms.Form):
    username = forms.CharField(label="User name", max_length=150, required=False)
    group = forms.CharField(label="or group name", max_length=150, required=False)

    def __init__(self, *args, experiment, **kwargs):
        super().__init__(*args, **kwargs)
        self.experiment = experiment

    def clean(self):
        # It says when a user or group name does not exist: deliberately. Only who may
        # change the experiment (its owner, staff) reaches this form (_changeable: 404
        # for anyone else); they are signed-in researchers of this site, to whom names
        # are no secret (they see owners in the experiments list), and a typo must not
        # become a share that silently goes nowhere. GitHub's and GitLab's "add member"
        # forms tell the same. Nothing else about that user or group is shown.
        data = super().clean()
        username, group_name = data.get("username", "").strip(), data.get("group", "").strip()
        if bool(username) == bool(group_name):
            raise forms.ValidationError("Give a user name or a group name (one of the two).")
        shares = ExperimentShare.objects.filter(experiment=self.experiment)
        if username:
            user = get_user_model()._default_manager.filter(username=username).first()
            if user is None:
                raise forms.ValidationError(f"There is no user named {username!r}.")
            if user.pk == self.experiment.owner_id:
                raise forms.ValidationError(f"{username} owns this experiment already.")
            if shares.filter(user=user).exists():
                raise forms.ValidationError(f"The experiment is already shared with {username}.")
            data["share"] = ExperimentShare(experiment=self.experiment, user=user)
        else:
            group = Group.objects.filter(name=group_name).first()
            if group is None:
                raise forms.ValidationError(f"There is no group named {group_name!r}.")
            if shares.filter(group=group).exists():
                raise forms.ValidationError(f"The experiment is already shared with the group {group_name}.")
            data["share"] = ExperimentShare(experiment=self.experiment, group=group)
        return data


@require_http_methods(["GET", "POST"])
def share(request, eid):
    """The experiment's shares, and a form to add one: read-only access for a user or
    every member of a group."""
    experiment = _changeable(request, eid)
    form = ShareForm(request.POST if request.method == "POST" else None, experiment=experiment)
    if request.method == "POST" and form.is_valid():
        new_share = form.cleaned_data["share"]
        try:
            with transaction.atomic():
                new_share.save()
        except IntegrityError:
            # The same share added at the same moment from another tab.
            form.add_error(None, "The experiment is already shared with them.")
        else:
            messages.success(request, f"{experiment} is now shared read-only with {new_share.user or new_share.group}.")
            return redirect("tracking:experiment-share", eid=experiment.pk)
    shares = ExperimentShare.objects.filter(experiment=experiment).select_related("user", "group")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "tracking/share.html",
        {"experiment": experiment, "form": form, "shares": shares, "experiment_url": experiment.get_absolute_url()},
        status=status,
    )


@require_POST
def unshare(request, eid, share_id):
    experiment = _changeable(request, eid)
    removed = get_object_or_404(ExperimentShare.objects.select_related("user", "group"), pk=share_id, experiment=experiment)
    removed.delete()
    messages.success(request, f"{experiment} is no longer shared with {removed.user or removed.group}.")
    return redirect("tracking:experiment-share", eid=experiment.pk)

