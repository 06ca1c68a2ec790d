"""GitHub webhooks: signatures, pings, pushes to the tracked ref (a real sync), and the record kept."""
import hashlib
import hmac
import json

import pytest

from audit.models import Action, AuditEvent, Outcome, Surface
from marketplace.models import Status, SyncRun, WebhookDelivery

from .builders import wait_for_run

SECRET = "whsec-correct-horse"


def deliver(client, slug, payload, event="push", secret=SECRET, signature=None, delivery="d-1"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if signature is None:
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": delivery}
    if signature:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    return client.post(f"/webhooks/github/{slug}", body, content_type="application/json", **headers)


@pytest.fixture
def market(simple_repo, make_marketplace):
    return make_marketplace(simple_repo, slug="hooked", webhook_secret=SECRET)


PUSH = {"ref": "refs/heads/main", "after": "a" * 40, "repository": {"default_branch": "main"}}


@pytest.mark.django_db
@pytest.mark.parametrize("case, kwargs", [
    ("missing", {"signature": ""}),
    ("wrong secret", {"secret": "guess"}),
    ("sha1 form", {"signature": "sha1=" + "0" * 40}),
    ("garbage", {"signature": "sha256=not-hex"}),
    ("not ascii", {"signature": "sha256=\xe9" * 64}),  # compare_digest raised on such text: a 500
])
def test_bad_signatures_are_refused_and_audited(client, market, case, kwargs):
    response = deliver(client, "hooked", PUSH, **kwargs)
    assert response.status_code == 403
    assert WebhookDelivery.objects.get().result == WebhookDelivery.Result.BAD_SIGNATURE
    event = AuditEvent.objects.get(action=Action.WEBHOOK_BAD_SIGNATURE)
    assert event.outcome == Outcome.DENIED and event.marketplace == "hooked" and event.extra["delivery"] == "d-1"
    assert event.surface == Surface.WEBHOOK
    assert not SyncRun.objects.exists()


@pytest.mark.django_db
def test_a_marketplace_without_a_secret_accepts_nothing(client, simple_repo, make_marketplace):
    make_marketplace(simple_repo, slug="open")
    assert deliver(client, "open", PUSH, secret="").status_code == 403
    # Nothing to check a signature against, and nothing written: that is no way to fill the audit log.
    assert not WebhookDelivery.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_deliveries_from_one_address_are_limited_before_anything_is_written(client, market, settings):
    settings.SKILLPORT_WEBHOOK_RATE = "3/minute"
    answers = [deliver(client, "hooked", PUSH, secret="guess").status_code for _ in range(5)]
    assert answers == [403, 403, 403, 429, 429]
    assert WebhookDelivery.objects.count() == AuditEvent.objects.count() == 3


@pytest.mark.django_db
def test_ping_other_events_other_refs_and_bad_bodies(client, market):
    assert deliver(client, "hooked", {"zen": "hi"}, event="ping").status_code == 200
    assert deliver(client, "hooked", {"action": "opened"}, event="issues").status_code == 200
    other = deliver(client, "hooked", {**PUSH, "ref": "refs/heads/feature"})
    assert other.status_code == 200 and "tracks main" in other.json()["detail"]
    assert deliver(client, "hooked", b"{not json").status_code == 400
    assert deliver(client, "hooked", {"no": "ref"}).status_code == 400
    # A slug nobody uses is answered as a bad signature, and written nowhere: which exist is not learnt here.
    unknown, forged = deliver(client, "nope", PUSH), deliver(client, "hooked", PUSH, secret="guess")
    assert (unknown.status_code, unknown.json()) == (forged.status_code, forged.json()) == (403, {
        "result": "bad_signature", "detail": "The signature does not match this marketplace's secret."})
    assert client.get("/webhooks/github/hooked").status_code == 405
    results = list(WebhookDelivery.objects.order_by("received_at").values_list("result", flat=True))
    assert results == ["pong", "ignored", "ignored", "bad_request", "bad_request", "bad_signature"]
    assert not SyncRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_push_to_the_tracked_ref_syncs_on_the_worker(client, market, celery_worker_queue):
    response = deliver(client, "hooked", PUSH)
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert (delivery.result, delivery.ref, delivery.commit) == ("queued", "refs/heads/main", "a" * 40)
    run = wait_for_run(market, "webhook")
    assert run.status == Status.OK and run.counts["skills"] == 2


@pytest.mark.django_db
def test_a_delivery_as_large_as_github_sends_is_read(client, market, settings):
    """GitHub sends up to 25 MB: a push of many commits lists every file each changed. Past the 2.5 MB Django reads
    into memory for a form, such a push was a 400 and no sync followed it."""
    files = [f"plugins/tools/skills/s{i}/references/page-{i}.md" for i in range(60_000)]
    big = {**PUSH, "ref": "refs/heads/feature", "commits": [{"id": "b" * 40, "modified": files}]}
    assert len(json.dumps(big)) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    answered = deliver(client, "hooked", big)
    assert answered.status_code == 200 and "tracks main" in answered.json()["detail"]
    assert WebhookDelivery.objects.get().ref == "refs/heads/feature"
    forged = deliver(client, "hooked", big, secret="guess")
    assert forged.status_code == 403  # read, and its signature checked, as a small one's
    nul = deliver(client, "hooked", {**PUSH, "ref": "refs/heads/ma\u0000in"})
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]
    too_large = client.post("/webhooks/github/hooked", b"{}", content_type="application/json",
                            CONTENT_LENGTH=str(25 * 1024 * 1024 + 1), HTTP_X_GITHUB_EVENT="push")
    assert too_large.status_code == 413 and WebhookDelivery.objects.count() == 3


@pytest.mark.django_db
def test_secret_is_write_only_in_the_admin(client, market, people):
    client.force_login(people["admin"])
    page = client.get(f"/admin/marketplace/marketplace/{market.pk}/change/").content.decode()
    assert SECRET not in page
