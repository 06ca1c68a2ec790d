"""/mcp and the authorization server over real HTTP: every negative in MCP-OAUTH.md, metadata, registration."""
import json
import logging
from datetime import timedelta

import anyio
import httpx2 as httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from oauth2_provider.models import AccessToken, Application

from connector.clients import TrustedCIMDHost
from connector.models import TrustedHost
from connector.tokens import CATALOGUE_CLIENT_NAME, CATALOGUE_SCOPE, issue, lookup, mint
from marketplace.models import CatalogueVersion, Skill

from .mcp_client import PROTOCOLS
from .oauth_browser import Browser

PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
JSON = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def post_mcp(server, token=None, **headers):
    auth = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{server.url}/mcp", json=PING, headers={**JSON, **auth, **headers}, timeout=10)


def challenge(response):
    return response.headers["www-authenticate"]


def list_tools(server, token, mode):
    """The protocol revision the official client spoke in `mode`, and the tools it was shown."""
    async def run():
        http = httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=10)
        async with Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode=mode) as client:
            return client.protocol_version, [tool.name for tool in (await client.list_tools()).tools]
    return anyio.run(run)


@pytest.mark.parametrize("mode, protocol", [*((mode, protocol) for protocol, mode in PROTOCOLS.items()),
                                            ("auto", "2026-07-28")])
def test_a_minted_token_works_for_both_protocol_revisions(skillport, people, mode, protocol):
    version, tools = list_tools(skillport, mint(people["member"]), mode)
    assert version == protocol and "search_skills" in tools


def test_no_token_gets_401_with_absolute_resource_metadata(skillport):
    response = post_mcp(skillport)
    assert response.status_code == 401
    assert f'resource_metadata="{skillport.url}/.well-known/oauth-protected-resource/mcp"' in challenge(response)
    assert 'scope="skills:read"' in challenge(response)


@pytest.mark.parametrize("resource", [[], ["https://elsewhere.example/mcp"], ["http://127.0.0.1:1/mcp"]])
def test_missing_or_foreign_audience_gets_401(skillport, people, resource):
    token = mint(people["member"], resource=resource)
    assert post_mcp(skillport, token).status_code == 401


@pytest.mark.parametrize("spelling", ["{base}/mcp/", "{base}/mcp", "HTTP://{host}/mcp/"])
def test_the_mcp_resource_with_a_trailing_slash_or_other_case_is_accepted(skillport, people, spelling):
    resource = spelling.format(base=skillport.url, host=skillport.url.split("://")[1])
    assert post_mcp(skillport, mint(people["member"], resource=[resource])).status_code == 200


def test_missing_scope_gets_403_naming_it(skillport, people):
    response = post_mcp(skillport, mint(people["member"], scope="skills:write"))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in challenge(response) and 'scope="skills:read"' in challenge(response)


def test_expired_and_revoked_tokens_get_401(skillport, people):
    expired, revoked = mint(people["member"]), mint(people["member"])
    AccessToken.objects.filter(pk=AccessToken.objects.order_by("pk").first().pk).update(
        expires=timezone.now() - timedelta(seconds=1))
    AccessToken.objects.order_by("pk").last().revoke()
    assert post_mcp(skillport, expired).status_code == 401
    assert post_mcp(skillport, revoked).status_code == 401


def test_a_disabled_user_gets_401(skillport, people):
    token = mint(people["member"])
    people["member"].is_active = False
    people["member"].save()
    assert post_mcp(skillport, token).status_code == 401


def search(server, token, query):
    """search_skills over HTTP, as Claude calls it; the full names it found."""
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "search_skills", "arguments": {"query": query}}}
    response = httpx.post(f"{server.url}/mcp", json=call, timeout=10,
                          headers={**JSON, "authorization": f"Bearer {token}", "mcp-protocol-version": "2025-11-25"})
    assert response.status_code == 200, response.text
    return [skill["name"] for skill in response.json()["result"]["structuredContent"]["skills"]]


def test_cached_searches_follow_the_catalogue_and_each_callers_teams(skillport, people, two_markets):
    """A repeated search is answered from the cache without the database (the verifier read the
    catalogue version and the user with the token): it must still see every change at once."""
    core, member = mint(people["core"]), mint(people["member"])
    runbook = "acme/ops-kit/core-runbook"
    assert runbook in search(skillport, core, "runbook") and runbook in search(skillport, core, "runbook")
    assert runbook not in search(skillport, member, "runbook")

    Skill.objects.filter(slug="core-runbook").update(curation="hidden")
    assert runbook not in search(skillport, core, "runbook")
    Skill.objects.filter(slug="core-runbook").update(curation="")
    assert runbook in search(skillport, core, "runbook")

    people["core"].github.teams = []  # left the team: the next call's token check reads it
    people["core"].github.save()
    assert runbook not in search(skillport, core, "runbook")


def test_the_token_check_reads_token_user_identity_and_catalogue_version_in_one_query(
        people, django_assert_num_queries):
    local = User.objects.create_user("local-account")
    for user in (people["core"], local):
        raw = mint(user)
        with django_assert_num_queries(1):
            token = lookup(raw)
            identity = getattr(token.user, "github", None)  # cached, found or not: no second query
            assert token.application.name
        assert token.catalogue_version == CatalogueVersion.current()
        assert token.user == user and token.resource == [settings.SKILLPORT_MCP_URL]
        assert (identity.teams if identity else None) == (["acme/core"] if user == people["core"] else None)
    assert lookup("not-a-token") is None


def test_a_wrong_host_gets_421(skillport, people):
    assert post_mcp(skillport, mint(people["member"]), host="evil.example").status_code == 421


def test_metadata_documents(skillport):
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        document = httpx.get(skillport.url + path).json()
        assert document["resource"] == f"{skillport.url}/mcp"
        assert document["authorization_servers"] == [skillport.url]
        assert document["scopes_supported"] == ["skills:read"]
    server = httpx.get(f"{skillport.url}/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == skillport.url  # exactly: no trailing slash
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["response_types_supported"] == ["code"]
    assert server["registration_endpoint"] == f"{skillport.url}/oauth/register/"
    assert server["client_id_metadata_document_supported"] is True


def register(server, *redirect_uris, path="/oauth/register/"):
    return httpx.post(server.url + path, json={
        "client_name": "Claude", "redirect_uris": list(redirect_uris), "grant_types": ["authorization_code",
                                                                                    "refresh_token"],
        "token_endpoint_auth_method": "none",
    })


@pytest.mark.parametrize("uri", [
    "https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback",
    "http://127.0.0.1:33418/callback", "http://localhost:6274/oauth/callback",
])
def test_registration_accepts_claude_and_loopback(skillport, uri):
    response = register(skillport, uri)
    assert response.status_code == 201, response.text
    assert response.json()["redirect_uris"] == [uri]


@pytest.mark.parametrize("uri", [
    "https://evil.example/callback", "http://claude.ai/api/mcp/auth_callback", "https://claude.ai/other",
    "https://user:pw@claude.ai/api/mcp/auth_callback", "javascript:alert(1)", 42,
])
def test_registration_refuses_other_redirects(skillport, uri):
    response = register(skillport, "https://claude.ai/api/mcp/auth_callback", uri)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"


def test_an_admin_trusted_host_may_register_and_updates_obey_the_list(skillport):
    assert register(skillport, "https://tools.example.com/cb").status_code == 400
    TrustedHost.objects.create(host=".example.com")
    client = register(skillport, "https://tools.example.com/cb").json()
    update = httpx.put(client["registration_client_uri"], headers={
        "authorization": f"Bearer {client['registration_access_token']}"},
        json={"redirect_uris": ["https://evil.test/cb"], "token_endpoint_auth_method": "none"})
    assert update.status_code == 400 and update.json()["error"] == "invalid_redirect_uri"


def test_malformed_registration_is_a_4xx(skillport):
    for body in (b"{not json", b"[]", b'{"redirect_uris": "x"}'):
        response = httpx.post(f"{skillport.url}/oauth/register/", content=body,
                              headers={"content-type": "application/json"})
        assert response.status_code == 400, body


@pytest.mark.parametrize("name, said", [
    (None, "client_name must be a string"), (["Claude"], "client_name must be a string"),
    ("Cl\ud800aude", "half of a surrogate pair"), ("Claude\x1b[8m", "control character (U+001B)"),
    ("Claude\nApproved by your admin", "control character (U+000A)"),
    ("Claude \u202eedoC", "RIGHT-TO-LEFT OVERRIDE"), ("Cl\u200baude", "ZERO WIDTH SPACE"),
    ("\u0421laude", "reads as 'Claude'"),
    ("\u0430a" * 50_000, "client_name is 100,000 characters long, over the 255 a client's name may have"),
    ("Skillport (personal catalogue tokens)", 'may not begin with "Skillport"'),
    ("\uff33\uff4b\uff49\uff4c\uff4c\uff50\uff4f\uff52\uff54 admin", 'may not begin with "Skillport"'),
])
def test_a_client_name_that_is_not_plain_text_to_consent_to_is_refused(skillport, name, said):
    """The consent page asks people to connect the client by its name. The toolkit stored a list as its Python
    text, and null or an unpaired surrogate failed the registration with a 500."""
    body = json.dumps({"client_name": name, "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]})
    response = httpx.post(f"{skillport.url}/oauth/register/", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client_metadata" and said in response.json()["error_description"]
    assert len(response.content) < 1000  # a long name is not quoted back whole
    assert register(skillport, "https://claude.ai/api/mcp/auth_callback").status_code == 201  # "Claude"
    client = httpx.post(f"{skillport.url}/oauth/register/", json={
        "client_name": "\u30af\u30ed\u30fc\u30c9", "redirect_uris": ["http://127.0.0.1:9/cb"]}).json()
    update = httpx.put(client["registration_client_uri"], content=body.replace("https://claude.ai/api/mcp/auth_callback",
                                                                              "http://127.0.0.1:9/cb"),
                       headers={"authorization": f"Bearer {client['registration_access_token']}"})
    assert update.status_code == 400 and said in update.json()["error_description"]


@pytest.mark.django_db
def test_the_servers_own_clients_are_its_own_whatever_registered_their_names(people):
    """Tokens Skillport issues itself (catalogue tokens, mint_token) go under its own clients, found by name: a client
    registered under that name before the server made it would have held them all, and could delete them."""
    squatter = Application.objects.create(
        name=CATALOGUE_CLIENT_NAME, registration_source=Application.RegistrationSource.DCR,
        client_type=Application.CLIENT_PUBLIC, authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE)
    token, _raw = issue(people["member"], scope=CATALOGUE_SCOPE, client_name=CATALOGUE_CLIENT_NAME)
    assert token.application != squatter
    assert token.application.registration_source == Application.RegistrationSource.MANUAL
    assert issue(people["core"], scope=CATALOGUE_SCOPE, client_name=CATALOGUE_CLIENT_NAME)[0].application == \
        token.application
    squatter.delete()
    token.refresh_from_db()  # still there


@pytest.mark.django_db
def test_connector_0004_moves_catalogue_tokens_from_a_client_registered_with_its_name(people):
    from connector.models import CatalogueToken

    from .migrating import there_and_back

    squatter = Application.objects.create(
        name=CATALOGUE_CLIENT_NAME, registration_source=Application.RegistrationSource.DCR,
        client_type=Application.CLIENT_PUBLIC, authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE)
    filed, _raw = issue(people["member"], scope=CATALOGUE_SCOPE, client_name=CATALOGUE_CLIENT_NAME)
    AccessToken.objects.filter(pk=filed.pk).update(application=squatter)  # as issue() filed them before
    CatalogueToken.objects.create(user=people["member"], name="laptop", access_token=filed, prefix="abcd")
    theirs, _raw = issue(people["core"])  # not a catalogue token: left where it is
    AccessToken.objects.filter(pk=theirs.pk).update(application=squatter)
    there_and_back(("connector", "0003_catalogue_tokens"))
    filed.refresh_from_db()
    assert filed.application.registration_source == Application.RegistrationSource.MANUAL
    assert filed.application.name == CATALOGUE_CLIENT_NAME
    squatter.delete()
    assert CatalogueToken.objects.filter(name="laptop").exists()
    assert not AccessToken.objects.filter(pk=theirs.pk).exists()


def test_root_aliases(skillport):
    assert register(skillport, "http://127.0.0.1:9/cb", path="/register").status_code == 201
    token = httpx.post(f"{skillport.url}/token", data={"grant_type": "authorization_code", "code": "x"})
    assert token.status_code in (400, 401) and "error" in token.json()
    authorize = httpx.get(f"{skillport.url}/authorize", params={"client_id": "x"})
    assert authorize.status_code == 302 and authorize.headers["location"].startswith("/login/")


def test_requests_are_logged_with_client_and_user_agent_but_no_secrets(skillport, people, caplog):
    token = mint(people["member"])
    with caplog.at_level(logging.INFO, logger="skillport.connector"):
        post_mcp(skillport, token, **{"user-agent": "Claude-User/1.0"})
        register(skillport, "http://127.0.0.1:9/cb")
    lines = [r.getMessage() for r in caplog.records if r.name == "skillport.connector"]
    mcp_line = next(line for line in lines if line.startswith("mcp POST /mcp 200"))
    assert "Claude-User/1.0" in mcp_line and f"user={people['member'].pk}" in mcp_line
    assert "client_id=" in mcp_line and "client_id=-" not in mcp_line
    assert any(line.startswith("oauth POST /oauth/register/ 201") for line in lines)
    assert not any(token in line for line in lines)


def test_a_request_cannot_write_a_log_line_of_its_own(skillport, caplog):
    forged = "abc\n2026-12-06 12:00:00,000 INFO skillport.connector oauth POST /token 200 client_id=claude 5ms"
    with caplog.at_level(logging.INFO, logger="skillport.connector"):
        httpx.post(f"{skillport.url}/token", data={"grant_type": "authorization_code", "client_id": forged, "code": "x"})
        httpx.get(f"{skillport.url}/oauth/authorize/%0D%0Aforged", params={"client_id": "x\u2028y"})
    lines = [r.getMessage() for r in caplog.records if r.name == "skillport.connector"]
    assert len(lines) == 2 and not any(c in line for line in lines for c in "\n\r\u2028")
    assert "client_id=abc\\n2026-12-06" in lines[0] and "/oauth/authorize/\\r\\nforged" in lines[1]


def test_client_metadata_documents_come_only_from_trusted_hosts(skillport, github_org, rf):
    permission = TrustedCIMDHost()
    assert permission.has_permission(rf.get("/"), "https://claude.ai/oauth/mcp-oauth-client-metadata")
    assert not permission.has_permission(rf.get("/"), "https://evil.example/client.json")
    TrustedHost.objects.create(host="tools.example.com")
    assert permission.has_permission(rf.get("/"), "https://tools.example.com/client.json")

    github_org.login_as("orla")
    url = str(httpx.URL(f"{skillport.url}/oauth/authorize/", params={
        "response_type": "code", "client_id": "https://evil.example/client.json", "code_challenge": "x" * 43,
        "code_challenge_method": "S256", "redirect_uri": "https://evil.example/cb"}))
    with pytest.raises(AssertionError, match=r"stuck at .*/oauth/authorize/.*\(400\)"):
        Browser("https://evil.example/cb").authorize(url)  # signs in, then is refused: nothing is fetched
    assert not Application.objects.filter(client_id__startswith="https://").exists()
