"""Celery tasks: each calls the plain function the tests call directly."""
from celery import shared_task

from . import following


@shared_task
def follow_open_proposals() -> int:
    return following.follow_open_proposals()
