"""Which OAuth clients may register, and what they may get: redirect URIs, metadata hosts and scopes on allow-lists.

Skillport signs people in with one GitHub app and lets clients register themselves, so an
open registration endpoint would let anyone's client borrow a user's consent (the confused
deputy). Only Claude's callbacks, loopback addresses (Claude Code, the MCP Inspector) and hosts
an admin trusts may receive codes, metadata documents are fetched only from trusted hosts, and
a registered client may read skills but never hold `skills:write`.
"""
import re
import unicodedata
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host
from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher
from oauth2_provider.models import get_application_model

from marketplace.spoofing import spoofing_problem

from .models import TrustedHost

CLAUDE_CALLBACKS = frozenset({
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
})
CLAUDE_METADATA_HOSTS = ["claude.ai", "claude.com"]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# Everything a registered client may be granted; `skills:write` stays with operators' tokens (mint_token).
REGISTERED_CLIENT_SCOPES = frozenset({"skills:read"})

# The characters RFC 3986 allows in a URI. Any other is read differently by different parsers:
# the toolkit keeps a client's redirect URIs as one string and splits it at any whitespace, so
# "http://127.0.0.1/cb https://evil.example/cb" would register two; Python's urlsplit drops tabs
# and newlines; browsers read a backslash as a slash. Made of these alone, a URI means the same
# to our check, to the toolkit and to the browser that follows the redirect.
NOT_A_URI_CHARACTER = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")
DNS_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")


def trusted_hosts() -> list[str]:
    return [*settings.SKILLPORT_OAUTH_TRUSTED_HOSTS, *TrustedHost.objects.values_list("host", flat=True)]


def name_refusal(name) -> str | None:
    """Why a client may not register under `name` (its client_name), or None. The consent page asks people to
    connect the client by this name, so it must be text that shows what it says: the toolkit stored a list or
    an object as its Python text, and null or an unpaired surrogate failed the request (a 500)."""
    if not isinstance(name, str):
        return "client_name must be a string"
    # By its length first: the checks below read every character, and the message would quote them all.
    if len(name) > (most := get_application_model()._meta.get_field("name").max_length):
        return f"client_name is {len(name):,} characters long, over the {most} a client's name may have"
    if controls := [c for c in name if unicodedata.category(c) in ("Cc", "Cs")]:
        return (f"client_name holds a control character (U+{ord(controls[0]):04X}) or half of a surrogate pair, "
                "which is not text to show anyone")
    spoofed = spoofing_problem(name, "client_name")
    if spoofed:
        return spoofed[1]
    if unicodedata.normalize("NFKC", name).strip().casefold().startswith("skillport"):
        # The consent page would ask people to trust the server itself, and the server's own clients go by it.
        return "client_name may not begin with \"Skillport\": that is this server's own name"
    return None


def redirect_refusal(uri) -> str | None:
    """Why a redirect URI may not be registered or receive a code, or None when it may."""
    if not isinstance(uri, str):
        return "each redirect URI must be a string"
    if foreign := NOT_A_URI_CHARACTER.search(uri):
        character = foreign.group()
        return (f"{uri!r} contains {character!r} (U+{ord(character):04X}), which a URI may not contain; "
                "list each redirect URI as its own string")
    if uri in CLAUDE_CALLBACKS:
        return None
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return f"{uri!r} is not a valid URL"
    if parts.username is not None or "#" in uri:
        return f"{uri!r} may not carry credentials or a fragment"
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return None
    if (parts.scheme == "https" and parts.hostname and DNS_NAME.fullmatch(parts.hostname)
            and validate_host(parts.hostname, trusted_hosts())):
        return None
    return (
        f"{uri!r} is not an allowed redirect URI: Skillport accepts Claude's callbacks, loopback "
        "addresses and hosts an administrator has trusted"
    )


def is_registered(application) -> bool:
    """Did the client register itself (RFC 7591 or a metadata document), rather than an operator make it?"""
    return application.registration_source != application.RegistrationSource.MANUAL


class TrustedCIMDHost:
    """django-oauth-toolkit permission: fetch client metadata documents only from trusted hosts (no SSRF)."""

    def has_permission(self, request, client_id) -> bool:
        host = urlsplit(client_id).hostname
        return bool(host) and validate_host(host, [*CLAUDE_METADATA_HOSTS, *trusted_hosts()])


class AllowListedMetadataFetcher(SafeMetadataFetcher):
    """The toolkit's SSRF-hardened fetcher of client metadata documents, refusing a document that
    names a redirect URI registration would refuse: a trusted host's document is no way around the list."""

    def _read_document(self, response):
        metadata, max_age = super()._read_document(response)
        uris = metadata.get("redirect_uris")
        for uri in uris if isinstance(uris, list) else []:  # the toolkit refuses anything but a list itself
            if reason := redirect_refusal(uri):
                raise CIMDError(f"client metadata document: {reason}")
        return metadata, max_age
