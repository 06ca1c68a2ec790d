"""The production ASGI handler (skillport_site/asgi.py): each request's middlewares and view run in one
trip from the event loop to a worker thread."""
import asyncio
import io
import warnings

import pytest
from asgiref import sync
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.db import connections

from audit.models import Action, AuditEvent, Surface
from skillport_site.asgi import STREAM_BATCH, django_app

pytestmark = pytest.mark.django_db(transaction=True)


def request(path):
    return ASGIRequest({
        "type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b"", "headers": [],
        "scheme": "http", "http_version": "1.1", "server": ("testserver", 80), "client": ("127.0.0.1", 40000),
    }, io.BytesIO())


def served(handler, path, monkeypatch):
    """The response to GET `path`, and each function the handler sent to a worker thread meanwhile."""
    crossings, cross = [], sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        crossings.append(self.func)
        return await cross(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    response = asyncio.run(handler.get_response_async(request(path)))
    monkeypatch.undo()
    # The worker thread's database connection, which a real request's end would close.
    asyncio.run(sync.sync_to_async(connections.close_all)())
    return response, crossings


@pytest.mark.parametrize("path, status", [("/healthz", 200), ("/skills/", 302), ("/no-such-page/", 404)])
def test_middlewares_and_view_cross_to_a_thread_once(monkeypatch, path, status):
    response, crossings = served(django_app, path, monkeypatch)
    assert response.status_code == status
    assert len(crossings) == 1, crossings
    # Django's own handler crosses for the middlewares, again for each view middleware's process_view
    # (CSRF's), and again for the view: the reason for ours.
    response, crossings = served(ASGIHandler(), path, monkeypatch)
    assert response.status_code == status and len(crossings) >= 2, crossings


def test_a_streamed_export_leaves_in_batches_not_read_whole_first(client):
    """Given a synchronous iterator, Django's ASGI handler lists it whole before sending anything (and
    warns); ours reads it in the request's thread a batch at a time, so an audit export of any size
    holds one batch in the worker's memory."""
    auditor = User.objects.create_user("alice-auditor")
    auditor.groups.add(Group.objects.get(name="Auditors"))
    client.force_login(auditor)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    AuditEvent.objects.bulk_create([
        AuditEvent(action=Action.PACKAGE_DOWNLOADED, actor_login=f"user-{n}", marketplace="acme", plugin="tools",
                   skill=f"skill-{n}", surface=Surface.CLAUDE_AI, user_agent="x" * 100)
        for n in range(3000)
    ])
    scope = {
        "type": "http", "method": "GET", "path": "/audit/export.csv", "raw_path": b"/audit/export.csv",
        "root_path": "", "query_string": b"", "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "scheme": "http", "http_version": "1.1", "server": ("testserver", 80), "client": ("127.0.0.1", 40000),
    }
    sent, asked = [], []

    async def receive():
        asked.append(True)
        if len(asked) == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays while the body goes out

    async def send(message):
        sent.append(message)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(django_app(scope, receive, send))
    assert not [w for w in caught if "synchronous iterators" in str(w.message)]
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    parts = [message["body"] for message in sent[1:] if message.get("body")]
    body = b"".join(parts)
    assert sum(",package_downloaded," in line for line in body.decode().splitlines()) == 3000
    # Batches of about STREAM_BATCH bytes, not one message per line.
    assert len(parts) <= len(body) // (STREAM_BATCH // 2) + 1
    assert all(len(part) <= STREAM_BATCH + 1000 for part in parts)
