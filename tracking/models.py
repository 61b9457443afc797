"""The tracking data: experiments, jobs, attempts, resources and their results.

The tables mirror Auptimizer's SQLite schema (experiment, job, job_attempt, resource,
intermediate_result, multiple_result) so that executors written for Auptimizer record
the same facts, with what Auptimizer leaves to convention made explicit: statuses and
uniqueness are database constraints, owners are Django users, times are timestamps.

Writes come from tracking.connector.DjangoConnector; the dashboard and the API read.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from tracking.scores import decode_score


def config_label_names(config):
    """The label names an experiment config declares (``resource_args.multi_res_labels``), or []."""
    resource_args = config.get("resource_args") if isinstance(config, dict) else None
    names = resource_args.get("multi_res_labels") if isinstance(resource_args, dict) else None
    if not isinstance(names, (list, tuple)):
        return []
    return [str(name) for name in names]


class ExperimentStatus(models.TextChoices):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    STOPPING = "STOPPING"
    REQUEST_STOP = "REQUEST_STOP"


class JobStatus(models.TextChoices):
    # A job may also have no status at all: Auptimizer ends cancelled jobs with NULL.
    RUNNING = "RUNNING"
    EARLY_STOPPED = "EARLY_STOPPED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


class ResourceStatus(models.TextChoices):
    FREE = "free"
    BUSY = "busy"


class ExperimentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The experiments `user` may see: staff see all, a researcher their own.

        Every page, fragment and API endpoint starts from this, so that access is
        decided in one place and never only in a template.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(owner=user)


class Experiment(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="experiments")
    # Unique across the whole database, as Auptimizer makes it ("toy", "toy (1)", ...);
    # NULL when the executor gave none (NULLs never collide).
    name = models.CharField(max_length=255, null=True, blank=True)
    config = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ExperimentStatus.choices, default=ExperimentStatus.CREATED)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    # The first error an executor reports; later ones are ignored.
    error_msg = models.TextField(null=True, blank=True)

    objects = ExperimentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name"], name="tracking_experiment_unique_name"),
            models.CheckConstraint(
                condition=Q(status__in=ExperimentStatus.values), name="tracking_experiment_valid_status"
            ),
        ]
        indexes = [
            # Experiments list: a user's experiments, newest first.
            models.Index(fields=["owner", "-start_time"], name="tracking_experiment_owner"),
            # Experiments list filtered by status; recovery looks for RUNNING ones.
            models.Index(fields=["status", "-start_time"], name="tracking_experiment_status"),
        ]

    def __str__(self):
        return self.name or f"Experiment {self.pk}"


class Resource(models.Model):
    name = models.CharField(max_length=255)
    # Free text, as in Auptimizer: cpu, gpu, node, aws, passive, ...
    type = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=ResourceStatus.choices, default=ResourceStatus.FREE)
    # An admin takes a resource out of service; executors are then never given it.
    in_service = models.BooleanField(default=True)
    # Who took it (a connector instance's id) and when: free_all_resources frees only
    # what its own instance holds, and the admin shows since when a resource is busy.
    holder = models.CharField(max_length=64, null=True, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ResourceStatus.values), name="tracking_resource_valid_status"),
        ]
        indexes = [
            # DjangoConnector.get_available_resource: free, in-service resources of a type.
            models.Index(fields=["status", "type"], name="tracking_resource_free_type"),
        ]

    def __str__(self):
        return f"{self.type} {self.name} (#{self.pk})"


class Job(models.Model):
    experiment = models.ForeignKey(Experiment, models.CASCADE, related_name="jobs")
    config = models.JSONField(default=dict, blank=True)
    # See tracking.scores: the finite number, or the text of anything else.
    score = models.FloatField(null=True, blank=True)
    score_text = models.TextField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__isnull=True) | Q(status__in=JobStatus.values), name="tracking_job_valid_status"
            ),
        ]
        indexes = [
            # get_best_result and the best-score column: best finite score of an experiment.
            models.Index(fields=["experiment", "score"], name="tracking_job_experiment_score"),
            # Counts by status, and get_intermediate_results_experiment(eid, status).
            models.Index(fields=["experiment", "status"], name="tracking_job_experiment_status"),
        ]

    def __str__(self):
        return f"Job {self.pk}"

    @property
    def score_value(self):
        return decode_score(self.score, self.score_text)


class JobAttempt(models.Model):
    job = models.ForeignKey(Job, models.CASCADE, related_name="attempts")
    # 0 for the first run of a job, then 1, 2, ... for each retry.
    number = models.PositiveIntegerField()
    # Resources are history: deleting one keeps the attempts that ran on it.
    resource = models.ForeignKey(Resource, models.SET_NULL, null=True, blank=True, related_name="attempts")
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Also the index behind "latest attempt of a job" (end_job_attempt).
            models.UniqueConstraint(fields=["job", "number"], name="tracking_jobattempt_unique_number"),
        ]
        indexes = [
            # Resources page: recent attempts per resource, and the attempt holding it now.
            models.Index(fields=["resource", "-start_time"], name="tracking_jobattempt_resource"),
        ]

    def __str__(self):
        return f"Attempt {self.number} of job {self.job_id}"


class IntermediateResult(models.Model):
    job = models.ForeignKey(Job, models.CASCADE, related_name="intermediate_results")
    # The step: 0, 1, 2, ... per job.
    number = models.PositiveIntegerField()
    score = models.FloatField(null=True, blank=True)
    score_text = models.TextField(null=True, blank=True)
    receive_time = models.DateTimeField()

    class Meta:
        constraints = [
            # Also the index behind a job's curve in order and its next step number.
            models.UniqueConstraint(fields=["job", "number"], name="tracking_intermediateresult_step"),
        ]

    def __str__(self):
        return f"Step {self.number} of job {self.job_id}"

    @property
    def score_value(self):
        return decode_score(self.score, self.score_text)


class MultipleResult(models.Model):
    job = models.ForeignKey(Job, models.CASCADE, related_name="multiple_results")
    # DO_NOTHING in Python, a (deferred) foreign key in the database: rows of both
    # tables are always deleted together, per job or per experiment, and without a
    # Python-side cascade Django deletes intermediate results in one statement instead
    # of loading every row first (a restart of a big experiment).
    intermediate_result = models.ForeignKey(
        IntermediateResult, models.DO_NOTHING, null=True, blank=True, related_name="multiple_results"
    )
    experiment = models.ForeignKey(Experiment, models.CASCADE, related_name="multiple_results")
    # 1-based position of the label in the experiment's label list.
    label_order = models.PositiveIntegerField()
    value = models.FloatField(null=True, blank=True)
    value_text = models.TextField(null=True, blank=True)
    receive_time = models.DateTimeField()
    # The job's final values: set by set_last_multiple_results, one set per job.
    is_last = models.BooleanField(default=False)

    class Meta:
        indexes = [
            # A job's labeled curve, one label at a time (job page, curves by label).
            models.Index(fields=["job", "label_order"], name="tracking_multipleresult_job"),
            # Jobs table: the final labeled values of an experiment's jobs.
            models.Index(
                fields=["experiment", "job"], condition=Q(is_last=True), name="tracking_multipleresult_last"
            ),
        ]

    def __str__(self):
        return f"Label {self.label_order} of job {self.job_id}"

    @property
    def value_decoded(self):
        return decode_score(self.value, self.value_text)


class ResultLabel(models.Model):
    """The name of one labeled result of an experiment ("accuracy" for label order 1, ...)."""

    experiment = models.ForeignKey(Experiment, models.CASCADE, related_name="result_labels")
    label_order = models.PositiveIntegerField()
    name = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "label_order"], name="tracking_resultlabel_unique_order"),
        ]
        ordering = ["experiment", "label_order"]

    def __str__(self):
        return self.name


class ImportedExperiment(models.Model):
    """Where an experiment imported from an Auptimizer database came from (manage.py aup_import).

    The fingerprint names the source experiment by what Auptimizer never changes once it
    has written it: its id, its owner's name, its start time and its config (and the
    name column of the master-branch schema). Importing a file again, a copy of it or a
    later version of it skips the experiments already imported; deleting an imported
    experiment deletes this record too, so importing the file again brings it back.
    """

    experiment = models.OneToOneField(Experiment, models.CASCADE, related_name="import_source")
    fingerprint = models.CharField(max_length=64)
    source_eid = models.BigIntegerField()
    # The file it came from, as given at import time: for the record only.
    source_file = models.TextField()
    imported_at = models.DateTimeField()

    class Meta:
        constraints = [
            # aup_import: which of a file's experiments are here already (fingerprint IN (...)).
            models.UniqueConstraint(fields=["fingerprint"], name="tracking_importedexperiment_unique_fingerprint"),
        ]

    def __str__(self):
        return f"Experiment {self.experiment_id} from {self.source_file} (eid {self.source_eid})"
