"""Running data migrations backwards and forwards on the test database."""
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def there_and_back(*targets):
    """Migrate back to `targets`, then forward to every app's last migration: going back in one app
    also unapplies the apps built on it (authoring and publishing on marketplace), and tests that follow
    need their tables.

    The test's rows are checked against their deferred constraints first: PostgreSQL will not alter a
    table while trigger events are pending on it in the transaction, and a migration on the way may
    alter one (0034 adds a column to plugins). Then the constraints are deferred again, as Django makes
    them, for the rest of the test."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    try:
        MigrationExecutor(connection).migrate(list(targets))
    finally:
        executor = MigrationExecutor(connection)  # a new one: the old one's loader holds the state it began in
        executor.migrate(executor.loader.graph.leaf_nodes())
