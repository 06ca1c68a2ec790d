"""The ASGI entry point production runs: gunicorn with uvicorn workers.

Django's ASGI handler refuses the lifespan protocol, and the MCP SDK needs it to run its
session manager, so a small router sends /mcp (and lifespan events) to the SDK's app and
everything else, including the OAuth endpoints and metadata, to Django.
"""
import gc
import os
import threading

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillport_site.settings")

from django.conf import settings  # noqa: E402

from .timeouts import limit_statements  # noqa: E402

# Only web servers import this module, so only web, API and /mcp requests have their statements
# cut off; Celery syncs and commands legitimately run longer ones. Before Django sets up, so that
# no connection exists yet.
limit_statements(settings.DATABASES, settings.SKILLPORT_REQUEST_STATEMENT_TIMEOUT_MS)


class OneThreadHopHandler(ASGIHandler):
    """Django's ASGI handler, running each request's middlewares and view in one trip to a worker thread.

    Every view here is synchronous, and so are three of the middlewares. Django's own handler builds
    an asynchronous chain around its asynchronous base handler. A synchronous middleware then makes
    each request go from the event loop to a thread for the middlewares, back to the loop, to a thread
    for each view middleware's `process_view` (CSRF's), and to a thread again for the view. Here the
    chain is Django's synchronous one, run by one `sync_to_async` (tests/test_asgi_handler.py). That
    saves about 0.3 ms of CPU a request: the trivial view went from 2.0 to 1.6-1.7 ms (bench/README.md).
    Async middlewares would cross more, not less: Django's own call each hook through `sync_to_async`.
    A streamed response is read in that thread too, a batch a trip (`_read_in_thread`).
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        if response.streaming and not response.is_async:
            response.streaming_content = _read_in_thread(iter(response.streaming_content))
        return response


# Bytes of a streamed response read per trip to the request's thread.
STREAM_BATCH = 64 * 1024


async def _read_in_thread(parts):
    """A synchronous streaming response's parts (an audit export, a `.skill` file), read in the
    request's thread (its database connection with them) STREAM_BATCH at a time.

    Given a synchronous iterator, Django's ASGI handler reads the whole response into a list
    before sending any of it: a million-row audit export held in a worker's memory. One trip to
    the thread per part would cost more than each line of an export takes to write.
    """

    def batch():
        taken, size = [], 0
        for part in parts:
            taken.append(part)
            size += len(part)
            if size >= STREAM_BATCH:
                break
        return b"".join(taken)

    while chunk := await sync_to_async(batch, thread_sensitive=True)():
        yield chunk


django.setup(set_prefix=False)  # as get_asgi_application does
django_app = OneThreadHopHandler()

from marketplace import scanners  # noqa: E402

# The scanners' versions, learnt while the worker waits for its first request rather than during it.
threading.Thread(target=scanners.learn_versions, name="scanner-versions", daemon=True).start()

from connector.middleware import MCPAccessLog  # noqa: E402  (needs Django set up first)
from connector.server import build_app  # noqa: E402


def router(mcp_app):
    async def application(scope, receive, send):
        if scope["type"] == "lifespan" or (scope["type"] == "http" and scope["path"] == "/mcp"):
            return await mcp_app(scope, receive, send)
        return await django_app(scope, receive, send)
    return application


application = router(MCPAccessLog(build_app()))

# What start-up loaded (Django, the MCP SDK, pydantic's schemas) lives as long as the worker, yet
# every full garbage collection walked it all again, in the middle of a request. Frozen, it is out
# of the collector's reach: bench/mcp.py's p99 went from about 210 ms to about 105.
gc.freeze()
