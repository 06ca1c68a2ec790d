"""Access tokens for /mcp: the audience rule, minting for operators, and the verifier the MCP server uses."""
import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from mcp.server.auth.provider import AccessToken as VerifiedToken
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value

MINTED_CLIENT_NAME = "Skillport (minted with mint_token)"


def _comparable(uri: str) -> tuple[str, str, str]:
    parts = urlsplit(uri.strip())
    return parts.scheme.lower(), parts.netloc.lower(), parts.path.removesuffix("/")


def is_mcp_resource(uri) -> bool:
    """Is `uri` this server's MCP endpoint? Scheme and host case and one trailing slash aside (Claude has sent one)."""
    return isinstance(uri, str) and _comparable(uri) == _comparable(settings.SKILLPORT_MCP_URL)


def mint(user, *, scope="skills:read", ttl=None, resource=None) -> str:
    """Create an access token for `user`, bound to the MCP endpoint unless told otherwise; return its value."""
    Application = get_application_model()
    application = Application.objects.filter(name=MINTED_CLIENT_NAME).first() or Application.objects.create(
        name=MINTED_CLIENT_NAME, client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    raw = secrets.token_urlsafe(32)
    token = get_access_token_model()(
        user=user, application=application, scope=scope,
        expires=timezone.now() + timedelta(seconds=ttl or settings.SKILLPORT_ACCESS_TOKEN_SECONDS),
        resource=[settings.SKILLPORT_MCP_URL] if resource is None else resource,
    )
    set_token_value(token, raw)
    token.save()
    return raw


def checksum(raw: str) -> str:
    """How the toolkit finds a token: only this hash of its value is stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


def lookup(raw: str):
    """The live access token with this value, with its user and client; None when unknown, expired or revoked."""
    token = (
        get_access_token_model().objects.select_related("user", "application")
        .filter(token_checksum=checksum(raw)).first()
    )
    if token is None or token.is_expired() or token.user is None or not token.user.is_active:
        return None
    return token


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


def is_bound_here(token) -> bool:
    """Was the token issued for our MCP endpoint? With no resource the toolkit would accept it anywhere; we do not."""
    return any(map(is_mcp_resource, token.resource or []))


def presented(request) -> str | None:
    """The value of the request's `Authorization: Bearer` header; None when it has none."""
    kind, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if kind.lower() == "bearer" else None


def lookup_bound(raw: str):
    """`lookup`, keeping only a token issued for this server: what views outside /mcp accept."""
    token = lookup(raw) if raw else None
    return token if token is not None and is_bound_here(token) else None


def bearer_user(request, scope="skills:read"):
    """The user behind a request's bearer token with `scope`, for plain Django views; else None."""
    token = lookup_bound(presented(request) or "")
    return token.user if token is not None and scope in token.scope.split() else None
