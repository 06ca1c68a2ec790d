"""Celery tasks for publishing: a run in a worker, and the minute's check of what is due.

Changes are debounced by that check rather than by hooks on every write: every write to
marketplaces, plugins and skills (syncs, approvals, curation, in bulk or not) moves the catalogue
version, and a target whose last publish read an older one is published again, once, however many
writes came in between. A build that finds nothing new pushes nothing.
"""
import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from marketplace.models import CatalogueVersion
from skillport_site.celery import send_on_commit

from .models import Kind, PublishRun, PublishTarget, Status, Trigger

log = logging.getLogger(__name__)


@shared_task(acks_late=True, soft_time_limit=settings.SKILLPORT_SYNC_TIME_LIMIT,
             time_limit=settings.SKILLPORT_SYNC_HARD_TIME_LIMIT)
def publish_target(target_id, trigger=Trigger.MANUAL, run_id=None, actor_id=None):
    target = PublishTarget.objects.filter(pk=target_id).first()
    if target is None:
        log.info("publish target %s is gone; nothing to publish", target_id)
        return None
    run = PublishRun.objects.filter(pk=run_id, target=target).first() if run_id else None
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    # Imported here: the publishing engine (git, requests) is needed by the worker that runs it, not by
    # the admin and every manage.py command, which import this module for queue_publish.
    from . import runs

    return runs.publish(target, trigger, run=run, actor=actor).status


def queue_publish(target, trigger=Trigger.MANUAL, actor=None) -> PublishRun:
    """Record a queued run and start it once the caller's transaction commits; return the run to follow.
    `actor`, who asked for it, is named in its audit event."""
    run = PublishRun.objects.create(target=target, trigger=trigger, progress={"phase": "queued"})
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    send_on_commit(publish_target, target.pk, trigger, run.pk, actor_id, run=run, failed_status=Status.FAILED)
    return run


@shared_task(acks_late=True, time_limit=60)
def publish_due() -> list[str]:
    """Queue a publish of each target whose catalogue changed since it last published, or whose
    schedule says so; return their names."""
    version, now, queued = CatalogueVersion.current(), timezone.now(), []
    for target in PublishTarget.objects.filter(enabled=True).exclude(kind=Kind.MANAGED_SETTINGS):
        if target.runs.filter(status__in=[Status.QUEUED, Status.RUNNING]).exists():
            continue  # it will read the newest state when it starts
        if target.catalogue_version != version:
            trigger = Trigger.CHANGE
        elif target.publish_interval and not target.runs.filter(
                started_at__gt=now - timedelta(minutes=target.publish_interval)).exists():
            trigger = Trigger.SCHEDULE
        else:
            continue
        queue_publish(target, trigger)
        queued.append(target.name)
    return queued
