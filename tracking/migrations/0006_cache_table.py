"""The database cache's table (settings.CACHES), made by `migrate` itself.

The login rate limit and the cached charts of ended experiments live in it, so a
database that `migrate` has prepared must have it; `createcachetable` does nothing when
the table exists already.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0005_api_tokens_and_idempotency_keys"),
    ]

    operations = [
        migrations.RunPython(create_cache_table, migrations.RunPython.noop, elidable=False),
    ]
