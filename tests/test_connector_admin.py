"""Operating the connector: mint_token, pruning unused clients, and revoking clients and tokens in the admin."""
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from audit.models import Action, AuditEvent, Surface
from connector.tokens import lookup, mint

pytestmark = pytest.mark.django_db


def test_mint_token_prints_a_token_bound_to_mcp(people, settings):
    out = StringIO()
    call_command("mint_token", "orla", "--ttl", "120", stdout=out)
    token = lookup(out.getvalue().strip())
    assert token.user.username == "orla" and token.scope == "skills:read"
    assert token.resource == [settings.SKILLPORT_MCP_URL]
    assert timedelta(seconds=100) < token.expires - timezone.now() <= timedelta(seconds=120)
    assert token.token == ""  # only the hash is stored
    assert AuditEvent.objects.get(action=Action.TOKEN_ISSUED).surface == Surface.CLI


@pytest.mark.parametrize("arguments, message", [(["ghost"], "No user"), (["orla", "--ttl", "0"], "positive")])
def test_mint_token_refuses_clearly(people, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("mint_token", *arguments)


def registered_client(name, hours_ago):
    client = Application.objects.create(
        name=name, client_type=Application.CLIENT_PUBLIC, authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://127.0.0.1:1/cb", registration_source=Application.RegistrationSource.DCR,
    )
    Application.objects.filter(pk=client.pk).update(created=timezone.now() - timedelta(hours=hours_ago))
    # Registration hands every client a token to manage itself; that alone is not "used".
    AccessToken.objects.create(application=client, scope="oauth2_provider:registration", token_checksum=name * 8,
                               expires=timezone.now() + timedelta(days=365))
    return client


def test_prune_removes_only_old_clients_that_never_got_a_token(people):
    registered_client("unused", hours_ago=48)
    registered_client("recent", hours_ago=1)
    used = registered_client("used", hours_ago=48)
    AccessToken.objects.create(application=used, user=people["member"], scope="skills:read",
                               token_checksum="u" * 64, expires=timezone.now() + timedelta(hours=1))
    call_command("prune_oauth", stdout=StringIO())
    assert set(Application.objects.values_list("name", flat=True)) == {"recent", "used"}


def test_admin_lists_and_revokes_clients_and_tokens(client, people):
    token = mint(people["member"])
    client.force_login(people["admin"])
    for page in ("oauth2_provider/application/", "oauth2_provider/accesstoken/", "oauth2_provider/refreshtoken/",
                 "connector/consent/", "connector/trustedhost/", "connector/installlink/"):
        assert client.get(f"/admin/{page}").status_code == 200, page
    listing = client.get("/admin/oauth2_provider/accesstoken/?q=orla")
    assert b"orla" in listing.content and b"/mcp" in listing.content
    stored = lookup(token)
    client.post("/admin/oauth2_provider/accesstoken/", {"action": "revoke", "_selected_action": [stored.pk]})
    assert lookup(token) is None
    assert AuditEvent.objects.filter(action=Action.TOKEN_REVOKED, extra__owner="orla").exists()

    # The toolkit's URL for a client, which the admin's shortcut follows, is its admin page (it was a 500).
    shortcut = client.get(f"/admin/r/{ContentType.objects.get_for_model(Application).pk}/{stored.application_id}/",
                          follow=True)
    assert shortcut.redirect_chain[-1][0] == f"/admin/oauth2_provider/application/{stored.application_id}/change/"
    assert shortcut.status_code == 200 and b"View on site" not in shortcut.content
    for made_up in ("%0A", "x", "1%0A"):  # the admin's pattern refuses a newline: this was a 500
        assert client.get(f"/oauth/clients/{made_up}/").status_code == 404, made_up

    second = lookup(mint(people["member"]))
    client.post("/admin/oauth2_provider/application/", {"action": "revoke",
                                                         "_selected_action": [second.application_id]})
    assert not Application.objects.filter(pk=second.application_id).exists()
    assert not AccessToken.objects.filter(pk=second.pk).exists()
    assert AuditEvent.objects.filter(action=Action.OAUTH_CLIENT_REVOKED).exists()
