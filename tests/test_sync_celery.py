"""The Celery path end to end: a real worker on the configured broker, and a real beat process."""
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings
from django_celery_beat.models import PeriodicTask

from marketplace import tasks
from marketplace.models import ContentScan, Skill, Status
from marketplace.schedule import task_name

from .builders import subprocess_database_url, wait_for_run

STARTUP_DATA_DIR = django_settings.SKILLPORT_DATA_DIR  # before any test overrides it
SCANNERS = django_settings.SKILLPORT_SCANNERS  # the real scanner, which celery_worker_queue turns off

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_task_runs_on_a_real_worker(simple_repo, make_marketplace, celery_worker_queue, settings):
    settings.SKILLPORT_SCANNERS = SCANNERS
    m = make_marketplace(simple_repo)
    tasks.sync_marketplace.delay(m.pk, "manual")
    run = wait_for_run(m, "manual")
    assert run.status == Status.OK
    assert run.counts["skills"] == 2
    m.refresh_from_db()
    assert m.last_synced_commit == simple_repo.head
    # Then the worker scans what the sync read, in a task of its own: the sync never waited for it.
    deadline = time.monotonic() + 90
    while not Skill.objects.filter(marketplace=m).exclude(scan_severity="").count() == 2:
        assert time.monotonic() < deadline, "the worker did not scan the synced skills"
        time.sleep(0.5)
    assert ContentScan.objects.filter(content_hash__in=Skill.objects.values("content_hash")).count() == 2


def test_task_for_a_deleted_marketplace_returns_quietly(simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    gone = m.pk
    m.delete()
    assert tasks.sync_marketplace.apply(args=(gone,)).get() is None


def test_each_marketplace_has_a_beat_entry_that_follows_it(simple_repo, make_marketplace):
    m = make_marketplace(simple_repo, sync_interval=15)
    entry = PeriodicTask.objects.get(name=task_name(m))
    assert entry.interval.every == 15 and entry.enabled
    assert entry.task == "marketplace.tasks.sync_marketplace"
    m.enabled = False
    m.save()
    assert not PeriodicTask.objects.get(name=task_name(m)).enabled
    m.sync_interval = 0
    m.save()
    assert not PeriodicTask.objects.filter(name=task_name(m)).exists()
    m.sync_interval = 5
    m.save()
    m.delete()
    assert not PeriodicTask.objects.filter(name=task_name(m)).exists()


def test_beat_schedules_a_sync_that_the_worker_runs(simple_repo, make_marketplace, celery_worker_queue, tmp_path):
    m = make_marketplace(simple_repo, sync_interval=1)
    PeriodicTask.objects.filter(name=task_name(m)).update(queue=celery_worker_queue)
    # Same test database and broker as this process (a filesystem broker lives in its data dir).
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(), "SKILLPORT_DATA_DIR": str(STARTUP_DATA_DIR)}
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "skillport_site", "beat", "--loglevel", "INFO",
         "--schedule", str(tmp_path / "beat-schedule"), "--max-interval", "1"],
        cwd=django_settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        run = wait_for_run(m, "schedule", timeout=90)
    finally:
        beat.terminate()
        output = beat.communicate(timeout=30)[0].decode()
    assert run.status == Status.OK, output
    assert "marketplace.tasks.sync_marketplace" in output


def test_every_scheduled_task_is_one_the_worker_knows():
    """Beat sends tasks by name: a misspelt one would be sent, and dropped by every worker, for ever."""
    from skillport_site.celery import app

    app.loader.import_default_modules()  # what a worker imports as it starts
    scheduled = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert "authoring.tasks.follow_open_proposals" in scheduled
    assert scheduled - set(app.tasks) == set()
