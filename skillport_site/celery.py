"""The Celery app: configured from Django settings (CELERY_*), tasks found in each app."""
import gc
import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillport_site.settings")

app = Celery("skillport")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def freeze_start_up(**kwargs):
    """In each worker process, before its first task: what start-up loaded (Django, every task's modules)
    lives as long as the process, yet each full garbage collection walked it all again, in the middle of
    a sync. Frozen, it is out of the collector's reach, as in the web server (asgi.py): a 2,000-skill
    sync ran two such collections of 80 ms each, and its Python took 0.95-1.0 s of CPU instead of 1.1."""
    gc.freeze()
