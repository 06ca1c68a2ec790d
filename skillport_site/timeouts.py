"""The web server's statement timeout, and the one answer when the database cannot serve in time: a 503 saying so."""
from django.db import OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from psycopg.errors import QueryCanceled
from psycopg_pool import PoolTimeout

from .throttle import TURN_SECONDS

CANCELLED = "Skillport stopped this request because it took too long. Try again, or narrow it down."
BUSY = "Skillport is too busy to answer right now. Try again in a few seconds."


def limit_statements(databases, milliseconds: int):
    """Have every connection to the default database end a statement after `milliseconds` (0: never).

    A libpq option, so PostgreSQL applies it from the connection's start at no cost per request;
    the caller must run before any connection (and the pool) exists.
    """
    if milliseconds:
        options = databases["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c statement_timeout={milliseconds}".strip()


def overload(exception) -> str | None:
    """What to tell the caller when the database could not serve in time (None for any other error):
    PostgreSQL cancelled the statement (the timeout fired), or every pooled connection stayed busy
    for the pool's whole timeout. Django wraps psycopg's errors."""
    if isinstance(exception, OperationalError):
        if isinstance(exception.__cause__, QueryCanceled):
            return CANCELLED
        if isinstance(exception.__cause__, PoolTimeout):
            return BUSY
    return None


class DatabaseOverload(MiddlewareMixin):
    """Middleware: a cancelled statement or a saturated pool is a 503 saying so, in the API's JSON
    under /api/, not a 500."""

    def process_exception(self, request, exception):
        return overloaded(request, exception)


def overloaded(request, exception):
    """The 503 that answers `request` when `exception` says the database could not serve in time, else None."""
    message = overload(exception)
    if message is None:
        return None
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=503)  # as the API's own errors read
    else:
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    if message is BUSY:
        response["Retry-After"] = str(TURN_SECONDS)
    return response


class DatabaseOverloadASGI:
    """The same 503 for an ASGI app that is not Django's: /mcp checks its bearer token in the MCP SDK's
    middleware, before any tool (which turns an overload into a tool error) runs."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        started = False

        async def send_tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except OperationalError as exception:
            message = overload(exception)
            if message is None or started:
                raise
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            if message is BUSY:
                headers.append((b"retry-after", str(TURN_SECONDS).encode()))
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": message.encode()})
