"""Deterministic builders for test data, written straight through the ORM."""

from django.contrib.auth import get_user_model

from tracking.models import Resource


def make_user(username="alice", **fields):
    user, _ = get_user_model().objects.get_or_create(username=username, defaults=fields)
    return user


def make_resource(type="cpu", name="localhost", **fields):
    return Resource.objects.create(type=type, name=name, **fields)


def make_resources(count, type="cpu", name="localhost"):
    return [make_resource(type=type, name=name) for _ in range(count)]


def make_experiment(owner, name="search", status="RUNNING", **config):
    from django.utils import timezone

    from tracking.models import Experiment, ResultLabel, config_label_names

    config = {"name": name, "target": "max", **config}
    experiment = Experiment.objects.create(
        owner=owner, name=name, config=config, status=status, start_time=timezone.now()
    )
    ResultLabel.objects.bulk_create(
        ResultLabel(experiment=experiment, label_order=order, name=label)
        for order, label in enumerate(config_label_names(config), start=1)
    )
    return experiment


def make_jobs(experiment, count, steps=0, resource=None, labels=0, status="FINISHED", score="by index"):
    """`count` jobs with one attempt each, `steps` intermediate results and, per step,
    `labels` labeled results (the last set marked final). Scores default to the job's
    index / count (pass `score` for one score, None for none), so the last job is the best for 'max'. Bulk inserts: a handful of
    queries whatever the count."""
    from django.utils import timezone

    from tracking.models import IntermediateResult, Job, JobAttempt, MultipleResult

    now = timezone.now()
    jobs = Job.objects.bulk_create(
        Job(
            experiment=experiment,
            config={"lr": round(0.01 * (index + 1), 4), "optimizer": "adam" if index % 2 else "sgd"},
            score=(index + 1) / count if score == "by index" else score,
            status=status,
            start_time=now,
            end_time=None if status == "RUNNING" else now,
        )
        for index in range(count)
    )
    JobAttempt.objects.bulk_create(
        JobAttempt(job=job, number=0, resource=resource, start_time=now, end_time=None if status == "RUNNING" else now)
        for job in jobs
    )
    if steps:
        results = IntermediateResult.objects.bulk_create(
            IntermediateResult(job=job, number=step, score=step / steps + index / count, receive_time=now)
            for index, job in enumerate(jobs)
            for step in range(steps)
        )
        if labels:
            MultipleResult.objects.bulk_create(
                MultipleResult(
                    job_id=result.job_id,
                    intermediate_result=result,
                    experiment=experiment,
                    label_order=order,
                    value=result.score * order,
                    receive_time=now,
                    is_last=result.number == steps - 1,
                )
                for result in results
                for order in range(1, labels + 1)
            )
    return jobs
