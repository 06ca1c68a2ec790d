"""The MCP SDK's token verifier for /mcp, reading django-oauth-toolkit's table; only the MCP server imports it."""
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from mcp.server.auth.provider import AccessToken
from pydantic import Field

from .tokens import is_bound_here, lookup


class VerifiedToken(AccessToken):
    """The SDK's verified token, carrying what every tool call needs, read in the same worker-thread
    trip as the token: its user, and the catalogue version that keys cached answers (read before
    the tool runs, as marketplace.caching requires). A cached search then needs no database at all."""

    user: Any = Field(default=None, exclude=True, repr=False)
    catalogue_version: int | None = None


class DatabaseTokenVerifier:
    """The MCP SDK's TokenVerifier, reading django-oauth-toolkit's table.

    `resource` is reported only when the token was issued for this endpoint, so the SDK's
    audience check refuses tokens with no resource (which the toolkit would treat as "any")
    and tokens issued for anything else.
    """

    async def verify_token(self, token: str) -> VerifiedToken | None:
        return await sync_to_async(self._verify, thread_sensitive=False)(token)

    def _verify(self, raw: str) -> VerifiedToken | None:
        close_old_connections()
        try:
            token = lookup(raw)
            if token is None:
                return None
            return VerifiedToken(
                user=token.user, catalogue_version=token.catalogue_version,
                token=raw,
                client_id=token.application.client_id if token.application else "",
                scopes=token.scope.split(),
                expires_at=int(token.expires.timestamp()),
                resource=settings.SKILLPORT_MCP_URL if is_bound_here(token) else None,
                subject=str(token.user_id),
                claims={"client_name": token.application.name if token.application else ""},
            )
        finally:
            close_old_connections()
