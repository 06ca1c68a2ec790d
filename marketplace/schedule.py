"""Keep one django-celery-beat PeriodicTask per marketplace, matching its interval and flag."""
import json

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
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
    PeriodicTask.objects.update_or_create(
        name=task_name(instance),
        defaults={
            "task": "marketplace.tasks.sync_marketplace",
            "interval": interval,
            "kwargs": json.dumps({"marketplace_id": instance.pk, "trigger": "schedule"}),
            "enabled": instance.enabled,
            "description": f"Scheduled sync of marketplace '{instance.slug}' every {instance.sync_interval} minutes.",
        },
    )


@receiver(post_delete, sender=Marketplace)
def unschedule_sync(sender, instance, **kwargs):
    PeriodicTask.objects.filter(name=task_name(instance)).delete()
