"""On PostgreSQL, a function that records a job's next intermediate result in one call.

DjangoConnector.save_intermediate_result numbers a job's steps "last number + 1". On
PostgreSQL two writers of one job must be serialised for that, by locking the job row
first, and the number must be read after the lock is granted. As plain statements that
is BEGIN, SELECT ... FOR UPDATE, INSERT, COMMIT: four round trips, and on a busy server
the round trips cost more than the insert. One statement cannot do it: its snapshot
is taken before it waits for the lock, so it would miss the step written by the writer
it waited for. A PL/pgSQL function can: each statement in it takes a fresh snapshot,
so the INSERT, which runs after the lock is granted, sees the previous writer's row.

The function returns the new row's id, or NULL when the job does not exist. SQLite
needs none of this (its writers are serialised by the database lock), so nothing is
created there.
"""

from django.db import migrations

FUNCTION = "tracking_save_intermediate_result"


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    jobs = apps.get_model("tracking", "Job")._meta.db_table
    results = apps.get_model("tracking", "IntermediateResult")._meta.db_table
    schema_editor.execute(f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}(
            p_job bigint, p_score double precision, p_score_text text, p_receive_time timestamptz
        ) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $body$
        DECLARE
            new_id bigint;
        BEGIN
            PERFORM 1 FROM {jobs} WHERE id = p_job FOR UPDATE;
            IF NOT FOUND THEN
                RETURN NULL;
            END IF;
            INSERT INTO {results} (job_id, number, score, score_text, receive_time)
            SELECT p_job, COALESCE(MAX(number), -1) + 1, p_score, p_score_text, p_receive_time
            FROM {results} WHERE job_id = p_job
            RETURNING id INTO new_id;
            RETURN new_id;
        END
        $body$
    """)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}(bigint, double precision, text, timestamptz)")


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0006_cache_table"),
    ]

    operations = [
        migrations.RunPython(create_function, drop_function, elidable=False),
    ]
