"""Skillport's settings for the tests: the site's own, with a fast password hasher, and with each
pytest-xdist worker (`make test` runs two or more) kept apart from the others."""
import os
from urllib.parse import urlsplit, urlunsplit

from skillport_site import embedded


def _apart(worker: str):
    """Each worker gets a data directory (file caches, git mirrors, the embedded broker) and a Redis
    database of its own, and pytest-django a test database of its own (test_<name>_gw0, ...): a Celery
    worker started by one test process would otherwise take the tasks another queued, for another
    database, and one process clearing its caches would empty the other's. Processes the tests start
    inherit these variables. The embedded PostgreSQL, when there is no DATABASE_URL, stays one server,
    started once in the shared data directory (its start is locked across processes). Processes the
    tests start import these settings again with the variables already set apart: set once."""
    if os.environ.get("SKILLPORT_TESTS_APART") == worker:
        return
    os.environ["SKILLPORT_TESTS_APART"] = worker
    shared = embedded.data_dir()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = embedded.database_url(shared)
    os.environ["SKILLPORT_DATA_DIR"] = str(shared / worker)
    number = int(worker.removeprefix("gw"))
    for name in ("CELERY_BROKER_URL", "SKILLPORT_REDIS_URL"):
        url = urlsplit(os.environ.get(name, ""))
        if url.scheme in ("redis", "rediss"):
            # Counting down from the database configured, which this run owns (CI's is 15): databases
            # below it, one per worker.
            base = int(url.path.strip("/") or 0)
            os.environ[name] = urlunsplit(url._replace(path=f"/{(base - number) % 16}"))


if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    _apart(worker)

from skillport_site.settings import *  # noqa: E402, F403

# Hashing one password the production way takes 0.65 s on a 2-core machine, and the tests create
# hundreds of passwords and OAuth client secrets (django-oauth-toolkit hashes those with the same
# hashers). Processes the tests start inherit DJANGO_SETTINGS_MODULE, so they check these hashes too.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# asgi.py sets the web's statement timeout in DATABASES as it is imported (tests/servers.py imports it),
# and every connection this process opened afterwards had it, other tests' included: on a busy machine a
# test building 65,537 rows was cancelled. The tests that want it set it: the 503 tests serve from a
# process of their own with the variable set (test_expensive_search.py), test_large_marketplaces.py per
# statement.
SKILLPORT_REQUEST_STATEMENT_TIMEOUT_MS = int(os.environ.get("SKILLPORT_REQUEST_STATEMENT_TIMEOUT_MS", 0))
