"""Every answer carries a Content-Security-Policy that lets pages run only Skillport's own scripts and styles, and the
pages still work under it: Debian's Chromium reports no violation on any page (the catalogue, the audit log and its
chart, the skill editor, the admin, the API's documentation)."""
import pytest
from playwright.sync_api import expect

from marketplace.models import Marketplace, Plugin, Skill
from skillport_site.middleware import CONTENT_SECURITY_POLICY

from .browsers import browser, open_page, signed_in  # noqa: F401 (fixtures)
from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_kind_of_answer_carries_the_policy(client, people, simple_repo, synced_marketplace):
    synced_marketplace(simple_repo, slug="acme")
    client.force_login(people["admin"])
    for path in ("/", "/skills/acme/tools/alpha/", "/api/v1/skills/", "/admin/", "/no/such/page/", "/login/"):
        assert client.get(path)["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    # Swagger UI sets styles inline: its page alone allows that, and still runs no inline script.
    docs = client.get("/api/docs/")["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in docs and "script-src 'self';" in docs


def test_no_page_breaks_the_policy_in_a_browser(open_page, live_server, make_repo, synced_marketplace, people, client):
    market = synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit"), name="acme"),
        "plugins/kit/skills/postmortem/SKILL.md": skill_md(
            "postmortem", "Write a blameless incident review.",
            body="# Review\n\n```python\nprint('highlighted')\n```\n\n![dot](data:image/png;base64,iVBORw0KGgo=)\n"),
    }), slug="acme", contributors=["*"])
    skill = Skill.objects.get(name="postmortem")
    page = signed_in(open_page(), live_server, people["admin"])
    violations = []
    page.on("console", lambda message: violations.append((page.url, message.text[:120]))
            if "Content Security Policy" in message.text else None)
    client.force_login(people["admin"])
    assert client.get("/skills/acme/kit/postmortem/download/").status_code == 200  # so the audit log draws its chart
    pages = ["/", "/skills/?q=review", "/skills/acme/kit/postmortem/", "/skills/acme/kit/postmortem/files/SKILL.md",
             "/skills/acme/kit/postmortem/history/", "/plugins/acme/kit/", "/marketplaces/acme/", "/connect/",
             "/connect/tokens/", "/audit/", "/proposals/edit/acme/kit/postmortem/", "/proposals/new/", "/admin/",
             f"/admin/marketplace/marketplace/{market.pk}/change/", f"/admin/marketplace/skill/{skill.pk}/change/",
             f"/admin/marketplace/plugin/{Plugin.objects.get().pk}/change/", "/admin/publishing/publishtarget/add/",
             "/admin/auth/user/add/", "/api/docs/"]
    for path in pages:
        answer = page.goto(f"{live_server.url}{path}")
        assert answer.status == 200, path
        page.wait_for_load_state("networkidle")
    expect(page.get_by_role("heading", name="Skillport API").first).to_be_visible()  # the docs ran their script
    page.goto(f"{live_server.url}/audit/")
    expect(page.locator(".legend .swatch").first).to_be_visible()
    assert violations == []
    assert Marketplace.objects.get(pk=market.pk).slug == "acme"
