"""The skill page's install panel in each deployment shape, and install_skill saying the same (marketplace/install.py)."""
import json
import re

import pytest
from django.utils.html import escape
from playwright.sync_api import expect

from connector import tools
from marketplace import install
from marketplace.models import Plugin

from .builders import catalog, plugin_entry, skill_md

try:  # the browser tests need Chromium; the others run without it
    from .browsers import ARTIFACTS, browser, open_page, signed_in  # noqa: F401 (fixtures)
    NO_BROWSER = ""
except pytest.skip.Exception as skipped:
    NO_BROWSER = str(skipped)
in_a_browser = pytest.mark.skipif(bool(NO_BROWSER), reason=NO_BROWSER)

SKILL = "/skills/acme/kit/postmortem/"
UNZIP = "unzip -o postmortem.skill -d ~/.claude/skills/"


@pytest.fixture
def repo(make_repo):
    return make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit"), name="acme-skills"),
        ".skillport/access.json": json.dumps({"skills": {"runbook": {"read": ["github:@acme/core"]}}}),
        "plugins/kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a blameless incident review."),
        "plugins/kit/skills/runbook/SKILL.md": skill_md("runbook", "Core team on-call runbook."),
    })


@pytest.fixture
def on_github(repo, synced_marketplace):
    return synced_marketplace(repo, slug="acme", github_url="https://github.com/acme/skills.git")


@pytest.fixture
def in_a_folder(repo, synced_marketplace):
    """A marketplace read from a folder on the server (its git URL stays the local path)."""
    return synced_marketplace(repo, slug="acme")


def panel(client, user) -> str:
    client.force_login(user)
    page = client.get(SKILL).content.decode()
    return re.search(r'<section class="card install".*?</section>', page, re.S).group(0)


def claude_code(html) -> str:
    return re.search(r"<h3>Claude Code</h3>(.*?)<h3>", html, re.S).group(1)


def curated_settings(settings):
    """The ~/.claude/settings.json entry that declares acme's curated catalogue (`/plugin marketplace add` sends
    no token, so it cannot add it), with the token still to fill in."""
    return json.dumps({"extraKnownMarketplaces": {"acme-skills": {"source": {
        "source": "url", "url": f"{settings.SKILLPORT_BASE_URL}/m/acme/marketplace.json",
        "headers": {"Authorization": "Bearer <token>"}}}}}, indent=2)


@pytest.mark.django_db
def test_the_curated_catalogue_when_it_lists_the_plugin(client, on_github, people, settings):
    html = claude_code(panel(client, people["core"]))  # tam may see every skill of kit
    snippet = escape(curated_settings(settings))
    assert f'<pre class="settings">{snippet}</pre><button type="button" data-copy="{snippet}"' in html
    command = "/plugin install kit@acme-skills"
    assert f'<code>{escape(command)}</code><button type="button" data-copy="{escape(command)}">' in html
    assert f'create a catalogue token at <a href="{settings.SKILLPORT_BASE_URL}/connect/tokens/"' in html
    assert "/plugin marketplace add" not in html
    assert "available as /kit:postmortem" in html
    assert UNZIP not in html


@pytest.mark.parametrize("frontmatter, said", [
    ("description: Write a review.", "available as /kit:postmortem."),
    ("name: postmortem", "available as /kit:postmortem. Claude does not use it on its own: its frontmatter has no "
                         "description."),
    ("description: Write a review.\ndisable-model-invocation: true", "Claude does not use it on its own: its "
                                                                      "disable-model-invocation says so."),
    ("description: Write a review.\nuser-invocable: false", "Claude then uses the skill (kit:postmortem) when it is "
                                                             "relevant. It is not a command to type"),
    ("user-invocable: maybe", "Neither you nor Claude can run this skill (kit:postmortem)"),
])
@pytest.mark.django_db
def test_the_steps_say_who_runs_the_skill(client, make_repo, synced_marketplace, people, frontmatter, said):
    """As Claude Code's frontmatter has it (tests/test_claude_code_oracle.py, OFFERED): a skill without a description
    Claude is not offered, and one whose user-invocable is not a yes no one types."""
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit"), name="acme-skills"),
        "plugins/kit/skills/postmortem/SKILL.md": f"---\n{frontmatter}\n---\nWrite it.\n",
    }), slug="acme", github_url="https://github.com/acme/skills.git")
    steps = claude_code(panel(client, people["core"]))
    assert said in steps and steps.count("Restart Claude Code") == 1


@pytest.mark.django_db
def test_a_personal_skill_when_the_catalogue_leaves_the_plugin_out(client, on_github, people):
    # kit holds runbook, which orla may not see: Claude Code installs plugins whole, so her catalogue has no kit.
    html = claude_code(panel(client, people["member"]))
    assert "/plugin" not in html and "cannot" not in html
    assert f'data-copy="{escape(UNZIP)}"' in html and "available as postmortem." in html


@pytest.mark.django_db
def test_a_folder_on_the_server_is_curated_only_where_claude_code_can_fetch_from_it(client, in_a_folder, people,
                                                                                      settings):
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = False
    html = claude_code(panel(client, people["core"]))
    assert "/plugin" not in html and str(in_a_folder.repo.path) not in html and UNZIP in html
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = True  # Claude Code on this machine can clone the folder
    html = claude_code(panel(client, people["core"]))
    assert escape(curated_settings(settings)) in html and UNZIP not in html


@pytest.mark.django_db
def test_a_plugin_claude_code_refuses_is_not_offered(client, on_github, people):
    Plugin.objects.filter(name="kit").update(loads=False, approved_loads=False)  # as approved, it does not load
    html = claude_code(panel(client, people["core"]))
    assert "/plugin" not in html and UNZIP in html


@pytest.mark.django_db
def test_one_download_button_serves_every_surface(client, on_github, people):
    html = panel(client, people["member"])
    assert html.count("Download postmortem.skill</a>") == 1
    assert "Download postmortem.skill. Do not unzip it." in html


@pytest.mark.django_db
@pytest.mark.parametrize("github_app, sign_in", [
    ("an-app", "sign in to Skillport with GitHub"),
    ("", "sign in to Skillport with your Skillport username and password"),
])
def test_the_connector_steps_sign_in_as_this_deployment_does(client, on_github, people, settings, github_app,
                                                             sign_in):
    settings.SKILLPORT_GITHUB_CLIENT_ID = github_app
    html = panel(client, people["member"])
    connector = html.split("With the Skillport connector", 1)[1]
    assert sign_in in connector
    if not github_app:
        assert "GitHub" not in connector
    command = f"claude mcp add --transport http skillport {settings.SKILLPORT_MCP_URL}"
    assert f'data-copy="{escape(command)}"' in connector
    assert "acme/kit/postmortem" in connector and 'href="/connect/"' in connector


@pytest.mark.django_db
def test_claude_ai_connector_steps_only_at_a_public_https_address(client, on_github, people, settings):
    assert "Add custom connector" not in panel(client, people["member"])  # the tests' http://localhost
    settings.SKILLPORT_BASE_URL = "https://skills.example.com"
    settings.SKILLPORT_MCP_URL = "https://skills.example.com/mcp"
    html = panel(client, people["member"])
    assert "Add custom connector" in html and "Paste https://skills.example.com/mcp as the URL" in html


@pytest.mark.parametrize("url, reachable", [
    ("https://skills.example.com/mcp", True), ("https://8.8.8.8/mcp", True),
    ("http://skills.example.com/mcp", False), ("https://localhost:8000/mcp", False),
    ("https://127.0.0.1/mcp", False), ("https://10.1.2.3/mcp", False), ("https://[::1]/mcp", False),
    ("https://[::ffff:192.168.0.1]/mcp", False), ("https://skillport.internal/mcp", False),
    ("https://intranet/mcp", False), ("https://app.localhost/mcp", False),
])
def test_what_anthropics_servers_can_reach(url, reachable):
    assert install.reachable_by_claude_ai(url) is reachable


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["core", "member"])
@pytest.mark.parametrize("local_sources", [True, False])
def test_install_skill_says_what_the_page_says(client, in_a_folder, people, settings, persona, local_sources):
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = local_sources
    user = people[persona]
    result = tools.install_skill(tools.Caller(user), "acme/kit/postmortem")
    html = panel(client, user)
    link = f" from the link (it works once, for {settings.SKILLPORT_INSTALL_LINK_SECONDS // 60} minutes)"
    text = re.sub(r"<[^>]+>", "", html)  # the page links the address in a step
    for step in result.steps["CC"] + result.steps["CD"]:
        assert escape(step.replace(link, "")) in text
    offered = persona == "core" and local_sources
    assert result.claude_code_commands == ([curated_settings(settings), "/plugin install kit@acme-skills"]
                                           if offered else [])
    assert (UNZIP in result.steps["CC"]) is not offered


SHAPES = {  # GitHub app, where the marketplace is read from, SKILLPORT_ALLOW_LOCAL_SOURCES, who: the route
    "github-app-curated": ("an-app", "on_github", False, "core", "curated"),
    "github-app-not-in-the-users-catalogue": ("an-app", "on_github", False, "member", "personal"),
    "local-account-folder": ("", "in_a_folder", False, "core", "personal"),
    "local-account-folder-claude-code-can-clone": ("", "in_a_folder", True, "core", "curated"),
}


@in_a_browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shape", SHAPES)
def test_in_a_browser_each_shape_shows_the_steps_that_work(open_page, live_server, people, settings, request, shape):
    github_app, where, local_sources, persona, route = SHAPES[shape]
    settings.SKILLPORT_GITHUB_CLIENT_ID = github_app
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = local_sources
    request.getfixturevalue(where)
    page = signed_in(open_page(permissions=["clipboard-read", "clipboard-write"]), live_server, people[persona])
    page.goto(f"{live_server.url}{SKILL}")
    panel = page.locator("section.install")
    claude_code = panel.locator("ol").first
    command = "/plugin install kit@acme-skills" if route == "curated" else UNZIP
    claude_code.get_by_role("listitem").filter(has_text=command).get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == command
    if route == "curated":
        expect(claude_code.locator("pre.settings")).to_have_text(curated_settings(settings))
        expect(claude_code).to_contain_text("available as /kit:postmortem")
    else:
        expect(claude_code).not_to_contain_text("/plugin")
        expect(claude_code).to_contain_text("available as postmortem.")
    expect(panel).not_to_contain_text("cannot")
    connector = panel.locator("p, ol").filter(has_text="run /mcp")
    if github_app:
        expect(connector).to_contain_text("sign in to Skillport with GitHub")
    else:
        expect(connector).to_contain_text("with your Skillport username and password")
        expect(panel).not_to_contain_text("GitHub")
    with page.expect_download() as download:
        panel.get_by_role("link", name="Download postmortem.skill").click()
    assert download.value.suggested_filename == "postmortem.skill"
    ARTIFACTS.mkdir(exist_ok=True)
    panel.screenshot(path=ARTIFACTS / f"install-panel-{shape}.png")
