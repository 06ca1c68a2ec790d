"""The production ASGI handler (skillport_site/asgi.py): each request's middlewares and view run in one
trip from the event loop to a worker thread."""
import asyncio
import io

import pytest
from asgiref import sync
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.db import connections

from skillport_site.asgi import django_app

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
