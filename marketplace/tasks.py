"""Celery tasks: ids in, re-fetch, call the plain function tests call directly."""
import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model

from skillport_site.celery import send_on_commit

from . import liveness, scans
from .models import Marketplace, ScanGate, Status, SyncRun

# The sync engine and the GitHub client (requests) are imported by the tasks that run them: the admin
# imports this module for queue_sync, and every manage.py command loads the admin.

log = logging.getLogger(__name__)

# A sync whose worker keeps dying (a repository that exhausts its memory, say) would be redelivered
# and scheduled for ever: after this many losses in a row only an admin's sync tries it again.
MAX_LOST_IN_A_ROW = 3


@shared_task(
    acks_late=True,
    # A worker process that dies mid-sync (SIGKILL, out of memory) hands the message back at once,
    # instead of Celery acknowledging it as failed. A whole worker lost is redelivered by the broker
    # after SKILLPORT_TASK_REDELIVERY_SECONDS, which the hard time limit stays below.
    reject_on_worker_lost=True,
    soft_time_limit=settings.SKILLPORT_SYNC_TIME_LIMIT,
    time_limit=settings.SKILLPORT_SYNC_HARD_TIME_LIMIT,
)
def sync_marketplace(marketplace_id, trigger="manual", run_id=None, actor_id=None, surface=None):
    liveness.reap_lost_runs()  # first, so that a redelivered sync counts the run it lost
    if liveness.lost_in_a_row(marketplace_id) >= MAX_LOST_IN_A_ROW and not _asked_by_an_admin(trigger, run_id):
        log.error("the last %s syncs of marketplace %s lost their worker; waiting for an admin's sync",
                  MAX_LOST_IN_A_ROW, marketplace_id)
        liveness.give_up(marketplace_id, run_id)
        return Status.FAILED
    from . import sync

    try:
        actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
        run = sync.sync_marketplace(marketplace_id, trigger, run_id=run_id, actor=actor, surface=surface)
    except Marketplace.DoesNotExist:
        log.info("marketplace %s is gone; nothing to sync", marketplace_id)
        return None
    if run.status in (Status.OK, Status.PARTIAL):
        queue_scan(run.marketplace)  # never slows the sync: the gate applies when the scan finishes
    return run.status


def _asked_by_an_admin(trigger, run_id) -> bool:
    """A Sync now that no worker has started yet; once started and lost, it is redelivered like any other."""
    return trigger == SyncRun.Trigger.MANUAL and SyncRun.objects.filter(
        pk=run_id, status=Status.RUNNING, progress__phase="queued"
    ).exists()


def queue_sync(marketplace, trigger=SyncRun.Trigger.MANUAL, actor=None, surface=None) -> SyncRun:
    """Record a queued run and start it once the caller's transaction commits; return the run to follow.

    `actor` and `surface`: the person who asked and where (an admin's Sync now), for the audit log.
    """
    run = SyncRun.objects.create(marketplace=marketplace, trigger=trigger, progress={"phase": "queued"})
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    send_on_commit(sync_marketplace, marketplace.pk, trigger, run.pk, actor_id, surface, run=run,
                   failed_status=Status.FAILED)
    return run


@shared_task(acks_late=True, time_limit=60)
def reap_lost_syncs():
    return len(liveness.reap_lost_runs())


@shared_task(acks_late=True, time_limit=600)
def refresh_github_teams():
    from . import teams

    return teams.refresh_identities()


def queue_scan(marketplace):
    """Scan what a marketplace serves and has waiting, in a worker, once the caller's transaction commits."""
    if marketplace.scan_gate != ScanGate.OFF:
        send_on_commit(scan_marketplace, marketplace.pk)  # missed, scan_due takes it up


@shared_task(acks_late=True, soft_time_limit=settings.SKILLPORT_SCAN_TIMEOUT * 4,
             time_limit=settings.SKILLPORT_SCAN_TIMEOUT * 4 + 60)
def scan_marketplace(marketplace_id):
    try:
        return scans.scan_marketplace(marketplace_id)
    except Marketplace.DoesNotExist:
        return None


@shared_task(acks_late=True, time_limit=60)
def scan_due():
    """Queue a scan of every scanning marketplace: what a lost message or a sync beside a release
    left unscanned or unreleased is taken up here (content already scanned is not scanned again)."""
    for marketplace in Marketplace.objects.filter(enabled=True).exclude(scan_gate=ScanGate.OFF):
        scan_marketplace.delay(marketplace.pk)
