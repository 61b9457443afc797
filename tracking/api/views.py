"""The API's views: a function per operation, and per URL a view that hands each request
to the operation for its method (route). Each operation's docstring is its summary (first
line) and description (the rest) in the schema; its decorator says the rest (serializers,
parameters, the errors it can give) for its section's tag.

Writes call tracking.connector.DjangoConnector, one instance per request (construction
costs nothing), so every write means exactly what the connector's method means: same
checks, same atomicity, same compare-and-set on resources. The connector's errors become
statuses in tracking.api.errors. Before any call the view checks that the caller may
touch the object: every lookup starts from Experiment.objects.visible_to(user), so a
researcher reaches only their own experiments (staff reach all), and an object they may
not reach is answered exactly as one that does not exist.
"""

import functools
import json
import re

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from tracking import brush as brushes
from tracking import compare, directions, exports, notes, objectives, parcoords
from tracking import views as dashboard  # the importance's cache, shared with the page
from tracking.api import prepared, reads
from tracking.api import serializers as s
from tracking.api.idempotency import idempotent
from tracking.api.negotiation import OwnFormat
from tracking.api.permissions import SignedInWithPassword
from tracking.api.schema import CONNECTOR_ID, section
from tracking.connector import DjangoConnector, unknown_user
from tracking.interface import InvalidInputError, NotFoundError, check_results_query
from tracking.models import ApiToken, Experiment, Job, Resource, ResourceStatus, ResultLabel

CONNECTOR_HEADER = "Aup-Connector-Id"
CONNECTOR_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def endpoint(methods, permissions=None):
    """A DRF function view that DRF authenticates (token or session), not Django's
    LoginRequiredMiddleware, whose redirect to the login page means nothing to a program.
    Unsafe methods honour an Idempotency-Key."""

    def decorate(function):
        function = idempotent(function)
        if permissions is not None:
            function.permission_classes = permissions  # read by api_view
        return login_not_required(api_view(methods)(function))

    return decorate


def route(name, permissions=None, **operations):
    """The view of one URL: it calls the operation given for the request's method (GET=...,
    POST=...) with the request and the URL's arguments, and is documented as each operation is.

    Another method gets DRF's 405, with the URL's methods in its Allow header. Authentication,
    CSRF, `permissions` and the Idempotency-Key are the endpoint's (see endpoint), before any
    operation runs. `name` is the view's name, which DRF gives in an OPTIONS answer.
    """

    def dispatch(request, *args, **kwargs):
        # No docstring: DRF would give it in an OPTIONS answer.
        return operations[request.method](request, *args, **kwargs)

    dispatch.__name__ = dispatch.__qualname__ = name
    view = endpoint(list(operations), permissions)(dispatch)
    for method, operation in operations.items():
        view = operation.extend_schema(methods=[method])(view)
    return view


def valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def no_content():
    return Response(status=status.HTTP_204_NO_CONTENT)


def connector_for(request):
    """A DjangoConnector whose resource holder is the calling connector instance.

    free_all_resources frees what its holder took: over HTTP the holder is the client's
    connector instance (Aup-Connector-Id), scoped by user so no one can free another
    user's holds by sending their id. Without the header the token (or session) holds.
    """
    connector_id = request.headers.get(CONNECTOR_HEADER)
    if connector_id is not None and not CONNECTOR_ID_PATTERN.match(connector_id):
        raise ValidationError({CONNECTOR_HEADER: ["32 lowercase hex digits (a uuid4's hex)."]})
    if connector_id is None:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        connector_id = f"t{token.pk}" if token else "session"
    return DjangoConnector(holder=holder_prefix(request) + connector_id)


# -- who may touch what -----------------------------------------------------------------------


def visible_experiments(request):
    return Experiment.objects.visible_to(request.user)


def visible_jobs(request):
    return Job.objects.visible_to(request.user)


def require_experiment(request, eid, change=False):
    """Raise unless the caller may read (or, with change, write) experiment `eid`.

    One query when allowed. An experiment the caller cannot see is NotFoundError, as
    one that does not exist; one shared with them (visible, not theirs) is PermissionDenied
    for a write: they know it exists, and a 404 would only puzzle them.
    """
    if change:
        if Experiment.objects.changeable_by(request.user).filter(pk=eid).exists():
            return
        if visible_experiments(request).filter(pk=eid).exists():
            raise PermissionDenied(f"experiment {eid} is shared with you to read, not to change")
    elif visible_experiments(request).filter(pk=eid).exists():
        return
    raise NotFoundError(f"experiment {eid} does not exist")


# -- issue 14 (fastpath): the writes' common case, the caller's own job or experiment (or
# staff), decided by Experiment.is_changeable_by on its owner, read by a query compiled
# once (tracking/api/prepared.py). Anything else goes on to the QuerySet checks below.
_JOB_OWNER = prepared.Prepared(
    lambda jid: Job.objects.filter(pk=jid).order_by().values_list("experiment_id", "experiment__owner_id")[:1],
    prepared.number(),
)
_EXPERIMENT_OWNER = prepared.Prepared(
    lambda eid: Experiment.objects.filter(pk=eid).order_by().values_list("pk", "owner_id")[:1],
    prepared.number(),
)


def changeable_at_once(request, owners, pk):
    """Whether the caller may change the experiment `owners` (a Prepared of its id and
    owner) gives for `pk`; False also when there is none. One query."""
    rows = owners.rows(pk)
    return bool(rows) and Experiment(pk=rows[0][0], owner_id=rows[0][1]).is_changeable_by(request.user)


# -- end of issue 14 (fastpath)


def require_job(request, jid, change=False):
    """As require_experiment, for job `jid` (through its experiment)."""
    if change:
        if changeable_at_once(request, _JOB_OWNER, jid):  # issue 14 (fastpath)
            return
        if Job.objects.changeable_by(request.user).filter(pk=jid).exists():
            return
        if visible_jobs(request).filter(pk=jid).exists():
            raise PermissionDenied(f"job {jid} is part of an experiment shared with you to read, not to change")
    elif visible_jobs(request).filter(pk=jid).exists():
        return
    raise NotFoundError(f"job {jid} does not exist")


def require_linked_experiment(request, eid):
    """Raise NotFoundError unless the caller may see experiment `eid`, named in a body
    beside one of their jobs. The connector tells "job 5 is not part of experiment 9"
    (400) from "experiment 9 does not exist" (404); for an experiment the caller may not
    see, that told them it exists. One query when the caller may change it (their own,
    or staff), two when not.
    """
    if changeable_at_once(request, _EXPERIMENT_OWNER, eid):  # issue 14 (fastpath): changeable, so visible
        return
    if not visible_experiments(request).filter(pk=eid).exists():
        raise NotFoundError(f"experiment {eid} does not exist")


def holder_prefix(request):
    return f"api-{request.user.pk}-"


def require_freeable(request, rid):
    """Raise PermissionDenied unless the caller may free resource `rid` (free_used_resource).

    Resources are shared, and any executor takes them; freeing one that another
    executor holds would hand it to a third while the second still runs there. So a
    researcher frees only a free resource, or one their own connectors took. Staff free
    anything. One query. Accepted race: the holder may change between this check and
    the connector's free; only the caller's own connectors can make that happen.
    (Ending a job with free_rid needs no check here: the connector frees only what
    that job's latest attempt took and still holds, see DjangoConnector.job_finished.)
    """
    if request.user.is_staff:
        return
    found = Resource.objects.filter(pk=rid).values_list("status", "holder").first()
    if found is None:
        return  # the connector says it does not exist
    status_now, holder = found
    if status_now == ResourceStatus.FREE or (holder or "").startswith(holder_prefix(request)):
        return
    raise PermissionDenied(f"resource {rid} is held by another executor: only its holder, or staff, may free it")


def staff_only(request):
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may add, change or remove resources.")


def owner_username(request, username):
    """The user an experiment is recorded for: the caller, or anyone for staff.

    A researcher who names another user gets the connector's error for a user that does
    not exist (NotFoundError, 404): nothing tells the two apart.
    """
    if username is None:
        return request.user.get_username()
    if request.user.is_staff or username == request.user.get_username():
        return username
    raise unknown_user(username)


# -- experiments ---------------------------------------------------------------------------------

experiment_docs = section("experiments")


@experiment_docs(
    params=[s.ExperimentListQueryIn], ok=s.ExperimentPageOut, errors=(400,), operation_id="experiments_list"
)
def list_experiments(request):
    """Experiments

    Those you may see (yours, those shared with you; staff: all), filtered, sorted and paged as the dashboard's list.
    """
    return Response(
        reads.experiment_list(visible_experiments(request), valid(s.ExperimentListQueryIn, request.query_params))
    )


@experiment_docs(request=s.ExperimentStartIn, ok=s.ExperimentStartedOut, status=201, write=True, errors=(404,))
def start_experiment(request):
    """Start or create an experiment

    start_experiment (status RUNNING) or create_experiment (status CREATED), in either of the connector's forms:
    exp_config (the name inside), or name and config. Names are unique: a second "toy" becomes "toy (1)".
    """
    data = valid(s.ExperimentStartIn, request.data)
    username = owner_username(request, data.get("username"))
    connector = connector_for(request)
    start = connector.start_experiment if data["status"] == "RUNNING" else connector.create_experiment
    if "exp_config" in data:
        if "name" in data or "config" in data:
            raise ValidationError({"exp_config": ["Give either exp_config, or name and config, not both."]})
        field, args = "exp_config", (data["exp_config"],)
    elif "name" not in data:
        # An empty body (or only a config) is a client's slip, not a request for an unnamed
        # experiment: that one is asked for with "name": null (as RestConnector sends None).
        raise ValidationError({"name": ["Give exp_config, or name and config (name null: an unnamed experiment)."]})
    else:
        field, args = "config", (data.get("name"), json.dumps(data.get("config", {})))
    try:
        eid = start(username, *args)
    except InvalidInputError as exc:
        # The serializer has checked every other field: what the connector still refuses is
        # in the config (a label name too long, exp_config's name), so the answer names it.
        raise ValidationError({field: [str(exc)]}) from None
    if field == "exp_config":
        name = data["exp_config"]["name"]  # the connector writes the unique name back, as Auptimizer
    else:
        name = Experiment.objects.filter(pk=eid).values_list("name", flat=True).first()
    return Response(s.ExperimentStartedOut({"eid": eid, "name": name}).data, status=status.HTTP_201_CREATED)


experiments = route("experiments", GET=list_experiments, POST=start_experiment)


@experiment_docs(ok=s.ExperimentDetailOut, errors=(404,))
def get_experiment(request, eid):
    """An experiment

    With its job counts by status, its best job and the names of its labeled results.
    """
    return Response(reads.experiment_detail(visible_experiments(request), eid))


@experiment_docs(status=204, write=True, errors=(404,))
def delete_experiment(request, eid):
    """Delete an experiment and everything under it"""
    require_experiment(request, eid, change=True)
    if not connector_for(request).delete_experiment(eid):
        raise NotFoundError(f"experiment {eid} does not exist")
    return no_content()


# -- notes and tags (issue 13, item 7) --


@experiment_docs(
    # Not in the docstring: the limits come from tracking/notes.py.
    description=(
        f"notes: Markdown, at most {notes.MAX_NOTES_CHARS:,} characters (the pages show it rendered and sanitised: "
        f"raw HTML is shown as text). tags: the experiment's whole set of tags, at most {notes.MAX_TAGS}; "
        f"{notes.TAG_RULE}. Give either or both: all or nothing, both are checked before anything is written. "
        "Only its owner and staff; an experiment shared with you is 403."
    ),
    request=s.ExperimentChangeIn,
    ok=s.ExperimentDetailOut,
    write=True,
    errors=(404,),
)
def change_experiment(request, eid):
    """Set an experiment's notes and tags"""
    require_experiment(request, eid, change=True)
    data = valid(s.ExperimentChangeIn, request.data)
    try:
        notes.set_experiment_annotations(eid, notes=data.get("notes"), tags=data.get("tags"))
    except notes.AnnotationError as exc:  # pragma: no cover - the serializer checks the same rules
        raise ValidationError({"detail": [str(exc)]}) from None
    return Response(reads.experiment_detail(visible_experiments(request), eid))


# -- end of notes and tags --


experiment = route("experiment", GET=get_experiment, DELETE=delete_experiment, PATCH=change_experiment)


@experiment_docs(status=204, write=True, errors=(404,))
def restart_experiment(request, eid):
    """Restart an experiment (start_experiment_by_eid)

    Deletes its jobs, attempts and results; RUNNING from now.
    """
    require_experiment(request, eid, change=True)
    connector_for(request).start_experiment_by_eid(eid)
    return no_content()


experiment_restart = route("experiment_restart", POST=restart_experiment)


@experiment_docs(request=s.ExperimentEndIn, status=204, write=True, errors=(404,))
def end_experiment(request, eid):
    """End an experiment (end_experiment)"""
    require_experiment(request, eid, change=True)
    data = valid(s.ExperimentEndIn, request.data)
    connector_for(request).end_experiment(eid, data["status"])
    return no_content()


experiment_end = route("experiment_end", POST=end_experiment)


@experiment_docs(ok=s.ExperimentStatusOut, errors=(404,))
def get_experiment_status(request, eid):
    """An experiment's status (get_experiment_status)"""
    require_experiment(request, eid)
    return Response(s.ExperimentStatusOut({"status": connector_for(request).get_experiment_status(eid)}).data)


@experiment_docs(request=s.ExperimentStatusIn, status=204, write=True, errors=(404,))
def change_experiment_status(request, eid):
    """Change an experiment's status (change_experiment_status)"""
    require_experiment(request, eid, change=True)
    data = valid(s.ExperimentStatusIn, request.data)
    connector_for(request).change_experiment_status(eid, data["status"])
    return no_content()


experiment_status = route("experiment_status", GET=get_experiment_status, POST=change_experiment_status)


@experiment_docs(request=s.ErrorMessageIn, status=204, write=True, errors=(404,))
def log_experiment_error(request, eid):
    """Record an experiment's error (log_error_message)

    The first message wins; later ones are ignored.
    """
    require_experiment(request, eid, change=True)
    data = valid(s.ErrorMessageIn, request.data)
    connector_for(request).log_error_message(eid, data["msg"])
    return no_content()


experiment_error = route("experiment_error", POST=log_experiment_error)


@experiment_docs(params=[s.LabelsQueryIn], ok=s.LabelPageOut, errors=(400, 404))
def list_labels(request, eid):
    """Names of an experiment's labeled results

    In label order, at most `limit` an answer; `next_after` says where the rest begins.
    """
    query = valid(s.LabelsQueryIn, request.query_params)
    require_experiment(request, eid)
    return Response(reads.labels(eid, query))


experiment_labels = route("experiment_labels", GET=list_labels)


# -- issue 13: a label's direction (part 3) and hyperparameter importance (part 2) --------------


@experiment_docs(request=s.LabelDirectionIn, ok=s.LabelDirectionOut, write=True, errors=(404,))
def change_label_direction(request, eid, order):
    """Set which way is better for a labeled result

    max (higher is better), min (lower is better) or null (the default rule: a name such as loss or
    error is lower-is-better, any other follows the experiment's target). Every best job, history and
    importance of that label follows it. For the experiment's owner and staff; 403 for a user it is
    shared with.
    """
    require_experiment(request, eid, change=True)
    data = valid(s.LabelDirectionIn, request.data)
    if not directions.set_direction(eid, order, data["direction"]):
        raise NotFoundError(f"experiment {eid} has no label {order}")
    experiment = Experiment.objects.only("config").get(pk=eid)
    label = ResultLabel.objects.get(experiment_id=eid, label_order=order)
    return Response(s.LabelDirectionOut(
        {"label_order": label.label_order, "name": label.name, **objectives.label_objective(experiment, label).as_dict()}
    ).data)


experiment_label = route("experiment_label", PATCH=change_label_direction)


@experiment_docs(params=[s.ImportanceQueryIn], ok=s.ImportanceOut, errors=(400, 404))
def get_importance(request, eid):
    """Hyperparameter importance

    How much each hyperparameter matters for reaching the top 10% of the finished jobs, for the score
    (label left out) or a labeled result, in its direction (see labels/): PED-ANOVA, the Pearson
    divergence between a parameter's distribution among the top jobs and among all of them. Below
    min_jobs finished jobs with a finite value, enough is false and message says why. Cached until
    another job finishes; at most the newest 10,000 finished jobs are ranked.
    """
    query = valid(s.ImportanceQueryIn, request.query_params)
    experiment = visible_experiments(request).filter(pk=eid).first()
    if experiment is None:
        raise NotFoundError(f"experiment {eid} does not exist")
    objective = objectives.find(experiment, [], query.get("label", objectives.SCORE))
    if objective is None:
        raise ValidationError({"label": [f"experiment {eid} has no label {query['label']} (see labels/)"]})
    return Response(s.ImportanceOut(dashboard.importance_result(experiment, objective)).data)


experiment_importance = route("experiment_importance", GET=get_importance)

# -- end of issue 13


# -- the connector's reads ------------------------------------------------------------------------

connector_read_docs = section("connector reads")


@connector_read_docs(params=[s.UsernameQueryIn], ok=s.EidsOut, errors=(400, 404))
def list_experiment_ids(request):
    """Experiment ids (get_all_experiment)

    Ids of your experiments (staff: everyone's), oldest first; with username, only that user's (another user's: staff
    only). At most `limit` ids an answer; `next_after` says where the rest begins.
    """
    query = valid(s.UsernameQueryIn, request.query_params)
    username = query.get("username") or None
    if username is not None:
        username = owner_username(request, username)
        owner_id = get_user_model()._default_manager.filter(username=username).values_list("pk", flat=True).first()
        if owner_id is None:
            raise unknown_user(username)
    else:
        owner_id = None if request.user.is_staff else request.user.pk
    return Response(reads.experiment_ids(owner_id, query))


experiment_ids = route("experiment_ids", GET=list_experiment_ids)


@connector_read_docs(params=[s.IdsPageQueryIn], ok=s.JidsOut, errors=(400, 404))
def list_job_ids(request, eid):
    """Job ids of an experiment (get_running_job)

    In id order, at most `limit` an answer; `next_after` says where the rest begins.
    """
    query = valid(s.IdsPageQueryIn, request.query_params)
    require_experiment(request, eid)
    return Response(reads.job_ids(eid, query))


experiment_job_ids = route("experiment_job_ids", GET=list_job_ids)


@connector_read_docs(params=[s.HistoryQueryIn], ok=s.HistoryOut, errors=(400, 404))
def get_history(request, eid):
    """Jobs of an experiment as the connector gives them (get_all_history)

    In jid order, at most `limit` jobs an answer; `next_after` says where the rest begins.
    """
    query = valid(s.HistoryQueryIn, request.query_params)
    require_experiment(request, eid)
    return Response(reads.history(eid, query))


experiment_history = route("experiment_history", GET=get_history)


@connector_read_docs(
    params=[OpenApiParameter("maximize", OpenApiTypes.BOOL, required=False, default=True)],
    ok=s.BestOut,
    errors=(400, 404),
)
def get_best_job(request, eid):
    """The best job (get_best_result, get_best_result_config)

    The job with the best finite score (ties: the lowest jid), or nulls if none has one.
    """
    maximize = valid(s.BestQueryIn, request.query_params)["maximize"]
    require_experiment(request, eid)
    connector = connector_for(request)
    best = connector.get_best_result(eid, maximize=maximize)
    config = connector.get_best_result_config(eid, maximize=maximize)
    jid, score = best if best is not None else (None, None)
    return Response(s.BestOut({"jid": jid, "score": score, "config_json": config[0] if config else None}).data)


experiment_best = route("experiment_best", GET=get_best_job)


@connector_read_docs(params=[s.StatusQueryIn], ok=s.CurvesByJobOut, errors=(400, 404))
def get_experiment_intermediate_results(request, eid):
    """Intermediate results of an experiment's jobs in a status (get_intermediate_results_experiment)

    status: a job status; none: no job. At most `limit` scores an answer, in (jid, step) order; `next` says where the
    rest begins.
    """
    query = valid(s.StatusQueryIn, request.query_params)
    require_experiment(request, eid)
    checked = check_results_query(eid, query.get("status"))
    return Response(reads.experiment_results(eid, checked[1] if checked else None, query))


experiment_intermediate_results = route("experiment_intermediate_results", GET=get_experiment_intermediate_results)


@connector_read_docs(params=[s.JobIdsQueryIn], ok=s.CurvesByJobOut, errors=(400,))
def get_jobs_intermediate_results(request):
    """Intermediate results of several jobs (get_intermediate_results_jobs)

    Jobs without results, unknown jobs and jobs that are not yours are absent. At most `limit` scores an answer, in
    (jid, step) order; `next` says where the rest begins.
    """
    query = valid(s.JobIdsQueryIn, request.query_params)
    visible = visible_jobs(request).filter(pk__in=query["jid"]).values("pk")
    return Response(reads.jobs_results(visible, query))


intermediate_results = route("intermediate_results", GET=get_jobs_intermediate_results)


# -- jobs ------------------------------------------------------------------------------------------

job_docs = section("jobs")


@job_docs(params=[s.JobListQueryIn], ok=s.JobPageOut, errors=(400, 404), operation_id="experiments_jobs_list")
def list_jobs(request, eid):
    """Jobs of an experiment

    Paged, sorted, filtered by status; each with its attempt and step counts.
    """
    require_experiment(request, eid)
    return Response(reads.job_list(eid, valid(s.JobListQueryIn, request.query_params)))


@job_docs(request=s.JobStartIn, ok=s.JobStartedOut, status=201, write=True, errors=(404,))
def start_job(request, eid):
    """Start a job (start_job, or job_started with take_resource)

    A RUNNING job with its attempt 0 on resource rid.
    """
    require_experiment(request, eid, change=True)
    data = valid(s.JobStartIn, request.data)
    connector = connector_for(request)
    start = connector.job_started if data["take_resource"] else connector.start_job
    jid = start(eid, data["rid"], data["config"])
    return Response(s.JobStartedOut({"jid": jid}).data, status=status.HTTP_201_CREATED)


experiment_jobs = route("experiment_jobs", GET=list_jobs, POST=start_job)


@job_docs(ok=s.JobDetailOut, errors=(404,))
def get_job(request, jid):
    """A job, with its attempts and final labeled values"""
    return Response(reads.job_detail(visible_jobs(request), jid))


@job_docs(
    description=(
        f"notes: Markdown, at most {notes.MAX_NOTES_CHARS:,} characters (the job page shows it rendered and "
        "sanitised). Only its experiment's owner and staff; a job of an experiment shared with you is 403."
    ),
    request=s.JobChangeIn,
    ok=s.JobDetailOut,
    write=True,
    errors=(404,),
)
def change_job(request, jid):
    """Set a job's notes"""
    require_job(request, jid, change=True)
    data = valid(s.JobChangeIn, request.data)
    notes.set_job_notes(jid, data["notes"])
    return Response(reads.job_detail(visible_jobs(request), jid))


job = route("job", GET=get_job, PATCH=change_job)


@job_docs(request=s.AttemptStartIn, ok=s.AttemptStartedOut, status=201, write=True, errors=(404,))
def start_attempt(request, jid):
    """Start the job's next attempt (start_job_attempt, or job_retry with take_resource)"""
    require_job(request, jid, change=True)
    data = valid(s.AttemptStartIn, request.data)
    connector = connector_for(request)
    start = connector.job_retry if data["take_resource"] else connector.start_job_attempt
    return Response(s.AttemptStartedOut({"jaid": start(data["rid"], jid)}).data, status=status.HTTP_201_CREATED)


@job_docs(params=[s.AttemptsQueryIn], ok=s.AttemptsOut, errors=(400, 404))
def list_attempts(request, jid):
    """A job's attempts

    In number order, at most `limit` an answer; `next_after` says where the rest begins.
    """
    query = valid(s.AttemptsQueryIn, request.query_params)
    require_job(request, jid)
    return Response(reads.attempts(jid, query))


job_attempts = route("job_attempts", GET=list_attempts, POST=start_attempt)


@job_docs(request=s.AttemptEndIn, status=204, write=True, errors=(404,))
def end_attempt(request, jid):
    """End the job's latest attempt (end_job_attempt, or job_failed with free_rid)

    With free_rid, also frees that resource if this attempt took it and still holds it;
    any other resource is left as it is (the attempt still ends).
    """
    require_job(request, jid, change=True)
    data = valid(s.AttemptEndIn, request.data)
    connector = connector_for(request)
    if data["free_rid"] is None:
        connector.end_job_attempt(jid)
    else:
        connector.job_failed(data["free_rid"], jid)
    return no_content()


job_end_attempt = route("job_end_attempt", POST=end_attempt)


@job_docs(request=s.JobEndIn, status=204, write=True, errors=(404,))
def end_job(request, jid):
    """End a job (end_job, or job_finished with free_rid)

    With free_rid, also ends the latest attempt and, atomically, frees that resource if the
    attempt took it and still holds it; any other resource is left as it is (the job
    still ends).
    """
    require_job(request, jid, change=True)
    data = valid(s.JobEndIn, request.data)
    connector = connector_for(request)
    if data["free_rid"] is None:
        connector.end_job(jid, data["score"], data["status"])
    else:
        connector.job_finished(data["free_rid"], jid, data["score"], data["status"])
    return no_content()


job_end = route("job_end", POST=end_job)


@job_docs(request=s.JobStatusIn, status=204, write=True, errors=(404,))
def update_job_status(request, jid):
    """Set a job's status (update_job_status)"""
    require_job(request, jid, change=True)
    data = valid(s.JobStatusIn, request.data)
    connector_for(request).update_job_status(jid, data["status"])
    return no_content()


job_status = route("job_status", POST=update_job_status)


# -- results ---------------------------------------------------------------------------------------

result_docs = section("results")


@result_docs(params=[s.IntermediateResultsQueryIn], ok=s.IntermediateResultsOut, errors=(400, 404))
def get_job_intermediate_results(request, jid):
    """A job's intermediate results (get_intermediate_results_job)

    In step order; with after, only the steps after that one. At most `limit` steps an answer; `next_after` says where
    the rest begins.
    """
    query = valid(s.IntermediateResultsQueryIn, request.query_params)
    require_job(request, jid)
    return Response(reads.intermediate_results(jid, query))


@result_docs(request=s.IntermediateResultIn, ok=s.IntermediateResultSavedOut, status=201, write=True, errors=(404,))
def save_intermediate_result(request, jid):
    """Record the job's next intermediate result (save_intermediate_result)"""
    require_job(request, jid, change=True)
    data = valid(s.IntermediateResultIn, request.data)
    irid = connector_for(request).save_intermediate_result(jid, data["score"])
    return Response(s.IntermediateResultSavedOut({"irid": irid}).data, status=status.HTTP_201_CREATED)


job_intermediate_results = route(
    "job_intermediate_results", GET=get_job_intermediate_results, POST=save_intermediate_result
)


@result_docs(request=s.MultipleResultsIn, status=204, write=True, errors=(404,))
def save_multiple_results(request, jid):
    """Record labeled results (save_multiple_results)

    One row per score, label order 1..n, linked to the intermediate result irid (or none).
    """
    require_job(request, jid, change=True)
    data = valid(s.MultipleResultsIn, request.data)
    require_linked_experiment(request, data["eid"])
    connector_for(request).save_multiple_results(jid, data["irid"], data["eid"], data["labels"], data["scores"])
    return no_content()


job_multiple_results = route("job_multiple_results", POST=save_multiple_results)


@result_docs(request=s.LastMultipleResultsIn, status=204, write=True, errors=(404,))
def set_last_multiple_results(request, jid):
    """Mark the job's final labeled results (set_last_multiple_results)

    Its last num_labels rows become its final values, and only those.
    """
    require_job(request, jid, change=True)
    data = valid(s.LastMultipleResultsIn, request.data)
    require_linked_experiment(request, data["eid"])
    connector_for(request).set_last_multiple_results(data["eid"], jid, data["num_labels"])
    return no_content()


job_last_multiple_results = route("job_last_multiple_results", POST=set_last_multiple_results)


@result_docs(
    # Not in the docstring: the batch's limit comes from the serializer.
    description=(
        "For executors that report fast: each item is save_intermediate_result(jid, score), then, if "
        "it has scores, save_multiple_results(jid, irid, the job's experiment, labels, scores). All "
        f"or nothing, at most {s.MAX_BATCH} items. "
        # -- buffered client (issue 14, part 2)
        "An item without score and with irid (an intermediate result already recorded, or null) is "
        "save_multiple_results(jid, irid, eid, labels, scores) alone; an item naming eid has it "
        "checked as save_multiple_results checks it (404 unknown, 400 not the job's experiment)."
    ),
    request=s.BatchIn,
    ok=s.BatchSavedOut,
    status=201,
    write=True,
    errors=(404,),
)
def save_intermediate_results_batch(request):
    """Record many intermediate results, with their labeled results, at once"""
    items = valid(s.BatchIn, request.data)["results"]
    jids = {item["jid"] for item in items}
    experiment_of = dict(Job.objects.changeable_by(request.user).filter(pk__in=jids).values_list("pk", "experiment_id"))
    for item in items:
        if item["jid"] not in experiment_of:
            require_job(request, item["jid"], change=True)  # raises: not found, or not theirs to change
    # -- buffered client (issue 14, part 2): the experiments items name, as the
    # multiple-results endpoint checks them (one query; the connector then checks each is its job's).
    named = {item["eid"] for item in items if "eid" in item}
    if named:
        missing = named - set(visible_experiments(request).filter(pk__in=named).values_list("pk", flat=True))
        if missing:
            raise NotFoundError(f"experiment {min(missing)} does not exist")
    # -- end buffered client
    connector = connector_for(request)
    irids = []
    # All or nothing: an error in the last item undoes the first.
    with transaction.atomic():
        for item in items:
            labeled_only = "score" not in item  # buffered client: labeled results of an earlier step
            if labeled_only:
                irid = item["irid"]
            else:
                irid = connector.save_intermediate_result(item["jid"], item["score"])
            if item["scores"] or labeled_only or "eid" in item:
                eid = item.get("eid", experiment_of[item["jid"]])
                connector.save_multiple_results(item["jid"], irid, eid, item["labels"], item["scores"])
            irids.append(irid)
    return Response(s.BatchSavedOut({"irids": irids}).data, status=status.HTTP_201_CREATED)


intermediate_results_batch = route("intermediate_results_batch", POST=save_intermediate_results_batch)


@result_docs(params=[s.CurvesQueryIn], ok=s.CurvesOut, errors=(400, 404))
def get_curves(request, eid):
    """Learning curves of an experiment's jobs, downsampled

    Each curve at most `points` points, downsampled as the dashboard's charts are (each stretch's extremes kept in the
    database, then LTTB, keeping gaps and both ends); a NaN, infinite or text score is a gap (null). Give back the
    answer's cursor as `since` to get only the curves that changed after it (each whole again, downsampled).
    """
    query = valid(s.CurvesQueryIn, request.query_params)
    require_experiment(request, eid)
    return Response(reads.curves(eid, query))


experiment_curves = route("experiment_curves", GET=get_curves)


@result_docs(params=[s.MultipleResultsQueryIn], ok=s.MultipleResultsOut, errors=(400, 404))
def get_multiple_results(request, eid):
    """Labeled results of an experiment, one label at a time

    By label name (or order), optionally of some jobs, in id order, a page of `limit` rows after `after`.
    """
    query = valid(s.MultipleResultsQueryIn, request.query_params)
    require_experiment(request, eid)
    return Response(reads.multiple_results(eid, query))


experiment_multiple_results = route("experiment_multiple_results", GET=get_multiple_results)


# -- compare (issue 13, item 5): tracking/compare.py's comparisons, as the pages show them ---------

compare_docs = section("compare")


def compare_input(exc):
    """A comparison's CompareError as the API's error: 400 naming its field, or 404."""
    if exc.status == 404:
        return NotFoundError(str(exc))
    return ValidationError({exc.field or "non_field_errors": [str(exc)]})


@compare_docs(params=[s.CompareJobsQueryIn], ok=s.CompareJobsOut, errors=(400, 404))
def compare_jobs(request, eid):
    """Jobs of an experiment side by side

    2 to 6 jobs: their score, status, duration, attempts, final labeled results, configurations side by side (every
    key; `differs` marks those not the same everywhere) and learning curves (the score's, then each label's),
    downsampled as the dashboard's. A job that is not one of this experiment's (unknown, another experiment's, or not
    yours) is a 404, as the experiment you cannot see. Eight queries whatever the jobs hold.
    """
    experiment = visible_experiments(request).filter(pk=eid).first()
    if experiment is None:
        raise NotFoundError(f"experiment {eid} does not exist")
    try:
        ids = compare.id_list(request.query_params, "jobs", compare.MIN_JOBS, compare.MAX_JOBS, "job")
        answer = compare.jobs_answer(experiment, ids)
    except compare.CompareError as exc:
        raise compare_input(exc) from None
    return Response(s.CompareJobsOut(answer).data)


experiment_compare_jobs = route("experiment_compare_jobs", GET=compare_jobs)


@compare_docs(params=[s.CompareExperimentsQueryIn], ok=s.CompareExperimentsOut, errors=(400, 404))
def compare_experiments(request):
    """Experiments side by side

    2 to 5 experiments: each one's best job (in its own target's direction), its best score so far by job number
    and by seconds since its start (only the jobs that set a new best, and the last: the lines of its first 10,000
    jobs), and their configurations side by side (settings, declared parameters, the rest; `differs` marks those not
    the same everywhere). An experiment you cannot see is a 404, as one that does not exist. Three queries.
    """
    try:
        ids = compare.id_list(
            request.query_params, "ids", compare.MIN_EXPERIMENTS, compare.MAX_EXPERIMENTS, "experiment"
        )
        answer = compare.experiments_answer(visible_experiments(request), ids)
    except compare.CompareError as exc:
        raise compare_input(exc) from None
    return Response(s.CompareExperimentsOut(answer).data)


experiments_compare = route("experiments_compare", GET=compare_experiments)


# -- end compare

# -- resources ------------------------------------------------------------------------------------

resource_docs = section("resources")


@resource_docs(params=[s.ResourcesQueryIn], ok=s.ResourcePageOut, errors=(400,), operation_id="resources_list")
def list_resources(request):
    """Resources, with the job each runs

    A job is shown only if you may see its experiment: a resource someone else's job holds is just busy. In rid order,
    at most `limit` an answer; `next_after` says where the rest begins.
    """
    query = valid(s.ResourcesQueryIn, request.query_params)
    return Response(reads.resource_list(visible_experiments(request), query))


@resource_docs(request=s.ResourceIn, ok=s.ResourceOut, status=201, write=True)
def add_resource(request):
    """Add a resource (staff)"""
    staff_only(request)
    data = valid(s.ResourceIn, request.data)
    resource = Resource.objects.create(**data)
    return Response(s.ResourceOut(resource).data, status=status.HTTP_201_CREATED)


resources = route("resources", GET=list_resources, POST=add_resource)


@resource_docs(ok=s.ResourceListItemOut, errors=(404,))
def get_resource(request, rid):
    """A resource, with the job it runs"""
    return Response(reads.resource_detail(rid, visible_experiments(request)))


@resource_docs(request=s.ResourceChangeIn, ok=s.ResourceOut, write=True, errors=(404,))
def change_resource(request, rid):
    """Change a resource (staff)

    in_service false takes it out of service: executors are never given it.
    """
    staff_only(request)
    data = valid(s.ResourceChangeIn, request.data)
    matching = Resource.objects.filter(pk=rid)
    if not (matching.update(**data) if data else matching.exists()):
        raise NotFoundError(f"resource {rid} does not exist")
    return Response(s.ResourceOut(Resource.objects.get(pk=rid)).data)


@resource_docs(status=204, write=True, errors=(404,))
def remove_resource(request, rid):
    """Remove a resource (staff)

    The attempts that ran on it keep their history, without the resource.
    """
    staff_only(request)
    deleted, _ = Resource.objects.filter(pk=rid).delete()
    if not deleted:
        raise NotFoundError(f"resource {rid} does not exist")
    return no_content()


resource = route("resource", GET=get_resource, PATCH=change_resource, DELETE=remove_resource)


@resource_docs(ok=s.ResourceTypesOut)
def list_resource_types(request):
    """Resource types, in first-seen order (get_resource_type)"""
    return Response(s.ResourceTypesOut({"types": connector_for(request).get_resource_type()}).data)


resource_types = route("resource_types", GET=list_resource_types)


@resource_docs(
    params=[
        OpenApiParameter("rtype", OpenApiTypes.STR, required=False),
        OpenApiParameter("blacklist", OpenApiTypes.INT64, many=True, explode=True, required=False),
    ],
    ok=s.RidsOut,
    errors=(400,),
)
def list_available_resources(request):
    """Free resources for a type (get_available_resource)

    Free, in-service rids in rid order. With a non-empty blacklist: first the free rids whose type equals rtype and
    that are not blacklisted; if none, the free rids whose type is contained in rtype ('gpu,cpu' matches both),
    blacklist ignored. Without rtype: none.
    """
    query = valid(s.AvailableQueryIn, request.query_params)
    rids = connector_for(request).get_available_resource(None, query.get("rtype"), query["blacklist"] or None)
    return Response(s.RidsOut({"rids": rids}).data)


@resource_docs(
    # Not in the docstring: the limit comes from the serializer. write=True only documents
    # what every POST takes (an Idempotency-Key, honoured as for a write).
    description=(
        "The GET's answer, for a blacklist longer than a URL can carry: the body is "
        f'{{"rtype": ..., "blacklist": [rids]}}, at most {s.MAX_BLACKLIST:,} rids. A read: it changes '
        "nothing, and needs no Idempotency-Key."
    ),
    request=s.AvailableIn,
    ok=s.RidsOut,
    write=True,
)
def find_available_resources(request):
    """Free resources for a type, the blacklist in the body (get_available_resource)"""
    query = valid(s.AvailableIn, request.data)
    rids = connector_for(request).get_available_resource(None, query.get("rtype"), query["blacklist"] or None)
    return Response(s.RidsOut({"rids": rids}).data)


resources_available = route("resources_available", GET=list_available_resources, POST=find_available_resources)


@resource_docs(ok=s.TakenOut, write=True, errors=(404,), params=[CONNECTOR_ID])
def take_resource(request, rid):
    """Take a resource (take_available_resource)

    Compare-and-set: true only for the caller that moved it from free to busy.
    """
    return Response(s.TakenOut({"taken": connector_for(request).take_available_resource(rid)}).data)


resource_take = route("resource_take", POST=take_resource)


@resource_docs(ok=s.FreedOut, write=True, errors=(404,))
def free_resource(request, rid):
    """Free a resource (free_used_resource)

    A free one, one your connectors took, or any for staff: not another executor's hold.
    """
    require_freeable(request, rid)
    return Response(s.FreedOut({"freed": connector_for(request).free_used_resource(rid)}).data)


resource_free = route("resource_free", POST=free_resource)


@resource_docs(status=204, write=True, params=[CONNECTOR_ID])
def free_all_resources(request):
    """Free the resources this connector took (free_all_resources)

    Frees what was taken with the same Aup-Connector-Id (or token), never other holds.
    """
    connector_for(request).free_all_resources()
    return no_content()


resources_free_all = route("resources_free_all", POST=free_all_resources)


# -- tokens ------------------------------------------------------------------------------------------

token_docs = section("tokens")


@token_docs(params=[s.TokensQueryIn], ok=s.TokenPageOut, errors=(400,))
def list_tokens(request):
    """Your API tokens

    In id order, at most `limit` an answer; `next_after` says where the rest begins.
    """
    query = valid(s.TokensQueryIn, request.query_params)
    return Response(reads.token_list(ApiToken.objects.filter(user=request.user), query))


@token_docs(request=s.TokenIn, ok=s.TokenIssuedOut, status=201, write=True)
def issue_token(request):
    """Issue an API token

    The secret is in this response only; store it now. From a signed-in session only.
    """
    data = valid(s.TokenIn, request.data)
    token, secret = ApiToken.issue(request.user, data["name"])
    return Response(s.TokenIssuedOut({**s.TokenOut(token).data, "secret": secret}).data, status=status.HTTP_201_CREATED)


tokens = route("tokens", GET=list_tokens, POST=issue_token, permissions=[SignedInWithPassword])


@token_docs(ok=s.TokenOut, write=True, errors=(404,))
def revoke_token(request, token_id):
    """Revoke one of your API tokens"""
    token = ApiToken.objects.filter(user=request.user, pk=token_id).first()
    if token is None:
        raise NotFoundError(f"token {token_id} does not exist")
    token.revoke()
    return Response(s.TokenOut(token).data)


token_revoke = route("token_revoke", POST=revoke_token, permissions=[SignedInWithPassword])


# -- exports (issue 13, part 6: tracking/exports.py) ----------------------------------------------

export_docs = section("exports")
EXPORT_DESCRIPTION = (
    "Streamed: rows are read and sent a chunk at a time, so any number of jobs can be exported. format=csv "
    "(the default): RFC 4180, a header row, a cell a spreadsheet would run as a formula prefixed with '. "
    "format=json: one array of objects keyed by the same columns. Scores and labeled values are the finite number "
    "or the text reported ('nan', 'inf', '-inf', ...); times are ISO 8601, UTC."
)


def streamed_docs(rows, **kwargs):
    """`export_docs`, with the success answer in either media type the operation streams
    (a DRF view answering a StreamingHttpResponse: drf-spectacular cannot see it)."""

    def decorate(operation):
        operation = export_docs(**kwargs)(operation)
        errors = {code: answer for code, answer in operation.extend_schema.keywords["responses"].items() if code != 200}
        operation.extend_schema = functools.partial(
            operation.extend_schema,
            responses={
                (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="format=csv: a header, then a row per line."),
                (200, "application/json"): OpenApiResponse(rows, description="format=json: an array of rows."),
                **errors,
            },
        )
        return operation

    return decorate


@streamed_docs(
    s.JOB_EXPORT_ROWS,
    params=[s.JobExportQueryIn],
    errors=(400, 404),
    description=(
        "The jobs as the experiment page's jobs table shows them (status, sort, and the brush's b.<parameter> "
        "values as the page's URL carries them), all of them: number, id, status, score, start, end, "
        "duration_seconds, attempts, param.<name> per hyperparameter, result.<label> per labeled result (final "
        "value). " + EXPORT_DESCRIPTION
    ),
)
def export_jobs(request, eid):
    """Export an experiment's jobs (CSV or JSON, streamed)"""
    query = valid(s.JobExportQueryIn, request.query_params)
    experiment = visible_experiments(request).filter(pk=eid).first()
    if experiment is None:
        raise NotFoundError(f"experiment {eid} does not exist")
    return exports.jobs_export(request, experiment, query["format"])


experiment_jobs_export = route("experiment_jobs_export", GET=export_jobs)
experiment_jobs_export.cls.content_negotiation_class = OwnFormat


@streamed_docs(
    s.EXPERIMENT_EXPORT_ROWS,
    params=[s.ExperimentExportQueryIn],
    errors=(400,),
    description=(
        "The experiments you may see as the dashboard's list shows them (q, status, owner, sort as its URL "
        "carries them), all of them: id, name, owner, status, start, end, jobs_total, jobs_done, best_score, "
        "target, tags. " + EXPORT_DESCRIPTION
    ),
)
def export_experiments(request):
    """Export the experiments list (CSV or JSON, streamed)"""
    query = valid(s.ExperimentExportQueryIn, request.query_params)
    return exports.experiments_export(request, query["format"])


experiments_export = route("experiments_export", GET=export_experiments)
experiments_export.cls.content_negotiation_class = OwnFormat

# -- end of exports


# -- issue 13: parallel-coordinates data (tracking/parcoords.py, as parcoords.json serves the page) ---

parcoords_docs = section("experiments")
PARCOORDS_DESCRIPTION = (
    "The experiment page's parallel coordinates, as its chart reads them: one axis per hyperparameter (numeric, "
    "log-scaled, or categorical in declared order), then one for the objective; the drawn jobs' values as columns. "
    f"Every job with a finite value of the objective is drawn up to {parcoords.DRAW_BUDGET:,}; beyond, the best "
    f"{parcoords.BEST:,} in the objective's direction and a sample of the rest evenly spaced in rank (sampled, best "
    "and note say so). "
    f"The brush: up to {brushes.MAX_BRUSHES} query keys `b.<axis key>`, as the page's URL carries them, ANDed; "
    "inside counts the jobs within it (drawn or not). "
    "A hyperparameter with numbers: `b.lr=0.0001..0.01` (inclusive, in the parameter's own units; either end may be "
    "left out: `b.dropout=..0.3`). A hyperparameter with categories: `b.optimizer=in:adam,sgd` (the categories as "
    "the axis names them; a comma or backslash inside one written `\\,` or `\\\\`). The objective: "
    "`b.@score=0.8..` or `b.@2=..0.35` (@ then an objective key; a parameter whose name starts with @ is written "
    "with the @ doubled: `b.@@name`). A key naming no declared parameter (any name when none is declared) or no "
    "label, or a malformed value, is a 400 naming the key in errors. Three queries after the experiment and its "
    "labels, whatever the number of jobs."
)


@parcoords_docs(params=[s.ParcoordsQueryIn], ok=s.ParcoordsOut, errors=(400, 404), description=PARCOORDS_DESCRIPTION)
def get_parcoords(request, eid):
    """Parallel-coordinates data"""
    query = valid(s.ParcoordsQueryIn, request.query_params)
    experiment = visible_experiments(request).filter(pk=eid).first()
    if experiment is None:
        raise NotFoundError(f"experiment {eid} does not exist")
    # The page's labels (the first ones, as its objective menu lists them), so that the
    # answer is parcoords.json's payload, the same objectives listed.
    labels = dashboard._shown_labels(experiment)[0]
    key = objectives.parse_key(query.get("objective", objectives.SCORE))
    if key is None:  # the pattern's $ lets a final newline through
        raise ValidationError({"objective": ["Give 'score' or a label's order (1, 2, ...) as in labels/."]})
    objective = objectives.find(experiment, labels, key)
    if objective is None:
        raise ValidationError({"objective": [f"experiment {eid} has no label {key} (see labels/)"]})
    return Response(dashboard.parcoords_data(experiment, objective, parcoords_brush(request, experiment, labels), labels))


def parcoords_brush(request, experiment, labels):
    """The brush of the b.* keys (tracking.brush.parse, strict); a bad key is a 400
    naming it. On the error path only, each key is read again alone to tell which."""
    params = request.query_params
    keys = [key for key in params if key.startswith(brushes.PREFIX)]
    if len(keys) > brushes.MAX_BRUSHES:
        raise ValidationError({"b.*": [f"at most {brushes.MAX_BRUSHES} brushed axes (b.* keys) at once"]})
    try:
        return brushes.parse(params, experiment, strict=True, labels=labels)
    except brushes.BrushError as whole:
        errors = {}
        for key in keys:
            alone = QueryDict(mutable=True)
            alone.setlist(key, params.getlist(key))
            try:
                brushes.parse(alone, experiment, strict=True, labels=labels)
            except brushes.BrushError as exc:
                errors[key] = [str(exc)]
        raise ValidationError(errors or {"b.*": [str(whole)]}) from None


experiment_parcoords = route("experiment_parcoords", GET=get_parcoords)

# -- end of parallel-coordinates data


# -- anything else under /api/ ------------------------------------------------------------------------


@extend_schema(exclude=True)
@endpoint(ALL_METHODS)
def not_found(request, url=""):
    raise NotFoundError(f"nothing at {request.path}")
