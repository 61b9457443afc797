"""The API's views: function views, one per URL, each documented for the schema.

Writes call tracking.connector.DjangoConnector, one instance per request (construction
costs nothing), so every write means exactly what the connector's method means: same
checks, same atomicity, same compare-and-set on resources. The connector's errors become
statuses in tracking.api.errors. Before any call the view checks that the caller may
touch the object: every lookup starts from Experiment.objects.visible_to(user), so a
researcher reaches only their own experiments (staff reach all), and an object they may
not reach is answered exactly as one that does not exist.
"""

import json
import re

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from tracking.api import reads
from tracking.api import serializers as s
from tracking.api.idempotency import idempotent
from tracking.api.permissions import SignedInWithPassword
from tracking.api.schema import CONNECTOR_ID, documented
from tracking.connector import DjangoConnector, unknown_user
from tracking.interface import InvalidInputError, NotFoundError
from tracking.models import ApiToken, Experiment, Job, JobAttempt, Resource, ResourceStatus

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
    return Job.objects.filter(experiment__in=visible_experiments(request))


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


def require_job(request, jid, change=False):
    """As require_experiment, for job `jid` (through its experiment)."""
    if change:
        changeable = Experiment.objects.changeable_by(request.user)
        if Job.objects.filter(pk=jid, experiment__in=changeable).exists():
            return
        if visible_jobs(request).filter(pk=jid).exists():
            raise PermissionDenied(f"job {jid} is part of an experiment shared with you to read, not to change")
    elif visible_jobs(request).filter(pk=jid).exists():
        return
    raise NotFoundError(f"job {jid} does not exist")


def holder_prefix(request):
    return f"api-{request.user.pk}-"


def require_freeable(request, rid, jid=None):
    """Raise PermissionDenied unless the caller may free resource `rid`.

    Resources are shared, and any executor takes them; freeing one that another
    executor holds would hand it to a third while the second still runs there. So a
    researcher frees only a free resource, one their own connectors took, or (ending
    a job, jid) the one the job's latest attempt ran on. Staff free anything. One or
    two queries. Accepted race: the holder may change between this check and the
    connector's free; only the caller's own connectors can make that happen.
    """
    if request.user.is_staff:
        return
    found = Resource.objects.filter(pk=rid).values_list("status", "holder").first()
    if found is None:
        return  # the connector says it does not exist
    status_now, holder = found
    if status_now == ResourceStatus.FREE or (holder or "").startswith(holder_prefix(request)):
        return
    if jid is not None:
        latest = JobAttempt.objects.filter(job_id=jid).order_by("-number").values_list("resource_id", flat=True)[:1]
        if list(latest) == [rid]:
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


def curves_out(curves):
    return s.CurvesByJobOut({"curves": {str(jid): scores for jid, scores in curves.items()}}).data


# -- experiments ---------------------------------------------------------------------------------


@documented(
    "Start or create an experiment",
    description=(
        "start_experiment (status RUNNING) or create_experiment (status CREATED), in either of the "
        "connector's forms: exp_config (the name inside), or name and config. Names are unique: a "
        'second "toy" becomes "toy (1)".'
    ),
    request=s.ExperimentStartIn,
    ok=s.ExperimentStartedOut,
    status=201,
    write=True,
    errors=(404,),
    methods=["POST"],
    tags=["experiments"],
)
@documented(
    "Experiments",
    description=(
        "Those you may see (yours, those shared with you; staff: all), filtered, sorted and paged as the "
        "dashboard's list."
    ),
    params=[s.ExperimentListQueryIn],
    ok=s.ExperimentPageOut,
    errors=(400,),
    methods=["GET"],
    tags=["experiments"],
    operation_id="experiments_list",
)
@endpoint(["GET", "POST"])
def experiments(request):
    if request.method == "GET":
        return Response(
            reads.experiment_list(visible_experiments(request), valid(s.ExperimentListQueryIn, request.query_params))
        )
    data = valid(s.ExperimentStartIn, request.data)
    username = owner_username(request, data.get("username"))
    connector = connector_for(request)
    start = connector.start_experiment if data["status"] == "RUNNING" else connector.create_experiment
    if "exp_config" in data:
        if "name" in data or "config" in data:
            raise ValidationError({"exp_config": ["Give either exp_config, or name and config, not both."]})
        field, args = "exp_config", (data["exp_config"],)
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


@documented(
    "Experiment ids (get_all_experiment)",
    description=(
        "Ids of your experiments (staff: everyone's), oldest first; with username, only that user's "
        "(another user's: staff only)."
    ),
    params=[OpenApiParameter("username", OpenApiTypes.STR, required=False)],
    ok=s.EidsOut,
    errors=(400, 404),
    tags=["connector reads"],
)
@endpoint(["GET"])
def experiment_ids(request):
    username = valid(s.UsernameQueryIn, request.query_params).get("username") or None
    connector = connector_for(request)
    if username is not None:
        username = owner_username(request, username)
    elif not request.user.is_staff:
        username = request.user.get_username()
    return Response(s.EidsOut({"eids": connector.get_all_experiment(username)}).data)


@documented(
    "An experiment",
    description="With its job counts by status, its best job and the names of its labeled results.",
    ok=s.ExperimentDetailOut,
    errors=(404,),
    methods=["GET"],
    tags=["experiments"],
)
@documented(
    "Delete an experiment and everything under it",
    status=204,
    write=True,
    errors=(404,),
    methods=["DELETE"],
    tags=["experiments"],
)
@endpoint(["GET", "DELETE"])
def experiment(request, eid):
    if request.method == "GET":
        return Response(reads.experiment_detail(visible_experiments(request), eid))
    require_experiment(request, eid, change=True)
    if not connector_for(request).delete_experiment(eid):
        raise NotFoundError(f"experiment {eid} does not exist")
    return no_content()


@documented(
    "Restart an experiment (start_experiment_by_eid)",
    description="Deletes its jobs, attempts and results; RUNNING from now.",
    status=204,
    write=True,
    errors=(404,),
    tags=["experiments"],
)
@endpoint(["POST"])
def experiment_restart(request, eid):
    require_experiment(request, eid, change=True)
    connector_for(request).start_experiment_by_eid(eid)
    return no_content()


@documented(
    "End an experiment (end_experiment)",
    request=s.ExperimentEndIn,
    status=204,
    write=True,
    errors=(404,),
    tags=["experiments"],
)
@endpoint(["POST"])
def experiment_end(request, eid):
    require_experiment(request, eid, change=True)
    data = valid(s.ExperimentEndIn, request.data)
    connector_for(request).end_experiment(eid, data["status"])
    return no_content()


@documented(
    "An experiment's status (get_experiment_status)",
    ok=s.ExperimentStatusOut,
    errors=(404,),
    methods=["GET"],
    tags=["experiments"],
)
@documented(
    "Change an experiment's status (change_experiment_status)",
    request=s.ExperimentStatusIn,
    status=204,
    write=True,
    errors=(404,),
    methods=["POST"],
    tags=["experiments"],
)
@endpoint(["GET", "POST"])
def experiment_status(request, eid):
    if request.method == "GET":
        require_experiment(request, eid)
        return Response(s.ExperimentStatusOut({"status": connector_for(request).get_experiment_status(eid)}).data)
    require_experiment(request, eid, change=True)
    data = valid(s.ExperimentStatusIn, request.data)
    connector_for(request).change_experiment_status(eid, data["status"])
    return no_content()


@documented(
    "Record an experiment's error (log_error_message)",
    description="The first message wins; later ones are ignored.",
    request=s.ErrorMessageIn,
    status=204,
    write=True,
    errors=(404,),
    tags=["experiments"],
)
@endpoint(["POST"])
def experiment_error(request, eid):
    require_experiment(request, eid, change=True)
    data = valid(s.ErrorMessageIn, request.data)
    connector_for(request).log_error_message(eid, data["msg"])
    return no_content()


@documented(
    "Start a job (start_job, or job_started with take_resource)",
    description="A RUNNING job with its attempt 0 on resource rid.",
    request=s.JobStartIn,
    ok=s.JobStartedOut,
    status=201,
    write=True,
    errors=(404,),
    methods=["POST"],
    tags=["jobs"],
)
@documented(
    "Jobs of an experiment",
    description="Paged, sorted, filtered by status; each with its attempt and step counts.",
    params=[s.JobListQueryIn],
    ok=s.JobPageOut,
    errors=(400, 404),
    methods=["GET"],
    tags=["jobs"],
    operation_id="experiments_jobs_list",
)
@endpoint(["GET", "POST"])
def experiment_jobs(request, eid):
    if request.method == "GET":
        require_experiment(request, eid)
        return Response(reads.job_list(eid, valid(s.JobListQueryIn, request.query_params)))
    require_experiment(request, eid, change=True)
    data = valid(s.JobStartIn, request.data)
    connector = connector_for(request)
    start = connector.job_started if data["take_resource"] else connector.start_job
    jid = start(eid, data["rid"], data["config"])
    return Response(s.JobStartedOut({"jid": jid}).data, status=status.HTTP_201_CREATED)


@documented("Job ids of an experiment (get_running_job)", ok=s.JidsOut, errors=(404,), tags=["connector reads"])
@endpoint(["GET"])
def experiment_job_ids(request, eid):
    require_experiment(request, eid)
    return Response(s.JidsOut({"jids": connector_for(request).get_running_job(eid)}).data)


@documented(
    "Jobs of an experiment as the connector gives them (get_all_history)",
    ok=s.HistoryOut,
    errors=(404,),
    tags=["connector reads"],
)
@endpoint(["GET"])
def experiment_history(request, eid):
    require_experiment(request, eid)
    rows = connector_for(request).get_all_history(eid)
    fields = ("jid", "score", "eid", "start_time", "end_time", "status", "config_json")
    return Response(s.HistoryOut({"jobs": [dict(zip(fields, row)) for row in rows]}).data)


@documented(
    "The best job (get_best_result, get_best_result_config)",
    description="The job with the best finite score (ties: the lowest jid), or nulls if none has one.",
    params=[OpenApiParameter("maximize", OpenApiTypes.BOOL, required=False, default=True)],
    ok=s.BestOut,
    errors=(400, 404),
    tags=["connector reads"],
)
@endpoint(["GET"])
def experiment_best(request, eid):
    maximize = valid(s.BestQueryIn, request.query_params)["maximize"]
    require_experiment(request, eid)
    connector = connector_for(request)
    best = connector.get_best_result(eid, maximize=maximize)
    config = connector.get_best_result_config(eid, maximize=maximize)
    jid, score = best if best is not None else (None, None)
    return Response(s.BestOut({"jid": jid, "score": score, "config_json": config[0] if config else None}).data)


@documented(
    "Intermediate results of an experiment's jobs in a status (get_intermediate_results_experiment)",
    params=[OpenApiParameter("status", OpenApiTypes.STR, required=False, description="A job status; none: no job.")],
    ok=s.CurvesByJobOut,
    errors=(400, 404),
    tags=["connector reads"],
)
@endpoint(["GET"])
def experiment_intermediate_results(request, eid):
    job_status = valid(s.StatusQueryIn, request.query_params).get("status")
    require_experiment(request, eid)
    return Response(curves_out(connector_for(request).get_intermediate_results_experiment(eid, job_status)))


# -- jobs ------------------------------------------------------------------------------------------


@documented(
    "Start the job's next attempt (start_job_attempt, or job_retry with take_resource)",
    request=s.AttemptStartIn,
    ok=s.AttemptStartedOut,
    status=201,
    write=True,
    errors=(404,),
    tags=["jobs"],
)
@endpoint(["POST"])
def job_attempts(request, jid):
    require_job(request, jid, change=True)
    data = valid(s.AttemptStartIn, request.data)
    connector = connector_for(request)
    start = connector.job_retry if data["take_resource"] else connector.start_job_attempt
    return Response(s.AttemptStartedOut({"jaid": start(data["rid"], jid)}).data, status=status.HTTP_201_CREATED)


@documented(
    "End the job's latest attempt (end_job_attempt, or job_failed with free_rid)",
    request=s.AttemptEndIn,
    status=204,
    write=True,
    errors=(404,),
    tags=["jobs"],
)
@endpoint(["POST"])
def job_end_attempt(request, jid):
    require_job(request, jid, change=True)
    data = valid(s.AttemptEndIn, request.data)
    connector = connector_for(request)
    if data["free_rid"] is None:
        connector.end_job_attempt(jid)
    else:
        require_freeable(request, data["free_rid"], jid)
        connector.job_failed(data["free_rid"], jid)
    return no_content()


@documented(
    "End a job (end_job, or job_finished with free_rid)",
    description="With free_rid, also ends the latest attempt and frees the resource, atomically.",
    request=s.JobEndIn,
    status=204,
    write=True,
    errors=(404,),
    tags=["jobs"],
)
@endpoint(["POST"])
def job_end(request, jid):
    require_job(request, jid, change=True)
    data = valid(s.JobEndIn, request.data)
    connector = connector_for(request)
    if data["free_rid"] is None:
        connector.end_job(jid, data["score"], data["status"])
    else:
        require_freeable(request, data["free_rid"], jid)
        connector.job_finished(data["free_rid"], jid, data["score"], data["status"])
    return no_content()


@documented(
    "Set a job's status (update_job_status)",
    request=s.JobStatusIn,
    status=204,
    write=True,
    errors=(404,),
    tags=["jobs"],
)
@endpoint(["POST"])
def job_status(request, jid):
    require_job(request, jid, change=True)
    data = valid(s.JobStatusIn, request.data)
    connector_for(request).update_job_status(jid, data["status"])
    return no_content()


@documented(
    "A job's intermediate results (get_intermediate_results_job)",
    description="In step order; with after, only the steps after that one.",
    params=[s.IntermediateResultsQueryIn],
    ok=s.IntermediateResultsOut,
    errors=(400, 404),
    methods=["GET"],
    tags=["results"],
)
@documented(
    "Record the job's next intermediate result (save_intermediate_result)",
    request=s.IntermediateResultIn,
    ok=s.IntermediateResultSavedOut,
    status=201,
    write=True,
    errors=(404,),
    methods=["POST"],
    tags=["results"],
)
@endpoint(["GET", "POST"])
def job_intermediate_results(request, jid):
    if request.method == "GET":
        after = valid(s.IntermediateResultsQueryIn, request.query_params)["after"]
        require_job(request, jid)
        return Response(reads.intermediate_results(jid, after))
    require_job(request, jid, change=True)
    data = valid(s.IntermediateResultIn, request.data)
    irid = connector_for(request).save_intermediate_result(jid, data["score"])
    return Response(s.IntermediateResultSavedOut({"irid": irid}).data, status=status.HTTP_201_CREATED)


@documented(
    "Record labeled results (save_multiple_results)",
    description="One row per score, label order 1..n, linked to the intermediate result irid (or none).",
    request=s.MultipleResultsIn,
    status=204,
    write=True,
    errors=(404,),
    methods=["POST"],
    tags=["results"],
)
@endpoint(["POST"])
def job_multiple_results(request, jid):
    require_job(request, jid, change=True)
    data = valid(s.MultipleResultsIn, request.data)
    connector_for(request).save_multiple_results(jid, data["irid"], data["eid"], data["labels"], data["scores"])
    return no_content()


@documented(
    "Mark the job's final labeled results (set_last_multiple_results)",
    description="Its last num_labels rows become its final values, and only those.",
    request=s.LastMultipleResultsIn,
    status=204,
    write=True,
    errors=(404,),
    tags=["results"],
)
@endpoint(["POST"])
def job_last_multiple_results(request, jid):
    require_job(request, jid, change=True)
    data = valid(s.LastMultipleResultsIn, request.data)
    connector_for(request).set_last_multiple_results(data["eid"], jid, data["num_labels"])
    return no_content()


# -- results of many jobs -----------------------------------------------------------------------------


@documented(
    "Intermediate results of several jobs (get_intermediate_results_jobs)",
    description="Jobs without results, unknown jobs and jobs that are not yours are absent.",
    params=[OpenApiParameter("jid", OpenApiTypes.INT64, many=True, explode=True, required=False)],
    ok=s.CurvesByJobOut,
    errors=(400,),
    tags=["connector reads"],
)
@endpoint(["GET"])
def intermediate_results(request):
    jids = valid(s.JobIdsQueryIn, request.query_params)["jid"]
    visible = list(visible_jobs(request).filter(pk__in=jids).values_list("pk", flat=True)) if jids else []
    return Response(curves_out(connector_for(request).get_intermediate_results_jobs(visible)))


@documented(
    "Record many intermediate results, with their labeled results, at once",
    description=(
        "For executors that report fast: each item is save_intermediate_result(jid, score), then, if "
        "it has scores, save_multiple_results(jid, irid, the job's experiment, labels, scores). All "
        f"or nothing, at most {s.MAX_BATCH} items."
    ),
    request=s.BatchIn,
    ok=s.BatchSavedOut,
    status=201,
    write=True,
    errors=(404,),
    tags=["results"],
)
@endpoint(["POST"])
def intermediate_results_batch(request):
    items = valid(s.BatchIn, request.data)["results"]
    jids = {item["jid"] for item in items}
    changeable = Experiment.objects.changeable_by(request.user)
    experiment_of = dict(Job.objects.filter(pk__in=jids, experiment__in=changeable).values_list("pk", "experiment_id"))
    for item in items:
        if item["jid"] not in experiment_of:
            require_job(request, item["jid"], change=True)  # raises: not found, or not theirs to change
    connector = connector_for(request)
    irids = []
    # All or nothing: an error in the last item undoes the first.
    with transaction.atomic():
        for item in items:
            irid = connector.save_intermediate_result(item["jid"], item["score"])
            if item["scores"]:
                eid = experiment_of[item["jid"]]
                connector.save_multiple_results(item["jid"], irid, eid, item["labels"], item["scores"])
            irids.append(irid)
    return Response(s.BatchSavedOut({"irids": irids}).data, status=status.HTTP_201_CREATED)


# -- reads: a job, curves, labeled results ------------------------------------------------------


@documented("A job, with its attempts and final labeled values", ok=s.JobDetailOut, errors=(404,), tags=["jobs"])
@endpoint(["GET"])
def job(request, jid):
    return Response(reads.job_detail(visible_jobs(request), jid))


@documented(
    "Learning curves of an experiment's jobs, downsampled",
    description=(
        "Each curve at most `points` points, downsampled as the dashboard's charts are (each stretch's "
        "extremes kept in the database, then LTTB, keeping gaps and both ends); a NaN, infinite or text "
        "score is a gap (null). Give back the answer's cursor as `since` to get only the curves that "
        "changed after it (each whole again, downsampled)."
    ),
    params=[s.CurvesQueryIn],
    ok=s.CurvesOut,
    errors=(400, 404),
    tags=["results"],
)
@endpoint(["GET"])
def experiment_curves(request, eid):
    query = valid(s.CurvesQueryIn, request.query_params)
    require_experiment(request, eid)
    return Response(reads.curves(eid, query))


@documented(
    "Labeled results of an experiment, one label at a time",
    description="By label name (or order), optionally of some jobs, in id order, a page of `limit` rows after `after`.",
    params=[s.MultipleResultsQueryIn],
    ok=s.MultipleResultsOut,
    errors=(400, 404),
    tags=["results"],
)
@endpoint(["GET"])
def experiment_multiple_results(request, eid):
    query = valid(s.MultipleResultsQueryIn, request.query_params)
    require_experiment(request, eid)
    return Response(reads.multiple_results(eid, query))


# -- resources ------------------------------------------------------------------------------------


@documented("Resource types, in first-seen order (get_resource_type)", ok=s.ResourceTypesOut, tags=["resources"])
@endpoint(["GET"])
def resource_types(request):
    return Response(s.ResourceTypesOut({"types": connector_for(request).get_resource_type()}).data)


@documented(
    "Free resources for a type (get_available_resource)",
    description=(
        "Free, in-service rids in rid order. With a non-empty blacklist: first the free rids whose "
        "type equals rtype and that are not blacklisted; if none, the free rids whose type is "
        "contained in rtype ('gpu,cpu' matches both), blacklist ignored. Without rtype: none."
    ),
    params=[
        OpenApiParameter("rtype", OpenApiTypes.STR, required=False),
        OpenApiParameter("blacklist", OpenApiTypes.INT64, many=True, explode=True, required=False),
    ],
    ok=s.RidsOut,
    errors=(400,),
    tags=["resources"],
)
@endpoint(["GET"])
def resources_available(request):
    query = valid(s.AvailableQueryIn, request.query_params)
    rids = connector_for(request).get_available_resource(None, query.get("rtype"), query["blacklist"] or None)
    return Response(s.RidsOut({"rids": rids}).data)


@documented(
    "Take a resource (take_available_resource)",
    description="Compare-and-set: true only for the caller that moved it from free to busy.",
    ok=s.TakenOut,
    write=True,
    errors=(404,),
    params=[CONNECTOR_ID],
    tags=["resources"],
)
@endpoint(["POST"])
def resource_take(request, rid):
    return Response(s.TakenOut({"taken": connector_for(request).take_available_resource(rid)}).data)


@documented(
    "Free a resource (free_used_resource)",
    description="A free one, one your connectors took, or any for staff: not another executor's hold.",
    ok=s.FreedOut,
    write=True,
    errors=(404,),
    tags=["resources"],
)
@endpoint(["POST"])
def resource_free(request, rid):
    require_freeable(request, rid)
    return Response(s.FreedOut({"freed": connector_for(request).free_used_resource(rid)}).data)


@documented(
    "Free the resources this connector took (free_all_resources)",
    description="Frees what was taken with the same Aup-Connector-Id (or token), never other holds.",
    status=204,
    write=True,
    params=[CONNECTOR_ID],
    tags=["resources"],
)
@endpoint(["POST"])
def resources_free_all(request):
    connector_for(request).free_all_resources()
    return no_content()


@documented(
    "Add a resource (staff)",
    request=s.ResourceIn,
    ok=s.ResourceOut,
    status=201,
    write=True,
    methods=["POST"],
    tags=["resources"],
)
@documented(
    "Resources, with the job each runs",
    description="A job is shown only if you may see its experiment: a resource someone else's job holds is just busy.",
    ok=s.ResourceListItemOut(many=True),
    methods=["GET"],
    tags=["resources"],
    operation_id="resources_list",
)
@endpoint(["GET", "POST"])
def resources(request):
    if request.method == "GET":
        return Response(reads.resource_list(visible_experiments(request)))
    staff_only(request)
    data = valid(s.ResourceIn, request.data)
    resource = Resource.objects.create(**data)
    return Response(s.ResourceOut(resource).data, status=status.HTTP_201_CREATED)


@documented(
    "A resource, with the job it runs", ok=s.ResourceListItemOut, errors=(404,), methods=["GET"], tags=["resources"]
)
@documented(
    "Change a resource (staff)",
    description="in_service false takes it out of service: executors are never given it.",
    request=s.ResourceChangeIn,
    ok=s.ResourceOut,
    write=True,
    errors=(404,),
    methods=["PATCH"],
    tags=["resources"],
)
@documented(
    "Remove a resource (staff)",
    description="The attempts that ran on it keep their history, without the resource.",
    status=204,
    write=True,
    errors=(404,),
    methods=["DELETE"],
    tags=["resources"],
)
@endpoint(["GET", "PATCH", "DELETE"])
def resource(request, rid):
    if request.method == "GET":
        return Response(reads.resource_detail(rid, visible_experiments(request)))
    staff_only(request)
    if request.method == "DELETE":
        deleted, _ = Resource.objects.filter(pk=rid).delete()
        if not deleted:
            raise NotFoundError(f"resource {rid} does not exist")
        return no_content()
    data = valid(s.ResourceChangeIn, request.data)
    matching = Resource.objects.filter(pk=rid)
    if not (matching.update(**data) if data else matching.exists()):
        raise NotFoundError(f"resource {rid} does not exist")
    return Response(s.ResourceOut(Resource.objects.get(pk=rid)).data)


# -- tokens ------------------------------------------------------------------------------------------


@documented("Your API tokens", ok=s.TokenOut(many=True), methods=["GET"], tags=["tokens"])
@documented(
    "Issue an API token",
    description="The secret is in this response only; store it now. From a signed-in session only.",
    request=s.TokenIn,
    ok=s.TokenIssuedOut,
    status=201,
    write=True,
    methods=["POST"],
    tags=["tokens"],
)
@endpoint(["GET", "POST"], permissions=[SignedInWithPassword])
def tokens(request):
    if request.method == "GET":
        return Response(s.TokenOut(ApiToken.objects.filter(user=request.user), many=True).data)
    data = valid(s.TokenIn, request.data)
    token, secret = ApiToken.issue(request.user, data["name"])
    return Response(s.TokenIssuedOut({**s.TokenOut(token).data, "secret": secret}).data, status=status.HTTP_201_CREATED)


@documented("Revoke one of your API tokens", ok=s.TokenOut, write=True, errors=(404,), tags=["tokens"])
@endpoint(["POST"], permissions=[SignedInWithPassword])
def token_revoke(request, token_id):
    token = ApiToken.objects.filter(user=request.user, pk=token_id).first()
    if token is None:
        raise NotFoundError(f"token {token_id} does not exist")
    token.revoke()
    return Response(s.TokenOut(token).data)


# -- anything else under /api/ ------------------------------------------------------------------------


@extend_schema(exclude=True)
@endpoint(ALL_METHODS)
def not_found(request, url=""):
    raise NotFoundError(f"nothing at {request.path}")
