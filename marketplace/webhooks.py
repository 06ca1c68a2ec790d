"""GitHub webhooks: verify, record, answer at once (never fetch here). A push to the tracked branch
enqueues a sync; a pull request's closing, merge or reopening is told to whoever follows pull requests
(`pull_request_changed`: authoring, for the proposals it opened)."""
import hashlib
import hmac
import json

from django.dispatch import Signal
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from audit import record
from audit.models import Action, Outcome, Surface
from skillport_site.middleware import NUL_REFUSED, reads_its_own_body

from .models import Marketplace, SyncRun, WebhookDelivery
from .tasks import queue_sync


# Sent with marketplace, number, branch (the head's name), state ("open", "merged" or "closed") and by
# (the GitHub login that acted); a receiver answers True when the pull request was one of its own.
pull_request_changed = Signal()
PULL_REQUEST_STATES = {"closed": "closed", "reopened": "open"}


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    """GitHub's X-Hub-Signature-256: HMAC-SHA256 of the body, compared in constant time, as bytes (a header may hold
    any character, and compare_digest takes only ASCII text)."""
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").encode("utf-8", "surrogateescape"))


BAD_SIGNATURE = "The signature does not match this marketplace's secret."
# GitHub's cap on a delivery. A push of many commits lists every file each changed: past the 2.5 MB Django reads into
# memory for a form (DATA_UPLOAD_MAX_MEMORY_SIZE), which answered such a push 400, and no sync followed it.
LARGEST_DELIVERY = 25 * 1024 * 1024


@reads_its_own_body
@csrf_exempt  # authenticated by the signature, not by a session
@require_POST
def github(request, marketplace):
    if int(request.META.get("CONTENT_LENGTH") or 0) > LARGEST_DELIVERY:
        return JsonResponse({"result": WebhookDelivery.Result.BAD_REQUEST,
                             "detail": f"A delivery may be at most {LARGEST_DELIVERY:,} bytes."}, status=413)
    body = request.read(LARGEST_DELIVERY)
    marketplace = Marketplace.objects.filter(slug=marketplace).first()
    # Answered as a bad signature, and written nowhere: which slugs exist, and which take webhooks, is not for anyone
    # to learn here, nor a way to fill the audit log.
    if marketplace is None or not marketplace.webhook_secret:
        return JsonResponse({"result": WebhookDelivery.Result.BAD_SIGNATURE, "detail": BAD_SIGNATURE}, status=403)
    delivery = WebhookDelivery(
        marketplace=marketplace,
        delivery_id=request.headers.get("X-GitHub-Delivery", "")[:100],
        event=request.headers.get("X-GitHub-Event", "")[:50],
    )

    def answer(status, result, detail, **extra):
        delivery.result, delivery.detail = result, detail[:500]
        delivery.save()
        return JsonResponse({"result": result, "detail": detail, **extra}, status=status)

    if not signature_ok(marketplace.webhook_secret, body, request.headers.get("X-Hub-Signature-256", "")):
        record(Action.WEBHOOK_BAD_SIGNATURE, request=request, target=marketplace, surface=Surface.WEBHOOK,
               outcome=Outcome.DENIED, extra={"delivery": delivery.delivery_id, "event": delivery.event})
        return answer(403, WebhookDelivery.Result.BAD_SIGNATURE, BAD_SIGNATURE)
    if b"\x00" in body or b"\\u0000" in body:  # PostgreSQL refuses NUL in text (the middleware left this body alone)
        return answer(400, WebhookDelivery.Result.BAD_REQUEST, NUL_REFUSED)
    if delivery.event == "ping":
        return answer(200, WebhookDelivery.Result.PONG, "pong")
    if delivery.event == "pull_request":
        return _pull_request(body, marketplace, delivery, answer)
    if delivery.event != "push":
        return answer(200, WebhookDelivery.Result.IGNORED, f"'{delivery.event}' events do not trigger syncs.")
    try:
        payload = json.loads(body)
        delivery.ref = str(payload["ref"])[:255]
        delivery.commit = str(payload.get("after") or "")[:40]
        default_branch = payload.get("repository", {}).get("default_branch", "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return answer(400, WebhookDelivery.Result.BAD_REQUEST, "A push event needs a JSON body with 'ref'.")
    tracked = marketplace.ref or default_branch
    if delivery.ref not in (f"refs/heads/{tracked}", f"refs/tags/{tracked}"):
        return answer(200, WebhookDelivery.Result.IGNORED, f"Push to {delivery.ref}; this marketplace tracks {tracked}.")
    queue_sync(marketplace, SyncRun.Trigger.WEBHOOK)
    return answer(202, WebhookDelivery.Result.QUEUED, "Sync queued.")


def _pull_request(body, marketplace, delivery, answer):
    """A pull request closed, merged or reopened: its new state for whoever opened it through Skillport.
    The merge's own push arrives as a push event, and syncs as every push does."""
    try:
        payload = json.loads(body)
        action, pull = str(payload["action"])[:50], payload["pull_request"]
        number, branch = int(pull["number"]), str(pull["head"]["ref"])
        merged = pull.get("merged") is True
        sender = str((payload.get("sender") or {}).get("login") or "")[:100]
    except (ValueError, KeyError, TypeError, AttributeError):
        return answer(400, WebhookDelivery.Result.BAD_REQUEST,
                      "A pull_request event needs a JSON body with 'action' and 'pull_request'.")
    delivery.ref = f"refs/heads/{branch}"[:255]
    delivery.commit = str(pull.get("merge_commit_sha") or "")[:40] if merged else ""
    state = "merged" if action == "closed" and merged else PULL_REQUEST_STATES.get(action)
    if state is None:
        return answer(200, WebhookDelivery.Result.IGNORED, f"Pull request #{number} {action}: nothing to follow.")
    answers = pull_request_changed.send(sender=Marketplace, marketplace=marketplace, number=number, branch=branch,
                                        state=state, by=sender)
    if not any(followed for _receiver, followed in answers):
        return answer(200, WebhookDelivery.Result.IGNORED, f"Pull request #{number} is not one Skillport opened.")
    return answer(200, WebhookDelivery.Result.FOLLOWED, f"Pull request #{number} is {state}.")
