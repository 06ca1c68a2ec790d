"""Which OAuth clients may register: redirect URIs and client metadata hosts on an allow-list.

Skillport signs people in with one GitHub app and lets clients register themselves, so an
open registration endpoint would let anyone's client borrow a user's consent (the confused
deputy). Only Claude's callbacks, loopback addresses (Claude Code, the MCP Inspector) and hosts
an admin trusts may receive codes, and metadata documents are fetched only from trusted hosts.
"""
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from .models import TrustedHost

CLAUDE_CALLBACKS = frozenset({
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
})
CLAUDE_METADATA_HOSTS = ["claude.ai", "claude.com"]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def trusted_hosts() -> list[str]:
    return [*settings.SKILLPORT_OAUTH_TRUSTED_HOSTS, *TrustedHost.objects.values_list("host", flat=True)]


def redirect_refusal(uri) -> str | None:
    """Why a redirect URI may not be registered, or None when it may."""
    if not isinstance(uri, str):
        return "each redirect URI must be a string"
    if uri in CLAUDE_CALLBACKS:
        return None
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return f"{uri!r} is not a valid URL"
    if parts.username or parts.password or parts.fragment:
        return f"{uri!r} may not carry credentials or a fragment"
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return None
    if parts.scheme == "https" and parts.hostname and validate_host(parts.hostname, trusted_hosts()):
        return None
    return (
        f"{uri!r} is not an allowed redirect URI: Skillport accepts Claude's callbacks, loopback "
        "addresses and hosts an administrator has trusted"
    )


class TrustedCIMDHost:
    """django-oauth-toolkit permission: fetch client metadata documents only from trusted hosts (no SSRF)."""

    def has_permission(self, request, client_id) -> bool:
        host = urlsplit(client_id).hostname
        return bool(host) and validate_host(host, [*CLAUDE_METADATA_HOSTS, *trusted_hosts()])
