"""When publishing runs by itself (publishing/tasks.py): the minute's check queues one publish of each
target whose catalogue changed since it last published, and a real Celery worker carries it out."""
import subprocess
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import Action, AuditEvent, Surface
from marketplace import approval
from marketplace.models import Curation, Skill, SkillRevision
from marketplace.sync import sync_marketplace
from publishing import runs, tasks
from publishing.models import Kind, PublishRun, PublishTarget, Status, Trigger

from .builders import GIT_ENV, skill_md

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(simple_repo, synced_marketplace, tmp_path):
    """A git target on a bare repository in tmp_path, published once: nothing has changed since."""
    market = synced_marketplace(simple_repo, slug="acme")
    bare = tmp_path / "published.git"
    subprocess.run(["git", "init", "--bare", "--quiet", "--initial-branch=main", str(bare)], check=True)
    target = PublishTarget.objects.create(name="org", kind=Kind.GIT, marketplace_name="acme-org",
                                          repository_url=str(bare))
    target.marketplaces.set([market])
    first = runs.publish(target, Trigger.MANUAL)
    assert first.status == Status.PUBLISHED, first.error
    target.refresh_from_db()
    target.market, target.bare = market, bare
    return target


def head(bare) -> str:
    return git(bare, "rev-parse", "main")


def git(bare, *args) -> str:
    return subprocess.run(["git", "--git-dir", str(bare), *args], check=True, capture_output=True,
                          env={**GIT_ENV, "PATH": "/usr/bin:/bin"}).stdout.decode().strip()


def due(capture) -> tuple[list[str], list]:
    """What publish_due queued, and the tasks it would send once its transaction commits (not sent here:
    no worker takes them in these tests)."""
    with capture() as callbacks:
        names = tasks.publish_due()
    return names, callbacks


def hide_alpha(target, request):
    Skill.objects.filter(name="alpha").update(curation=Curation.HIDDEN)


def sync_a_commit(target, request):
    target.market.repo.commit({"plugins/tools/skills/gamma/SKILL.md": skill_md("gamma", "Gamma does C.")})
    sync_marketplace(target.market.pk)


def approve_the_waiting_change(target, request):
    approval.approve(SkillRevision.objects.filter(status=SkillRevision.Status.PENDING), request)


@pytest.fixture
def admin_request(rf, people):
    request = rf.post("/")
    request.user = people["admin"]
    return request


@pytest.mark.parametrize("change", [hide_alpha, approve_the_waiting_change, sync_a_commit],
                         ids=["curation", "approval", "sync"])
def test_a_change_since_the_last_publish_queues_one_run(change, published, django_capture_on_commit_callbacks,
                                                        admin_request):
    if change is approve_the_waiting_change:
        market = published.market
        market.requires_approval = True
        market.save()
        market.repo.commit({"plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha does A, better.")})
        sync_marketplace(market.pk)
        assert runs.publish(published).status == Status.UNCHANGED  # the change awaits approval
    assert due(django_capture_on_commit_callbacks) == ([], [])
    change(published, admin_request)

    names, sent = due(django_capture_on_commit_callbacks)
    assert names == ["org"] and len(sent) == 1
    queued = published.runs.get(status=Status.QUEUED)
    assert queued.trigger == Trigger.CHANGE
    # A change before it ran is carried by the same run.
    (hide_alpha if change is sync_a_commit else sync_a_commit)(published, admin_request)
    assert due(django_capture_on_commit_callbacks) == ([], [])

    before = head(published.bare)
    assert tasks.publish_target(published.pk, Trigger.CHANGE, queued.pk) == Status.PUBLISHED
    queued.refresh_from_db()
    assert queued.status == Status.PUBLISHED and head(published.bare) == queued.commit
    assert git(published.bare, "rev-parse", "main^") == before
    event = AuditEvent.objects.filter(action=Action.PUBLISHED).latest("id")
    assert (event.extra["run"], event.surface) == (str(queued.uid), Surface.SKILLPORT)  # nobody pressed Publish
    alpha = git(published.bare, "show", "main:plugins/tools/skills/alpha/SKILL.md") \
        if change is approve_the_waiting_change else None
    tree = git(published.bare, "ls-tree", "-r", "--name-only", "main").splitlines()
    if change is approve_the_waiting_change:
        assert "Alpha does A, better." in alpha
        assert "plugins/tools/skills/gamma/SKILL.md" not in tree  # new under the policy: awaits approval
    else:
        assert "plugins/tools/skills/alpha/SKILL.md" not in tree and "plugins/tools/skills/gamma/SKILL.md" in tree
    assert due(django_capture_on_commit_callbacks) == ([], [])


def test_a_running_publish_is_not_doubled_and_a_turned_off_target_is_not_queued(
        published, django_capture_on_commit_callbacks):
    hide_alpha(published, None)
    running = PublishRun.objects.create(target=published, trigger=Trigger.MANUAL, status=Status.RUNNING)
    assert due(django_capture_on_commit_callbacks) == ([], [])
    running.status = Status.FAILED
    running.save()
    PublishTarget.objects.filter(pk=published.pk).update(enabled=False)
    assert due(django_capture_on_commit_callbacks) == ([], [])
    PublishTarget.objects.filter(pk=published.pk).update(enabled=True)
    assert due(django_capture_on_commit_callbacks)[0] == ["org"]


def test_a_schedule_publishes_again_when_nothing_changed(published, django_capture_on_commit_callbacks):
    PublishTarget.objects.filter(pk=published.pk).update(publish_interval=30)
    assert due(django_capture_on_commit_callbacks) == ([], [])  # the last run is recent
    published.runs.update(started_at=timezone.now() - timedelta(minutes=31))
    names, _sent = due(django_capture_on_commit_callbacks)
    assert names == ["org"] and published.runs.filter(status=Status.QUEUED, trigger=Trigger.SCHEDULE).exists()
    run = published.runs.get(status=Status.QUEUED)
    assert tasks.publish_target(published.pk, Trigger.SCHEDULE, run.pk) == Status.UNCHANGED


def test_a_task_for_a_deleted_target_returns_quietly(published):
    gone = published.pk
    published.delete()
    assert tasks.publish_target(gone) is None


@pytest.mark.django_db(transaction=True)
def test_a_queued_publish_runs_on_a_real_worker(published, celery_worker_queue):
    before = head(published.bare)
    hide_alpha(published, None)
    assert tasks.publish_due() == ["org"]  # autocommit: sent at once, to this test's queue
    run = wait_for_publish(published)
    assert run.status == Status.PUBLISHED, run.error
    assert run.trigger == Trigger.CHANGE and head(published.bare) == run.commit != before
    assert "plugins/tools/skills/alpha/SKILL.md" not in git(published.bare, "ls-tree", "-r", "--name-only", "main")


def wait_for_publish(target, timeout=60) -> PublishRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = target.runs.exclude(status__in=[Status.QUEUED, Status.RUNNING]).filter(trigger=Trigger.CHANGE).first()
        if run:
            return run
        time.sleep(0.2)
    raise AssertionError(f"no finished publish of {target.name} within {timeout}s")
