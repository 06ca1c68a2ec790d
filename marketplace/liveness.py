"""Which syncs still have a worker: a run holds a PostgreSQL advisory lock while a process works on it.

PostgreSQL drops a session's locks when its process dies, however it dies (SIGKILL, the OOM killer,
a lost machine), so a run marked running whose lock nobody holds has lost its worker: no heartbeat
to tune, and a slow sync is never mistaken for a dead one. Such runs are reaped, marked failed, by
a beat task each minute and whenever a sync starts or ends. Nothing is half-written by a lost
worker: a sync writes the catalogue in one transaction, which PostgreSQL rolls back when the
session ends, and a clone enters the git cache only once complete (gitrepo).
"""
import json
from contextlib import contextmanager

from django.db import connection, transaction
from django.utils import timezone

from audit import record
from audit.models import Action, Outcome, Surface

from . import locks
from .models import Marketplace, Status, SyncRun

# Where each kind of sync comes from, for the audit log; a person's Sync now names its own (queue_sync).
SURFACES = {SyncRun.Trigger.CLI: Surface.CLI, SyncRun.Trigger.SCHEDULE: Surface.SCHEDULE,
            SyncRun.Trigger.WEBHOOK: Surface.WEBHOOK}

LOST = "Worker lost: the process running this sync stopped before it finished; nothing it read was saved."
GAVE_UP = ("Not synced: its last syncs lost their worker; an admin's Sync now, or manage.py sync_marketplace, "
           "tries again.")


@contextmanager
def claimed(marketplace, trigger, run_id=None):
    """The SyncRun this process works on, locked until the block ends.

    `run_id` names a run recorded as queued (queue_sync); it is taken over unless another process
    holds it already. Otherwise a new run is created. Either way the run is committed together
    with its lock, so the reaper never sees it unlocked while it is alive.
    """
    reap_lost_runs()
    with transaction.atomic():
        run = SyncRun.objects.filter(pk=run_id, marketplace=marketplace, status=Status.RUNNING).first()
        if run is None or not locks.try_take(locks.SYNC_RUN, run.pk):
            run = SyncRun.objects.create(marketplace=marketplace, trigger=trigger, progress={"phase": "waiting"})
            locks.try_take(locks.SYNC_RUN, run.pk)  # new: nobody else can hold it
        elif run.progress.get("phase") == "queued":
            run.progress = {"phase": "waiting"}
            SyncRun.objects.filter(pk=run.pk).update(progress=run.progress)
    try:
        yield run
    finally:
        locks.release(locks.SYNC_RUN, run.pk)
        # Again: a worker that died just before this sync started may have held its lock a moment longer.
        reap_lost_runs()


def reap_lost_runs() -> list[int]:
    """Mark running runs nobody holds as failed (queued ones wait for a worker), and marketplaces a
    lost sync left "running"; record each in the audit log. Return the reaped runs' ids.

    One UPDATE claims them, so reapers in several processes never reap a run twice.
    """
    runs, marketplaces = SyncRun._meta.db_table, Marketplace._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {runs} AS r SET status = %s, error = %s, finished_at = %s, progress = %s::jsonb "
            f"WHERE r.status = %s AND r.progress->>'phase' IS DISTINCT FROM 'queued' "
            f"AND NOT EXISTS ({locks.HELD.format(key='r.id')}) RETURNING r.id, r.marketplace_id, r.trigger",
            [Status.FAILED, LOST, timezone.now(), json.dumps({"phase": "done"}), Status.RUNNING,
             locks.SYNC_RUN],
        )
        reaped = cursor.fetchall()
        # A sync marks its marketplace running only while it holds the marketplace's lock.
        cursor.execute(
            f"UPDATE {marketplaces} AS m SET status = %s, last_error = %s "
            f"WHERE m.status = %s AND NOT EXISTS ({locks.HELD.format(key='m.id')})",
            [Status.FAILED, LOST, Status.RUNNING, locks.MARKETPLACE],
        )
    owners = Marketplace.objects.in_bulk({marketplace_id for _run, marketplace_id, _trigger in reaped})
    for run_id, marketplace_id, trigger in reaped:
        if marketplace_id in owners:  # not deleted meanwhile
            record(Action.SYNC_FAILED, target=owners[marketplace_id], surface=SURFACES.get(trigger),
                   outcome=Outcome.ERROR,
                   extra={"run": run_id, "trigger": trigger, "status": Status.FAILED, "error": LOST})
    return [run_id for run_id, _marketplace, _trigger in reaped]


def lost_in_a_row(marketplace_id) -> int:
    """How many of the marketplace's latest finished runs lost their worker (or gave up because of
    such losses), newest first, without a break."""
    count = 0
    for error in SyncRun.objects.filter(marketplace_id=marketplace_id).exclude(status=Status.RUNNING).values_list(
        "error", flat=True
    )[:10]:
        if error not in (LOST, GAVE_UP):
            break
        count += 1
    return count


def give_up(marketplace_id, run_id=None):
    """Say on the marketplace, and on the queued run if there is one, that only an admin's sync tries again."""
    SyncRun.objects.filter(pk=run_id, marketplace_id=marketplace_id, status=Status.RUNNING).update(
        status=Status.FAILED, error=GAVE_UP, finished_at=timezone.now(), progress={"phase": "done"},
    )
    Marketplace.objects.filter(pk=marketplace_id).update(status=Status.FAILED, last_error=GAVE_UP)
