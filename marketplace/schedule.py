"""Keep one django-celery-beat PeriodicTask per marketplace, matching its interval and flag."""
import json
from datetime import timedelta

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from .models import Marketplace


def task_name(marketplace) -> str:
    # Keyed by id, not slug, so renaming a marketplace keeps its schedule.
    return f"Sync marketplace #{marketplace.pk}"


@receiver(post_save, sender=Marketplace)
def schedule_sync(sender, instance, **kwargs):
    if not instance.sync_interval:
        PeriodicTask.objects.filter(name=task_name(instance)).delete()
        return
    interval, _ = IntervalSchedule.objects.get_or_create(every=instance.sync_interval, period=IntervalSchedule.MINUTES)
    values = {
        "task": "marketplace.tasks.sync_marketplace",
        "interval": interval,
        "kwargs": json.dumps({"marketplace_id": instance.pk, "trigger": "schedule"}),
        "enabled": instance.enabled,
        "description": f"Scheduled sync of marketplace '{instance.slug}' every {instance.sync_interval} minutes.",
    }
    # Beat waits a whole interval after a task's last run; a new marketplace is due now.
    due_now = timezone.now() - timedelta(minutes=instance.sync_interval)
    PeriodicTask.objects.update_or_create(
        name=task_name(instance), defaults=values, create_defaults={**values, "last_run_at": due_now}
    )


@receiver(post_delete, sender=Marketplace)
def unschedule_sync(sender, instance, **kwargs):
    PeriodicTask.objects.filter(name=task_name(instance)).delete()
