"""The web server's statement timeout: set on its database connections, answered with a 503 when it fires."""
from django.db import OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from psycopg.errors import QueryCanceled

CANCELLED = "Skillport stopped this request because it took too long. Try again, or narrow it down."


def limit_statements(databases, milliseconds: int):
    """Have every connection to the default database end a statement after `milliseconds` (0: never).

    A libpq option, so PostgreSQL applies it from the connection's start at no cost per request;
    the caller must run before any connection (and the pool) exists.
    """
    if milliseconds:
        options = databases["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c statement_timeout={milliseconds}".strip()


def cancelled(exception) -> bool:
    """Did PostgreSQL cancel the statement (the timeout fired)? Django wraps psycopg's error."""
    return isinstance(exception, OperationalError) and isinstance(exception.__cause__, QueryCanceled)


class StatementTimeouts(MiddlewareMixin):
    """Middleware: a cancelled statement is a 503 saying so, in the API's JSON under /api/, not a 500."""

    def process_exception(self, request, exception):
        if not cancelled(exception):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": CANCELLED}, status=503)
        return HttpResponse(CANCELLED, status=503, content_type="text/plain; charset=utf-8")
