"""Input and output serializers of the API: separate for each direction, explicit fields,
no logic (what a value means is the connector's, or the view's, to decide).

Input serializers end in ``In``, output serializers in ``Out``.
"""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracking import notes as notes_rules  # 'notes' is also a field's name below

from tracking.interface import EXPERIMENT_STATUSES, JOB_STATUSES, MAX_LABELS
from tracking.models import ApiToken, Experiment, ExperimentQuerySet, JobQuerySet, Resource, ResultLabel

from tracking.api.fields import (
    ExperimentStatusField,
    ID_MAX,
    IdField,
    IdQueryField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    JobStatusField,
    JSONObjectField,
    JSONValueField,
    QueryTextField,
    ScoreField,
    TextField,
)



def column_length(model, field):
    """The most characters `model`'s `field` holds: a longer input is refused here, not by the database."""
    return model._meta.get_field(field).max_length


USERNAME_MAX_LENGTH = column_length(get_user_model(), "username")
EXPERIMENT_NAME_MAX_LENGTH = column_length(Experiment, "name")
LABEL_MAX_LENGTH = column_length(ResultLabel, "name")
MAX_BATCH = 1000

# Every read answers a bounded page, whatever an experiment holds; the body says how to
# get the rest (next_after, next, or page and pages). The most one answer carries:
IDS_LIMIT = 10_000  # ids of experiments/ids/ and job-ids/
HISTORY_LIMIT = 1_000  # jobs of history/
RESULTS_LIMIT = 100_000  # scores of intermediate-results/ (an experiment's, or some jobs')
JOB_RESULTS_LIMIT = 10_000  # steps of jobs/<jid>/intermediate-results/
CURVE_POINTS_LIMIT = 100_000  # page_size x points of curves/
ATTEMPTS_LIMIT = 1_000  # attempts of jobs/<jid>/attempts/
ATTEMPTS_SHOWN = 100  # a job's latest attempts, in jobs/<jid>/
RESOURCES_LIMIT = 1_000  # resources of resources/
TOKENS_LIMIT = 1_000  # tokens of tokens/
LABELS_LIMIT = 1_000  # label names of experiments/<eid>/labels/, and the first ones in experiments/<eid>/
# (A limit's default is read when a request comes: a test makes it small to see the pages.)

# What a person reads as "Job 3" (the pages name jobs so); the jid stays the id.
JOB_NUMBER_HELP = (
    "The job's number within its experiment: 1, 2, 3, ... in the order its jobs started (a restart "
    "starts again at 1). The pages name a job by it; jid is its id, in URLs and the API."
)


# -- errors ---------------------------------------------------------------------------------


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in one readable sentence.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="For a 400: the messages of each field at fault, by dotted path (results.3.score); else empty.",
    )


# -- experiments: writes ------------------------------------------------------------------------


class ExperimentStartIn(serializers.Serializer):
    username = StrictCharField(
        max_length=USERNAME_MAX_LENGTH,
        required=False,
        help_text="The owner; by default the caller. Only staff may name another user.",
    )
    status = StrictChoiceField(
        choices=["RUNNING", "CREATED"],
        default="RUNNING",
        help_text="RUNNING: start_experiment (started now). CREATED: create_experiment (not started).",
    )
    exp_config = JSONObjectField(
        required=False,
        help_text=(
            "Auptimizer 2.0's form: the config, with the experiment's name under 'name'. The unique "
            "name the experiment gets is stored in the config. Give either this, or name and config."
        ),
    )
    name = StrictCharField(
        max_length=EXPERIMENT_NAME_MAX_LENGTH,
        allow_null=True,
        allow_blank=True,
        required=False,
        trim_whitespace=False,
        help_text="The experiment's name; null for an unnamed one. Required unless exp_config is given.",
    )
    config = JSONObjectField(required=False, help_text="The experiment's config, stored as given.")


class ExperimentStartedOut(serializers.Serializer):
    eid = serializers.IntegerField()
    name = serializers.CharField(allow_null=True, help_text='The unique name: "toy", or "toy (1)" if taken.')


class ExperimentStatusIn(serializers.Serializer):
    status = ExperimentStatusField()


class ExperimentEndIn(serializers.Serializer):
    status = ExperimentStatusField(default="FINISHED")


class ExperimentStatusOut(serializers.Serializer):
    status = serializers.CharField()


class ErrorMessageIn(serializers.Serializer):
    msg = TextField(help_text="The error; the experiment keeps the first one it is given.")


def next_after_field(what):
    return serializers.IntegerField(
        allow_null=True, help_text=f"More {what}: ask again with after set to this. null: that was all."
    )


def after_field(help_text, first=0, last=ID_MAX):
    """A paged read's cursor in its query: only what comes after this; `first`, the default,
    means from the start."""
    return serializers.IntegerField(min_value=first, max_value=last, default=first, help_text=help_text)


def limit_field(limit, **kwargs):
    """At most limit() items an answer, which is also the default. The default is read when
    a request is validated, so that a test can make the limit small."""
    return serializers.IntegerField(min_value=1, max_value=limit(), default=limit, **kwargs)


class IdsPageQueryIn(serializers.Serializer):
    after = after_field("Only ids after this one (paging).")
    limit = limit_field(lambda: IDS_LIMIT)


class EidsOut(serializers.Serializer):
    eids = serializers.ListField(child=serializers.IntegerField(), help_text="In id order.")
    next_after = next_after_field("experiments")


class JidsOut(serializers.Serializer):
    jids = serializers.ListField(child=serializers.IntegerField(), help_text="In id order.")
    next_after = next_after_field("jobs")


class UsernameQueryIn(IdsPageQueryIn):
    username = QueryTextField(max_length=USERNAME_MAX_LENGTH, required=False, allow_blank=True)


# -- jobs: writes -----------------------------------------------------------------------------


class JobStartIn(serializers.Serializer):
    rid = IdField(help_text="The resource the job's first attempt runs on.")
    config = JSONValueField(
        default=dict,
        allow_null=True,
        help_text="The job's config: any JSON value, as Auptimizer stores any; an object's keys are its hyperparameters.",
    )
    take_resource = StrictBooleanField(
        default=False,
        help_text="Also take the resource, atomically (job_started). The job is recorded even if it is busy.",
    )


class JobStartedOut(serializers.Serializer):
    jid = serializers.IntegerField()


class AttemptStartIn(serializers.Serializer):
    rid = IdField(help_text="The resource the new attempt runs on.")
    take_resource = StrictBooleanField(default=False, help_text="Also take the resource, atomically (job_retry).")


class AttemptStartedOut(serializers.Serializer):
    jaid = serializers.IntegerField()


class AttemptEndIn(serializers.Serializer):
    free_rid = IdField(
        allow_null=True,
        default=None,
        help_text="Also free this resource, atomically (job_failed), if this attempt took it and still holds it.",
    )


class JobEndIn(serializers.Serializer):
    score = ScoreField(default=None)
    status = JobStatusField(default=None)
    free_rid = IdField(
        allow_null=True,
        default=None,
        help_text=(
            "Also end the latest attempt and free this resource, atomically (job_finished), "
            "if that attempt took it and still holds it."
        ),
    )


class JobStatusIn(serializers.Serializer):
    status = JobStatusField()


# -- results: writes ----------------------------------------------------------------------------


class IntermediateResultIn(serializers.Serializer):
    score = ScoreField()


class IntermediateResultSavedOut(serializers.Serializer):
    irid = serializers.IntegerField()


class MultipleResultsIn(serializers.Serializer):
    eid = IdField(help_text="The job's experiment.")
    irid = IdField(allow_null=True, default=None, help_text="The intermediate result these values belong to, if any.")
    labels = serializers.ListField(
        child=TextField(max_length=LABEL_MAX_LENGTH),
        allow_null=True,
        default=None,
        max_length=MAX_LABELS,
        help_text="The values' names; none or empty: the config's resource_args.multi_res_labels.",
    )
    scores = serializers.ListField(
        child=ScoreField(), max_length=MAX_LABELS, help_text="One value per label, in label order."
    )


class LastMultipleResultsIn(serializers.Serializer):
    eid = IdField(help_text="The job's experiment.")
    num_labels = StrictIntegerField(min_value=0, max_value=MAX_LABELS)


class BatchItemIn(serializers.Serializer):
    jid = IdField()
    # -- buffered client (issue 14, part 2): an item may be labeled results alone, of an
    # intermediate result sent earlier (irid), and may name the experiment (eid).
    score = ScoreField(
        required=False,
        help_text="The step's score (save_intermediate_result). Absent: the item is labeled results alone, of irid.",
    )
    irid = IdField(
        required=False,
        allow_null=True,
        help_text="Only without score: the intermediate result the labeled values belong to (null: none).",
    )
    eid = IdField(
        required=False,
        help_text="The experiment save_multiple_results named; it must be the job's (default: the job's).",
    )
    # -- end buffered client
    labels = serializers.ListField(
        child=TextField(max_length=LABEL_MAX_LENGTH),
        allow_null=True,
        default=None,
        max_length=MAX_LABELS,
        help_text="As in multiple results.",
    )
    scores = serializers.ListField(
        child=ScoreField(),
        default=list,
        max_length=MAX_LABELS,
        help_text="Labeled values of this step; none: no multiple results.",
    )


    # -- buffered client (issue 14, part 2)
    def validate(self, data):
        if ("score" in data) == ("irid" in data):
            raise serializers.ValidationError(
                "Give either score (an intermediate result) or irid (labeled results alone), not both or neither."
            )
        return data

    # -- end buffered client


class BatchIn(serializers.Serializer):
    results = serializers.ListField(child=BatchItemIn(), max_length=MAX_BATCH)


class BatchSavedOut(serializers.Serializer):
    irids = serializers.ListField(
        child=serializers.IntegerField(allow_null=True),
        help_text="In the order of the results given; for labeled results alone, the irid given.",
    )


# -- connector reads ----------------------------------------------------------------------------


class HistoryRowOut(serializers.Serializer):
    jid = serializers.IntegerField()
    score = ScoreField()
    eid = serializers.IntegerField()
    start_time = serializers.IntegerField(allow_null=True, help_text="Unix seconds.")
    end_time = serializers.IntegerField(allow_null=True, help_text="Unix seconds.")
    status = serializers.CharField(allow_null=True)
    config_json = serializers.CharField(help_text="The job's config as a JSON text, as the connector gives it.")


class HistoryQueryIn(serializers.Serializer):
    after = after_field("Only jobs after this jid (paging).")
    limit = limit_field(lambda: HISTORY_LIMIT)


class HistoryOut(serializers.Serializer):
    jobs = HistoryRowOut(many=True, help_text="In jid order.")
    next_after = next_after_field("jobs")


class BestQueryIn(serializers.Serializer):
    maximize = serializers.BooleanField(default=True)


class BestOut(serializers.Serializer):
    jid = serializers.IntegerField(allow_null=True, help_text="null: no job has a finite score.")
    score = serializers.FloatField(allow_null=True)
    config_json = serializers.CharField(allow_null=True)


class ResultsPageQueryIn(serializers.Serializer):
    after_jid = after_field("Paging: with after_step, where the last answer ended.")
    after_step = serializers.IntegerField(min_value=-1, max_value=2**31, default=-1)
    limit = limit_field(lambda: RESULTS_LIMIT, help_text="At most this many scores.")


class ResultsNextOut(serializers.Serializer):
    after_jid = serializers.IntegerField()
    after_step = serializers.IntegerField()


class CurvesByJobOut(serializers.Serializer):
    curves = serializers.DictField(
        child=serializers.ListField(child=ScoreField()),
        help_text="Scores in step order, by jid (as a string: JSON keys are strings). Jobs without results are absent.",
    )
    next = ResultsNextOut(
        allow_null=True,
        help_text=(
            "More scores: ask again with these query parameters added (a job's curve may go on in the next "
            "answer: append its scores). null: that was all."
        ),
    )


class StatusQueryIn(ResultsPageQueryIn):
    status = serializers.CharField(required=False, allow_null=True)


class JobIdsQueryIn(ResultsPageQueryIn):
    jid = serializers.ListField(child=IdQueryField(), required=False, default=list, max_length=1000)


# -- read API ----------------------------------------------------------------------------------

PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


class PageQueryIn(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=10**9, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=PAGE_SIZE)


# -- notes and tags (issue 13, item 7): the fields; the rules are tracking/notes.py's --------


@extend_schema_field(
    {"type": "string", "maxLength": notes_rules.MAX_NOTES_CHARS, "description": "Markdown (line breaks count as one character)."}
)
class NotesField(serializers.Field):
    """Notes in a JSON body: text, at most tracking.notes.MAX_NOTES_CHARS characters."""

    default_error_messages = {"invalid": "Notes must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return notes_rules.clean_notes(data)
        except notes_rules.AnnotationError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return value


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": notes_rules.MAX_TAG_CHARS, "description": notes_rules.TAG_RULE + "."}
)
class TagNameField(serializers.Field):
    """A tag name in a JSON body or a query: tracking.notes.tag_name's spelling of it."""

    default_error_messages = {"invalid": "A tag must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return notes_rules.tag_name(data)
        except notes_rules.AnnotationError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class TagNamesField(serializers.Field):
    """An experiment's tags (its ``tags`` manager, prefetched: ExperimentQuerySet.with_tags),
    as their names in name order."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, tags):
        return [tag.name for tag in tags.all()]


class ExperimentChangeIn(serializers.Serializer):
    notes = NotesField(required=False, help_text="The experiment's notes, in Markdown; \"\" removes them.")
    tags = serializers.ListField(
        child=TagNameField(),
        required=False,
        max_length=notes_rules.MAX_TAGS,
        help_text=(
            f"The experiment's whole set of tags, replacing the one it has ([] removes them all); at most "
            f"{notes_rules.MAX_TAGS}. Names are kept in lower case, duplicates once."
        ),
    )

    def validate(self, data):
        if not data:
            raise serializers.ValidationError("Give notes, tags, or both.")
        if "tags" in data:
            data["tags"] = list(dict.fromkeys(data["tags"]))
        return data


class JobChangeIn(serializers.Serializer):
    notes = NotesField(help_text="The job's notes, in Markdown; \"\" removes them.")


# -- end of notes and tags ----------------------------------------------------------------


class ExperimentListQueryIn(PageQueryIn):
    search = QueryTextField(
        max_length=EXPERIMENT_NAME_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Part of the name, or of one of its tags.",
    )
    # Notes and tags: an exact tag (one no experiment you may see carries gives none).
    tag = TagNameField(required=False, help_text="Only the experiments with this tag.")
    status = serializers.ChoiceField(choices=list(EXPERIMENT_STATUSES), required=False, allow_blank=True)
    owner = QueryTextField(
        max_length=USERNAME_MAX_LENGTH, required=False, allow_blank=True, help_text="The owner's user name."
    )
    sort = serializers.ChoiceField(choices=list(ExperimentQuerySet.LIST_SORTS), default="-start")


class ExperimentOut(serializers.Serializer):
    eid = serializers.IntegerField(source="pk")
    name = serializers.CharField(allow_null=True)
    owner = serializers.CharField(source="owner.username")
    status = serializers.CharField()
    start_time = serializers.DateTimeField(allow_null=True)
    end_time = serializers.DateTimeField(allow_null=True)
    error_msg = serializers.CharField(allow_null=True)
    jobs_total = serializers.IntegerField()
    jobs_done = serializers.IntegerField(help_text="Jobs no longer RUNNING.")
    best_score = serializers.FloatField(
        allow_null=True, help_text="The best finite score, in the direction of the config's target (max unless min)."
    )
    # Notes and tags (issue 13, item 7).
    tags = TagNamesField(help_text="Its tags, by name.")


class ExperimentPageOut(serializers.Serializer):
    count = serializers.IntegerField(help_text="Experiments matching, on all pages.")
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    results = ExperimentOut(many=True)


class BestJobOut(serializers.Serializer):
    jid = serializers.IntegerField(source="pk")
    number = serializers.IntegerField(help_text=JOB_NUMBER_HELP)
    score = serializers.FloatField()


class LabelOut(serializers.Serializer):
    order = serializers.IntegerField(source="label_order")
    name = serializers.CharField()


# -- issue 13, part 3: each label's direction (tracking/objectives.py) ----------------------


class LabelDirectionOut(LabelOut):
    direction = serializers.ChoiceField(
        choices=["max", "min"],
        help_text="Which way is better: max (higher) or min (lower); set by the owner, else the default rule.",
    )
    declared = serializers.BooleanField(
        help_text=(
            "true: the owner set the direction; false: the default rule chose it (a name such as loss or "
            "error is lower-is-better, any other follows the experiment's target)."
        )
    )


class LabelDirectionIn(serializers.Serializer):
    direction = StrictChoiceField(
        choices=["max", "min"],
        allow_null=True,
        help_text="max (higher is better), min (lower is better), or null: back to the default rule.",
    )


# -- end of issue 13, part 3


class ExperimentDetailOut(ExperimentOut):
    config = serializers.JSONField()
    notes = serializers.CharField(help_text="Its notes, in Markdown (the pages show them rendered and sanitised).")
    jobs_by_status = serializers.DictField(
        child=serializers.IntegerField(), help_text="Job counts by status; none for jobs without one."
    )
    best = BestJobOut(allow_null=True, help_text="The job with the best finite score (ties: lowest jid).")
    labels = LabelOut(
        many=True, help_text=f"The names of the labeled results, in label order: the first {LABELS_LIMIT}."
    )
    labels_next_after = serializers.IntegerField(
        allow_null=True, help_text="More labels: GET labels/ with after set to this. null: that was all."
    )


class LabelsQueryIn(serializers.Serializer):
    after = after_field("Only labels after this order (paging).", last=2**31)
    limit = limit_field(lambda: LABELS_LIMIT)


class LabelPageOut(serializers.Serializer):
    labels = LabelDirectionOut(many=True, help_text="In label order, each with its direction.")
    next_after = next_after_field("labels")


class JobListQueryIn(PageQueryIn):
    status = serializers.ChoiceField(
        choices=[status for status in JOB_STATUSES if status] + [JobQuerySet.NO_STATUS],
        required=False,
        allow_blank=True,
        help_text="A job status, or none for jobs without one.",
    )
    sort = serializers.ChoiceField(choices=list(JobQuerySet.TABLE_SORTS), default="id")


class JobOut(serializers.Serializer):
    jid = serializers.IntegerField(source="pk")
    number = serializers.IntegerField(help_text=JOB_NUMBER_HELP)
    eid = serializers.IntegerField(source="experiment_id")
    status = serializers.CharField(allow_null=True)
    score = ScoreField(source="score_value")
    start_time = serializers.DateTimeField(allow_null=True)
    end_time = serializers.DateTimeField(allow_null=True)
    duration = serializers.FloatField(
        source="duration_seconds", allow_null=True, help_text="Seconds, until now while it runs."
    )
    config = serializers.JSONField()
    attempts_total = serializers.IntegerField(source="attempts_count")
    resource = serializers.CharField(allow_null=True, help_text="The type and name of its latest attempt's resource.")


class JobPageOut(serializers.Serializer):
    count = serializers.IntegerField(help_text="Jobs matching, on all pages.")
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    results = JobOut(many=True)


class AttemptOut(serializers.Serializer):
    jaid = serializers.IntegerField(source="pk")
    number = serializers.IntegerField(help_text="0 for the first run, then 1, 2, ... for each retry.")
    rid = serializers.IntegerField(source="resource_id", allow_null=True)
    resource = serializers.CharField(allow_null=True, help_text="Its type and name; null once removed.")
    start_time = serializers.DateTimeField(allow_null=True)
    end_time = serializers.DateTimeField(allow_null=True)


class FinalValueOut(serializers.Serializer):
    order = serializers.IntegerField(source="label_order")
    name = serializers.CharField(allow_null=True)
    value = ScoreField(source="value_decoded")


class JobDetailOut(JobOut):
    attempts = AttemptOut(
        source="attempts_out",
        many=True,
        help_text=f"Its latest {ATTEMPTS_SHOWN} attempts, in number order (attempts_total counts all; jobs/<jid>/attempts/ lists all).",
    )
    final_values = FinalValueOut(many=True, help_text="The labeled results marked final (set_last_multiple_results).")
    notes = serializers.CharField(help_text="Its notes, in Markdown.")


class AttemptsQueryIn(serializers.Serializer):
    after = after_field("Only attempts after this number (paging).", first=-1, last=2**31)
    limit = limit_field(lambda: ATTEMPTS_LIMIT)


class AttemptsOut(serializers.Serializer):
    attempts = AttemptOut(many=True, help_text="In number order.")
    next_after = next_after_field("attempts")


class IntermediateResultsQueryIn(serializers.Serializer):
    after = after_field("Only steps after this one (the last step a client has).", first=-1, last=2**31)
    limit = limit_field(lambda: JOB_RESULTS_LIMIT)


class IntermediateResultOut(serializers.Serializer):
    irid = serializers.IntegerField(source="pk")
    step = serializers.IntegerField(source="number")
    score = ScoreField(source="score_value")
    received = serializers.DateTimeField(source="receive_time")


class IntermediateResultsOut(serializers.Serializer):
    results = IntermediateResultOut(many=True, help_text="In step order.")
    next_after = next_after_field("steps")


class CurvesQueryIn(PageQueryIn):
    """A page of the experiment's jobs (in jid order): an experiment of 10,000 jobs never
    comes back whole in one answer."""

    since = serializers.IntegerField(
        min_value=0,
        max_value=2**63 - 1,
        required=False,
        help_text="A cursor of an earlier answer: only curves that changed since.",
    )
    points = serializers.IntegerField(
        min_value=8, max_value=5000, default=400, help_text="About how many points a curve may have."
    )
    jid = serializers.ListField(child=IdQueryField(), required=False, default=list, max_length=1000)

    def validate(self, data):
        if data["page_size"] * data["points"] > CURVE_POINTS_LIMIT:
            raise serializers.ValidationError(
                {"page_size": [f"page_size x points may be at most {CURVE_POINTS_LIMIT}: ask for a smaller page, or fewer points."]}
            )
        return data


class CurveOut(serializers.Serializer):
    jid = serializers.IntegerField()
    steps = serializers.ListField(child=serializers.IntegerField())
    scores = serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        help_text="One per step; null for a gap (a NaN, infinite or text score), as the dashboard's charts draw it.",
    )


class CurvesOut(serializers.Serializer):
    cursor = serializers.IntegerField(help_text="Give it back as since, to get only what changed after this answer.")
    count = serializers.IntegerField(help_text="Jobs asked for in all pages (curves of one page per answer).")
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    curves = CurveOut(
        many=True, help_text="Whole (downsampled) curves, by jid, of the jobs asked for, or that changed."
    )


class MultipleResultsQueryIn(serializers.Serializer):
    label = QueryTextField(
        max_length=LABEL_MAX_LENGTH, required=False, help_text="A label name (see the experiment's labels)."
    )
    order = serializers.IntegerField(
        min_value=1, max_value=2**31, required=False, help_text="Or the label's order (1, 2, ...)."
    )
    jid = serializers.ListField(child=IdQueryField(), required=False, default=list, max_length=1000)
    after = after_field("Only rows after this id (paging).")
    limit = serializers.IntegerField(min_value=1, max_value=5000, default=1000)


class MultipleResultOut(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    jid = serializers.IntegerField(source="job_id")
    irid = serializers.IntegerField(source="intermediate_result_id", allow_null=True)
    step = serializers.IntegerField(allow_null=True, help_text="The step of its intermediate result, if any.")
    value = ScoreField(source="value_decoded")
    received = serializers.DateTimeField(source="receive_time")
    is_last = serializers.BooleanField()


class LabelAskedOut(serializers.Serializer):
    order = serializers.IntegerField(source="label_order")
    name = serializers.CharField(allow_null=True, help_text="null: the values of this order were never given a name.")


class MultipleResultsOut(serializers.Serializer):
    label = LabelAskedOut()
    results = MultipleResultOut(many=True, help_text="In id order.")
    next_after = serializers.IntegerField(
        allow_null=True, help_text="More rows: ask again with after set to this. null: that was all."
    )


class RunningOut(serializers.Serializer):
    jid = serializers.IntegerField()
    number = serializers.IntegerField(help_text=JOB_NUMBER_HELP)
    eid = serializers.IntegerField()
    experiment = serializers.CharField(allow_null=True, help_text="The experiment's name.")


# -- resources ---------------------------------------------------------------------------------


class ResourceTypesOut(serializers.Serializer):
    types = serializers.ListField(child=serializers.CharField())


class AvailableQueryIn(serializers.Serializer):
    rtype = QueryTextField(required=False, max_length=1000, trim_whitespace=False)
    blacklist = serializers.ListField(child=IdQueryField(), required=False, default=list, max_length=1000)


# get_available_resource's blacklist in a body: far more ids than a URL holds (about 80
# to 400 there), and few enough that the database takes them as one statement's parameters.
MAX_BLACKLIST = 10_000


class AvailableIn(serializers.Serializer):
    rtype = StrictCharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False, help_text="null or absent: none."
    )
    blacklist = serializers.ListField(child=IdField(), required=False, default=list, max_length=MAX_BLACKLIST)


class RidsOut(serializers.Serializer):
    rids = serializers.ListField(child=serializers.IntegerField())


class TakenOut(serializers.Serializer):
    taken = serializers.BooleanField(help_text="True only for the caller that moved the resource from free to busy.")


class FreedOut(serializers.Serializer):
    freed = serializers.BooleanField()


class ResourceOut(serializers.Serializer):
    rid = serializers.IntegerField(source="pk")
    type = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField(help_text="free or busy")
    in_service = serializers.BooleanField()
    busy_since = serializers.DateTimeField(source="taken_at", allow_null=True)


class ResourceListItemOut(ResourceOut):
    running = RunningOut(
        allow_null=True,
        help_text=(
            "The job running on it, if you may see its experiment; null if none runs, or if it is someone else's."
        ),
    )


class ResourcesQueryIn(serializers.Serializer):
    after = after_field("Only resources after this rid (paging).")
    limit = limit_field(lambda: RESOURCES_LIMIT)


class ResourcePageOut(serializers.Serializer):
    resources = ResourceListItemOut(many=True, help_text="In rid order.")
    next_after = next_after_field("resources")


class ResourceIn(serializers.Serializer):
    type = StrictCharField(
        max_length=column_length(Resource, "type"), help_text="Free text: cpu, gpu, node, aws, passive, ..."
    )
    name = StrictCharField(max_length=column_length(Resource, "name"))
    in_service = StrictBooleanField(default=True)


class ResourceChangeIn(serializers.Serializer):
    type = StrictCharField(max_length=column_length(Resource, "type"), required=False)
    name = StrictCharField(max_length=column_length(Resource, "name"), required=False)
    in_service = StrictBooleanField(required=False, help_text="false: executors are never given it.")


# -- tokens ------------------------------------------------------------------------------------


class TokenIn(serializers.Serializer):
    name = StrictCharField(
        max_length=column_length(ApiToken, "name"), help_text="What the token is for, e.g. the machine it lives on."
    )


class TokenOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The secret's first characters, to tell tokens apart.")
    created = serializers.DateTimeField()
    last_used = serializers.DateTimeField(allow_null=True)
    revoked = serializers.DateTimeField(allow_null=True)


class TokensQueryIn(serializers.Serializer):
    after = after_field("Only tokens after this id (paging).")
    limit = limit_field(lambda: TOKENS_LIMIT)


class TokenPageOut(serializers.Serializer):
    tokens = TokenOut(many=True, help_text="In id order.")
    next_after = next_after_field("tokens")


class TokenIssuedOut(TokenOut):
    secret = serializers.CharField(help_text="Shown this once: only its hash is stored.")


# -- compare (issue 13, item 5): tracking/compare.py's comparisons ----------------------------


class CompareJobsQueryIn(serializers.Serializer):
    jobs = QueryTextField(
        help_text="2 to 6 job ids of this experiment, comma-separated (or the parameter repeated).",
    )


class CompareExperimentsQueryIn(serializers.Serializer):
    ids = QueryTextField(
        help_text="2 to 5 experiment ids, comma-separated (or the parameter repeated).",
    )


class CompareRowOut(serializers.Serializer):
    name = serializers.CharField(help_text="The configuration key (experiments: a setting, or 'parameter <name>').")
    values = serializers.ListField(
        child=serializers.JSONField(allow_null=True), help_text="One per compared object, in their order; null when absent."
    )
    present = serializers.ListField(child=serializers.BooleanField(), help_text="Whether each compared object has the key.")
    differs = serializers.BooleanField(help_text="Not the same value everywhere (a key absent somewhere differs).")


class CompareCurveOut(serializers.Serializer):
    jid = serializers.IntegerField()
    steps = serializers.ListField(child=serializers.IntegerField())
    values = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="One per step; null for a gap (NaN, infinite or text)."
    )


class CompareSeriesOut(serializers.Serializer):
    series = serializers.CharField(help_text="'score', or a label's name.")
    label_order = serializers.IntegerField(allow_null=True, help_text="The label's number; null for the score.")
    curves = CompareCurveOut(many=True, help_text="The compared jobs' curves that have points, in the jobs' order.")


class CompareJobOut(serializers.Serializer):
    jid = serializers.IntegerField(source="pk")
    number = serializers.IntegerField(help_text=JOB_NUMBER_HELP)
    status = serializers.CharField(allow_null=True)
    score = ScoreField(source="score_value")
    duration = serializers.FloatField(
        source="duration_seconds", allow_null=True, help_text="Seconds, until now while it runs."
    )
    attempts_total = serializers.IntegerField(source="attempts_count")
    config = serializers.JSONField()
    final_values = serializers.ListField(
        child=ScoreField(), help_text="The final value of each label in `labels`, in that order; null when not reported."
    )


class CompareJobsOut(serializers.Serializer):
    eid = serializers.IntegerField()
    maximize = serializers.BooleanField(help_text="The experiment's target: true for max.")
    jobs = CompareJobOut(many=True, help_text="In job-number order.")
    labels = serializers.ListField(child=serializers.CharField(), help_text="The first 20 labels, in label order.")
    config_diff = CompareRowOut(many=True, help_text="The jobs' configurations side by side, declared parameters first.")
    points = serializers.IntegerField(help_text="The most points a curve has (downsampled as the dashboard's).")
    series = CompareSeriesOut(many=True, help_text="The score's curves, then each label's.")


class CompareLineOut(serializers.Serializer):
    x = serializers.ListField(child=serializers.FloatField(), help_text="Seconds since the experiment's start.")
    best = serializers.ListField(
        child=serializers.FloatField(), help_text="The best score so far at each x (7 significant digits, as the charts)."
    )


class CompareJobLineOut(CompareLineOut):
    x = serializers.ListField(child=serializers.IntegerField(), help_text="Job numbers.")


class CompareBestJobOut(serializers.Serializer):
    jid = serializers.IntegerField(source="pk")
    number = serializers.IntegerField(help_text=JOB_NUMBER_HELP)
    score = serializers.FloatField()
    config = serializers.JSONField()


class CompareExperimentOut(serializers.Serializer):
    eid = serializers.IntegerField(source="pk")
    name = serializers.CharField(allow_null=True)
    owner = serializers.CharField(source="owner.username")
    status = serializers.CharField()
    maximize = serializers.BooleanField(help_text="Its target: true for max. Its best follows it.")
    jobs_total = serializers.IntegerField()
    best_job = CompareBestJobOut(allow_null=True, help_text="null: no job has a finite score yet.")
    by_job = CompareJobLineOut(
        source="line_by_job",
        help_text="Best so far by job number: only the jobs that set a new best, and the last job.",
    )
    by_time = CompareLineOut(
        source="line_by_time",
        help_text="Best so far by seconds from the start to each job's end: only new bests, and the last ended job.",
    )
    capped = serializers.BooleanField(help_text="More jobs than the lines read: they cover the first 10,000 only.")


class CompareExperimentsOut(serializers.Serializer):
    experiments = CompareExperimentOut(many=True, help_text="In the order asked.")
    config_diff = CompareRowOut(many=True, help_text="Their configurations side by side: settings, parameters, the rest.")


# -- end compare
# -- issue 13, part 2: hyperparameter importance (tracking/importance.py) ------------------------


class ImportanceQueryIn(serializers.Serializer):
    label = serializers.RegexField(
        r"^[1-9][0-9]{0,8}$",
        required=False,
        error_messages={"invalid": "Give a label's order (1, 2, ...) as in labels/; leave it out for the score."},
        help_text="The labeled result to rank for, by its order (labels/); left out: the score.",
    )


class ObjectiveOut(serializers.Serializer):
    key = serializers.CharField(help_text='"score", or the label\'s order as text.')
    name = serializers.CharField()
    label_order = serializers.IntegerField(allow_null=True, help_text="null for the score.")
    direction = serializers.ChoiceField(choices=["max", "min"], help_text="The direction the top jobs were chosen in.")
    declared = serializers.BooleanField(help_text="false: the direction is the default rule's, not set by a person.")


class ParameterImportanceOut(serializers.Serializer):
    parameter = serializers.CharField()
    kind = serializers.ChoiceField(choices=["number", "category"])
    log = serializers.BooleanField(help_text="Ranked in log10 space (declared log, or spanning two decades).")
    importance = serializers.FloatField(help_text="The Pearson divergence between its values in the top jobs and in all.")
    share = serializers.FloatField(help_text="Its part of the sum of all importances (the shares sum to 1).")


class ImportanceOut(serializers.Serializer):
    objective = ObjectiveOut()
    method = serializers.CharField(help_text="PED-ANOVA.")
    description = serializers.CharField(help_text="What the importance measures, in words.")
    jobs_used = serializers.IntegerField(help_text="Finished jobs with a finite value of the objective that were ranked.")
    top_jobs = serializers.IntegerField(help_text="How many of them counted as the top jobs.")
    quantile = serializers.FloatField(help_text="The share of the jobs that count as the top ones (at least 2 jobs).")
    min_jobs = serializers.IntegerField(help_text="Below this many jobs there is no answer (enough is false).")
    enough = serializers.BooleanField(help_text="false: no numbers; message says why.")
    message = serializers.CharField(allow_null=True, help_text="Why there are no numbers, or a note about them.")
    importances = ParameterImportanceOut(many=True, help_text="Most important first; empty unless enough.")


# -- end of issue 13, part 2
# -- exports (issue 13, part 6: tracking/exports.py) --------------------------------------------

EXPORT_FORMATS = ["csv", "json"]


class JobExportQueryIn(serializers.Serializer):
    """Checked here, then read by tracking.views.table_jobs, as the page's jobs table reads them."""

    format = serializers.ChoiceField(choices=EXPORT_FORMATS, default="csv")
    status = serializers.ChoiceField(
        choices=[status for status in JOB_STATUSES if status] + [JobQuerySet.NO_STATUS],
        required=False,
        allow_blank=True,
        help_text="A job status, or none for jobs without one.",
    )
    sort = serializers.ChoiceField(choices=list(JobQuerySet.TABLE_SORTS), default="-id", help_text="As the jobs table.")


class ExperimentExportQueryIn(serializers.Serializer):
    """Checked here, then read by tracking.views.listed_experiments, as the page's list reads them."""

    format = serializers.ChoiceField(choices=EXPORT_FORMATS, default="csv")
    q = QueryTextField(max_length=200, required=False, allow_blank=True, help_text="Part of the name, or of a tag.")
    status = serializers.ChoiceField(choices=list(EXPERIMENT_STATUSES), required=False, allow_blank=True)
    owner = serializers.RegexField(
        r"^[0-9]{1,19}$", required=False, allow_blank=True, help_text="The owner's user id (staff only; ignored otherwise)."
    )
    tag = TagNameField(required=False, help_text="Only the experiments with this tag.")
    sort = serializers.ChoiceField(
        choices=list(ExperimentQuerySet.LIST_SORTS), default="running", help_text="As the experiments list."
    )


def _export_row(properties, extra=None):
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    if extra:
        schema["additionalProperties"] = extra
    return {"type": "array", "items": schema}


_SCORE = {
    "oneOf": [{"type": "number"}, {"type": "string"}],
    "nullable": True,
    "description": "The finite number, or the text it was reported as ('nan', 'inf', '-inf', 'EARLY STOPPED').",
}
_TIME = {"type": "string", "format": "date-time", "nullable": True}
# The JSON exports' rows: the CSV's columns as keys, a row per object (tracking/exports.py).
JOB_EXPORT_ROWS = _export_row(
    {
        "number": {"type": "integer", "description": "The job's number within its experiment."},
        "id": {"type": "integer", "format": "int64"},
        "status": {"type": "string", "nullable": True},
        "score": _SCORE,
        "start": _TIME,
        "end": _TIME,
        "duration_seconds": {"type": "number", "nullable": True, "description": "Until now while it runs."},
        "attempts": {"type": "integer"},
    },
    extra={
        "description": (
            "param.<name>: each hyperparameter (null when the job's configuration lacks it); "
            "result.<label>: each labeled result's final value (as score; null when none)."
        ),
    },
)
EXPERIMENT_EXPORT_ROWS = _export_row(
    {
        "id": {"type": "integer", "format": "int64"},
        "name": {"type": "string", "nullable": True},
        "owner": {"type": "string"},
        "status": {"type": "string"},
        "start": _TIME,
        "end": _TIME,
        "jobs_total": {"type": "integer"},
        "jobs_done": {"type": "integer", "description": "Jobs no longer RUNNING."},
        "best_score": {"type": "number", "nullable": True},
        "target": {"type": "string", "enum": ["max", "min"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    }
)
# -- end of exports
# -- issue 13: parallel-coordinates data (tracking/parcoords.py's payload) -----------------------


class ParcoordsQueryIn(serializers.Serializer):
    """The objective; the brush's b.* keys are read by tracking.brush.parse (a key
    pattern the schema cannot list: the operation's description gives their format)."""

    objective = serializers.RegexField(
        r"^(score|[1-9][0-9]{0,8})$",
        required=False,
        trim_whitespace=False,  # as the page: " score" is no objective
        error_messages={"invalid": "Give 'score' or a label's order (1, 2, ...) as in labels/; leave it out for the score."},
        help_text="What the lines are coloured by and the last axis shows: 'score' (the default) or a label's order.",
    )


class ParcoordsObjectiveOut(ObjectiveOut):
    direction = serializers.ChoiceField(choices=["max", "min"], help_text="Which way is better: the best jobs are drawn first.")


class ParcoordsOptionOut(serializers.Serializer):
    key = serializers.CharField(help_text="An objective= value: 'score', or a label's order as text.")
    name = serializers.CharField()


class ParcoordsAxisOut(serializers.Serializer):
    key = serializers.CharField(
        help_text="The b.<key> that brushes it: a parameter's name ('@' doubled when it starts with '@'), or '@' and "
        "the objective's key for the last axis."
    )
    name = serializers.CharField(help_text="The parameter's name, or the objective's.")
    kind = serializers.ChoiceField(
        choices=["number", "category", "objective"],
        help_text="Hyperparameter axes first (at most 24, declared order), then the objective's, always last.",
    )
    log = serializers.BooleanField(help_text="A log scale: declared so, or positive values spanning two decades.")
    min = serializers.FloatField(required=False, help_text="number and objective axes: the lowest value (and declared bound).")
    max = serializers.FloatField(required=False, help_text="number and objective axes: the highest value (and declared bound).")
    categories = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="category axes: the categories in order (declared first), as b.<key>=in:... names them "
        "(a string as itself, anything else as its JSON).",
    )
    maximize = serializers.BooleanField(required=False, help_text="The objective axis: whether higher is better.")


class ParcoordsJobsOut(serializers.Serializer):
    id = serializers.ListField(child=serializers.IntegerField(), help_text="The drawn jobs' ids (jid), by id.")
    number = serializers.ListField(child=serializers.IntegerField(), help_text=JOB_NUMBER_HELP)
    values = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(allow_null=True)),
        help_text="One column per axis, in the axes' order, parallel to id: a number (rounded to 5 significant digits; "
        "the objective's to 6), a category's index in its axis' categories, or null when the job lacks the parameter.",
    )


class ParcoordsConditionOut(serializers.Serializer):
    key = serializers.CharField(help_text="The axis' key (b.<key>).")
    value = serializers.CharField(help_text="The condition as the query writes it: low..high or in:a,b.")
    low = serializers.FloatField(required=False, allow_null=True, help_text="A range: its lower end; null when open.")
    high = serializers.FloatField(required=False, allow_null=True, help_text="A range: its upper end; null when open.")
    categories = serializers.ListField(child=serializers.CharField(), required=False, help_text="A set: its categories.")


class ParcoordsLimitsOut(serializers.Serializer):
    table_rows = serializers.IntegerField(help_text="The rows of the page's table alternative under the chart.")
    budget = serializers.IntegerField(help_text="The most jobs drawn.")


class ParcoordsOut(serializers.Serializer):
    objective = ParcoordsObjectiveOut()
    objectives = ParcoordsOptionOut(many=True, help_text="What one may colour by: the score, then the first labels.")
    axes = ParcoordsAxisOut(many=True)
    jobs = ParcoordsJobsOut(help_text="The drawn jobs, as columns.")
    drawn = serializers.IntegerField(help_text="How many jobs are drawn.")
    sampled = serializers.BooleanField(
        help_text="true: more jobs have a value than the budget; drawn are the best ones and a sample of the rest "
        "evenly spaced in rank (the worst included)."
    )
    best = serializers.IntegerField(help_text="How many of the drawn jobs are the best ones (all of them unless sampled).")
    total = serializers.IntegerField(help_text="The experiment's jobs.")
    with_value = serializers.IntegerField(help_text="Its jobs with a finite value of the objective (only they are drawn).")
    inside = serializers.IntegerField(help_text="Its jobs inside the brush (all of them without one), drawn or not.")
    brush = ParcoordsConditionOut(many=True, help_text="The brush read from the b.* keys, by key; empty without one.")
    note = serializers.CharField(help_text="What is drawn and what is not, in words.")
    limits = ParcoordsLimitsOut()


# -- end of parallel-coordinates data
