"""Deterministic builders for test data, written straight through the ORM."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from tracking.models import (
    Experiment,
    ExperimentShare,
    IntermediateResult,
    Job,
    JobAttempt,
    Resource,
    ResourceStatus,
)


def make_user(username="alice", **fields):
    user, _ = get_user_model().objects.get_or_create(username=username, defaults=fields)
    return user


def make_resource(type="cpu", name="localhost", **fields):
    return Resource.objects.create(type=type, name=name, **fields)


def make_resources(count, type="cpu", name="localhost"):
    return [make_resource(type=type, name=name) for _ in range(count)]


def make_experiment(owner, name=None, status="RUNNING", **fields):
    fields.setdefault("start_time", timezone.now())
    return Experiment.objects.create(owner=owner, name=name, status=status, **fields)


def make_job(experiment, resource=None, status="RUNNING", started=None, steps=0, **fields):
    """A job with its first attempt (open while the job runs) on `resource`, which it
    takes, as DjangoConnector.job_started does; `steps` intermediate results."""
    started = started or timezone.now()
    running = status == "RUNNING"
    job = Job.objects.create(
        experiment=experiment, status=status, start_time=started, end_time=None if running else started, **fields
    )
    JobAttempt.objects.create(
        job=job, number=0, resource=resource, start_time=started, end_time=None if running else started
    )
    if resource is not None and running:
        Resource.objects.filter(pk=resource.pk).update(status=ResourceStatus.BUSY, holder="test", taken_at=started)
    IntermediateResult.objects.bulk_create(
        IntermediateResult(job=job, number=number, score=float(number), receive_time=started) for number in range(steps)
    )
    return job


def make_share(experiment, user=None, group=None):
    return ExperimentShare.objects.create(experiment=experiment, user=user, group=group)


def ago(**delta):
    return timezone.now() - timedelta(**delta)
