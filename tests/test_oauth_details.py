"""The authorization server's finer rules: what a registered client may be granted, the exact resource,
and a replayed authorization code revoking every token issued from it (RFC 6749 4.1.2)."""
import threading
from datetime import timedelta
from io import StringIO

import httpx2 as httpx
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from audit.models import Action, AuditEvent
from connector.models import RedeemedCode
from connector.tokens import lookup, mint
from connector.validator import Validator

from .migrating import there_and_back
from .oauth_browser import Browser
from .test_connector_oauth import CALLBACK, authorize_url, exchange, pkce, registered

PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


def issued(client_id):
    """The access tokens the client got from the token endpoint (registration hands it one of its own)."""
    return AccessToken.objects.filter(application__client_id=client_id).exclude(
        scope=oauth2_settings.DCR_REGISTRATION_SCOPE)


def ping(server, token):
    return httpx.post(f"{server.url}/mcp", json=PING, timeout=10, headers={
        "authorization": f"Bearer {token}", "accept": "application/json, text/event-stream"}).status_code


def refresh(server, client_id, refresh_token):
    return httpx.post(f"{server.url}/token", data={
        "grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token})


def code_for(server, client_id, **params):
    """Sign in and consent as orla; the code and its PKCE verifier, or the error the client got back."""
    verifier, challenge = pkce()
    answer = Browser(CALLBACK).authorize(authorize_url(server, client_id, challenge, **params))
    return answer.get("code"), verifier, answer


# What a registered client may be granted.

@pytest.mark.parametrize("scope", ["skills:write", "skills:read skills:write"])
@pytest.mark.parametrize("source", ["dcr", "cimd"])
def test_a_registered_client_is_refused_skills_write(skillport, github_org, scope, source):
    github_org.login_as("orla")
    client_id = registered(skillport) if source == "dcr" else Application.objects.create(
        client_id="https://claude.ai/oauth/mcp-oauth-client-metadata", name="Claude", redirect_uris=CALLBACK,
        client_type=Application.CLIENT_PUBLIC, authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        registration_source=Application.RegistrationSource.CIMD).client_id
    code, _verifier, answer = code_for(skillport, client_id, scope=scope)
    assert code is None and answer["error"] == "invalid_scope"
    assert not Grant.objects.exists()
    assert code_for(skillport, client_id)[0]  # skills:read, the default, it may have


@pytest.mark.parametrize("grant", ["client_credentials", "password", "implicit"])
def test_a_client_may_register_only_for_the_code_grant(skillport, grant):
    """A client-credentials client would mint its own tokens, with any scope, consented to by no one."""
    response = httpx.post(f"{skillport.url}/register", json={
        "redirect_uris": [CALLBACK], "grant_types": [grant], "token_endpoint_auth_method": "client_secret_post"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_client_metadata"
    assert grant in response.json()["error_description"]
    assert not Application.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_write_granted_to_registered_clients_before_is_taken_back(people):
    member = people["member"]
    registered_client = Application.objects.create(
        name="Claude", client_type=Application.CLIENT_PUBLIC, redirect_uris=CALLBACK,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        registration_source=Application.RegistrationSource.DCR)
    later = timezone.now() + timedelta(hours=1)
    held = AccessToken.objects.create(application=registered_client, user=member, scope="skills:read skills:write",
                                      token_checksum="h" * 64, expires=later)
    grant = Grant.objects.create(application=registered_client, user=member, code="c", expires=later,
                                 redirect_uri=CALLBACK, scope="skills:write skills:read")
    minted = lookup(mint(member, scope="skills:read skills:write"))  # an operator's token keeps it
    there_and_back(("connector", "0001_initial"))
    assert AccessToken.objects.get(pk=held.pk).scope == "skills:read"
    assert Grant.objects.get(pk=grant.pk).scope == "skills:read"
    assert AccessToken.objects.get(pk=minted.pk).scope == "skills:read skills:write"


# The exact resource.

@pytest.mark.parametrize("suffix", ["?tenant=other", "#top", "/?x", "?"])
def test_a_resource_with_a_query_or_fragment_is_another_resource(skillport, github_org, suffix):
    github_org.login_as("orla")
    client_id = registered(skillport)
    resource = f"{skillport.url}/mcp{suffix}"
    _code, _verifier, answer = code_for(skillport, client_id, resource=resource)
    assert answer["error"] == "invalid_target"

    code, verifier, _answer = code_for(skillport, client_id)
    refused = exchange(skillport, client_id, code, verifier, resource=resource)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
    assert "query or fragment" in refused.json()["error_description"]
    assert not issued(client_id).exists()

    assert ping(skillport, mint(User.objects.get(username="orla"), resource=[resource])) == 401


# A replayed code.

def tokens_from_a_code(server, client_id):
    code, verifier, _answer = code_for(server, client_id)
    first = exchange(server, client_id, code, verifier)
    assert first.status_code == 200, first.text
    return code, verifier, first.json()


def test_replaying_a_code_revokes_every_token_issued_from_it(skillport, github_org):
    github_org.login_as("orla")
    client_id = registered(skillport)
    code, verifier, tokens = tokens_from_a_code(skillport, client_id)
    rotated = refresh(skillport, client_id, tokens["refresh_token"]).json()  # the family grows
    _other_code, _, other = tokens_from_a_code(skillport, client_id)  # another code, another family
    assert ping(skillport, rotated["access_token"]) == 200

    replay = exchange(skillport, client_id, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert ping(skillport, rotated["access_token"]) == 401
    assert refresh(skillport, client_id, rotated["refresh_token"]).json()["error"] == "invalid_grant"
    assert ping(skillport, other["access_token"]) == 200
    event = AuditEvent.objects.get(action=Action.TOKEN_REVOKED)
    assert event.actor_login == "orla" and "replayed" in event.extra["reason"]
    assert event.extra["client_id"] == client_id


def test_two_exchanges_of_one_code_at_once_leave_no_token(skillport, github_org):
    """Both pass the code check before either has used it: the loser waits for the winner's
    record, fails, and revokes what the winner got."""
    github_org.login_as("orla")
    client_id = registered(skillport)
    code, verifier, _answer = code_for(skillport, client_id)
    start, answers = threading.Barrier(2), []

    def exchange_at_once():
        start.wait()
        answers.append(exchange(skillport, client_id, code, verifier))

    threads = [threading.Thread(target=exchange_at_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answer.status_code for answer in answers) == [200, 400]
    winner = next(answer.json() for answer in answers if answer.status_code == 200)
    assert ping(skillport, winner["access_token"]) == 401
    assert refresh(skillport, client_id, winner["refresh_token"]).status_code == 400
    assert not issued(client_id).exists()


@pytest.mark.parametrize("read", ["get_code_challenge", "get_code_challenge_method", "confirm_redirect_uri"])
def test_a_grant_spent_while_its_exchange_was_checked_is_invalid_grant(db, read):
    """The race above, without the timing: the winner deletes the grant between the loser's
    validate_code and its next read of the grant, which must answer invalid_grant (a 400), not a 500."""
    client = Application.objects.create(name="c", redirect_uris=CALLBACK, client_type=Application.CLIENT_PUBLIC,
                                        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE)
    request = Request("https://skillport.test/token")
    request.client = client
    arguments = {"get_code_challenge": ("spent", request), "get_code_challenge_method": ("spent", request),
                 "confirm_redirect_uri": (client.client_id, "spent", CALLBACK, client, request)}[read]
    with pytest.raises(InvalidGrantError):
        getattr(Validator(), read)(*arguments)


def test_a_spent_codes_record_is_pruned_once_its_tokens_are_gone(skillport, github_org):
    github_org.login_as("orla")
    client_id = registered(skillport)
    code, verifier, _tokens = tokens_from_a_code(skillport, client_id)
    call_command("prune_oauth", stdout=StringIO())
    assert RedeemedCode.objects.count() == 1  # its refresh token is live: a replay must still find it
    exchange(skillport, client_id, code, verifier)
    RefreshToken.objects.update(revoked=timezone.now() - timedelta(days=400))
    call_command("prune_oauth", stdout=StringIO())
    assert not RedeemedCode.objects.exists()


def test_a_public_client_is_saved_with_an_unusable_secret_nobody_hashed(skillport):
    """Open registration would otherwise hash a secret the client never uses: CPU anyone may spend."""
    client = Application.objects.get(client_id=registered(skillport))
    assert client.client_type == Application.CLIENT_PUBLIC and not client.hash_client_secret
    assert client.client_secret.startswith("!") and len(client.client_secret) == 41
    # A confidential client's secret is still hashed, as the toolkit does.
    confidential = Application.objects.create(name="c", client_type=Application.CLIENT_CONFIDENTIAL,
                                              authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
                                              client_secret="s3cret")
    assert confidential.hash_client_secret and confidential.client_secret.startswith(("md5$", "pbkdf2_sha256$"))
