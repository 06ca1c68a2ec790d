"""The Celery app: configured from Django settings (CELERY_*), tasks found in each app; and how a request
hands a task to it (`send_on_commit`)."""
import gc
import logging
import os

from celery import Celery
from celery.signals import worker_process_init
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

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


# Sent from the web server (a person asked) or a worker (beat's schedules): its log says why.
UNSENT = ("Never started: Skillport could not reach its task queue (the server's log says why). "
          "Ask again once the queue is back.")


def send_on_commit(task, *args, run=None, failed_status=None):
    """Send `task` with `args` once the caller's transaction commits, so that the worker finds what it
    committed (the queued `run`, if any).

    When the broker cannot be reached, sending raised into the request after its work was saved: an
    admin's Sync now, the API, a webhook answered 500, and the queued run stayed queued for good (the
    reaper leaves queued runs to their worker; publish_due skips a target with one). Now the error is
    logged and the run is marked `failed_status`, saying so, for the caller to answer with.
    """

    def send():
        try:
            task.delay(*args)
        except OperationalError as error:
            log.error("Could not send %s to the task queue: %s", task.name, error)
            if run is not None:
                run.status, run.error, run.finished_at, run.progress = (
                    failed_status, UNSENT, timezone.now(), {"phase": "done"})
                run.save(update_fields=["status", "error", "finished_at", "progress"])

    transaction.on_commit(send)
