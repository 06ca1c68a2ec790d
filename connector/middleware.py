"""Request logs for the connector: every /mcp and OAuth request, with its client id and User-Agent.

When a connector "authorized but was rejected", these lines are how anyone finds out why.
Tokens, codes, secrets and verifiers are never logged: only the client id is read from requests. What a request
sends is logged `printable`: a line break in it would write a line that passes for the server's own.
"""
import logging
import time

from marketplace.problems import printable

log = logging.getLogger("skillport.connector")

OAUTH_PATHS = ("/oauth/", "/authorize", "/token", "/register", "/.well-known/oauth-")
SCOPE_CHALLENGE = b', scope="skills:read"'


class OAuthRequestLog:
    """Django middleware for the authorization server's endpoints."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(OAUTH_PATHS):
            return self.get_response(request)
        started = time.monotonic()
        response = self.get_response(request)
        client_id = request.GET.get("client_id") or request.POST.get("client_id", "")
        log.info(
            "oauth %s %s %s client_id=%s ua=%r %.0fms", request.method, printable(request.path),
            response.status_code, printable(client_id[:200]) or "-", request.headers.get("User-Agent", "")[:200],
            (time.monotonic() - started) * 1000,
        )
        return response


class MCPAccessLog:
    """ASGI middleware around the MCP app: logs each request, and names the scope in auth challenges.

    The SDK's 401 and 403 omit `scope`, which clients use to know what to ask for.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.monotonic(), []

        async def send_with_scope(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
                if message["status"] in (401, 403):
                    message["headers"] = [
                        (name, value + SCOPE_CHALLENGE if name.lower() == b"www-authenticate" else value)
                        for name, value in message["headers"]
                    ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_scope)
        finally:
            # The SDK's AuthenticatedUser carries the token; read by name, since naming its class here would
            # import the SDK wherever Django's checks import the middleware above (every Celery worker).
            token = getattr(scope.get("user"), "access_token", None)
            headers = dict(scope.get("headers") or [])
            log.info(
                "mcp %s %s %s client_id=%s user=%s ua=%r %.0fms", scope["method"], printable(scope["path"]),
                status[0] if status else "-",
                printable(str(getattr(token, "client_id", "-"))), getattr(token, "subject", "-"),
                headers.get(b"user-agent", b"").decode("latin-1")[:200], (time.monotonic() - started) * 1000,
            )
