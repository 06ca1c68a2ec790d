"""Celery tasks: ids in, re-fetch, call the plain function tests call directly."""
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from . import sync, teams
from .models import Marketplace, SyncRun

log = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    soft_time_limit=settings.SKILLPORT_SYNC_TIME_LIMIT,
    time_limit=settings.SKILLPORT_SYNC_TIME_LIMIT + 60,
)
def sync_marketplace(marketplace_id, trigger="manual", run_id=None):
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


@shared_task(acks_late=True, time_limit=600)
def refresh_github_teams():
    return teams.refresh_identities()
