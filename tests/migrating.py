"""Running data migrations backwards and forwards on the test database."""
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def there_and_back(*targets):
    """Migrate back to `targets`, then forward to every app's last migration: going back in one app
    also unapplies the apps built on it (authoring and publishing on marketplace), and tests that follow
    need their tables.

    One migration at a time, the test's rows (and what data migrations on the way wrote) are checked against
    their deferred constraints first: PostgreSQL will not alter a table while trigger events are pending on it
    in the transaction, and a migration on the way may alter one (0034 adds a column to plugins, 0038 to
    skills). Then the constraints are deferred again, as Django makes them, for the rest of the test."""
    try:
        _migrate(list(targets))
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _migrate(targets):
    # A new executor for each step: one's loader holds the state it began in.
    while plan := (executor := MigrationExecutor(connection)).migration_plan(targets):
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        executor.migrate(targets, plan=plan[:1])
