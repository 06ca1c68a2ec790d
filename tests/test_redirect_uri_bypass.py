"""A client may receive codes only at redirect URIs on the allow-list, however the URI is spelled.

The toolkit keeps a client's redirect URIs as one string and splits it at any whitespace, so one
registered "URI" holding whitespace used to add a second, foreign one, which then received codes.
Every way a redirect URI enters is checked here: registration, RFC 7592 updates, client metadata
documents, rows stored before the check, and the admin's trusted hosts.
"""
import base64
import hashlib
import io
import secrets

import httpx2 as httpx
import pytest
import urllib3
from django.core.checks import run_checks
from oauth2_provider.cimd import CIMDError
from oauth2_provider.models import Application, Grant
from oauth2_provider.settings import oauth2_settings

from connector.models import TrustedHost

from .oauth_browser import Browser

LOOPBACK = "http://127.0.0.1:1/cb"
EVIL = "https://evil.example.com/cb"
CLAUDE = "https://claude.ai/api/mcp/auth_callback"
# Every character str.split() splits at, ASCII and not, and a control character that splits nothing.
SEPARATORS = [" ", "\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2028", "\u3000", "\x01"]


def register(server, *redirect_uris):
    return httpx.post(f"{server.url}/register", json={
        "client_name": "Claude", "redirect_uris": list(redirect_uris), "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"]})


@pytest.mark.parametrize("separator", SEPARATORS, ids=[f"U+{ord(s):04X}" for s in SEPARATORS])
def test_a_registered_uri_cannot_carry_a_second_one(skillport, separator):
    response = register(skillport, f"{LOOPBACK}{separator}{EVIL}")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_redirect_uri"
    assert f"U+{ord(separator):04X}" in response.json()["error_description"]
    assert not Application.objects.exists()


@pytest.mark.parametrize("uri", [
    "https://evil.test\\.example.com/cb",  # browsers read the backslash as a slash: the host is evil.test
    "https://evil.test%2f.example.com/cb", "https://évil.example.com/cb", "https://tools.example.com/c b",
])
def test_characters_a_uri_may_not_hold_are_refused_even_for_a_trusted_host(skillport, uri):
    TrustedHost.objects.create(host=".example.com")
    response = register(skillport, uri)
    assert response.status_code == 400 and response.json()["error"] == "invalid_redirect_uri", response.text
    assert register(skillport, "https://tools.example.com/cb").status_code == 201


def test_an_update_cannot_smuggle_one_in_either(skillport):
    client = register(skillport, LOOPBACK).json()
    update = httpx.put(client["registration_client_uri"], headers={
        "authorization": f"Bearer {client['registration_access_token']}"},
        json={"redirect_uris": [f"{LOOPBACK}\n{EVIL}"], "token_endpoint_auth_method": "none"})
    assert update.status_code == 400 and update.json()["error"] == "invalid_redirect_uri"
    assert Application.objects.get().redirect_uris == LOOPBACK


def document(redirect_uris):
    """A client metadata document as a trusted host serves it, read the way the fetcher reads one."""
    body = (b'{"client_id": "https://claude.ai/oauth/mcp-oauth-client-metadata", "client_name": "Claude", '
            b'"redirect_uris": [%s], "token_endpoint_auth_method": "none"}'
            % b", ".join(b'"%s"' % uri.encode() for uri in redirect_uris))
    return urllib3.HTTPResponse(body=io.BytesIO(body), headers={"Content-Type": "application/json"}, status=200,
                                preload_content=False)


@pytest.mark.django_db
def test_a_client_metadata_document_is_held_to_the_same_list():
    fetcher = oauth2_settings.CIMD_METADATA_FETCHER()
    metadata, _max_age = fetcher._read_document(document([CLAUDE]))
    assert metadata["redirect_uris"] == [CLAUDE]
    for uris in ([f"{CLAUDE} {EVIL}"], [CLAUDE, EVIL], [f"{CLAUDE}\\t{EVIL}"]):
        with pytest.raises(CIMDError, match="redirect URI"):
            fetcher._read_document(document(uris))


def authorize_url(server, client_id, redirect_uri=None):
    """With no redirect_uri, the client's only registered one is used."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(secrets.token_bytes(32)).digest()).rstrip(b"=").decode()
    return str(httpx.URL(f"{server.url}/authorize", params={
        "response_type": "code", "client_id": client_id, "scope": "skills:read", "state": "s",
        "code_challenge": challenge, "code_challenge_method": "S256",
        **({"redirect_uri": redirect_uri} if redirect_uri else {})}))


def stored_client(source, redirect_uris):
    """A client as a registration stored it before today's rules (or the host it names was trusted then)."""
    client_id = "https://tools.example.com/client.json" if source == "cimd" else secrets.token_urlsafe(16)
    return Application.objects.create(
        client_id=client_id, name="Old", client_type=Application.CLIENT_PUBLIC, redirect_uris=redirect_uris,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE, registration_source=source,
    ).client_id


@pytest.mark.parametrize("source", ["dcr", "cimd"])
@pytest.mark.parametrize("redirect_uris, target", [
    (f"{LOOPBACK} {EVIL}", EVIL),                                     # smuggled in by whitespace
    ("https://tools.example.com/cb", "https://tools.example.com/cb"),  # its host is no longer trusted
])
def test_a_code_never_reaches_a_host_off_the_list(skillport, github_org, source, redirect_uris, target):
    """The whole flow through the server: the user signs in, and the client's redirect is refused
    with an error page instead of carrying the code off."""
    github_org.login_as("orla")
    client_id = stored_client(source, redirect_uris)
    refused = [authorize_url(skillport, client_id, target)]
    if LOOPBACK not in redirect_uris:  # nor is a client's only URI used when the request names none
        refused.append(authorize_url(skillport, client_id))
    for url in refused:
        with pytest.raises(AssertionError, match=r"stuck at .*/authorize.*\(400\)"):
            Browser(target).authorize(url)
    assert not Grant.objects.exists()
    if LOOPBACK in redirect_uris:  # the URI on the list still works
        assert "code" in Browser(LOOPBACK).authorize(authorize_url(skillport, client_id, LOOPBACK))
    else:  # and a client an admin made by hand goes where the admin said: that is not registration
        operators = stored_client("manual", redirect_uris)
        assert "code" in Browser(target).authorize(authorize_url(skillport, operators, target))


@pytest.mark.parametrize("host", ["*", "https://tools.example.com", "tools.example.com:443", "com",
                                  "Tools.Example.com"])
def test_a_trusted_host_is_a_host_name_not_a_pattern(client, people, host):
    client.force_login(people["admin"])
    form = {"note": "x", "created_at_0": "2026-01-01", "created_at_1": "00:00:00"}
    response = client.post("/admin/connector/trustedhost/add/", {**form, "host": host})
    assert response.status_code == 200 and b"Enter a host name" in response.content
    assert not TrustedHost.objects.exists()
    assert client.post("/admin/connector/trustedhost/add/", {**form, "host": ".tools.example.com"}).status_code == 302
    assert TrustedHost.objects.get().host == ".tools.example.com"


@pytest.mark.parametrize("host", ["*", "https://tools.example.com", "com"])
def test_the_environments_trusted_hosts_obey_the_same_rule(settings, host):
    """A bad entry in SKILLPORT_OAUTH_TRUSTED_HOSTS stops `manage.py check` (and so migrate and
    make run) with what is wrong, rather than trusting every host or none in silence."""
    settings.SKILLPORT_OAUTH_TRUSTED_HOSTS = ["tools.example.com", host]
    errors = [error for error in run_checks(tags=["security"]) if error.id == "connector.E001"]
    assert [error.msg for error in errors] == [
        f"SKILLPORT_OAUTH_TRUSTED_HOSTS lists {host!r}: Enter a host name such as \"tools.example.com\" or "
        "\".example.com\" (lower case, no scheme, port or \"*\")."]
