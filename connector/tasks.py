"""Housekeeping for the authorization server."""
from celery import shared_task
from django.core.management import call_command


@shared_task(name="connector.tasks.prune_oauth", acks_late=True, time_limit=600)
def prune_oauth():
    call_command("prune_oauth")
