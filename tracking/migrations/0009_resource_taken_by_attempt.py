from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def link_busy_resources(apps, schema_editor):
    # Busy resources taken before this migration say nothing of the attempt they were
    # taken for. Keep them held as they were (the rule before: the newest open attempt
    # on the resource), so that recovery does not take them from a job running now.
    Resource = apps.get_model("tracking", "Resource")
    JobAttempt = apps.get_model("tracking", "JobAttempt")
    db = schema_editor.connection.alias
    newest_open = (
        JobAttempt.objects.using(db)
        .filter(resource=OuterRef("pk"), end_time__isnull=True)
        .order_by("-start_time", "-pk")
        .values("pk")[:1]
    )
    Resource.objects.using(db).filter(status="busy").update(taken_by_attempt=Subquery(newest_open))


class Migration(migrations.Migration):

    dependencies = [
        ("tracking", "0008_multipleresult_experiment_without_constraint"),
    ]

    operations = [
        migrations.AddField(
            model_name="resource",
            name="taken_by_attempt",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(link_busy_resources, migrations.RunPython.noop),
    ]
