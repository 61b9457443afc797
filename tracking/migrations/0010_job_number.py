from django.db import migrations, models

# Existing jobs are numbered by jid within their experiment: jids grow in the order jobs
# were started, as Auptimizer's do. One statement whatever the number of jobs (UPDATE ...
# FROM: SQLite 3.33+ and PostgreSQL), so a 100,000-job database migrates in a moment.
NUMBER_EXISTING_JOBS = """
UPDATE tracking_job SET number = numbered.n
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY experiment_id ORDER BY id) AS n FROM tracking_job) AS numbered
WHERE numbered.id = tracking_job.id
"""


class Migration(migrations.Migration):

    dependencies = [
        ("tracking", "0009_resource_taken_by_attempt"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="number",
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.RunSQL(NUMBER_EXISTING_JOBS, migrations.RunSQL.noop, elidable=False),
        migrations.AlterField(
            model_name="job",
            name="number",
            field=models.PositiveIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.UniqueConstraint(fields=("experiment", "number"), name="tracking_job_unique_number"),
        ),
    ]
