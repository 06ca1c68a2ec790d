"""Celery tasks: ids in, re-fetch, call the plain function tests call directly."""
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import liveness, sync, teams
from .models import Marketplace, Status, SyncRun

log = logging.getLogger(__name__)

# A sync whose worker keeps dying (a repository that exhausts its memory, say) is not delivered
# again after this many losses in a row; its next scheduled sync, or an admin's, tries again.
MAX_LOST_IN_A_ROW = 3


@shared_task(
    bind=True,
    acks_late=True,
    # A worker process that dies mid-sync (SIGKILL, out of memory) hands the message back at once,
    # instead of Celery acknowledging it as failed. A whole worker lost is redelivered by the broker
    # after SKILLPORT_TASK_REDELIVERY_SECONDS, which the hard time limit stays below.
    reject_on_worker_lost=True,
    soft_time_limit=settings.SKILLPORT_SYNC_TIME_LIMIT,
    time_limit=settings.SKILLPORT_SYNC_HARD_TIME_LIMIT,
)
def sync_marketplace(self, marketplace_id, trigger="manual", run_id=None):
    if (self.request.delivery_info or {}).get("redelivered"):
        liveness.reap_lost_runs()  # the run this message started, if its worker was lost
        if liveness.lost_in_a_row(marketplace_id) >= MAX_LOST_IN_A_ROW:
            log.error("marketplace %s lost its sync's worker %s times in a row; not trying again",
                      marketplace_id, MAX_LOST_IN_A_ROW)
            SyncRun.objects.filter(pk=run_id, status=Status.RUNNING).update(
                status=Status.FAILED, finished_at=timezone.now(), progress={"phase": "done"},
                error=f"Not tried again: its worker was lost {MAX_LOST_IN_A_ROW} times in a row.",
            )
            return Status.FAILED
    try:
        run = sync.sync_marketplace(marketplace_id, trigger, run_id=run_id)
    except Marketplace.DoesNotExist:
        log.info("marketplace %s is gone; nothing to sync", marketplace_id)
        return None
    return run.status


def queue_sync(marketplace, trigger=SyncRun.Trigger.MANUAL) -> SyncRun:
    """Record a queued run and start it once the caller's transaction commits; return the run to follow."""
    run = SyncRun.objects.create(marketplace=marketplace, trigger=trigger, progress={"phase": "queued"})
    transaction.on_commit(lambda: sync_marketplace.delay(marketplace.pk, trigger, run.pk))
    return run


@shared_task(acks_late=True, time_limit=60)
def reap_lost_syncs():
    return len(liveness.reap_lost_runs())


@shared_task(acks_late=True, time_limit=600)
def refresh_github_teams():
    return teams.refresh_identities()
