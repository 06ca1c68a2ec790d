"""Personal catalogue tokens (/connect/tokens/): members create and revoke them, Claude Code sends one to read
their curated catalogue (marketplace.install.claude_code_settings), and nothing else accepts one."""
import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from oauth2_provider.models import AccessToken

from audit.models import Action, AuditEvent
from connector.models import CatalogueToken
from connector.tokens import checksum, mint

from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db
PAGE = "/connect/tokens/"


@pytest.fixture
def acme(make_repo, synced_marketplace):
    """kit, which every member may see, and core-kit, for the core team only."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit"), plugin_entry("core-kit"), name="acme-skills"),
        "plugins/kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a blameless incident review."),
        "plugins/core-kit/skills/runbook/SKILL.md": skill_md("runbook", "Core team on-call runbook."),
    })
    market = synced_marketplace(repo, slug="acme", github_url="https://github.com/acme/skills.git")
    market.plugins.filter(name="core-kit").update(audience=["github:@acme/core"])
    return market


def create(client, user, name="work laptop"):
    """Create a token as `user`: the page's answer and the token's value, read from it."""
    client.force_login(user)
    response = client.post(PAGE, {"name": name})
    found = re.search(r'<code id="new-token">([^<]+)</code>', response.content.decode())
    return response, found.group(1) if found else None


def catalogue(token, slug="acme"):
    return Client().get(f"/m/{slug}/marketplace.json", headers={"Authorization": f"Bearer {token}"})


def test_a_member_creates_a_token_shown_once_with_the_settings_to_paste(client, people, acme, settings):
    response, raw = create(client, people["member"])
    html = response.content.decode()
    assert response.status_code == 200 and raw and response["Cache-Control"] == "no-store"
    settings_json = json.loads(re.search(r'<pre id="settings-snippet">(.*?)</pre>', html, re.S).group(1)
                               .replace("&quot;", '"'))
    assert settings_json == {"extraKnownMarketplaces": {"acme-skills": {"source": {
        "source": "url", "url": f"{settings.SKILLPORT_BASE_URL}/m/acme/marketplace.json",
        "headers": {"Authorization": f"Bearer {raw}"}}}}}
    # Stored hashed, as every access token is; the page keeps only its first characters.
    token = CatalogueToken.objects.get(user=people["member"])
    assert token.name == "work laptop" and token.prefix == raw[:8]
    assert token.access_token.token_checksum == checksum(raw) and token.access_token.token != raw
    assert token.access_token.scope == "catalogue:read"
    days = (token.expires - timezone.now()).total_seconds() / 86400
    assert 89.9 < days <= 90
    # Shown once: the list afterwards has its name and prefix, never its value.
    later = client.get(PAGE).content.decode()
    assert "work laptop" in later and f"{raw[:8]}…" in later and raw not in later
    event = AuditEvent.objects.get(action=Action.TOKEN_ISSUED)
    assert event.actor_login == "orla" and event.extra["kind"] == "catalogue" and raw not in json.dumps(event.extra)


def test_the_lifetime_is_the_deployments(client, people, acme, settings):
    settings.SKILLPORT_CATALOGUE_TOKEN_DAYS = 7
    create(client, people["member"])
    days = (CatalogueToken.objects.get().expires - timezone.now()).total_seconds() / 86400
    assert 6.9 < days <= 7


def test_a_name_is_required_and_signed_out_people_are_sent_to_sign_in(client, people):
    assert client.get(PAGE)["Location"].startswith("/login/")
    assert client.post(PAGE, {"name": "x"})["Location"].startswith("/login/")
    response, raw = create(client, people["member"], name="  ")
    assert response.status_code == 400 and raw is None and not CatalogueToken.objects.exists()


def test_csrf_protects_creating_and_revoking(people, acme):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people["member"])
    assert browser.post(PAGE, {"name": "forged"}).status_code == 403
    assert not CatalogueToken.objects.exists()
    create(Client(), people["member"])
    token = CatalogueToken.objects.get()
    assert browser.post(f"{PAGE}{token.pk}/revoke/").status_code == 403
    assert CatalogueToken.objects.filter(pk=token.pk).exists()


def test_each_member_sees_and_revokes_only_their_own(client, people, acme):
    _, mine = create(Client(), people["member"], name="orla's laptop")
    _, theirs = create(Client(), people["core"], name="tam's laptop")
    client.force_login(people["member"])
    html = client.get(PAGE).content.decode()
    assert "orla&#x27;s laptop" in html and "tam&#x27;s laptop" not in html
    tams = CatalogueToken.objects.get(user=people["core"])
    assert client.post(f"{PAGE}{tams.pk}/revoke/").status_code == 404
    assert catalogue(theirs).status_code == 200  # still works
    assert client.get(f"{PAGE}{tams.pk}/revoke/").status_code == 405  # revoking is a POST


def test_a_revoked_token_is_refused_and_audited(client, people, acme):
    _, raw = create(client, people["member"])
    assert catalogue(raw).status_code == 200
    token = CatalogueToken.objects.get()
    response = client.post(f"{PAGE}{token.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == PAGE
    assert not CatalogueToken.objects.exists() and not AccessToken.objects.filter(pk=token.access_token_id).exists()
    assert catalogue(raw).status_code == 401
    event = AuditEvent.objects.get(action=Action.TOKEN_REVOKED)
    assert event.actor_login == "orla" and event.extra == {"kind": "catalogue", "name": "work laptop",
                                                           "prefix": raw[:8]}


def test_an_expired_token_is_refused_and_marked(client, people, acme):
    _, raw = create(client, people["member"])
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert catalogue(raw).status_code == 401
    assert "<strong>Expired</strong>" in client.get(PAGE).content.decode()


def test_the_catalogue_a_token_reads_is_what_its_owner_may_see(people, acme):
    _, orla = create(Client(), people["member"])
    _, tam = create(Client(), people["core"])
    assert {p["name"] for p in catalogue(orla).json()["plugins"]} == {"kit"}
    assert {p["name"] for p in catalogue(tam).json()["plugins"]} == {"kit", "core-kit"}
    acme.audience = ["github:@acme/core"]
    acme.save()
    assert catalogue(orla).status_code == 404 and catalogue(tam).status_code == 200
    _, nina = create(Client(), people["outsider"])
    assert catalogue(nina).status_code == 404


def test_a_catalogue_token_is_good_for_nothing_else(client, people, acme):
    _, raw = create(Client(), people["admin"])
    bearer = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/whoami/", headers=bearer).status_code == 401
    assert client.get("/api/v1/skills/", headers=bearer).status_code == 401
    assert client.post("/api/v1/marketplaces/acme/sync/", headers=bearer).status_code == 401
    # A token with the catalogue scope but bound elsewhere, or bound here without the scope, reads nothing.
    assert catalogue(mint(people["member"], scope="catalogue:read")).status_code == 401
    token = CatalogueToken.objects.get()
    AccessToken.objects.filter(pk=token.access_token_id).update(scope="skills:write")
    assert catalogue(raw).status_code == 401


def test_the_mcp_endpoint_refuses_a_catalogue_token(skillport, people):
    import httpx2 as httpx

    from connector.tokens import CATALOGUE_SCOPE, catalogue_resource, issue

    _, raw = issue(people["member"], scope=CATALOGUE_SCOPE, ttl=3600, resource=[catalogue_resource()])
    response = httpx.post(f"{skillport.url}/mcp", timeout=10, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                          headers={"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {raw}"})
    assert response.status_code == 401
    # The same person's connector token is accepted: it is the catalogue token that is refused.
    ok = httpx.post(f"{skillport.url}/mcp", timeout=10, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    headers={"Accept": "application/json, text/event-stream",
                             "Authorization": f"Bearer {mint(people['member'])}"})
    assert ok.status_code == 200


def test_the_connect_page_links_to_tokens_and_never_offers_marketplace_add(client, people, acme, settings):
    client.force_login(people["member"])
    html = client.get("/connect/").content.decode()
    assert 'href="/connect/tokens/"' in html and "/plugin marketplace add" not in html
    assert escape('"Authorization": "Bearer <token>"') in html
    assert escape(f'"url": "{settings.SKILLPORT_BASE_URL}/m/acme/marketplace.json"') in html


def test_too_many_live_tokens_are_refused(client, people, acme, monkeypatch):
    from connector import catalogue_tokens

    monkeypatch.setattr(catalogue_tokens, "MAX_LIVE_TOKENS", 2)
    create(client, people["member"], "one")
    create(client, people["member"], "two")
    response, raw = create(client, people["member"], "three")
    assert response.status_code == 400 and raw is None and "revoke one" in response.content.decode()
    assert CatalogueToken.objects.count() == 2


try:  # the browser test needs Chromium; the others run without it
    from .browsers import ARTIFACTS, browser, open_page, signed_in  # noqa: F401 (fixtures)
    NO_BROWSER = ""
except pytest.skip.Exception as skipped:
    NO_BROWSER = str(skipped)


@pytest.mark.skipif(bool(NO_BROWSER), reason=NO_BROWSER)
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_from_the_connect_page_create_copy_and_revoke(open_page, live_server, people, acme, settings):
    from playwright.sync_api import expect

    page = signed_in(open_page(permissions=["clipboard-read", "clipboard-write"]), live_server, people["member"])
    page.goto(f"{live_server.url}/connect/")
    expect(page.locator("#catalogue-settings")).to_contain_text('"Authorization": "Bearer <token>"')
    expect(page.get_by_text("/plugin marketplace add")).to_have_count(0)
    page.get_by_role("link", name="Create a catalogue token").click()

    page.get_by_label("Name").fill("work laptop")
    page.get_by_role("button", name="Create token").click()
    raw = page.locator("#new-token").inner_text()
    snippet = page.locator("#settings-snippet")
    expect(snippet).to_contain_text(f'"Authorization": "Bearer {raw}"')
    expect(snippet).to_contain_text(f"{settings.SKILLPORT_BASE_URL}/m/acme/marketplace.json")
    page.get_by_role("button", name="Copy the settings").click()
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    headers = copied["extraKnownMarketplaces"]["acme-skills"]["source"]["headers"]
    assert headers == {"Authorization": f"Bearer {raw}"}
    assert catalogue(raw).status_code == 200  # what Claude Code will send works
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "catalogue-token-created.png", full_page=True)

    # Shown once: back on the page, the token is listed by name and prefix only.
    page.goto(f"{live_server.url}/connect/tokens/")
    row = page.locator("table.tokens tbody tr").filter(has_text="work laptop")
    expect(row).to_contain_text(f"{raw[:8]}…")
    expect(page.get_by_text(raw)).to_have_count(0)
    row.get_by_role("button", name="Revoke work laptop").click()
    expect(page.locator("table.tokens")).to_have_count(0)
    expect(page.get_by_text("You have no catalogue tokens.")).to_be_visible()
    assert catalogue(raw).status_code == 401
