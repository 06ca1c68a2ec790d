"""Bearer tokens outside /mcp: the one place an `Authorization: Bearer <token>` header becomes a user.

The REST API (api.auth) and the curated catalogue (marketplace.views) accept, besides a session,
an access token from Skillport's authorization server that was issued for this server; the curated
catalogue also accepts a member's personal catalogue token (connector.catalogue_tokens), nothing else does. The
middleware gives every request `request.bearer`, which reads the token only when a view asks: the
other apps authenticate tokens through the request instead of importing the connector. (Not a
Django authentication backend: `django.contrib.auth.authenticate` would record each unknown token
as a failed sign-in in the audit log, and a token authenticates one request, never a session.)
"""
from functools import cached_property

from .tokens import is_bound_here, is_catalogue_token, lookup

READ, WRITE = "skills:read", "skills:write"


class Bearer:
    """The access token a request presents."""

    def __init__(self, request):
        kind, _, value = request.headers.get("Authorization", "").partition(" ")
        self.raw = value.strip() if kind.lower() == "bearer" else None

    @property
    def presented(self) -> bool:
        """Does the request present a bearer token at all? Without one, a session may authenticate it."""
        return self.raw is not None

    @cached_property
    def _live(self):
        """The live access token presented, whatever it was issued for (one query); else None."""
        return lookup(self.raw) if self.raw else None

    @property
    def token(self):
        """The live access token presented, if it was issued for this server; else None."""
        return self._live if self._live is not None and is_bound_here(self._live) else None

    def user(self, scope=READ):
        """The token's user, when the token grants `scope`; else None."""
        return self.token.user if self.token is not None and scope in self.token.scope.split() else None

    def catalogue_reader(self):
        """Who a curated catalogue is for: the user of a personal catalogue token, or of a token for this
        server with skills:read (what an operator's headersHelper may print); else None. Only here is a
        catalogue token accepted."""
        if self._live is not None and is_catalogue_token(self._live):
            return self._live.user
        return self.user(READ)


class BearerTokenMiddleware:
    """Django middleware: `request.bearer` on every request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.bearer = Bearer(request)
        return self.get_response(request)
