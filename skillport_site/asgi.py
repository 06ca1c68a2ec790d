"""The ASGI entry point production runs: gunicorn with uvicorn workers.

Django's ASGI handler refuses the lifespan protocol, and the MCP SDK needs it to run its
session manager, so a small router sends /mcp (and lifespan events) to the SDK's app and
everything else, including the OAuth endpoints and metadata, to Django.
"""
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillport_site.settings")

from django.conf import settings  # noqa: E402

from .timeouts import limit_statements  # noqa: E402

# Only web servers import this module, so only web, API and /mcp requests have their statements
# cut off; Celery syncs and commands legitimately run longer ones. Before Django sets up, so that
# no connection exists yet.
limit_statements(settings.DATABASES, settings.SKILLPORT_REQUEST_STATEMENT_TIMEOUT_MS)
django_app = get_asgi_application()

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
