"""Celery tasks of the audit app."""
from celery import shared_task

from .models import Surface
from .retention import purge_expired


@shared_task(acks_late=True, time_limit=3600)
def purge_audit_events():
    return purge_expired(surface=Surface.SCHEDULE)  # beat runs it daily
