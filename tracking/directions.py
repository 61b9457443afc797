"""Which way is better for each labeled result of an experiment (issue 13, part 3).

The experiment page's form (aupsite/templates/tracking/_directions.html) posts here: per label
shown, "max" (higher is better), "min" (lower is better) or "" (automatic: the rule of
tracking/objectives.py). Only who may change the experiment (its owner, staff) writes;
a user it is shared with, who sees the form read-only, gets 403 (they know it exists);
anyone else 404. A bad value writes nothing and says which. The API's
PATCH /api/experiments/<eid>/labels/<order>/ is the same change, one label at a time.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from tracking.models import Direction, Experiment, ResultLabel

FIELD_PREFIX = "direction-"
# What a field may say: a Direction, or "" for the default rule.
VALUES = {"": None, **{value: value for value in Direction.values}}


def changeable_experiment(user, eid, lock=False):
    """The experiment `eid` if `user` may change it. PermissionDenied when they only see
    it, Http404 when they do not. One query when allowed, two otherwise."""
    experiments = Experiment.objects.changeable_by(user)
    if lock:
        experiments = experiments.select_for_update()
    experiment = experiments.filter(pk=eid).first()
    if experiment is not None:
        return experiment
    if Experiment.objects.visible_to(user).filter(pk=eid).exists():
        raise PermissionDenied("This experiment is shared with you to read: only its owner changes it.")
    raise Http404("No such experiment")


def set_direction(eid, label_order, direction):
    """Store `direction` ("max", "min" or None) for label `label_order` of experiment
    `eid`; False when it has no such label. One query."""
    return ResultLabel.objects.filter(experiment_id=eid, label_order=label_order).update(direction=direction) == 1


@require_POST
def directions(request, eid):
    """Save the directions of the posted labels, then back to the experiment page."""
    changes, errors = {}, []
    for name, value in request.POST.items():
        if not name.startswith(FIELD_PREFIX):
            continue
        order = name.removeprefix(FIELD_PREFIX)
        if not (order.isascii() and order.isdigit() and 0 < len(order) <= 9) or value not in VALUES:
            errors.append(f"{name}={value[:40]!r}")
        else:
            changes[int(order)] = VALUES[value]
    with transaction.atomic():
        experiment = changeable_experiment(request.user, eid, lock=True)
        if errors:
            messages.error(
                request,
                "Directions not saved: each must be higher is better (max), lower is better (min) or automatic; "
                f"got {', '.join(errors[:5])}.",
            )
            return redirect(experiment)
        known = set(
            ResultLabel.objects.filter(experiment=experiment, label_order__in=list(changes)).values_list(
                "label_order", flat=True
            )
        )
        unknown = sorted(set(changes) - known)
        if unknown:
            messages.error(request, f"Directions not saved: the experiment has no label {', '.join(map(str, unknown[:5]))}.")
            return redirect(experiment)
        for order, direction in changes.items():
            set_direction(experiment.pk, order, direction)
    if changes:
        messages.success(request, "Directions saved: the best jobs and the importance follow them.")
    return redirect(experiment)
