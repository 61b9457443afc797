"""Moving the test database between migrations, for the tests of a migration's data step."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrate the test database to `targets`; returns the apps (historical models) there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest():
    """Back to every app's newest migration, as the rest of the suite expects."""
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
