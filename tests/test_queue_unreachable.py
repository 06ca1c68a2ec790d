"""Asking for a sync or a publish while the task queue is down: the run says so, the request answers.

The production web command runs against a broker address nothing listens on. Before, the send raised
into the request after its run was saved: the API (and an admin's Sync now, a webhook) answered 500, and
the run stayed queued for good (the reaper leaves queued runs to their worker, and publish_due skips a
target that has one).
"""
import socket

import httpx2 as httpx
import pytest

from connector.tokens import mint
from marketplace.models import Status, SyncRun
from publishing.models import Kind, PublishRun, PublishTarget
from publishing.models import Status as PublishStatus
from skillport_site.celery import UNSENT

from .servers import ProcfileWeb

pytestmark = pytest.mark.django_db(transaction=True)


def nothing_listening() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{probe.getsockname()[1]}/0"


def test_a_sync_or_a_publish_asked_for_while_the_queue_is_down_fails_saying_so(
        tmp_path, people, simple_repo, make_marketplace):
    market = make_marketplace(simple_repo, slug="acme")
    PublishTarget.objects.create(name="upload", kind=Kind.ZIP, marketplace_name="acme-upload")
    token = mint(people["admin"], scope="skills:read skills:write")
    web = ProcfileWeb(tmp_path, CELERY_BROKER_URL=nothing_listening()).start()
    try:
        with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
            synced = api.post(f"/api/v1/marketplaces/{market.slug}/sync/")
            published = api.post("/api/v1/publish-targets/upload/publish/")
    finally:
        web.stop()
    assert synced.status_code == 202, synced.text
    assert (synced.json()["status"], synced.json()["error"]) == ("failed", UNSENT)
    run = SyncRun.objects.get(uid=synced.json()["uid"])
    assert (run.status, run.error, run.progress) == (Status.FAILED, UNSENT, {"phase": "done"}) and run.finished_at
    assert published.status_code == 202, published.text
    publish = PublishRun.objects.get(target__name="upload")
    assert (publish.status, publish.error) == (PublishStatus.FAILED, UNSENT) and publish.finished_at
    log = web.output()
    assert "Could not send marketplace.tasks.sync_marketplace to the task queue" in log
    assert "Could not send publishing.tasks.publish_target to the task queue" in log
    assert "Internal Server Error" not in log
