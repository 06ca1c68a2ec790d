"""The complete connector dance with the official MCP client's OAuth provider, and the authorization server's rules.

The client discovers the server from a 401, registers itself, sends the user (our Browser)
through GitHub sign-in and the consent page, exchanges the code with PKCE, and calls tools:
for both protocol generations. Nothing is faked except GitHub.
"""
import base64
import hashlib
import io
import secrets
import zipfile

import anyio
import httpx2 as httpx
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from oauth2_provider.models import AccessToken, Application

from audit.models import Action, AuditEvent
from connector.models import Consent

from .mcp_client import PROTOCOLS
from .oauth_browser import Browser

CALLBACK = "http://127.0.0.1:1/callback"


class MemoryStorage:
    def __init__(self):
        self.tokens = self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


def connect(server, browser, storage, steps, protocol="2025-11-25", client_metadata_url=None):
    """Run `steps(client)` through the MCP client's OAuth flow, speaking `protocol`, the Browser playing the user."""
    answers = []

    async def redirect_handler(url):
        answers.append(await anyio.to_thread.run_sync(browser.authorize, url))

    async def callback_handler():
        answer = answers.pop()
        return AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))

    provider = OAuthClientProvider(
        f"{server.url}/mcp",
        OAuthClientMetadata(client_name="Claude", redirect_uris=[CALLBACK], grant_types=["authorization_code",
                                                                                          "refresh_token"],
                            response_types=["code"], token_endpoint_auth_method="none"),
        storage, redirect_handler=redirect_handler, callback_handler=callback_handler,
        client_metadata_url=client_metadata_url,
    )

    async def run():
        http = httpx.AsyncClient(auth=provider, timeout=20)
        async with Client(streamable_http_client(f"{server.url}/mcp", http_client=http),
                          mode=PROTOCOLS[protocol]) as client:
            assert client.protocol_version == protocol
            return await steps(client)

    return anyio.run(run)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_whole_dance_then_install(skillport, github_org, two_markets, protocol):
    github_org.login_as("orla")
    browser, storage = Browser(CALLBACK), MemoryStorage()

    async def steps(client):
        tools = [tool.name for tool in (await client.list_tools()).tools]
        installed = await client.call_tool("install_skill", {"name": "postmortem", "surface": "CD"})
        return tools, installed.structured_content

    tools, installed = connect(skillport, browser, storage, steps, protocol)
    assert "install_skill" in tools
    package = httpx.get(installed["download_url"])
    assert package.status_code == 200
    assert "postmortem/SKILL.md" in zipfile.ZipFile(io.BytesIO(package.content)).namelist()

    assert len(browser.consent_pages) == 1
    page, _form = browser.consent_pages[0]
    assert "Claude" in page.text and "127.0.0.1:1" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    token = AccessToken.objects.select_related("user").get(application__name="Claude", scope="skills:read")
    assert token.user.username == "orla" and token.resource == [f"{skillport.url}/mcp"]
    assert token.token == ""  # stored hashed
    assert storage.tokens.refresh_token  # issued without asking for offline_access
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {Action.SIGN_IN, Action.OAUTH_CLIENT_REGISTERED, Action.CONSENT_GRANTED, Action.TOKEN_ISSUED,
            Action.INSTALL_LINK_ISSUED, Action.PACKAGE_DOWNLOADED} <= actions


def test_consent_is_remembered_per_client_redirect_and_scopes(skillport, github_org, two_markets):
    github_org.login_as("orla")
    browser, storage = Browser(CALLBACK), MemoryStorage()

    async def whoami(client):
        return (await client.call_tool("whoami", {})).structured_content["github_login"]

    assert connect(skillport, browser, storage, whoami) == "orla"
    storage.tokens = None  # the same client signs in again: no second consent page
    assert connect(skillport, browser, storage, whoami) == "orla"
    assert len(browser.consent_pages) == 1
    assert Consent.objects.get().scope == "skills:read"
    storage.tokens = storage.client_info = None  # a new registration is a new client: asked again
    connect(skillport, browser, storage, whoami)
    assert len(browser.consent_pages) == 2


def test_a_client_with_a_metadata_document_uses_it_instead_of_registering(skillport, github_org, two_markets):
    """The authorization server's metadata offers Client ID Metadata Documents, which the official
    client then prefers: its document's URL is its client_id, and it never calls /register. (The
    document was read before, by Claude's first connection: the client the toolkit keeps for it.)"""
    github_org.login_as("orla")
    document = "https://claude.ai/oauth/mcp-oauth-client-metadata"
    Application.objects.create(
        client_id=document, name="Claude", redirect_uris=CALLBACK, client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        registration_source=Application.RegistrationSource.CIMD)
    storage = MemoryStorage()

    async def whoami(client):
        return (await client.call_tool("whoami", {})).structured_content["github_login"]

    assert connect(skillport, Browser(CALLBACK), storage, whoami, "2026-07-28", client_metadata_url=document) == "orla"
    assert storage.client_info.client_id == document
    assert list(Application.objects.values_list("client_id", flat=True)) == [document]
    assert not AuditEvent.objects.filter(action=Action.OAUTH_CLIENT_REGISTERED).exists()
    assert AccessToken.objects.get(application__client_id=document, scope="skills:read").user.username == "orla"


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def registered(server, redirect=CALLBACK):
    return httpx.post(f"{server.url}/oauth/register/", json={
        "client_name": "Inspector", "redirect_uris": [redirect], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"]}).json()["client_id"]


def authorize_url(server, client_id, challenge, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "scope": "skills:read",
              "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    return str(httpx.URL(f"{server.url}/authorize", params=params))


def exchange(server, client_id, code, verifier, **extra):
    return httpx.post(f"{server.url}/token", data={
        "grant_type": "authorization_code", "client_id": client_id, "code": code, "redirect_uri": CALLBACK,
        "code_verifier": verifier, **extra})


def test_pkce_audience_refresh_rotation_and_revocation(skillport, github_org, two_markets):
    github_org.login_as("orla")
    browser, client_id = Browser(CALLBACK), registered(skillport)
    verifier, challenge = pkce()
    answer = browser.authorize(authorize_url(skillport, client_id, challenge, resource=f"{skillport.url}/mcp/"))
    assert answer["state"] == "s1" and answer["iss"] == skillport.url
    assert exchange(skillport, client_id, answer["code"], "wrong-verifier" * 4).status_code == 400
    answer = browser.authorize(authorize_url(skillport, client_id, challenge))  # remembered: no page
    tokens = exchange(skillport, client_id, answer["code"], verifier, resource=f"{skillport.url}/mcp/").json()
    assert tokens["token_type"].lower() == "bearer" and tokens["refresh_token"]
    assert AccessToken.objects.get(application__client_id=client_id, scope="skills:read").resource == [f"{skillport.url}/mcp"]

    refreshed = httpx.post(f"{skillport.url}/token", data={
        "grant_type": "refresh_token", "client_id": client_id, "refresh_token": tokens["refresh_token"]}).json()
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    reused = httpx.post(f"{skillport.url}/token", data={
        "grant_type": "refresh_token", "client_id": client_id, "refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(action=Action.TOKEN_REFRESHED).exists()

    fresh = exchange_again(skillport, browser, client_id)
    mcp = {"authorization": f"Bearer {fresh}", "content-type": "application/json",
           "accept": "application/json, text/event-stream"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert httpx.post(f"{skillport.url}/mcp", json=ping, headers=mcp).status_code == 200
    revoked = httpx.post(f"{skillport.url}/oauth/revoke/", data={"token": fresh, "client_id": client_id})
    assert revoked.status_code == 200
    assert httpx.post(f"{skillport.url}/mcp", json=ping, headers=mcp).status_code == 401
    assert AuditEvent.objects.filter(action=Action.TOKEN_REVOKED, actor_login="orla").exists()


def exchange_again(server, browser, client_id):
    verifier, challenge = pkce()
    answer = browser.authorize(authorize_url(server, client_id, challenge))
    return exchange(server, client_id, answer["code"], verifier).json()["access_token"]


def test_plain_pkce_and_missing_pkce_are_refused(skillport, github_org, two_markets):
    github_org.login_as("orla")
    browser, client_id = Browser(CALLBACK), registered(skillport)
    verifier, _ = pkce()
    plain = browser.authorize(authorize_url(skillport, client_id, verifier, code_challenge_method="plain"))
    assert plain["error"] == "invalid_request"
    missing = browser.authorize(authorize_url(skillport, client_id, "", code_challenge_method=""))
    assert missing["error"] == "invalid_request"


def test_a_challenge_or_nonce_too_long_to_keep_and_a_made_up_client_are_refused(skillport, github_org, two_markets):
    """The toolkit checks neither a challenge's form nor a nonce's length, and stored them in columns too short: a
    500, on the consent page and on every authorization once consent was remembered. A consent form naming a
    client nobody registered was a 500 too."""
    github_org.login_as("orla")
    browser, client_id = Browser(CALLBACK), registered(skillport)
    verifier, challenge = pkce()
    for remembered in (False, True):
        for unfit in ({"code_challenge": "c" * 200}, {"code_challenge": challenge[:-1] + "="}, {"nonce": "n" * 300}):
            answer = browser.authorize(authorize_url(skillport, client_id, challenge, **unfit))
            assert answer["error"] == "invalid_request" and answer["state"] == "s1", unfit
        assert browser.authorize(authorize_url(skillport, client_id, challenge, nonce="n" * 255))["code"]
    assert len(browser.consent_pages) == 1
    _page, consent = browser.consent_pages[0]
    for field, value, error in (("client_id", "nobody-registered-this", "invalid_client"),
                                ("code_challenge", "c" * 200, "invalid_request")):
        forged = browser.http.post(f"{skillport.url}/oauth/authorize/",
                                   data={**consent["fields"], **consent["buttons"], field: value})
        assert forged.status_code == 400 and forged.json()["error"] == error


def test_a_foreign_resource_is_refused_at_authorize(skillport, github_org, two_markets):
    github_org.login_as("orla")
    _, challenge = pkce()
    answer = Browser(CALLBACK).authorize(authorize_url(
        skillport, registered(skillport), challenge, resource="https://elsewhere.example/mcp"))
    assert answer["error"] == "invalid_target"


def test_denying_consent_sends_the_client_away_empty_handed(skillport, github_org, two_markets):
    github_org.login_as("orla")
    _, challenge = pkce()
    client_id = registered(skillport)
    answer = Browser(CALLBACK).authorize(authorize_url(skillport, client_id, challenge), allow=False)
    assert answer["error"] == "access_denied" and "code" not in answer
    assert not Consent.objects.exists() and AuditEvent.objects.filter(action=Action.CONSENT_DENIED).exists()


def test_the_consent_form_needs_its_csrf_token(skillport, github_org, two_markets):
    github_org.login_as("orla")
    _, challenge = pkce()
    browser = Browser(CALLBACK)
    client_id = registered(skillport)
    browser.authorize(authorize_url(skillport, client_id, challenge), allow=False)  # signs in on the way
    form = {"client_id": client_id, "redirect_uri": CALLBACK, "scope": "skills:read", "response_type": "code",
            "code_challenge": challenge, "code_challenge_method": "S256", "allow": "Authorize"}
    forged = browser.http.post(f"{skillport.url}/oauth/authorize/", data=form)
    assert forged.status_code == 403 and not Consent.objects.exists()


def test_someone_outside_the_organisation_gets_no_code(skillport, github_org, two_markets):
    github_org.login_as("nina")
    _, challenge = pkce()
    with pytest.raises(AssertionError, match="stuck at"):
        Browser(CALLBACK).authorize(authorize_url(skillport, registered(skillport), challenge))
    assert not AccessToken.objects.filter(user__username="nina").exists()
