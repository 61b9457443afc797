"""One list of statuses: the interface's tuples are the models' choices, the database's
CHECK constraints, the API's fields and the Auptimizer schema's, in the same order."""

import io
import sqlite3

import pytest
from django.core.management import call_command

from tracking.api.fields import ExperimentStatusField, JobStatusField
from tracking.interface import EXPERIMENT_STATUSES, JOB_STATUSES
from tracking.interop import schema
from tracking.models import Experiment, ExperimentStatus, Job, JobStatus


def checked_statuses(model, name):
    """The list a model's CHECK constraint `name` allows in ``status__in``."""
    (constraint,) = [constraint for constraint in model._meta.constraints if constraint.name == name]
    pending, lookups = [constraint.condition], {}
    while pending:
        for child in pending.pop().children:
            if isinstance(child, tuple):
                lookups[child[0]] = child[1]
            else:
                pending.append(child)
    return tuple(lookups["status__in"])


def test_the_models_choices_are_the_interfaces_statuses():
    assert tuple(ExperimentStatus.values) == EXPERIMENT_STATUSES
    assert tuple(JobStatus.values) == JOB_STATUSES
    assert tuple(value for value, _ in Experiment._meta.get_field("status").choices) == EXPERIMENT_STATUSES
    assert tuple(value for value, _ in Job._meta.get_field("status").choices) == JOB_STATUSES


def test_the_members_read_as_a_class_of_choices_would():
    assert ExperimentStatus.REQUEST_STOP == "REQUEST_STOP" and ExperimentStatus.REQUEST_STOP.label == "Request Stop"
    assert JobStatus.EARLY_STOPPED == "EARLY_STOPPED" and JobStatus.EARLY_STOPPED.label == "Early Stopped"


def test_the_database_checks_the_interfaces_statuses():
    assert checked_statuses(Experiment, "tracking_experiment_valid_status") == EXPERIMENT_STATUSES
    assert checked_statuses(Job, "tracking_job_valid_status") == JOB_STATUSES


@pytest.mark.django_db
def test_the_migrations_say_what_the_models_say():
    # A status added to the interface changes the choices and the constraints: it needs a migration.
    call_command("makemigrations", "tracking", "--check", "--dry-run", stdout=io.StringIO())


def test_the_api_takes_the_interfaces_statuses():
    assert tuple(ExperimentStatusField().choices) == EXPERIMENT_STATUSES
    assert tuple(JobStatusField().choices) == JOB_STATUSES


def test_the_auptimizer_schema_checks_the_interfaces_statuses():
    connection = sqlite3.connect(":memory:")
    schema.create_schema(connection)
    ddl = dict(connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    assert "IN ({})".format(", ".join(f"'{status}'" for status in EXPERIMENT_STATUSES)) in ddl["experiment"]
    assert "IN ({})".format(", ".join(f"'{status}'" for status in JOB_STATUSES)) in ddl["job"]
