"""The catalogue in a real browser (Debian's Chromium, headless), signing in through the fake GitHub."""
import io
import json
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .browsers import browser, open_page  # noqa: F401 (fixtures)
from .builders import catalog, plugin_entry, skill_md

XSS_BODY = """# Payloads

<script>window.pwned = true; document.title = "pwned"</script>
<img src="x" onerror="window.pwned = true">
<a href="javascript:window.pwned=true" id="evil-link">click me</a>
<style>body { display: none !important }</style>
<iframe src="javascript:window.parent.pwned=true"></iframe>
<svg onload="window.pwned = true"></svg>
"""

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market(make_repo, synced_marketplace):
    return synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops-kit", category="operations"), name="acme-skills"),
        ".skillport/access.json": json.dumps({"skills": {"core-runbook": {"read": ["github:@acme/core"]}}}),
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a blameless incident review."),
        "plugins/ops-kit/skills/postmortem/scripts/timeline.py": "print('timeline')\n",
        "plugins/ops-kit/skills/core-runbook/SKILL.md": skill_md("core-runbook", "Core team on-call runbook."),
        "plugins/ops-kit/skills/payloads/SKILL.md": skill_md("payloads", "Tries to run script.", body=XSS_BODY),
    }), slug="acme", github_url="https://github.com/acme/skills.git")  # as Claude Code users would add it


def sign_in(page, live_server, github_org, login):
    github_org.login_as(login)
    page.goto(f"{live_server.url}/skills/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/skills/")
    page.get_by_role("button", name="Sign in with GitHub").click()
    page.wait_for_load_state("networkidle")


def test_sign_in_search_with_a_typo_and_download(open_page, live_server, github_org, market):
    page = open_page()
    sign_in(page, live_server, github_org, "orla")
    expect(page.get_by_role("heading", name="Skills", exact=True)).to_be_visible()
    asked = []
    page.on("request", lambda request: asked.append(request.url) if request.headers.get("x-partial") else None)
    page.get_by_label("Search").fill("postmortm")  # a typo; results update as you type
    card = page.locator("#results .skill-card").first
    expect(card).to_contain_text("Postmortem")
    expect(page.locator("#results .skill-card")).to_have_count(1)
    # The box losing focus to the click fires "change": asking again then replaced the URL as the result's page
    # loaded, and the browser stayed on the search (a busy machine's CI saw it).
    card.get_by_role("link", name="postmortem").click()
    expect(page.get_by_role("heading", name="postmortem", level=1)).to_be_visible()
    assert len(asked) == 1 and "?q=postmortm&" in asked[0]
    # ops-kit holds a skill orla may not see, so her curated catalogue leaves it out: the skill goes in unzipped.
    expect(page.get_by_text("unzip -o postmortem.skill -d ~/.claude/skills/")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download postmortem.skill").click()
    assert download.value.suggested_filename == "postmortem.skill"
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    names = sorted(archive.namelist())
    assert names == ["postmortem/.claude-plugin/plugin.json", "postmortem/SKILL.md", "postmortem/scripts/timeline.py"]
    assert json.loads(archive.read("postmortem/.claude-plugin/plugin.json"))["name"] == "ops-kit"


def test_search_works_without_javascript(browser, live_server, github_org, market, open_page):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server, github_org, "orla")
        page.get_by_label("Search").fill("incident")
        page.get_by_role("button", name="Search").click()
        expect(page.locator(".skill-card mark")).to_have_text(["incident"])
    finally:
        context.close()


@pytest.mark.parametrize("login, sees_runbook", [("orla", False), ("tam", True), ("otto", False)])
def test_personas_see_what_they_may(open_page, live_server, github_org, market, login, sees_runbook):
    page = open_page()
    sign_in(page, live_server, github_org, login)
    cards = page.locator("#results .skill-card h3")
    expected = ["Core runbook", "Payloads", "Postmortem"] if sees_runbook else ["Payloads", "Postmortem"]
    expect(cards).to_have_text(expected)
    response = page.goto(f"{live_server.url}/skills/acme/ops-kit/core-runbook/")
    assert response.status == (200 if sees_runbook else 404)


def test_non_member_is_turned_away(open_page, live_server, github_org, market):
    page = open_page()
    sign_in(page, live_server, github_org, "nina")
    expect(page.get_by_role("heading", name="You are not in this organisation")).to_be_visible()
    assert page.goto(f"{live_server.url}/skills/acme/ops-kit/postmortem/").url.startswith(f"{live_server.url}/login/")


def test_script_and_html_in_a_skill_stay_inert(open_page, live_server, github_org, market):
    page = open_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, live_server, github_org, "orla")
    page.goto(f"{live_server.url}/skills/acme/ops-kit/payloads/")
    expect(page.locator("article").get_by_role("heading", name="Payloads")).to_be_visible()  # rendered, visible
    page.get_by_text("click me").click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.pwned === undefined")
    assert page.title() != "pwned" and dialogs == []
    article = page.locator("article")
    assert article.locator("script, style, iframe, svg, [onerror], [onload]").count() == 0


def test_admin_sync_now_shows_progress_and_result(open_page, live_server, simple_repo, make_marketplace,
                                                  celery_worker_queue, settings):
    from django.contrib.auth.models import User

    settings.SKILLPORT_GITHUB_CLIENT_ID = ""  # a local admin account, as in the demo
    User.objects.create_superuser("root", "root@example.com", "root-password-1")
    m = make_marketplace(simple_repo, slug="demo")
    page = open_page()
    page.goto(f"{live_server.url}/admin/marketplace/marketplace/{m.pk}/change/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("root-password-1")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#sync-status")).to_contain_text("Sync ok", timeout=30_000)
    expect(page.locator("#sync-status")).to_contain_text("2 skills (2 added")


def test_the_api_documentation_renders_from_our_own_assets(open_page, live_server):
    page = open_page()
    origins = set()
    page.on("request", lambda request: origins.add(request.url.split("/", 3)[2]))
    page.goto(f"{live_server.url}/api/docs/")
    page.get_by_text("/api/v1/skills/{marketplace}/{plugin}/{skill}/", exact=True).first.wait_for(timeout=15000)
    assert page.get_by_role("heading", name="Skillport API").first.is_visible()
    assert origins == {live_server.url.split("/", 3)[2]}
