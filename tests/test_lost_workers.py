"""A sync whose worker dies is reaped as failed and delivered again; transient git errors are retried."""
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings

from audit.models import Action, AuditEvent, Surface
from marketplace import liveness, locks, tasks
from marketplace.models import Marketplace, Plugin, Status, SyncRun
from marketplace.sync import sync_marketplace
from skillport_site.celery import app as celery_app

from .builders import catalog, plugin_entry, skill_md, subprocess_database_url
from .gitservers import GitHTTPServer

STARTUP_DATA_DIR = django_settings.SKILLPORT_DATA_DIR  # the filesystem broker, if used, lives here
REDIS = django_settings.CELERY_BROKER_URL.startswith("redis")
REDELIVERY = 20  # seconds, for the workers these tests start


class Worker:
    """`celery worker` in a process group of its own, on a queue of its own, on the test database."""

    def __init__(self, queue, name):
        env = {
            **os.environ, "DATABASE_URL": subprocess_database_url(), "SKILLPORT_DATA_DIR": str(STARTUP_DATA_DIR),
            "SKILLPORT_ALLOW_LOCAL_SOURCES": "true", "SKILLPORT_FETCH_ALLOWED_HOSTS": "127.0.0.1",
            "SKILLPORT_GIT_RETRIES": "0", "SKILLPORT_SYNC_TIME_LIMIT": "8",
            "SKILLPORT_TASK_REDELIVERY_SECONDS": str(REDELIVERY),
            "SKILLPORT_SCANNERS": "[]",  # no scan after each sync, which stopping the worker would wait for
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "skillport_site", "worker", "-Q", queue, "-n", f"{name}@%h",
             "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
            cwd=django_settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.output, self.ready = [], threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.ready.wait(60), self.log

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line.decode(errors="replace"))
            if " ready." in self.output[-1]:
                self.ready.set()

    @property
    def log(self):
        return "".join(self.output)

    def pool_process(self) -> int:
        """The prefork child that runs tasks (the worker's only child)."""
        children = [int(p.name) for p in Path("/proc").iterdir()
                    if p.name.isdigit() and _parent(p) == self.proc.pid]
        assert len(children) == 1, children
        return children[0]

    def kill(self):
        """SIGKILL the whole worker, as the OOM killer or a lost machine would: no chance to clean up."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def _parent(proc_dir: Path) -> int:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return -1


@pytest.fixture
def start_worker():
    queue, workers = f"lost-{uuid.uuid4().hex[:8]}", []
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue

    def start():
        workers.append(Worker(queue, f"{queue}-{len(workers)}"))
        return workers[-1]

    yield start
    celery_app.conf.task_default_queue = default_queue
    for worker in workers:
        worker.stop()


@pytest.fixture
def stalled_source(make_repo, tmp_path):
    """A marketplace whose plugin comes from an HTTP remote that holds its first request until
    `release` is set (then fails it), so a worker can be killed in the middle of a sync."""
    release, held = threading.Event(), threading.Event()

    def answer(path):
        if held.is_set():
            return None
        held.set()
        release.wait(120)
        return 503, {}

    server = GitHTTPServer(tmp_path / "served", answer=answer)
    plugin = make_repo({"skills/beta/SKILL.md": skill_md("beta")}, name="plugin")
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("tools"), plugin_entry("remote", {"source": "url", "url": server.publish(plugin, "plugin")}),
        ),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha"),
    }, name="market")
    market = Marketplace.objects.create(slug="slow", git_url=repo.url, sync_interval=0)
    yield market, held, release
    release.set()
    server.close()


def wait_for(check, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(message)


def mid_sync(market, held, worker):
    """Wait until the worker's sync is fetching the stalled source; return its run."""
    assert held.wait(60), worker.log
    run = SyncRun.objects.get(marketplace=market)
    assert run.status == Status.RUNNING and run.progress["phase"] == "fetch"
    assert Marketplace.objects.get(pk=market.pk).status == Status.RUNNING
    assert liveness.reap_lost_runs() == [] and SyncRun.objects.get(pk=run.pk).status == Status.RUNNING  # alive
    return run


def assert_reaped_then_synced(market, lost_run, timeout, worker, trigger=SyncRun.Trigger.MANUAL):
    done = wait_for(lambda: SyncRun.objects.filter(marketplace=market, status=Status.OK).first(), timeout,
                    f"no sync completed after the worker was lost\n{worker.log}")
    lost_run.refresh_from_db()
    assert lost_run.status == Status.FAILED and lost_run.error == liveness.LOST and lost_run.finished_at
    assert done.pk != lost_run.pk and done.trigger == trigger and done.skills == 2
    market.refresh_from_db()
    assert market.status == Status.OK and market.last_error == ""
    lost = AuditEvent.objects.get(action=Action.SYNC_FAILED, extra__run=lost_run.pk, extra__error=liveness.LOST)
    # Where the lost sync came from: a scheduled one's is the schedule, a person's is unknown to the reaper.
    assert lost.surface == (Surface.SCHEDULE if lost_run.trigger == SyncRun.Trigger.SCHEDULE else Surface.UNKNOWN)


pytestmark = pytest.mark.django_db(transaction=True)


def test_a_killed_worker_is_reaped_and_its_sync_delivered_again(stalled_source, start_worker):
    market, held, release = stalled_source
    first = start_worker()
    tasks.queue_sync(market)
    run = mid_sync(market, held, first)
    first.kill()
    release.set()
    # Nothing was half-written: the catalogue is written in one transaction at the end.
    assert not Plugin.objects.filter(marketplace=market).exists()
    assert SyncRun.objects.get(pk=run.pk).status == Status.RUNNING  # until a reaper sees it
    killed_at = time.monotonic()

    second = start_worker()
    if REDIS:
        assert_reaped_then_synced(market, run, REDELIVERY + 60, second)
    else:
        # The embedded filesystem broker hands a message out once: a lost worker's sync is not
        # delivered again, and the next one (a schedule, say) reaps the lost run before it syncs.
        tasks.queue_sync(market, SyncRun.Trigger.SCHEDULE)
        assert_reaped_then_synced(market, run, 60, second, SyncRun.Trigger.SCHEDULE)
    if REDIS:
        assert time.monotonic() - killed_at >= REDELIVERY - 5  # delivered again by the broker, not by luck


def test_a_killed_pool_process_hands_its_sync_back_at_once(stalled_source, start_worker):
    market, held, release = stalled_source
    worker = start_worker()
    tasks.queue_sync(market)
    run = mid_sync(market, held, worker)
    os.kill(worker.pool_process(), signal.SIGKILL)  # what the OOM killer picks: the biggest process
    started = time.monotonic()
    assert_reaped_then_synced(market, run, 60, worker)
    assert time.monotonic() - started < REDELIVERY  # not left to the broker's redelivery
    release.set()


def test_reaping_spares_live_and_queued_runs(simple_repo, make_marketplace):
    market = make_marketplace(simple_repo)
    lost = SyncRun.objects.create(marketplace=market, trigger="schedule", progress={"phase": "skills"})
    queued = SyncRun.objects.create(marketplace=market, trigger="manual", progress={"phase": "queued"})
    alive = SyncRun.objects.create(marketplace=market, trigger="webhook", progress={"phase": "fetch"})
    Marketplace.objects.filter(pk=market.pk).update(status=Status.RUNNING)
    # Another process works on `alive` and holds the marketplace's lock: its own database session.
    with psycopg.connect(subprocess_database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [locks.SYNC_RUN, alive.pk])
        other.execute("SELECT pg_advisory_lock(%s, %s)", [locks.MARKETPLACE, market.pk])
        assert tasks.reap_lost_syncs.apply().get() == 1
        assert SyncRun.objects.get(pk=lost.pk).status == Status.FAILED
        assert SyncRun.objects.get(pk=queued.pk).status == SyncRun.objects.get(pk=alive.pk).status == Status.RUNNING
        assert Marketplace.objects.get(pk=market.pk).status == Status.RUNNING
    # The session ended, as it does when its process dies (its server process exits a moment later).
    assert wait_for(liveness.reap_lost_runs, 10, "the lock outlived its session") == [alive.pk]
    market.refresh_from_db()
    assert market.status == Status.FAILED and market.last_error == liveness.LOST


def test_a_sync_that_keeps_losing_its_worker_waits_for_an_admin(simple_repo, make_marketplace):
    market = make_marketplace(simple_repo)
    for _ in range(tasks.MAX_LOST_IN_A_ROW):
        SyncRun.objects.create(marketplace=market, trigger="schedule", progress={"phase": "fetch"})
    liveness.reap_lost_runs()
    assert tasks.sync_marketplace.apply(args=(market.pk, "schedule")).get() == Status.FAILED
    webhook = SyncRun.objects.create(marketplace=market, trigger="webhook", progress={"phase": "queued"})
    assert tasks.sync_marketplace.apply(args=(market.pk, "webhook", webhook.pk)).get() == Status.FAILED
    webhook.refresh_from_db()
    assert webhook.status == Status.FAILED and webhook.error == liveness.GAVE_UP
    market.refresh_from_db()
    assert market.last_error == liveness.GAVE_UP and not market.skills.exists()

    sync_now = SyncRun.objects.create(marketplace=market, trigger="manual", progress={"phase": "queued"})  # Sync now
    assert tasks.sync_marketplace.apply(args=(market.pk, "manual", sync_now.pk)).get() == Status.OK
    assert tasks.sync_marketplace.apply(args=(market.pk, "schedule")).get() == Status.UNCHANGED


def test_transient_git_errors_are_retried_with_backoff_within_the_git_timeout(make_repo, tmp_path, settings):
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.SKILLPORT_GIT_RETRIES = 2
    failures = {"flaky": 1, "gone": 0, "down": 100}  # 503s to answer before serving the repository

    def answer(path):
        name = path.split("/")[1].removesuffix(".git")
        if path.endswith("/info/refs?service=git-upload-pack") and failures[name] > 0:
            failures[name] -= 1
            return 503, {}
        return (404, {}) if name == "gone" else None

    server = GitHTTPServer(tmp_path / "served", answer=answer)
    try:
        repo = make_repo({".claude-plugin/marketplace.json": catalog(plugin_entry("tools")),
                          "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha")})
        urls = {name: server.publish(repo, name) for name in failures}
        attempts = lambda name: sum(p.startswith(f"/{name}.git/info/refs") for p in server.requests)  # noqa: E731

        started = time.monotonic()
        assert sync_marketplace(Marketplace.objects.create(slug="flaky", git_url=urls["flaky"]).pk).status == Status.OK
        assert attempts("flaky") == 2 and time.monotonic() - started >= 2  # waited before trying again

        run = sync_marketplace(Marketplace.objects.create(slug="gone", git_url=urls["gone"]).pk)
        assert run.status == Status.FAILED and attempts("gone") == 1  # a 404 will not pass on its own

        settings.SKILLPORT_GIT_TIMEOUT = 5
        started = time.monotonic()
        run = sync_marketplace(Marketplace.objects.create(slug="down", git_url=urls["down"]).pk)
        assert run.status == Status.FAILED and "503" in run.problems[0]["detail"]
        assert attempts("down") == 2 and time.monotonic() - started < 5  # the next wait would pass the deadline
    finally:
        server.close()
