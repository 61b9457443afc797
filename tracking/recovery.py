"""Recovery after a crashed executor: what `manage.py aup_reset` and the admin's
"Reset" action do.

An executor that dies leaves its experiment RUNNING (or REQUEST_STOP / STOPPING), its
jobs RUNNING, their attempts open and their resources busy, so no other executor gets
those resources. Nothing in the database says that a process has died, so recovery
must be told which experiments are dead, or infer it from silence:

- explicitly: the experiments an admin names (``--experiment EID``, the admin action);
- by silence: active experiments with no sign of life for ``stale_minutes``. A sign of
  life is any write an executor makes: the experiment's start, a job or attempt
  starting or ending, a result of a job that has not ended. A job that runs longer
  than ``stale_minutes`` without reporting looks exactly like a dead one, so the
  threshold must exceed the longest silent job (the README says so).

Resetting an experiment ends its open attempts, fails its RUNNING jobs (status FAILED,
end time now; the score is left as it is: we do not invent one), ends the experiment
(STOPPED if a stop had been requested, FAILED otherwise) and frees the resources its
attempts held (took, see ``Resource.taken_by_attempt``). Independently, any busy resource
whose holder has ended (see ``ResourceQuerySet.orphaned``) is freed: only the attempt that
took a resource holds it, so an attempt someone left open on a resource they never took
does not keep recovery from freeing it. Each experiment is reset in its own
transaction, with its row locked, so an executor cannot write half-way through.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import transaction
from django.db.models import DurationField, ExpressionWrapper, F, Max, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from tracking.models import (
    ACTIVE_EXPERIMENT_STATUSES,
    Experiment,
    ExperimentStatus,
    IntermediateResult,
    Job,
    JobAttempt,
    JobStatus,
    MultipleResult,
    Resource,
    ResourceStatus,
)

DEFAULT_STALE_MINUTES = 60
# What last_signs_of_life says when an experiment has no time recorded at all.
NEVER = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
RESET_MESSAGE = "Ended by aup_reset: its executor was gone, leaving jobs running."


@dataclass
class ExperimentReset:
    eid: int
    name: str | None
    old_status: str
    new_status: str
    last_sign_of_life: object  # a datetime, or None
    ended_attempts: list = field(default_factory=list)
    failed_jobs: list = field(default_factory=list)
    # {job id: its number in the experiment}, to name the failed jobs as the pages do.
    job_numbers: dict = field(default_factory=dict)
    freed_resources: list = field(default_factory=list)

    @property
    def changed(self):
        return bool(self.old_status != self.new_status or self.ended_attempts or self.failed_jobs or self.freed_resources)

    def describe(self, now):
        label = f"experiment {self.eid}" + (f" {self.name!r}" if self.name else "")
        if self.last_sign_of_life is None:
            since = "no sign of life recorded"
        else:
            minutes = int((now - self.last_sign_of_life).total_seconds() // 60)
            since = f"last sign of life {self.last_sign_of_life:%Y-%m-%d %H:%M:%S %Z}, {minutes} min ago"
        parts = [f"{self.old_status} -> {self.new_status}" if self.old_status != self.new_status else f"stays {self.old_status}"]
        parts.append(f"ended {len(self.ended_attempts)} attempt(s){_ids(self.ended_attempts)}")
        jobs = f" [{', '.join(f'job {self.job_numbers.get(pk)} #{pk}' for pk in self.failed_jobs)}]" if self.failed_jobs else ""
        parts.append(f"failed {len(self.failed_jobs)} running job(s){jobs}")
        parts.append(f"freed {len(self.freed_resources)} resource(s){_ids(self.freed_resources)}")
        return f"{label} ({since}): " + "; ".join(parts)


@dataclass
class ResetReport:
    now: object
    dry_run: bool
    experiments: list = field(default_factory=list)
    freed_resources: list = field(default_factory=list)

    @property
    def changed(self):
        return bool(self.freed_resources) or any(reset.changed for reset in self.experiments)

    def lines(self):
        lines = [reset.describe(self.now) for reset in self.experiments]
        if self.freed_resources:
            lines.append(
                f"freed {len(self.freed_resources)} resource(s) whose holder had ended{_ids(self.freed_resources)}"
            )
        if not self.changed:
            lines.append("nothing to repair")
        if self.dry_run:
            lines.append("dry run: nothing was written")
        return lines


def _ids(ids):
    return f" [{', '.join(f'#{pk}' for pk in ids)}]" if ids else ""


def last_signs_of_life(experiments):
    """Annotate ``last_sign_of_life``: the newest write an executor made for each
    experiment (see the module docstring), or NULL if none.

    One statement. Finished jobs need no look at their results (their end time is
    later); the results of unfinished jobs are found through the indexes
    tracking_intermediateresult_step and tracking_multipleresult_job, per job.
    """
    jobs = Job.objects.filter(experiment=OuterRef("pk")).values("experiment")
    attempts = JobAttempt.objects.filter(job__experiment=OuterRef("pk")).values("job__experiment")
    unfinished = {"job__experiment": OuterRef("pk"), "job__end_time__isnull": True}
    newest = {
        "job_start": Subquery(jobs.annotate(v=Max("start_time")).values("v")[:1]),
        "job_end": Subquery(jobs.annotate(v=Max("end_time")).values("v")[:1]),
        "attempt_start": Subquery(attempts.annotate(v=Max("start_time")).values("v")[:1]),
        "attempt_end": Subquery(attempts.annotate(v=Max("end_time")).values("v")[:1]),
        "step": Subquery(
            IntermediateResult.objects.filter(**unfinished)
            .values("job__experiment")
            .annotate(v=Max("receive_time"))
            .values("v")[:1]
        ),
        "labeled": Subquery(
            MultipleResult.objects.filter(**unfinished)
            .values("job__experiment")
            .annotate(v=Max("receive_time"))
            .values("v")[:1]
        ),
    }
    # GREATEST is NULL on SQLite as soon as one argument is: coalesce each with the
    # experiment's start (itself coalesced with the oldest possible moment).
    floor = Coalesce("start_time", Value(NEVER))
    latest = Greatest(floor, *(Coalesce(value, floor) for value in newest.values()))
    return experiments.annotate(last_sign_of_life=latest)


# -- liveness: what the pages say of an active experiment's executor ----------------------
#
# The pages cannot know that an executor died either; they say how long an active
# experiment has been silent, by the same signs of life, once that is longer than its own
# jobs usually take. A job that reports no step writes only when it starts and when it
# ends, so a whole job's duration may pass in silence: the experiment is "quiet" after
# QUIET_FACTOR times the longest of its last QUIET_HISTORY_JOBS ended jobs, and never
# before QUIET_FLOOR (short jobs, a scheduler's pause between them). Before any job has
# ended there is no history to go by, and the rule is aup_reset's default,
# DEFAULT_STALE_MINUTES.
QUIET_FACTOR = 3
QUIET_HISTORY_JOBS = 20
QUIET_FLOOR = timedelta(minutes=5)


@dataclass(frozen=True)
class Liveness:
    """What an active experiment's signs of life say at `now` (see liveness)."""

    last_sign_of_life: object  # a datetime, or None when nothing was ever recorded
    silent_for: timedelta
    # How long it may stay silent before it is quiet: QUIET_FACTOR x its longest recent
    # job (at least QUIET_FLOOR), or DEFAULT_STALE_MINUTES without an ended job.
    expected_silence: timedelta
    # The longest of its last QUIET_HISTORY_JOBS ended jobs; None before one has ended
    # (expected_silence is then the default).
    longest_recent_job: object

    @property
    def from_history(self):
        return self.longest_recent_job is not None

    @property
    def quiet(self):
        return self.silent_for > self.expected_silence

    @property
    def silent_minutes(self):
        return int(self.silent_for.total_seconds() // 60)

    @property
    def expected_minutes(self):
        return int(self.expected_silence.total_seconds() // 60)

    @property
    def rule(self):
        """Why it counts as quiet after expected_silence, in words, for the pages."""
        if self.longest_recent_job is None:
            return (
                f"none of its jobs has ended yet to tell how long they take, so after {self.expected_minutes} min "
                "of silence (aup_reset's default)"
            )
        longest = _minutes_text(self.longest_recent_job)
        floor = int(QUIET_FLOOR.total_seconds() // 60)
        return (
            f"its recent jobs took at most {longest}, so after {self.expected_minutes} min of silence "
            f"({QUIET_FACTOR} times that, and at least {floor} min)"
        )


def _minutes_text(duration):
    minutes = int(duration.total_seconds() // 60)
    return f"{minutes} min" if minutes else f"{int(duration.total_seconds())} s"


def with_liveness(experiments):
    """Annotate ``last_sign_of_life`` (last_signs_of_life) and ``longest_recent_job``: the
    longest duration of its last QUIET_HISTORY_JOBS ended jobs, NULL if none has ended.
    One statement; the recent jobs are read by number, backwards, on the unique
    (experiment, number) index, so the cost does not grow with the experiment."""
    recent_ended = (
        Job.objects.filter(experiment=OuterRef(OuterRef("pk")), end_time__isnull=False, start_time__isnull=False)
        .order_by("-number")
        .values("pk")[:QUIET_HISTORY_JOBS]
    )
    duration = ExpressionWrapper(F("end_time") - F("start_time"), output_field=DurationField())
    longest = Job.objects.filter(pk__in=recent_ended).annotate(d=duration).order_by("-d").values("d")[:1]
    return last_signs_of_life(experiments).annotate(longest_recent_job=Subquery(longest))


def liveness(experiments, now):
    """{experiment id: Liveness} of the active ones among `experiments` (a queryset), at
    `now`. One query (with_liveness), none when `experiments` is empty."""
    active = experiments.filter(status__in=ACTIVE_EXPERIMENT_STATUSES).order_by()
    result = {}
    for pk, last, longest in with_liveness(active).values_list("pk", "last_sign_of_life", "longest_recent_job"):
        last = None if last is None or last == NEVER else last
        if longest is not None:
            longest = max(longest, timedelta(0))
            expected = max(QUIET_FLOOR, QUIET_FACTOR * longest)
        else:
            expected = timedelta(minutes=DEFAULT_STALE_MINUTES)
        silent = max(now - last, timedelta(0)) if last is not None else timedelta(0)
        result[pk] = Liveness(last, silent, expected, longest)
    return result


def executor_needed(eid):
    """What an experiment waiting for an executor (fresh, or restarted: its jobs are gone)
    needs from its owner: an executor resuming it by its id."""
    return (
        f"Resume it with experiment id {eid}: with Auptimizer, Experiment(exp_config, eid={eid}); "
        f"with a loop of your own, record its jobs with connector.job_started({eid}, rid, config)."
    )


def repair_command(eid):
    """The aup_reset line that repairs this one experiment, as its owner would run it."""
    return f".venv/bin/python manage.py aup_reset --experiment {eid}"


def stale_experiments(stale_minutes, now):
    """Active experiments with no sign of life for `stale_minutes` before `now`."""
    cutoff = now - timedelta(minutes=stale_minutes)
    active = Experiment.objects.filter(status__in=ACTIVE_EXPERIMENT_STATUSES)
    return last_signs_of_life(active).filter(last_sign_of_life__lt=cutoff).order_by("pk")


def _reset_experiment(eid, now, stale_cutoff):
    """Reset one experiment inside the caller's transaction; None if it was not stale
    any more (stale mode) when its row was locked."""
    # The lock makes an executor's new job or attempt wait (their foreign keys lock
    # the experiment row against change on PostgreSQL; SQLite serialises writers), so
    # what we read below stays true until we commit.
    locked = Experiment.objects.select_for_update().filter(pk=eid)
    experiment = last_signs_of_life(locked).first()
    if experiment is None:
        return None
    if stale_cutoff is not None and (
        experiment.status not in ACTIVE_EXPERIMENT_STATUSES or experiment.last_sign_of_life >= stale_cutoff
    ):
        return None
    reset = ExperimentReset(
        eid=experiment.pk,
        name=experiment.name,
        old_status=experiment.status,
        new_status=experiment.status,
        last_sign_of_life=None if experiment.last_sign_of_life == NEVER else experiment.last_sign_of_life,
    )
    open_attempts = JobAttempt.objects.filter(job__experiment_id=eid, end_time__isnull=True)
    reset.ended_attempts = sorted(open_attempts.values_list("pk", flat=True))
    JobAttempt.objects.filter(pk__in=reset.ended_attempts).update(end_time=now)

    running = Job.objects.filter(experiment_id=eid, status=JobStatus.RUNNING)
    reset.job_numbers = dict(running.values_list("pk", "number"))
    reset.failed_jobs = sorted(reset.job_numbers)
    Job.objects.filter(pk__in=reset.failed_jobs).update(status=JobStatus.FAILED, end_time=Coalesce("end_time", Value(now)))

    if experiment.status in ACTIVE_EXPERIMENT_STATUSES:
        stopping = experiment.status in (ExperimentStatus.REQUEST_STOP, ExperimentStatus.STOPPING)
        reset.new_status = ExperimentStatus.STOPPED if stopping else ExperimentStatus.FAILED
        Experiment.objects.filter(pk=eid).update(status=reset.new_status, end_time=now)
        # An executor's own message stays (the first error wins).
        Experiment.objects.filter(pk=eid).log_error(RESET_MESSAGE)

    # Free what these attempts held: the resources whose take was for one of them. A
    # resource they merely ran on is another's (or nobody's: the orphan pass frees it).
    held = Resource.objects.filter(status=ResourceStatus.BUSY, taken_by_attempt__in=reset.ended_attempts)
    reset.freed_resources = sorted(held.values_list("pk", flat=True))
    Resource.objects.filter(pk__in=reset.freed_resources).free()
    return reset


def reset(eids=None, stale_minutes=DEFAULT_STALE_MINUTES, dry_run=False, now=None):
    """Repair what crashed executors left behind; returns a ResetReport.

    With `eids`, reset exactly those experiments (their owners or an admin know the
    executor is gone); each must exist (LookupError otherwise, before any write).
    Without, reset the active experiments silent for `stale_minutes`. Then free every
    orphaned resource. A dry run does all of it in transactions that are rolled back,
    so its report is exactly what a real run would have done at that moment.
    """
    now = now or timezone.now()
    report = ResetReport(now=now, dry_run=dry_run)
    if eids is not None:
        eids = sorted(set(eids))
        missing = sorted(set(eids) - set(Experiment.objects.filter(pk__in=eids).values_list("pk", flat=True)))
        if missing:
            raise LookupError(f"no experiment with id {', '.join(str(eid) for eid in missing)}")
        candidates, cutoff = eids, None
    else:
        if stale_minutes < 1:
            raise ValueError("stale_minutes must be at least 1")
        candidates = list(stale_experiments(stale_minutes, now).values_list("pk", flat=True))
        cutoff = now - timedelta(minutes=stale_minutes)

    for eid in candidates:
        with transaction.atomic():
            result = _reset_experiment(eid, now, cutoff)
            if dry_run:
                transaction.set_rollback(True)
        if result is not None:
            report.experiments.append(result)

    with transaction.atomic():
        orphaned = Resource.objects.orphaned(now)
        report.freed_resources = sorted(orphaned.values_list("pk", flat=True))
        Resource.objects.filter(pk__in=report.freed_resources).orphaned(now).free()
        if dry_run:
            transaction.set_rollback(True)
    return report
