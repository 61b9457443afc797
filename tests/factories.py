"""Deterministic builders for test data, written straight through the ORM."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Max
from django.utils import timezone

from tracking.models import (
    ApiToken,
    Experiment,
    ExperimentShare,
    IntermediateResult,
    Job,
    JobAttempt,
    MultipleResult,
    Resource,
    ResourceStatus,
)
from tracking.scores import encode_score


def make_user(username="alice", **fields):
    user, _ = get_user_model().objects.get_or_create(username=username, defaults=fields)
    return user


def make_resource(type="cpu", name="localhost", **fields):
    return Resource.objects.create(type=type, name=name, **fields)


def make_resources(count, type="cpu", name="localhost"):
    return [make_resource(type=type, name=name) for _ in range(count)]


def make_experiment(owner, name=None, status="RUNNING", config=None, **fields):
    """An experiment as an executor would have left it; started now unless CREATED."""
    fields.setdefault("start_time", None if status == "CREATED" else timezone.now())
    return Experiment.objects.create(owner=owner, name=name, status=status, config=config or {}, **fields)


def next_number(experiment):
    """The number the experiment's next job gets, as the connector numbers them."""
    highest = Job.objects.filter(experiment=experiment).aggregate(highest=Max("number"))["highest"]
    return (highest or 0) + 1


def make_job(experiment, resource=None, status="RUNNING", config=None, attempts=1, **fields):
    """A job started now, with `attempts` attempts (numbered 0, 1, ...) on `resource`."""
    now = timezone.now()
    fields.setdefault("start_time", now)
    fields.setdefault("number", next_number(experiment))
    job = Job.objects.create(experiment=experiment, status=status, config=config or {}, **fields)
    for number in range(attempts):
        JobAttempt.objects.create(job=job, number=number, resource=resource, start_time=now)
    return job


def hold(resource, job, holder="test"):
    """Mark `resource` busy, taken for `job`'s latest attempt, as job_started's take
    records it (resource and job: objects or ids)."""
    rid, jid = getattr(resource, "pk", resource), getattr(job, "pk", job)
    attempt = JobAttempt.objects.filter(job_id=jid).order_by("-number").values_list("pk", flat=True).first()
    Resource.objects.filter(pk=rid).update(
        status=ResourceStatus.BUSY, holder=holder, taken_at=timezone.now(), taken_by_attempt=attempt
    )


def make_intermediate_results(job, scores):
    """The job's steps 0, 1, ... with these scores (stored as the connector stores them)."""
    results = []
    for number, score in enumerate(scores):
        value, text = encode_score(score)
        results.append(
            IntermediateResult.objects.create(
                job=job, number=number, score=value, score_text=text, receive_time=timezone.now()
            )
        )
    return results


def make_multiple_results(job, scores, intermediate_result=None, is_last=False):
    """One labeled result per score (label order 1..n) of the job's experiment."""
    rows = []
    for order, score in enumerate(scores, start=1):
        value, text = encode_score(score)
        rows.append(
            MultipleResult.objects.create(
                job=job,
                experiment_id=job.experiment_id,
                intermediate_result=intermediate_result,
                label_order=order,
                value=value,
                value_text=text,
                receive_time=timezone.now(),
                is_last=is_last,
            )
        )
    return rows


def make_recorded_job(experiment, resource=None, status="RUNNING", started=None, steps=0, ended=None, **fields):
    """A job as the connector records it: its first attempt open while the job runs,
    on `resource`, which it takes as job_started does; `steps` intermediate results.
    An ended job ended at `ended` (default: when it started). (make_job builds the bare
    rows, for tests of the connector itself.)"""
    started = started or timezone.now()
    running = status == "RUNNING"
    end = None if running else (ended or started)
    fields.setdefault("number", next_number(experiment))
    job = Job.objects.create(experiment=experiment, status=status, start_time=started, end_time=end, **fields)
    attempt = JobAttempt.objects.create(job=job, number=0, resource=resource, start_time=started, end_time=end)
    if resource is not None and running:
        Resource.objects.filter(pk=resource.pk).update(
            status=ResourceStatus.BUSY, holder="test", taken_at=started, taken_by_attempt=attempt.pk
        )
    IntermediateResult.objects.bulk_create(
        IntermediateResult(job=job, number=number, score=float(number), receive_time=started) for number in range(steps)
    )
    return job


def make_share(experiment, user=None, group=None):
    return ExperimentShare.objects.create(experiment=experiment, user=user, group=group)


def ago(**delta):
    return timezone.now() - timedelta(**delta)


def make_configured_experiment(owner, name="search", status="RUNNING", **config):
    """An experiment whose config has these keys (target max unless given), with the
    label rows its config names, as the connector would have made it."""
    from django.utils import timezone

    from tracking.interface import config_label_names
    from tracking.models import Experiment, ResultLabel

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
    first = next_number(experiment)
    jobs = Job.objects.bulk_create(
        Job(
            experiment=experiment,
            number=first + index,
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


def make_token(user, name="laptop"):
    """An API token of `user`; returns (token, secret)."""
    return ApiToken.issue(user, name)


def make_api_token(user, name="laptop"):
    """An API token of `user` (the row; its secret is not kept)."""
    return make_token(user, name)[0]


# -- issue 13, part 2: hyperparameter importance --------------------------------------------


def importance_bump(x, at=0.9, width=0.1):
    """A peak of height 1 at `at`: what the importance experiment's results are made of."""
    import math

    return math.exp(-(((x - at) / width) ** 2))


def make_importance_experiment(owner, jobs=80, status="FINISHED", name="importance", seed=13, job_status="FINISHED"):
    """An experiment whose hyperparameter importance is known, with `jobs` jobs of
    `job_status` (bulk inserts: a handful of queries whatever the count).

    Parameters: ``lr`` and ``dropout`` (floats in [0, 1]) and ``optimizer`` (a category),
    drawn at random. Target max. Its score is decided by ``lr`` alone (1 - |lr - 0.8|);
    its label 1, ``loss`` (lower is better by default), by ``dropout`` alone
    (|dropout - 0.2|); its label 2, ``margin`` (follows the target: higher is better), is
    a peak of ``lr`` at 0.9 minus a peak of ``dropout`` at 0.9, so that its high jobs
    share lr and its low jobs share dropout. ``optimizer`` decides nothing.
    """
    import random

    from tracking.models import ResultLabel

    rng = random.Random(seed)
    experiment = make_experiment(
        owner,
        name,
        status=status,
        end_time=None if status == "RUNNING" else timezone.now(),
        config={
            "name": name,
            "target": "max",
            "parameter_config": [
                {"name": "lr", "range": [0.0, 1.0], "type": "float"},
                {"name": "dropout", "range": [0.0, 1.0], "type": "float"},
                {"name": "optimizer", "range": ["adam", "sgd", "rmsprop"], "type": "choice"},
            ],
        },
    )
    ResultLabel.objects.bulk_create(
        [ResultLabel(experiment=experiment, label_order=1, name="loss"),
         ResultLabel(experiment=experiment, label_order=2, name="margin")]
    )
    now = timezone.now()
    configs = [
        {"lr": rng.random(), "dropout": rng.random(), "optimizer": rng.choice(["adam", "sgd", "rmsprop"])}
        for _ in range(jobs)
    ]
    finished = job_status != "RUNNING"
    created = Job.objects.bulk_create(
        Job(
            experiment=experiment,
            number=index + 1,
            config=config,
            score=1 - abs(config["lr"] - 0.8),
            status=job_status,
            start_time=now,
            end_time=now if finished else None,
        )
        for index, config in enumerate(configs)
    )
    MultipleResult.objects.bulk_create(
        MultipleResult(job=job, experiment=experiment, label_order=order, value=value, receive_time=now, is_last=True)
        for job, config in zip(created, configs)
        for order, value in (
            (1, abs(config["dropout"] - 0.2)),
            (2, importance_bump(config["lr"]) - importance_bump(config["dropout"])),
        )
    )
    return experiment
# -- notes and tags (issue 13, item 7) --------------------------------------------------


def tag_experiment(experiment, *names):
    """Give `experiment` the tags `names` (lower-case tag names; created when missing)."""
    from tracking.models import Tag

    tags = [Tag.objects.get_or_create(name=name)[0] for name in names]
    experiment.tags.add(*tags)
    return tags
# -- parallel coordinates (issue 13) -----------------------------------------------------


def make_configured_jobs(experiment, specs, status="FINISHED"):
    """One finished job per spec, in order: a spec is (config, score) or (config, score,
    {label order: final value}). Bulk inserts: three queries whatever the count."""
    from django.utils import timezone

    from tracking.models import Job, MultipleResult

    now = timezone.now()
    first = next_number(experiment)
    jobs = Job.objects.bulk_create(
        Job(
            experiment=experiment,
            number=first + index,
            config=spec[0],
            score=spec[1],
            status=status,
            start_time=now,
            end_time=None if status == "RUNNING" else now,
        )
        for index, spec in enumerate(specs)
    )
    MultipleResult.objects.bulk_create(
        MultipleResult(
            job=job, experiment=experiment, label_order=order, value=value, receive_time=now, is_last=True
        )
        for job, spec in zip(jobs, specs)
        for order, value in (spec[2].items() if len(spec) > 2 else ())
    )
    return jobs
