"""Migration 0009: resources busy before it stay held by the job running on them."""

import pytest
from django.utils import timezone

from tests.migration_support import migrate, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("tracking", "0008_multipleresult_experiment_without_constraint")]
AFTER = [("tracking", "0009_resource_taken_by_attempt")]


def test_it_links_each_busy_resource_to_the_newest_open_attempt_on_it(django_user_model):
    apps = migrate(BEFORE)
    try:
        Resource, Experiment = apps.get_model("tracking", "Resource"), apps.get_model("tracking", "Experiment")
        Job, JobAttempt = apps.get_model("tracking", "Job"), apps.get_model("tracking", "JobAttempt")
        User = apps.get_model(django_user_model._meta.app_label, django_user_model._meta.model_name)
        now = timezone.now()
        experiment = Experiment.objects.create(owner=User.objects.create(username="alice"), status="RUNNING")
        job = Job.objects.create(experiment=experiment, status="RUNNING", start_time=now)
        busy, idle, leaked = (Resource.objects.create(type="cpu", name=str(n)) for n in range(3))
        Resource.objects.filter(pk__in=[busy.pk, leaked.pk]).update(status="busy", holder="h", taken_at=now)
        JobAttempt.objects.create(job=job, number=0, resource=busy, start_time=now, end_time=now)
        newest = JobAttempt.objects.create(job=job, number=1, resource=busy, start_time=now)
        JobAttempt.objects.create(job=job, number=2, resource=idle, start_time=now)
        JobAttempt.objects.create(job=job, number=3, resource=leaked, start_time=now, end_time=now)

        apps = migrate(AFTER)

        Resource = apps.get_model("tracking", "Resource")
        assert dict(Resource.objects.values_list("pk", "taken_by_attempt")) == {
            busy.pk: newest.pk,  # held as before: the job still frees it, recovery keeps it
            idle.pk: None,  # free: nothing to hold
            leaked.pk: None,  # no open attempt: recovery's orphan, as before
        }
    finally:
        migrate_to_latest()
