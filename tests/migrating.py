"""Running data migrations backwards and forwards on the test database."""
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def there_and_back(*targets):
    """Migrate back to `targets`, then forward to every app's last migration: going back in one app
    also unapplies the apps built on it (authoring and publishing on marketplace), and tests that follow
    need their tables."""
    try:
        MigrationExecutor(connection).migrate(list(targets))
    finally:
        executor = MigrationExecutor(connection)  # a new one: the old one's loader holds the state it began in
        executor.migrate(executor.loader.graph.leaf_nodes())
