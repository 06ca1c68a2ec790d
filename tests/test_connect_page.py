"""The Connect Claude page: the connector's URL, each surface's steps as this deployment allows them, and the
curated catalogue of each marketplace the user may see; in a real browser, its copy buttons."""
import pytest
from django.utils.html import escape
from playwright.sync_api import expect

from .builders import catalog, plugin_entry, skill_md

try:  # the browser tests need Chromium; the others run without it
    from .browsers import ARTIFACTS, browser, open_page, signed_in  # noqa: F401 (fixtures)
    NO_BROWSER = ""
except pytest.skip.Exception as skipped:
    NO_BROWSER = str(skipped)
in_a_browser = pytest.mark.skipif(bool(NO_BROWSER), reason=NO_BROWSER)


@pytest.fixture
def markets(make_repo, synced_marketplace):
    """acme on GitHub, labs in a folder on the server, and core, which only the core team may see."""
    def repo(name):
        return make_repo({
            ".claude-plugin/marketplace.json": catalog(plugin_entry("kit"), name=f"{name}-skills"),
            "plugins/kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a blameless incident review."),
        }, name=name)

    return {
        "acme": synced_marketplace(repo("acme"), slug="acme", github_url="https://github.com/acme/skills.git"),
        "labs": synced_marketplace(repo("labs"), slug="labs"),
        "core": synced_marketplace(repo("core"), slug="core", audience=["github:@acme/core"],
                                   github_url="https://github.com/acme/core.git"),
    }


def curated(settings, slug):
    """The curated catalogue's address, as the settings snippet gives it."""
    return f'"url": "{settings.SKILLPORT_BASE_URL}/m/{slug}/marketplace.json"'


def page(client, user):
    client.force_login(user)
    response = client.get("/connect/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_signed_in_only(client):
    response = client.get("/connect/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_the_connector_url_and_claude_codes_command(client, people, settings):
    html = page(client, people["member"])
    url = settings.SKILLPORT_MCP_URL
    assert f'<code id="connector-url">{url}</code><button type="button" data-copy="{url}"' in html
    command = f"claude mcp add --transport http skillport {url}"
    assert f'<code>{command}</code><button type="button" data-copy="{command}">' in html


@pytest.mark.django_db
@pytest.mark.parametrize("github_app, sign_in", [
    ("an-app", "sign in to Skillport with GitHub"),
    ("", "sign in to Skillport with your Skillport username and password"),
])
def test_sign_in_as_this_deployment_does(client, people, settings, github_app, sign_in):
    settings.SKILLPORT_GITHUB_CLIENT_ID = github_app
    html = page(client, people["member"])
    assert sign_in in html
    assert ("GitHub" in html) is bool(github_app)


@pytest.mark.django_db
def test_claude_ai_steps_only_where_anthropics_servers_can_reach(client, people, settings):
    html = page(client, people["member"])  # the tests' http://localhost:8000
    assert "Add custom connector" not in html
    assert escape(f"which cannot reach {settings.SKILLPORT_BASE_URL}: they need Skillport at a public https") in html
    settings.SKILLPORT_BASE_URL = "https://skills.example.com"
    settings.SKILLPORT_MCP_URL = "https://skills.example.com/mcp"
    html = page(client, people["member"])
    assert "Open Settings › Connectors and choose Add custom connector." in html
    assert "Paste https://skills.example.com/mcp as the URL" in html and "cannot reach" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("persona, local_sources, listed", [
    ("member", False, ["acme"]),
    ("member", True, ["acme", "labs"]),  # Claude Code on this machine can clone labs' folder
    ("core", False, ["acme", "core"]),
    ("outsider", True, []),
])
def test_a_curated_catalogue_for_each_marketplace_the_user_may_see(client, people, settings, markets, persona,
                                                                     local_sources, listed):
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = local_sources
    html = page(client, people[persona])
    for slug in markets:
        assert (escape(curated(settings, slug)) in html) is (slug in listed), slug
    assert "/plugin marketplace add" not in html
    assert ("as your organisation curated them" in html) is bool(listed)
    assert str(markets["labs"].repo.path) not in html


@pytest.mark.django_db
def test_linked_from_the_header_and_the_home_page(client, people):
    client.force_login(people["member"])
    html = client.get("/").content.decode()
    assert html.count('href="/connect/"') == 2


@in_a_browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("clipboard", [True, False])
@pytest.mark.usefixtures("markets")
def test_in_a_browser_copy_puts_the_url_in_the_clipboard_or_selects_it(open_page, live_server, people, settings,
                                                                        clipboard):
    browser_page = signed_in(open_page(permissions=["clipboard-read", "clipboard-write"]), live_server,
                             people["member"])
    if not clipboard:  # as on a plain-http address other than localhost, where browsers give pages no clipboard
        browser_page.add_init_script("navigator.clipboard.writeText = () => Promise.reject(new Error('no'))")
    browser_page.goto(f"{live_server.url}/")
    browser_page.get_by_role("navigation", name="Main").get_by_role("link", name="Connect Claude").click()
    expect(browser_page.get_by_role("heading", name="Connect Claude", level=1)).to_be_visible()
    url = settings.SKILLPORT_MCP_URL
    expect(browser_page.locator("#connector-url")).to_have_text(url)
    expect(browser_page.get_by_text(f"claude mcp add --transport http skillport {url}", exact=True)).to_be_visible()
    expect(browser_page.locator("#catalogue-settings")).to_contain_text(curated(settings, "acme"))
    button = browser_page.get_by_role("button", name="Copy the connector's URL")
    button.click()
    if clipboard:
        expect(button).to_have_text("Copied")
        assert browser_page.evaluate("navigator.clipboard.readText()") == url
    else:
        expect(button).to_have_text("Selected: press Ctrl+C")
        assert browser_page.evaluate("getSelection().toString()") == url
        ARTIFACTS.mkdir(exist_ok=True)
        browser_page.screenshot(path=ARTIFACTS / "connect.png", full_page=True)
