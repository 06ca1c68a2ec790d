"""Access tokens for /mcp: the audience rule, minting for operators, and finding a token by its value.

The MCP SDK's side (the verifier the server uses) is connector.verifier, so that importing the models
(which every manage.py command does) does not import the SDK."""
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value

from marketplace import rows

MINTED_CLIENT_NAME = "Skillport (minted with mint_token)"
CATALOGUE_CLIENT_NAME = "Skillport (personal catalogue tokens)"
# What a personal catalogue token grants: reading the curated catalogues, nothing else (connector.catalogue_tokens).
CATALOGUE_SCOPE = "catalogue:read"


def _comparable(uri: str) -> tuple[str, str, str]:
    # Split by hand: urlsplit would drop tabs and newlines and set a query or fragment aside, so a
    # resource carrying one would compare equal to ours.
    scheme, _, rest = uri.partition("://")
    host, slash, path = rest.partition("/")
    return scheme.lower(), host.lower(), (slash + path).removesuffix("/")


def is_mcp_resource(uri) -> bool:
    """Is `uri` exactly this server's MCP endpoint, but for the case of scheme and host and one trailing
    slash (Claude has sent one)? With a query or fragment (which RFC 8707 forbids) it is another resource."""
    return isinstance(uri, str) and _comparable(uri) == _comparable(settings.SKILLPORT_MCP_URL)


def issue(user, *, scope="skills:read", ttl=None, resource=None, client_name=MINTED_CLIENT_NAME):
    """Create an access token for `user`, bound to the MCP endpoint unless told otherwise, under the
    client `client_name` (made on first use); return the token and its value, which is stored only hashed."""
    Application = get_application_model()
    # Ours alone: a client registered under that name (clients.name_refusal refuses it now) would own every token
    # filed under it, and could delete them all with its registration token.
    ours = {"name": client_name, "registration_source": Application.RegistrationSource.MANUAL}
    application = Application.objects.filter(**ours).first() or Application.objects.create(
        **ours, client_type=Application.CLIENT_CONFIDENTIAL,
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
    return token, raw


def mint(user, *, scope="skills:read", ttl=None, resource=None) -> str:
    """An operator's token for `user` (mint_token, tests): its value."""
    return issue(user, scope=scope, ttl=ttl, resource=resource)[1]


def catalogue_resource() -> str:
    """What personal catalogue tokens are bound to: the curated catalogues under /m/, never /mcp, so the
    connector and the REST API (which accept only tokens bound to /mcp) refuse them."""
    return f"{settings.SKILLPORT_BASE_URL}/m/"


def is_catalogue_token(token) -> bool:
    """Is `token` a personal catalogue token: bound to the curated catalogues alone, with their scope?"""
    return token.resource == [catalogue_resource()] and CATALOGUE_SCOPE in token.scope.split()


def checksum(raw: str) -> str:
    """How the toolkit finds a token: only this hash of its value is stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


def lookup(raw: str):
    """The live access token with this value, with its client and its user (GitHub identity
    included, which visibility reads) and, for DatabaseTokenVerifier, the catalogue version, all
    in one written-out query (marketplace.rows); None when unknown, expired or revoked."""
    token = rows.token(checksum(raw))
    if token is None or token.is_expired() or token.user is None or not token.user.is_active:
        return None
    return token


def is_bound_here(token) -> bool:
    """Was the token issued for our MCP endpoint? With no resource the toolkit would accept it anywhere; we do not."""
    return any(map(is_mcp_resource, token.resource or []))

