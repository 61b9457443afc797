"""The tracking data: experiments, jobs, attempts, resources and their results.

The tables mirror Auptimizer's SQLite schema (experiment, job, job_attempt, resource,
intermediate_result, multiple_result) so that executors written for Auptimizer record
the same facts, with what Auptimizer leaves to convention made explicit: statuses and
uniqueness are database constraints, owners are Django users, times are timestamps.

Writes come from tracking.connector.DjangoConnector; the dashboard and the API read.
"""

import hashlib
import math
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import (
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Least, RowNumber
from django.urls import reverse
from django.utils import timezone

from tracking.interface import EXPERIMENT_STATUSES, JOB_STATUSES
from tracking.scores import decode_score


# The statuses are the interface's (tracking.interface, which RestConnector and the API
# read without Django): the choices are made from its tuples, so the two cannot drift.
# Members as a class would have them: ExperimentStatus.RUNNING == "RUNNING", label "Running".
ExperimentStatus = models.TextChoices(
    "ExperimentStatus", [(status, status) for status in EXPERIMENT_STATUSES], module=__name__
)

# A job may also have no status at all: Auptimizer ends cancelled jobs with NULL.
JobStatus = models.TextChoices("JobStatus", [(status, status) for status in JOB_STATUSES], module=__name__)


class Direction(models.TextChoices):
    """Which way an objective (the score, or a labeled result) is better."""

    MAX = "max", "higher is better"
    MIN = "min", "lower is better"


class ResourceStatus(models.TextChoices):
    FREE = "free"
    BUSY = "busy"


# The statuses in which an executor is (or should be) at work on an experiment: it runs
# jobs, or is winding down after a stop request. Recovery (aup_reset) looks only here.
ACTIVE_EXPERIMENT_STATUSES = (ExperimentStatus.RUNNING, ExperimentStatus.REQUEST_STOP, ExperimentStatus.STOPPING)

# An experiment in one of these states gets no more results: pages stop polling.
ENDED_EXPERIMENT_STATUSES = (ExperimentStatus.STOPPED, ExperimentStatus.FINISHED, ExperimentStatus.FAILED)


def unique_name(name, taken):
    """The experiment-name rule, as Auptimizer's: `name` itself if `taken` (the names in use)
    does not hold it, else "name (n)", n one past the highest n of a "name (n)" in `taken`
    ("toy", "toy (1)", "toy (2)"). None stays None: an experiment may have no name.

    `taken` may be any collection that holds `name` and the names that start "name (".
    """
    if name is None or name not in taken:
        return name
    numbered = re.compile(rf"{re.escape(name)} \((\d+)\)")
    numbers_in_use = [int(match.group(1)) for other in taken if (match := numbered.fullmatch(other))]
    return f"{name} ({max(numbers_in_use, default=0) + 1})"


def json_value(value):
    """`value` as a JSONField stores it: None is JSON null (Django would write SQL NULL,
    which the NOT NULL column refuses), as Auptimizer stores json.dumps(None)."""
    return models.Value(None, output_field=models.JSONField()) if value is None else value


def target_maximizes(config):
    """Whether an experiment config's ``target`` asks for the highest score ('max', the default)."""
    target = config.get("target") if isinstance(config, dict) else None
    return not (isinstance(target, str) and target.strip().lower() == "min")


def count_of(rows, field):
    """A correlated COUNT(*) of `rows` (a model, or a queryset of one) whose `field` is the
    outer query's row, 0 when there are none: an expression to annotate with. One subquery
    in the outer query's statement, answered by an index that leads with `field`, so the
    cost is per outer row, never per counted row."""
    if isinstance(rows, type):
        rows = rows._default_manager.all()
    counted = rows.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted[:1]), Value(0))


def extremes_per_bucket(rows, partition, width):
    """Reduce `rows` (annotated with ``_x`` and ``_y``) to at most 4 rows per bucket.

    The rows of each partition (a job's curve, or an experiment's jobs) are cut into
    buckets of `width` consecutive x; a bucket keeps its first, last, lowest and highest
    row (the M4 reduction of Jugel et al., VLDB 2014: the line drawn through them has
    the same pixels as the full line at about as many pixels as buckets). Rows whose y
    is NULL (NaN, inf, text) are their own partition, so gaps survive as gaps. Runs in
    the database with window functions (SQLite 3.25+, PostgreSQL): Python only ever
    sees the kept rows. Returns the queryset, ordered by partition then x.
    """
    partition = [partition] if isinstance(partition, str) else list(partition)
    bucket = ExpressionWrapper(F("_x") / Value(max(int(width), 1)), output_field=IntegerField())
    is_gap = Case(When(_y__isnull=True, then=Value(1)), default=Value(0), output_field=IntegerField())
    over = [*(F(field) for field in partition), bucket, is_gap]

    def rank(*order_by):
        return Window(RowNumber(), partition_by=over, order_by=order_by)

    return (
        rows.annotate(
            # One conjunctive filter (Django refuses OR across window functions):
            # a row is kept when it ranks first in any of the four orders.
            _keep=Least(
                rank(F("_x").asc()),
                rank(F("_x").desc()),
                rank(F("_y").asc(), F("_x").asc()),
                rank(F("_y").desc(), F("_x").asc()),
            )
        )
        .filter(_keep=1)
        .order_by(*partition, "_x")
    )


class ExperimentQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The experiments `user` may see: staff see all, a researcher their own and
        those shared with them or with one of their groups (read-only, see changeable_by).

        Every page, fragment and API endpoint starts from this, so that access is
        decided in one place and never only in a template. It adds no query: the
        shares are two EXISTS subqueries of the same statement (each answered by a
        unique index of ExperimentShare), so no experiment is listed twice however
        many ways it is shared.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_staff:
            return self
        shares = ExperimentShare.objects.filter(experiment=OuterRef("pk"))
        return self.filter(
            Q(owner=user)
            | Exists(shares.filter(user=user))
            | Exists(shares.filter(group__user=user))
        )

    def changeable_by(self, user):
        """The experiments `user` may stop, restart, delete and share: their own, or
        all for staff. A share never lets anyone change an experiment."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(owner=user)

    def log_error(self, message):
        """Record `message` as the error of those of these experiments that have none: the
        first error wins, so a later message never overwrites the cause. One UPDATE."""
        return self.filter(error_msg__isnull=True).update(error_msg=message)

    def name_for(self, name):
        """The name a new experiment called `name` gets among these (unique_name's rule).
        One query when the name is free, two when it is not."""
        if name is None or not self.filter(name=name).exists():
            return name
        return unique_name(name, {name, *self.filter(name__startswith=f"{name} (").values_list("name", flat=True)})

    # Experiments list sort keys: URL value -> ORDER BY. Best score sorts missing last.
    # "running", the list's default, puts the running experiments (the live demo, a
    # search in progress however old) above the ended ones, each group newest first.
    LIST_SORTS = {
        "running": (
            Case(When(status=ExperimentStatus.RUNNING, then=0), default=1),
            F("start_time").desc(nulls_last=True),
            "-pk",
        ),
        "-start": (F("start_time").desc(nulls_last=True), "-pk"),
        "start": (F("start_time").asc(nulls_last=True), "pk"),
        "name": ("name", "pk"),
        "-name": ("-name", "-pk"),
        # -- issue 13, best first: "best" is each experiment's own direction. --
        # ``best_rank`` (for_list) is the best score made comparable across targets: the
        # score of a maximised experiment, its negation for a minimised one, so that a
        # higher rank is always better. "-best" (the column's first click, "best first")
        # is rank descending: maximised experiments by highest best score and minimised
        # ones by lowest, interleaved on one scale; "best" is worst first. Experiments
        # without a finite score come last either way.
        "-best": (F("best_rank").desc(nulls_last=True), "-pk"),
        "best": (F("best_rank").asc(nulls_last=True), "-pk"),
    }

    def for_list(self, search="", status="", owner_id=None, sort="running"):
        """The experiments list: filtered, sorted, each with its job counts and best score.

        Annotates ``jobs_total``, ``jobs_done`` (status other than RUNNING) and
        ``best_score`` (the best finite score in the experiment's target direction) and
        ``best_rank`` (best_score, negated for a minimised experiment: the "best" sort).
        Correlated subqueries, each answered by an index on (experiment, ...): the cost
        is per experiment on the page, never per job. One query when evaluated.
        """
        rows = self.select_related("owner")
        if search:
            # The name, or one of the experiment's tags (notes and tags, issue 13 item 7).
            rows = rows.filter(Q(name__icontains=search) | Exists(Tag.objects.named_in(search, OuterRef("pk"))))
        if status:
            rows = rows.filter(status=status)
        if owner_id:
            rows = rows.filter(owner_id=owner_id)
        jobs = Job.objects.filter(experiment=OuterRef("pk"))
        rows = rows.annotate(
            jobs_total=count_of(Job, "experiment"),
            jobs_done=count_of(Job.objects.exclude(status=JobStatus.RUNNING), "experiment"),
            best_score=Case(
                When(config__target__iexact="min", then=Subquery(jobs.best_first(maximize=False).values("score")[:1])),
                default=Subquery(jobs.best_first(maximize=True).values("score")[:1]),
            ),
        )
        # Its own subqueries rather than -F("best_score"), which Django would expand into
        # the whole CASE again: one more index seek per experiment, only one of the two
        # branches evaluated.
        lowest_negated = jobs.best_first(maximize=False).annotate(rank=-F("score")).values("rank")[:1]
        rows = rows.annotate(
            best_rank=Case(
                When(config__target__iexact="min", then=Subquery(lowest_negated)),
                default=Subquery(jobs.best_first(maximize=True).values("score")[:1]),
            ),
        )
        return rows.order_by(*self.LIST_SORTS.get(sort, self.LIST_SORTS["running"]))

    # -- notes and tags (issue 13, item 7) ----------------------------------------------

    def tagged(self, name):
        """These experiments that carry the tag `name` (exactly, as tracking.notes.tag_name
        spells it); none for a name no experiment carries. One EXISTS subquery in the same
        statement, on the through table's unique (experiment, tag) index."""
        through = Experiment.tags.through.objects.filter(experiment=OuterRef("pk"), tag__name=name)
        return self.filter(Exists(through))

    def with_tags(self):
        """These experiments with their tags (``experiment.tags.all()``, by name) read at
        once: one query more for the whole page, whatever its length."""
        return self.prefetch_related("tags")

    # -- end of notes and tags ---------------------------------------------------------


class Experiment(models.Model):
    # Foreign keys whose column leads a composite index below skip the index Django
    # would add for them: one index less to update on every insert.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="experiments", db_index=False)
    # Unique across the whole database, as Auptimizer makes it ("toy", "toy (1)", ...);
    # NULL when the executor gave none (NULLs never collide).
    name = models.CharField(max_length=255, null=True, blank=True)
    config = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ExperimentStatus.choices, default=ExperimentStatus.CREATED)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    # The first error an executor reports; later ones are ignored.
    error_msg = models.TextField(null=True, blank=True)
    # The researchers' own words on it: Markdown, rendered sanitised (never raw HTML);
    # written only by those who may change the experiment.
    notes = models.TextField(blank=True, default="")
    tags = models.ManyToManyField("Tag", related_name="experiments", blank=True)

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

    def get_absolute_url(self):
        return reverse("tracking:experiment", kwargs={"eid": self.pk})

    def is_changeable_by(self, user):
        """Whether `user` may stop, restart, delete and share this experiment: the
        one-row form of ExperimentQuerySet.changeable_by (owner, or staff)."""
        return user.is_authenticated and user.is_active and (user.is_staff or self.owner_id == user.pk)

    @property
    def maximize(self):
        return target_maximizes(self.config)

    @property
    def ended(self):
        return self.status in ENDED_EXPERIMENT_STATUSES

    def busy_reason(self):
        """Why this experiment cannot be restarted or deleted now, in a few words, or None
        when it can: while it is active (ACTIVE_EXPERIMENT_STATUSES) its executor may still
        be writing to it. The one rule of both controls (a refused POST,
        tracking.controls) and of the experiment page, which shows Restart and Delete
        disabled with this reason rather than offering them to refuse them. No query."""
        if self.status not in ACTIVE_EXPERIMENT_STATUSES:
            return None
        if self.status == ExperimentStatus.RUNNING:
            return "Stop the experiment first: its executor may still be writing to it."
        return "A stop has been requested: wait until its executor has ended the experiment."

    @property
    def planned_jobs(self):
        """The number of jobs the executor plans (``n_samples`` in the config), or None."""
        planned = self.config.get("n_samples") if isinstance(self.config, dict) else None
        if isinstance(planned, bool) or not isinstance(planned, int) or planned <= 0:
            return None
        return planned


# An executor takes a resource (take_available_resource) and records the job on it
# (job_started) a moment later; a resource taken this recently counts as held even
# without an attempt, so that recovery never frees it in between and hands it to a
# second executor.
TAKE_GRACE = timedelta(seconds=60)


class ResourceQuerySet(models.QuerySet):
    def with_holder(self):
        """Annotate each resource with the job holding it: the latest attempt on it that
        has not ended (``holder_job_id``, ``holder_job_number``, ``holder_experiment_id``,
        ``holder_experiment_name``, ``holder_experiment_status``; None when no attempt
        is open). Five correlated subqueries in the same statement, each answered by
        the index tracking_jobattempt_resource.
        """
        open_attempts = JobAttempt.objects.filter(resource=OuterRef("pk"), end_time__isnull=True).order_by(
            "-start_time", "-pk"
        )
        return self.annotate(
            holder_job_id=models.Subquery(open_attempts.values("job_id")[:1]),
            holder_job_number=models.Subquery(open_attempts.values("job__number")[:1]),
            holder_experiment_id=models.Subquery(open_attempts.values("job__experiment_id")[:1]),
            holder_experiment_name=models.Subquery(open_attempts.values("job__experiment__name")[:1]),
            holder_experiment_status=models.Subquery(open_attempts.values("job__experiment__status")[:1]),
        )

    @staticmethod
    def _held_by_running_job():
        # The attempt whose take made the resource busy (taken_by_attempt) has not ended,
        # and its experiment's executor is at work. Only that attempt counts: an attempt
        # merely recorded on the resource (anyone may record one) never holds it, so no
        # one can keep recovery from freeing a resource by leaving one open.
        return Exists(
            JobAttempt.objects.filter(
                pk=OuterRef("taken_by_attempt"),
                end_time__isnull=True,
                job__experiment__status__in=ACTIVE_EXPERIMENT_STATUSES,
            )
        )

    def held(self, now):
        """Busy resources that a running job still holds (the open attempt, of an active
        experiment, that took it), or that were taken within TAKE_GRACE before `now`."""
        return self.filter(status=ResourceStatus.BUSY).filter(
            self._held_by_running_job() | Q(taken_at__gte=now - TAKE_GRACE)
        )

    def orphaned(self, now):
        """Busy resources whose holder has ended: no open attempt of an active
        experiment took them, and taken before TAKE_GRACE. Freeing these is always safe."""
        return (
            self.filter(status=ResourceStatus.BUSY)
            .exclude(self._held_by_running_job())
            .exclude(taken_at__gte=now - TAKE_GRACE)
        )

    def mark_free(self):
        """Set these resources free, whatever their status: no holder, no time taken. One
        UPDATE; returns how many resources it matched."""
        return self.update(status=ResourceStatus.FREE, holder=None, taken_at=None, taken_by_attempt=None)

    def held_by_attempt_of(self, jid):
        """These resources, if busy because the latest attempt of job `jid` took them and
        still holds them (taken_by_attempt): what freeing through that job may free."""
        latest = JobAttempt.objects.filter(job_id=jid).order_by("-number").values("pk")[:1]
        return self.filter(status=ResourceStatus.BUSY, taken_by_attempt=models.Subquery(latest))

    def free(self):
        """Mark the busy ones of these resources free (one UPDATE); returns how many were busy."""
        return self.filter(status=ResourceStatus.BUSY).mark_free()


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
    # The attempt this take is for (its id): set by job_started / job_retry when their take
    # wins, or when a job's attempt is recorded on a resource its own connector had taken
    # (take_available_resource, then start_job); cleared whenever the resource is freed.
    # Freeing through a job (job_finished, job_failed) frees only a resource its latest
    # attempt holds this way, and recovery keeps only these holds (and fresh takes). An id,
    # not a foreign key: a foreign key would cost every deletion of jobs a look at the
    # resources (attempts could no longer be fast-deleted), and ids are never reused, so
    # a deleted attempt's id simply never matches again.
    taken_by_attempt = models.BigIntegerField(null=True, blank=True)

    objects = ResourceQuerySet.as_manager()

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


class JobQuerySet(models.QuerySet):
    """Set-level reads of jobs. Callers start from ``experiment.jobs`` of an experiment
    taken from ``Experiment.objects.visible_to(user)``, so access is already decided;
    a job asked for by id starts from visible_to / changeable_by below."""

    def visible_to(self, user):
        """The jobs of the experiments `user` may see (Experiment.objects.visible_to):
        the one access rule for a job named by id, on pages and in the API. No query of
        its own: the experiment rule is a subquery of the same statement."""
        return self.filter(experiment__in=Experiment.objects.visible_to(user))

    def changeable_by(self, user):
        """The jobs of the experiments `user` may change (Experiment.objects.changeable_by:
        owner, or staff). A subquery, as visible_to."""
        return self.filter(experiment__in=Experiment.objects.changeable_by(user))

    def status_counts(self):
        """{status: number of jobs}, None for jobs without a status. One query, on the
        (experiment, status) index."""
        rows = self.order_by().values_list("status").annotate(n=Count("pk"))
        return {status: n for status, n in rows}

    def best_first(self, maximize=True):
        """The jobs with a finite score, best first in the target direction (ties: lowest
        id, as Auptimizer's first row). Only finite scores live in ``score`` (see
        tracking.scores), so NaN, inf and text never win. On the (experiment, score) index."""
        return self.filter(score__isnull=False).order_by("-score" if maximize else "score", "pk")

    def best(self, maximize=True):
        """The job with the best finite score (ties: lowest id), or None. One query (best_first)."""
        return self.best_first(maximize).first()

    # Jobs table sort keys: URL value -> ORDER BY (ties broken by id).
    TABLE_SORTS = {
        "id": ("pk",),
        "-id": ("-pk",),
        "score": (F("score").asc(nulls_last=True), "pk"),
        "-score": (F("score").desc(nulls_last=True), "pk"),
        "status": (F("status").asc(nulls_last=True), "pk"),
        "-status": (F("status").desc(nulls_last=True), "pk"),
        "duration": (F("duration").asc(nulls_last=True), "pk"),
        "-duration": (F("duration").desc(nulls_last=True), "pk"),
        "start": (F("start_time").asc(nulls_last=True), "pk"),
        "-start": (F("start_time").desc(nulls_last=True), "pk"),
    }
    NO_STATUS = "none"

    def for_table(self, status="", sort="id", now=None):
        """The jobs table: filtered by status ('none' for jobs without one), sorted by
        one of TABLE_SORTS, each job with ``attempts_count`` and the type and name of the
        resource of its latest attempt, and ``duration`` (until `now` while running).

        Correlated subqueries on the (job, number) index: one query per page of jobs,
        whatever the page size.
        """
        rows = self
        if status == self.NO_STATUS:
            rows = rows.filter(status__isnull=True)
        elif status:
            rows = rows.filter(status=status)
        latest = JobAttempt.objects.filter(job=OuterRef("pk")).order_by("-number")
        end = F("end_time") if now is None else Coalesce(F("end_time"), Value(now))
        rows = rows.annotate(
            attempts_count=count_of(JobAttempt, "job"),
            resource_type=Subquery(latest.values("resource__type")[:1]),
            resource_name=Subquery(latest.values("resource__name")[:1]),
            duration=ExpressionWrapper(end - F("start_time"), output_field=models.DurationField()),
        )
        return rows.order_by(*self.TABLE_SORTS.get(sort, self.TABLE_SORTS["id"]))

    def curve_set(self, maximize=True, best=10, running=10, selected=(), show_all=None):
        """The jobs whose curves a chart draws: [(id, score, score_text, status, number)], in order.

        By default the `best` jobs by finite score in the target direction, the `running`
        most recent running jobs (their curves are the ones moving) and the `selected`
        ids. With `show_all` (a number), the `show_all` best-scored jobs, then jobs
        without a finite score by id, plus the selected. One query: the candidates are
        LIMITed subqueries, so the cost does not grow with the experiment.
        """
        by_score = F("score").desc(nulls_last=True) if maximize else F("score").asc(nulls_last=True)
        if show_all:
            wanted = Q(pk__in=self.order_by(by_score, "pk").values("pk")[: int(show_all)])
        else:
            wanted = Q(pk__in=self.filter(score__isnull=False).order_by(by_score, "pk").values("pk")[:best])
            wanted |= Q(pk__in=self.filter(status=JobStatus.RUNNING).order_by("-pk").values("pk")[:running])
        if selected:
            wanted |= Q(pk__in=list(selected))
        rows = self.filter(wanted).order_by(by_score, "pk").values_list("pk", "score", "score_text", "status", "number")
        return list(rows)

    def with_objective(self, label_order=None):
        """These jobs annotated with ``objective_value``: the finite score when
        `label_order` is None, else the job's final value (``is_last``) of that label,
        NULL when it has none or it is not a finite number. A correlated subquery per
        job on the partial (experiment, job) index of final values for a label;
        nothing extra for the score.
        tracking.objectives says which way the value is better."""
        if label_order is None:
            return self.annotate(objective_value=F("score"))
        # The experiment too (charts part, issue 13): with it SQLite seeks the partial
        # (experiment, job) index of final values, one or two rows per job, instead of
        # scanning the job's every step of that label on (job, label_order): 5x faster
        # at 300 steps a job, and the gap grows with the steps.
        final = MultipleResult.objects.filter(
            job=OuterRef("pk"), experiment_id=OuterRef("experiment_id"), label_order=label_order, is_last=True
        )
        return self.annotate(
            objective_value=Subquery(final.order_by("-pk").values("value")[:1], output_field=models.FloatField())
        )

    def history_counts(self, label_order=None):
        """What the optimization-history chart needs to know before reading rows: a dict of
        ``version`` (changes whenever a job is added or ends), ``total`` jobs, ``finite``
        (jobs with a finite value of the objective: the score, or the final value of the
        label `label_order`, as with_objective reads it) and ``non_finite``. One query, on
        the (experiment, score) index for the score; for a label, with with_objective's
        subquery per job."""
        rows = self.order_by()
        if label_order is None:
            finite_q = Q(score__isnull=False)
        else:
            rows = rows.with_objective(label_order)
            finite_q = Q(objective_value__isnull=False)
        stats = rows.aggregate(
            total=Count("pk"),
            finite=Count("pk", filter=finite_q),
            newest=Max("pk"),
            ended=Max("end_time"),
        )
        ended = stats["ended"].isoformat() if stats["ended"] else ""
        return {
            "version": f"{stats['total']}.{stats['finite']}.{stats['newest'] or 0}.{ended}",
            "total": stats["total"],
            "finite": stats["finite"],
            "non_finite": stats["total"] - stats["finite"],
        }

    def finite_scores(self, label_order=None):
        """[(id, value)] of the jobs with a finite value of the objective (the score, or
        the final value of the label `label_order`), by id. One query, on the
        (experiment, score) index for the score: the configs are not read."""
        rows = self.with_objective(label_order).filter(objective_value__isnull=False)
        return list(rows.order_by("pk").values_list("pk", "objective_value"))

    def history_rows(self, ids=None, label_order=None):
        """[(id, number, value, config)] of the jobs with a finite value of the objective
        (the score, or the final value of the label `label_order`; only those in `ids`
        when given), by id. One query."""
        rows = self.with_objective(label_order).filter(objective_value__isnull=False)
        if ids is not None:
            rows = rows.filter(pk__in=list(ids))
        return list(rows.order_by("pk").values_list("pk", "number", "objective_value", "config"))

    def best_for(self, label_order=None, maximize=True):
        """The job with the best finite value of the objective (the score, or the final
        value of the label `label_order`) in the direction `maximize`, ties to the lowest
        id, annotated with ``objective_value``; None when no job has one. One query
        (best() for the score, on the same index)."""
        value = F("objective_value").desc() if maximize else F("objective_value").asc()
        rows = self.with_objective(label_order).filter(objective_value__isnull=False)
        return rows.order_by(value, "pk").first()

    # -- hyperparameter importance (issue 13; tracking/importance.py, views.importance_context)

    def finished_version(self):
        """(number of FINISHED jobs, highest id of one, or None): what the importance cache
        is keyed by, so that a poll recomputes nothing until another job finishes (the
        count grows; the id tells a job that finished after another was deleted). One
        query, read from the (experiment, status) index alone on SQLite: the newest end
        time would read every finished job's row, and cost a poll at 10,000 jobs twice
        as much (make bench, importance rows)."""
        stats = self.filter(status=JobStatus.FINISHED).order_by().aggregate(n=Count("pk"), newest=Max("pk"))
        return stats["n"], stats["newest"]

    def objective_rows(self, label_order=None, limit=None):
        """[(config, objective value)] of the FINISHED jobs whose objective (the score, or
        the final value of label `label_order`: with_objective) is a finite number, the
        newest first, at most `limit`. One query (for a label, with_objective's correlated
        subquery per job, on the (job, label_order) index)."""
        rows = self.filter(status=JobStatus.FINISHED).with_objective(label_order).filter(objective_value__isnull=False)
        rows = rows.order_by("-pk").values_list("config", "objective_value")
        return list(rows[:limit] if limit else rows)


def next_job_number(experiment_id):
    """An expression for the number the next job of experiment `experiment_id` gets: one
    past its highest (1 for its first job). Evaluated inside the job's INSERT, so it
    costs no query of its own; the unique (experiment, number) index answers the MAX at
    once. Callers serialise an experiment's job creators (DjangoConnector._start_job),
    and the unique constraint refuses a duplicate should two ever race."""
    highest = (
        Job.objects.filter(experiment_id=experiment_id)
        .order_by()
        .values("experiment_id")
        .annotate(highest=Max("number"))
        .values("highest")
    )
    return Coalesce(Subquery(highest[:1]), Value(0)) + Value(1)


class Job(models.Model):
    experiment = models.ForeignKey(Experiment, models.CASCADE, related_name="jobs", db_index=False)
    # The job's number within its experiment: 1, 2, 3, ... in the order its jobs were
    # started. What a person reads ("Job 3"); the id (jid) stays in URLs and the API.
    # A restart deletes the jobs, so the next one is 1 again.
    number = models.PositiveIntegerField()
    config = models.JSONField(default=dict, blank=True)
    # See tracking.scores: the finite number, or the text of anything else.
    score = models.FloatField(null=True, blank=True)
    score_text = models.TextField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    # Markdown, as Experiment.notes; written by those who may change its experiment.
    notes = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__isnull=True) | Q(status__in=JobStatus.values), name="tracking_job_valid_status"
            ),
            # Also the index behind next_job_number's MAX, and the recent jobs of an
            # experiment (recovery.with_liveness: its last jobs by number).
            models.UniqueConstraint(fields=["experiment", "number"], name="tracking_job_unique_number"),
        ]
        indexes = [
            # get_best_result and the best-score column: best finite score of an experiment.
            models.Index(fields=["experiment", "score"], name="tracking_job_experiment_score"),
            # Counts by status, and get_intermediate_results_experiment(eid, status).
            models.Index(fields=["experiment", "status"], name="tracking_job_experiment_status"),
        ]

    objects = JobQuerySet.as_manager()

    def __str__(self):
        return f"Job {self.number}"

    def get_absolute_url(self):
        return reverse("tracking:job", kwargs={"jid": self.pk})

    @property
    def score_value(self):
        return decode_score(self.score, self.score_text)


class JobAttemptQuerySet(models.QuerySet):
    def timelines(self, resource_ids, user, limit=10):
        """The attempts of the resources page: per resource its `limit` most recent
        attempts, and its running ones (no end, job RUNNING; at most `limit` too, so a
        crashed executor's stale attempts cannot flood the page).

        Each attempt comes with its job and experiment and ``visible``: whether `user`
        may see that experiment (Experiment.objects.visible_to decides); the page shows
        a job it may not see only as "busy". One query, ranked by window functions on
        the (resource, -start_time) index, whatever the history of a resource.
        """
        running = Case(
            When(end_time__isnull=True, job__status=JobStatus.RUNNING, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
        newest_first = [F("start_time").desc(nulls_last=True), F("pk").desc()]
        recent_rank = Window(RowNumber(), partition_by=[F("resource_id")], order_by=newest_first)
        running_rank = Window(RowNumber(), partition_by=[F("resource_id"), running], order_by=newest_first)
        visible = Experiment.objects.visible_to(user).filter(pk=OuterRef("job__experiment_id"))
        return (
            self.filter(resource_id__in=list(resource_ids))
            .select_related("job__experiment")
            .annotate(
                running=running,
                visible=models.Exists(visible),
                # Not running: rank + limit, so only the recent rank can keep it.
                _keep=Least(recent_rank, running_rank + (Value(1) - running) * Value(limit)),
            )
            .filter(_keep__lte=limit)
            .order_by("resource_id", F("start_time").desc(nulls_last=True), "-pk")
        )


class JobAttempt(models.Model):
    job = models.ForeignKey(Job, models.CASCADE, related_name="attempts", db_index=False)
    # 0 for the first run of a job, then 1, 2, ... for each retry.
    number = models.PositiveIntegerField()
    # Resources are history: deleting one keeps the attempts that ran on it.
    resource = models.ForeignKey(
        Resource, models.SET_NULL, null=True, blank=True, related_name="attempts", db_index=False
    )
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

    objects = JobAttemptQuerySet.as_manager()

    def __str__(self):
        return f"Attempt {self.number} of job {self.job_id}"


class CurveQuerySet(models.QuerySet):
    """Learning curves read for charts: only the rows of the jobs asked for, reduced in
    the database. Subclasses say which column is x (the step) and which is y."""

    def points(self):
        raise NotImplementedError

    def cursor(self):
        """The newest row id of the whole table (0 if empty): a live chart asks for rows
        after it next time. One query on the primary key."""
        return self.model.objects.aggregate(last=Max("pk"))["last"] or 0

    def changed_jobs(self, job_ids, since):
        """The ids among `job_ids` with rows newer than the cursor `since`. One query."""
        if not job_ids:
            return set()
        rows = self.filter(job_id__in=list(job_ids), pk__gt=since).order_by().values_list("job_id", flat=True)
        return set(rows.distinct())

    def curve_rows(self, job_ids, budget, partition=("job_id",)):
        """[(key, step, y)] of the curves of the jobs in `job_ids`, reduced for a chart of
        at most `budget` points per curve, in key then step order; the key is the
        `partition` field's value (a tuple for several fields), y the stored number or
        None. charts.curves shapes them.

        The database keeps 4 rows per bucket of steps (extremes_per_bucket) with
        `budget` buckets over the longest curve, so Python sees at most ~4 x budget rows
        per curve however long it is. Two queries (the longest curve, then the rows);
        none when `job_ids` is empty.
        """
        if not job_ids:
            return []
        rows = self.filter(job_id__in=list(job_ids)).points()
        longest = rows.order_by().aggregate(last=Max("_x"))["last"]
        if longest is None:
            return []
        width = math.ceil((longest + 1) / budget)
        reduced = extremes_per_bucket(rows, partition, width) if width > 1 else rows.order_by(*partition, "_x")
        return [
            (key[0] if len(key) == 1 else tuple(key), x, y)
            for *key, x, y in reduced.values_list(*partition, "_x", "_y")
        ]


class IntermediateResultQuerySet(CurveQuerySet):
    def points(self):
        return self.annotate(_x=F("number"), _y=F("score"))


class MultipleResultQuerySet(CurveQuerySet):
    def points(self):
        # A labeled value is drawn at the step of the intermediate result it was
        # reported with; values reported without one (irid None) have no step and
        # appear only in tables.
        return self.filter(intermediate_result__isnull=False).annotate(
            _x=F("intermediate_result__number"), _y=F("value")
        )

    def label(self, label_order):
        return self.filter(label_order=label_order)

    def final_values(self, experiment_id, job_ids):
        """{job id: {label order: decoded value}} of the final labeled results
        (``is_last``) of jobs of one experiment. One query, on the partial
        (experiment, job) index: a job's many per-step rows are never scanned."""
        values = {}
        rows = self.filter(experiment_id=experiment_id, job_id__in=list(job_ids), is_last=True).order_by(
            "job_id", "label_order"
        )
        for jid, order, number, text in rows.values_list("job_id", "label_order", "value", "value_text"):
            values.setdefault(jid, {})[order] = decode_score(number, text)
        return values


class IntermediateResult(models.Model):
    # Indexed by the unique (job, number) constraint.
    job = models.ForeignKey(Job, models.CASCADE, related_name="intermediate_results", db_index=False)
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

    objects = IntermediateResultQuerySet.as_manager()

    def __str__(self):
        return f"Step {self.number} of job {self.job_id}"

    @property
    def score_value(self):
        return decode_score(self.score, self.score_text)


class MultipleResult(models.Model):
    # Indexed by tracking_multipleresult_job (job, label_order).
    job = models.ForeignKey(Job, models.CASCADE, related_name="multiple_results", db_index=False)
    # DO_NOTHING in Python, a (deferred) foreign key in the database: rows of both
    # tables are always deleted together, per job or per experiment, and without a
    # Python-side cascade Django deletes intermediate results in one statement instead
    # of loading every row first (a restart of a big experiment).
    intermediate_result = models.ForeignKey(
        IntermediateResult, models.DO_NOTHING, null=True, blank=True, related_name="multiple_results"
    )
    # A copy of job.experiment_id, taken from the job row by the connector's insert,
    # so the job's foreign key already guarantees the experiment exists: the database
    # keeps no constraint of its own here. On PostgreSQL that constraint locked the
    # experiment row (FOR KEY SHARE) at every labeled result, and with many executors
    # writing one experiment those locks queued on the one row (make bench, row 3).
    # Django still cascades deletes from the experiment.
    experiment = models.ForeignKey(
        Experiment, models.CASCADE, related_name="multiple_results", db_constraint=False
    )
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

    objects = MultipleResultQuerySet.as_manager()

    def __str__(self):
        return f"Label {self.label_order} of job {self.job_id}"

    @property
    def value_decoded(self):
        return decode_score(self.value, self.value_text)


class ResultLabel(models.Model):
    """The name of one labeled result of an experiment ("accuracy" for label order 1, ...)."""

    experiment = models.ForeignKey(Experiment, models.CASCADE, related_name="result_labels", db_index=False)
    label_order = models.PositiveIntegerField()
    name = models.CharField(max_length=255)
    # Which way is better for this result, as its experiment's owner set it on the page
    # or through the API; NULL until then, when tracking.objectives' rule decides
    # (a loss or an error is lower-is-better, anything else follows the target).
    direction = models.CharField(max_length=3, choices=Direction.choices, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "label_order"], name="tracking_resultlabel_unique_order"),
            models.CheckConstraint(
                condition=Q(direction__isnull=True) | Q(direction__in=Direction.values),
                name="tracking_resultlabel_valid_direction",
            ),
        ]
        ordering = ["experiment", "label_order"]

    def __str__(self):
        return self.name


class TagQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The tags of the experiments `user` may see (ExperimentQuerySet.visible_to): a
        tag only someone else's experiments carry is never shown, suggested or told
        apart from a tag that does not exist. One query when evaluated."""
        through = Experiment.tags.through.objects.filter(
            tag=OuterRef("pk"), experiment__in=Experiment.objects.visible_to(user)
        )
        return self.filter(Exists(through))

    def named_in(self, search, experiment):
        """The tags of `experiment` (an id, or an OuterRef) whose name contains `search`,
        case-insensitively: the experiments list's search matches tags too."""
        return self.filter(experiments=experiment, name__icontains=search)


class Tag(models.Model):
    """A word researchers file experiments under ("baseline", "resnet", "paper-2"). Tags
    are shared by name across the database, but each person sees only those of the
    experiments visible to them. Names follow tracking.notes.tag_name's rule."""

    name = models.CharField(max_length=50)

    objects = TagQuerySet.as_manager()

    class Meta:
        constraints = [
            # Also the index behind the lookup of a tag by name (filter by tag, tagging).
            models.UniqueConstraint(fields=["name"], name="tracking_tag_unique_name"),
        ]
        ordering = ["name"]

    def __str__(self):
        return self.name


class ExperimentShare(models.Model):
    """Read access to an experiment for one user or one group, granted by its owner."""

    experiment = models.ForeignKey(Experiment, models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, null=True, blank=True, related_name="experiment_shares"
    )
    group = models.ForeignKey("auth.Group", models.CASCADE, null=True, blank=True, related_name="experiment_shares")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False),
                name="tracking_experimentshare_user_xor_group",
                violation_error_message="Share with either a user or a group, not both and not neither.",
            ),
            # Also the indexes behind ExperimentQuerySet.visible_to's two EXISTS
            # subqueries: (experiment, user) and (experiment, group).
            models.UniqueConstraint(
                fields=["experiment", "user"],
                condition=Q(user__isnull=False),
                name="tracking_experimentshare_unique_user",
                violation_error_message="The experiment is already shared with this user.",
            ),
            models.UniqueConstraint(
                fields=["experiment", "group"],
                condition=Q(group__isnull=False),
                name="tracking_experimentshare_unique_group",
                violation_error_message="The experiment is already shared with this group.",
            ),
        ]
        ordering = ["experiment", "pk"]

    def __str__(self):
        if self.user_id is not None:
            return f"{self.experiment} shared with user {self.user}"
        return f"{self.experiment} shared with group {self.group}"


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


# -- API tokens and idempotency keys (tracking/api) -------------------------------------


def hash_token_secret(secret):
    """The sha256 of a token's secret, as stored: the secret itself is never kept.

    A plain hash (no salt, no slow hash) is enough: secrets are 256 random bits, so
    there is no dictionary to try, and authentication looks the hash up by index.
    """
    return hashlib.sha256(secret.encode("utf-8", errors="surrogatepass")).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        """Tokens that authenticate: not revoked, of an active user."""
        return self.filter(revoked__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A secret with which a program (an executor, a script) acts as its user in the API.

    A user may have several (one per machine, say), each named, revoked on its own.
    Only the sha256 of the secret is stored; the secret is shown once, when issued.
    """

    SECRET_PREFIX = "aup_"
    # How stale last_used may get: refreshing it on every request would add a write to
    # every read, and "used in the last minute" is all a person needs to know.
    LAST_USED_RESOLUTION = timedelta(minutes=1)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    secret_hash = models.CharField(max_length=64, editable=False)
    # The secret's first characters, so that a person can tell tokens apart in a list.
    prefix = models.CharField(max_length=12, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        constraints = [
            # ApiTokenAuthentication looks every request's token up by its hash.
            models.UniqueConstraint(fields=["secret_hash"], name="tracking_apitoken_unique_hash"),
        ]
        ordering = ["user", "created", "pk"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user, name):
        """Create a token for `user`; return (token, secret). The secret is not stored."""
        token = cls(user=user, name=name)
        secret = token.set_new_secret()
        token.save()
        return token, secret

    def set_new_secret(self):
        """Give this (unsaved) token a new random secret; return it: it is not kept."""
        secret = self.SECRET_PREFIX + secrets.token_urlsafe(32)
        self.secret_hash = hash_token_secret(secret)
        self.prefix = secret[: len(self.SECRET_PREFIX) + 6]
        return secret

    def revoke(self):
        """Revoke the token (once: a second revoke keeps the first time). One UPDATE."""
        ApiToken.objects.filter(pk=self.pk, revoked__isnull=True).update(revoked=timezone.now())
        self.refresh_from_db(fields=["revoked"])

    def touch(self, now=None):
        """Record a use, at most one write per LAST_USED_RESOLUTION."""
        now = now or timezone.now()
        if self.last_used is None or now - self.last_used >= self.LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=self.pk).update(last_used=now)
            self.last_used = now


class IdempotencyKey(models.Model):
    """The response to a write that carried an ``Idempotency-Key`` header.

    A client that lost the response (a dropped connection, a timeout) sends the same
    write again with the same key and gets the stored response instead of a second
    write. Stored in the write's own transaction, so a key exists exactly when its
    write was committed. Kept for EXPIRES_AFTER, far longer than any client retries.
    """

    EXPIRES_AFTER = timedelta(hours=24)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    # sha256 of the method, path and body: the same key with another request is refused.
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The replay lookup, and the arbiter when two copies of one write race.
            models.UniqueConstraint(fields=["user", "key"], name="tracking_idempotencykey_unique_key"),
        ]
        indexes = [
            # The purge of expired keys that every keyed write runs.
            models.Index(fields=["created"], name="tracking_idempotencykey_age"),
        ]

    def __str__(self):
        return f"{self.key} ({self.status_code})"
