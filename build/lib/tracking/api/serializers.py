"""Input and output serializers of the API: separate for each direction, explicit fields,
no logic (what a value means is the connector's, or the view's, to decide).

Input serializers end in ``In``, output serializers in ``Out``.
"""

from rest_framework import serializers

from tracking.api.fields import (
    ExperimentStatusField,
    IdField,
    IdQueryField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    JobStatusField,
    JSONObjectField,
    ScoreField,
    TextField,
)

LABEL_MAX_LENGTH = 255  # tracking.models.ResultLabel.name
MAX_BATCH = 1000


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
        max_length=150,
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
        max_length=255,
        allow_null=True,
        allow_blank=True,
        required=False,
        trim_whitespace=False,
        help_text="The experiment's name.",
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


class EidsOut(serializers.Serializer):
    eids = serializers.ListField(child=serializers.IntegerField())


class JidsOut(serializers.Serializer):
    jids = serializers.ListField(child=serializers.IntegerField())


class UsernameQueryIn(serializers.Serializer):
    username = serializers.CharField(max_length=150, required=False, allow_blank=True)


# -- jobs: writes -----------------------------------------------------------------------------


class JobStartIn(serializers.Serializer):
    rid = IdField(help_text="The resource the job's first attempt runs on.")
    config = JSONObjectField(default=dict, help_text="The job's hyperparameters.")
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
        allow_null=True, default=None, help_text="Also free this resource, atomically (job_failed)."
    )


class JobEndIn(serializers.Serializer):
    score = ScoreField(default=None)
    status = JobStatusField(default=None)
    free_rid = IdField(
        allow_null=True,
        default=None,
        help_text="Also free this resource and end the latest attempt, atomically (job_finished).",
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
        help_text="The values' names; none or empty: the config's resource_args.multi_res_labels.",
    )
    scores = serializers.ListField(child=ScoreField(), help_text="One value per label, in label order.")


class LastMultipleResultsIn(serializers.Serializer):
    eid = IdField(help_text="The job's experiment.")
    num_labels = StrictIntegerField(min_value=0, max_value=2**31 - 1)


class BatchItemIn(serializers.Serializer):
    jid = IdField()
    score = ScoreField()
    labels = serializers.ListField(
        child=TextField(max_length=LABEL_MAX_LENGTH), allow_null=True, default=None, help_text="As in multiple results."
    )
    scores = serializers.ListField(
        child=ScoreField(), default=list, help_text="Labeled values of this step; none: no multiple results."
    )


class BatchIn(serializers.Serializer):
    results = serializers.ListField(child=BatchItemIn(), max_length=MAX_BATCH)


class BatchSavedOut(serializers.Serializer):
    irids = serializers.ListField(child=serializers.IntegerField(), help_text="In the order of the results given.")


# -- connector reads ----------------------------------------------------------------------------


class HistoryRowOut(serializers.Serializer):
    jid = serializers.IntegerField()
    score = ScoreField()
    eid = serializers.IntegerField()
    start_time = serializers.IntegerField(allow_null=True, help_text="Unix seconds.")
    end_time = serializers.IntegerField(allow_null=True, help_text="Unix seconds.")
    status = serializers.CharField(allow_null=True)
    config_json = serializers.CharField(help_text="The job's config as a JSON text, as the connector gives it.")


class HistoryOut(serializers.Serializer):
    jobs = HistoryRowOut(many=True)


class BestQueryIn(serializers.Serializer):
    maximize = serializers.BooleanField(default=True)


class BestOut(serializers.Serializer):
    jid = serializers.IntegerField(allow_null=True, help_text="null: no job has a finite score.")
    score = serializers.FloatField(allow_null=True)
    config_json = serializers.CharField(allow_null=True)


class CurvesByJobOut(serializers.Serializer):
    curves = serializers.DictField(
        child=serializers.ListField(child=ScoreField()),
        help_text="Scores in step order, by jid (as a string: JSON keys are strings). Jobs without results are absent.",
    )


class StatusQueryIn(serializers.Serializer):
    status = serializers.CharField(required=False, allow_null=True)


class JobIdsQueryIn(serializers.Serializer):
    jid = serializers.ListField(child=IdQueryField(), required=False, default=list, max_length=1000)


class ScoresOut(serializers.Serializer):
    scores = serializers.ListField(child=ScoreField())


# -- resources ---------------------------------------------------------------------------------


class ResourceTypesOut(serializers.Serializer):
    types = serializers.ListField(child=serializers.CharField())


class AvailableQueryIn(serializers.Serializer):
    rtype = serializers.CharField(required=False, max_length=1000, trim_whitespace=False)
    blacklist = serializers.ListField(child=IdQueryField(), required=False, default=list, max_length=1000)


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


class ResourceIn(serializers.Serializer):
    type = StrictCharField(max_length=64, help_text="Free text: cpu, gpu, node, aws, passive, ...")
    name = StrictCharField(max_length=255)
    in_service = StrictBooleanField(default=True)


class ResourceChangeIn(serializers.Serializer):
    type = StrictCharField(max_length=64, required=False)
    name = StrictCharField(max_length=255, required=False)
    in_service = StrictBooleanField(required=False, help_text="false: executors are never given it.")


# -- tokens ------------------------------------------------------------------------------------


class TokenIn(serializers.Serializer):
    name = StrictCharField(max_length=100, help_text="What the token is for, e.g. the machine it lives on.")


class TokenOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The secret's first characters, to tell tokens apart.")
    created = serializers.DateTimeField()
    last_used = serializers.DateTimeField(allow_null=True)
    revoked = serializers.DateTimeField(allow_null=True)


class TokenIssuedOut(TokenOut):
    secret = serializers.CharField(help_text="Shown this once: only its hash is stored.")
