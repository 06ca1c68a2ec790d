"""PostgreSQL advisory locks: the namespace of each kind of lock, and the helpers that take them.

Every lock has two keys: the namespace below, and the id of the row it guards. A session-level
lock goes with its process however that process dies, which is what liveness.py relies on.
"""
import time
from contextlib import contextmanager

from django.db import connection

# One sync at a time per marketplace (sync.py); an admin's approval decision takes it too (approval.py).
MARKETPLACE = 0x534B50
# Held by the process working on a sync run for as long as it lives (liveness.py).
SYNC_RUN = 0x534B52
# One publish at a time per publish target (publishing/runs.py).
PUBLISH_TARGET = 0x534B54

# Is a lock of namespace %s held? pg_locks shows a two-key advisory lock with classid the first key,
# objid the second; `{key}` is the SQL expression of the second key.
HELD = (
    "SELECT 1 FROM pg_locks AS l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid = %s AND l.objid = {key}::oid"
)


@contextmanager
def held(namespace: int, key: int, timeout: float, busy: str):
    """Hold a session-level lock for the block, waiting up to `timeout` seconds for it; then raise
    TimeoutError(busy)."""
    deadline = time.monotonic() + timeout
    while not try_take(namespace, key):
        if time.monotonic() > deadline:
            raise TimeoutError(busy)
        time.sleep(0.2)
    try:
        yield
    finally:
        release(namespace, key)


def try_take(namespace: int, key: int) -> bool:
    """Take a session-level lock without waiting; False while another session holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [namespace, key])
        return cursor.fetchone()[0]


def release(namespace: int, key: int):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, key])


def try_take_for_transaction(namespace: int, key: int) -> bool:
    """Take a lock until the transaction ends, without waiting; False while another session holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [namespace, key])
        return cursor.fetchone()[0]
