"""What the catalogue's pages tell people: display names, authors, installs, exceptions, highlights and sources."""
import importlib
import json
import re

import pytest
from playwright.sync_api import expect

from audit.models import Action, AuditEvent
from marketplace import rendering, weblinks
from marketplace.models import Marketplace, Plugin, Skill
from marketplace.reader import README_MAX_BYTES
from marketplace.search import snippet
from marketplace.sync import sync_marketplace
from marketplace.templatetags.catalogue import words

from .browsers import browser, open_page, signed_in  # noqa: F401 (fixtures)
from .builders import catalog, plugin_entry, skill_md

LONG = ("Write a blameless incident review from notes, chat logs, alerts and timelines, using the team's template and "
        "severity scale. Use after an outage, or when asked to turn incident notes into a review that names causes, "
        "not people, and lists the follow-up actions with owners.")
README = "# Ops kit\n\nRun it **calmly**.\n\n<script>alert(1)</script><img src=x onerror=alert(1)>\n"
FRONTMATTER = {"license": "MIT", "metadata": {"version": "1.2.0", "owner": {"team": "ops"}, "beta": False},
               "allowed-tools": ["Read", "Bash(git:*)"]}


@pytest.fixture
def repo(make_repo):
    return make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("ops-kit", description="Runbooks and reviews for on-call engineers.",
                         author={"name": "Platform Team"}, category="operations",
                         tags=["surface:CALL", "incidents", "on-call"]),
            plugin_entry("legacy-kit", description="Old tools."),
            name="acme-skills", owner={"name": "Acme Engineering", "url": "https://example.com/eng"}),
        ".skillport/access.json": json.dumps({"skills": {"core-runbook": {"read": ["github:@acme/core"]}}}),
        "plugins/ops-kit/readme.md": README,
        "plugins/ops-kit/skills/incident-postmortem/SKILL.md": skill_md("incident-postmortem", LONG, **FRONTMATTER),
        "plugins/ops-kit/skills/sql-review/SKILL.md": skill_md(
            "sql-review", "Check <script>alert(1)</script> queries & indexes before an incident happens."),
        "plugins/ops-kit/skills/core-runbook/SKILL.md": skill_md("core-runbook", "Core team on-call runbook."),
        "plugins/legacy-kit/.claude-plugin/plugin.json": "{ not json",
        "plugins/legacy-kit/skills/old-report/SKILL.md": skill_md("old-report", "A report nobody reads."),
    })


@pytest.fixture
def market(repo, synced_marketplace):
    return synced_marketplace(repo, slug="acme", github_url="https://github.com/acme/skills.git")


@pytest.fixture
def member(client, people):
    client.force_login(people["member"])
    return people["member"]


def cards(html: str) -> dict:
    """{identifier: the card's HTML} of a page."""
    return dict(re.findall(r'<li class="skill-card" data-skill="([^"]+)">(.*?)</li>\s*(?=<li class="skill-card"|</ul>)',
                           html, re.DOTALL))


def download(client, identifier, times=1):
    for _ in range(times):
        assert client.get(f"/skills/{identifier}/download/").status_code == 200


# Cards


@pytest.mark.django_db
def test_a_card_shows_its_display_name_plugin_marketplace_author_and_installs(client, market, member, people):
    download(client, "acme/ops-kit/incident-postmortem", times=2)
    client.force_login(people["core"])
    download(client, "acme/ops-kit/incident-postmortem")
    card = cards(client.get("/skills/").content.decode())["acme/ops-kit/incident-postmortem"]
    assert ">Incident postmortem</a></h3>" in card
    # Two people installed it, one of them twice.
    assert "Ops kit · Acme skills" in card and "by Platform Team" in card and ">2 installs<" in card
    assert ">2 installs<" in client.get("/skills/acme/ops-kit/incident-postmortem/").content.decode()
    assert "Claude.ai ready" not in card and 'class="badge' not in card  # nothing exceptional about it


@pytest.mark.django_db
def test_one_person_downloading_again_and_again_does_not_make_a_skill_popular(client, market, member, people):
    download(client, "acme/ops-kit/sql-review", times=5)
    download(client, "acme/ops-kit/incident-postmortem")
    client.force_login(people["core"])
    download(client, "acme/ops-kit/incident-postmortem")
    ranked = list(cards(client.get("/skills/?sort=installs").content.decode()))
    assert ranked[:2] == ["acme/ops-kit/incident-postmortem", "acme/ops-kit/sql-review"]
    assert [skill.name for skill in client.get("/").context["popular"]][:2] == ["incident-postmortem", "sql-review"]
    assert ">1 install<" in cards(client.get("/skills/?q=sql").content.decode())["acme/ops-kit/sql-review"]
    # The audit log keeps every download.
    assert AuditEvent.objects.filter(action=Action.PACKAGE_DOWNLOADED, skill="sql-review").count() == 5
    # A GitHub account is one person through a change of login.
    renamed = people["core"].github
    renamed.login = "tam-renamed"
    renamed.save(update_fields=["login"])
    download(client, "acme/ops-kit/incident-postmortem")
    assert ">2 installs<" in cards(client.get("/skills/?q=incident").content.decode())["acme/ops-kit/incident-postmortem"]


@pytest.mark.django_db
def test_badges_say_only_what_is_exceptional(client, market, member):
    Skill.objects.filter(slug="sql-review").update(scan_severity="high", scan_passed=False, claude_ai_uploadable=False)
    Skill.objects.filter(slug="incident-postmortem").update(policy="recommended", policy_reason="Use it")
    page = cards(client.get("/skills/").content.decode())
    assert "Fails the security scan" in page["acme/ops-kit/sql-review"]
    assert "Not uploadable to Claude.ai" in page["acme/ops-kit/sql-review"]
    assert "Does not load in Claude Code" in page["acme/legacy-kit/old-report"]
    assert "Recommended" in page["acme/ops-kit/incident-postmortem"]
    assert "Fails the security scan" not in page["acme/ops-kit/incident-postmortem"]
    Skill.objects.filter(slug="sql-review").update(scan_severity="", scan_passed=False)  # not scanned is no failure
    assert "Fails the security scan" not in cards(client.get("/skills/?q=sql").content.decode())["acme/ops-kit/sql-review"]


@pytest.mark.django_db
def test_the_same_skill_in_two_marketplaces_is_told_apart(client, two_markets, member):
    page = cards(client.get("/skills/?q=csv").content.decode())
    assert "Ops kit · Acme skills" in page["acme/ops-kit/csv-cleanup"]
    assert "Data kit · Labs" in page["labs/data-kit/csv-cleanup"]


@pytest.mark.django_db
def test_the_author_falls_back_to_the_marketplace_owner(client, market, member):
    Plugin.objects.filter(name="ops-kit").update(author={})
    assert "by Acme Engineering" in cards(client.get("/skills/").content.decode())["acme/ops-kit/sql-review"]


@pytest.mark.django_db
def test_installs_cost_one_query_however_many_cards(client, market, member, django_assert_max_num_queries):
    download(client, "acme/ops-kit/sql-review")
    client.get("/")
    Skill.objects.filter(slug="sql-review").update(notes="Reviewed.")  # a change: the lists are read again
    with django_assert_max_num_queries(10) as few:
        client.get("/")
    Skill.objects.filter(slug="sql-review").update(curation="featured")  # a change: the lists are read again
    with django_assert_max_num_queries(len(few.captured_queries)):  # a third list of cards, no more queries
        page = client.get("/").content.decode()
    assert page.count('data-skill="acme/ops-kit/sql-review"') == 3 and "1 install<" in page


# Search


@pytest.mark.django_db
def test_search_marks_the_words_found_and_snippets_end_on_a_word(client, market, member):
    page = client.get("/skills/?q=incident", HTTP_X_PARTIAL="1").content.decode()
    found = cards(page)
    assert "<mark>incident</mark>" in found["acme/ops-kit/sql-review"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in found["acme/ops-kit/sql-review"] and "<script" not in page
    assert ">Incident postmortem<" not in found["acme/ops-kit/incident-postmortem"]
    assert "<mark>Incident</mark> postmortem" in found["acme/ops-kit/incident-postmortem"]  # the title too
    summary = re.search(r'<p class="summary">(.*?)</p>', found["acme/ops-kit/incident-postmortem"], re.DOTALL).group(1)
    assert re.search(r"\w\u00a0…$", summary)  # a whole word, then the ellipsis
    assert "showing results for" not in page.lower()


def test_a_snippet_is_cut_on_a_word_and_marks_only_escaped_text():
    assert snippet("short and sweet") == "short and sweet"
    cut = snippet("word " * 100)
    assert cut.endswith("word\u00a0…") and len(cut) <= 222
    assert snippet("x" * 300).endswith("x\u00a0…")  # one long word is cut where it must
    assert snippet(("filler " * 40) + "incident at the end", words=["incident"]).startswith("…\u00a0filler")
    marked = snippet("An <b>incident</b> & incidents", words=["incident"])
    assert marked == "An &lt;b&gt;<mark>incident</mark>&lt;/b&gt; &amp; <mark>incidents</mark>"


@pytest.mark.django_db
def test_the_typo_path_says_what_it_showed(client, market, member):
    page = client.get("/skills/?q=postmortm").content.decode()
    assert "Showing results for" in page and ">postmortem</strong>" in page and "<q>postmortm</q>" in page
    assert "<mark>postmortem</mark>" in cards(page)["acme/ops-kit/incident-postmortem"]
    assert "Showing results for" not in client.get("/skills/?q=postmortem").content.decode()


@pytest.mark.django_db
def test_an_empty_search_says_what_to_do(client, market, member):
    page = client.get("/skills/?q=zzzqqq").content.decode()
    assert "No skills match <q>zzzqqq</q>" in page and "Check the spelling" in page
    assert 'href="/skills/?q=zzzqqq">search without the filters' in page
    Skill.objects.update(curation="hidden")
    assert "No skills are shared with you yet" in client.get("/skills/").content.decode()


@pytest.mark.django_db
def test_the_filter_panel_folds_and_counts_what_is_set(client, market, member):
    page = client.get("/skills/?q=review").content.decode()
    assert '<details class="more-filters">' in page
    page = client.get("/skills/?category=operations&surface=claude_code").content.decode()
    assert '<details class="more-filters" open>' in page and "2 on" in page
    assert "{#" not in page and "#}" not in page  # a template comment shown as text


def test_no_template_comment_spans_lines():
    """Django's {# #} comments end on their line: one that goes on to the next is page text (the
    search page showed its filter panel's for a while). Longer ones are {% comment %} blocks."""
    from pathlib import Path

    from django.conf import settings

    templates = [path for folder in settings.TEMPLATES[0]["DIRS"] for path in Path(folder).rglob("*.html")]
    assert templates
    broken = [f"{path}:{number}" for path in templates
              for number, line in enumerate(path.read_text().splitlines(), 1) if "{#" in line and "#}" not in line]
    assert broken == []


@pytest.mark.django_db
def test_every_page_has_the_icon_and_favicon_ico_leads_to_it(client, people):
    """Browsers ask for /favicon.ico where a page names no icon: it was a 404 in every log."""
    response = client.get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (301, "/static/skillport-logo.svg")
    client.force_login(people["admin"])
    icon = '<link rel="icon" href="/static/skillport-logo.svg" type="image/svg+xml">'
    assert icon in client.get("/admin/").content.decode() and icon in client.get("/").content.decode()


# Pages


@pytest.mark.django_db
def test_the_skill_page_shows_frontmatter_as_fields_the_description_once_and_its_source(client, market, member):
    skill = Skill.objects.get(slug="incident-postmortem")
    page = client.get(skill.get_absolute_url()).content.decode()
    assert "<h1>Incident postmortem</h1>" in page and "<code>/ops-kit:incident-postmortem</code>" in page
    assert page.count("Write a blameless incident review") == 1
    fields = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", page))
    assert fields == {"license": "MIT", "metadata.version": "1.2.0", "metadata.owner.team": "ops",
                      "metadata.beta": "false", "allowed-tools": "Read, Bash(git:*)"}
    assert "{" not in "".join(fields.values())
    assert f'href="https://github.com/acme/skills/tree/{skill.plugin.commit}/plugins/ops-kit/skills/incident-postmortem"' in page
    assert "by <strong>Platform Team</strong>" in page and "0 installs" in page


@pytest.mark.django_db
def test_the_plugin_page_gives_the_install_command_readme_author_and_tags(client, market, people):
    client.force_login(people["core"])  # tam may see every skill of ops-kit, so her curated catalogue lists it
    page = client.get("/plugins/acme/ops-kit/").content.decode()
    assert "/plugin install ops-kit@acme-skills" in page and "/m/acme/marketplace.json" in page
    assert "by <strong>Platform Team</strong>" in page and ">incidents</a>" in page and "surface:" not in page
    assert "source:" not in page and "A folder of the" in page and "<code>plugins/ops-kit</code>" in page
    readme = page.split('aria-label="README"', 1)[1].split("</article>", 1)[0]
    assert "<h1>Ops kit</h1>" in readme and "<strong>calmly</strong>" in readme
    assert "<script" not in readme and "onerror" not in readme  # at most shown as text
    client.force_login(people["member"])  # orla may not see core-runbook: Claude Code would hand it to her
    page = client.get("/plugins/acme/ops-kit/").content.decode()
    assert "/plugin install" not in page and "core-runbook" not in page
    # Each page says why it offers no command: the one reason that applies to this reader.
    assert ("cannot install this plugin from Skillport: some of its skills, or of the plugins its folder holds, are "
            "not shared with you or are prohibited, and Claude Code installs a plugin&#x27;s folder whole.") in page
    legacy = client.get("/plugins/acme/legacy-kit/").content.decode()
    assert "Claude Code will not load this plugin" in legacy and "from Skillport: Claude Code would refuse to load it" in legacy
    # A plugin's problems come from several files: each says which.
    assert '<small class="where">plugins/legacy-kit/.claude-plugin/plugin.json</small>' in legacy


@pytest.mark.django_db
def test_a_sync_keeps_a_plugins_readme_when_it_is_text_of_a_readable_size(client, market, repo, member):
    plugin = Plugin.objects.get(name="ops-kit")
    assert plugin.readme == README and Plugin.objects.get(name="legacy-kit").readme == ""
    # Rendered by the sync, as a skill's body is; the page shows what is stored, sanitised.
    assert plugin.readme_html == rendering.render(README)
    Plugin.objects.filter(pk=plugin.pk).update(readme_html="<p>As stored.</p><script>x</script>")
    assert "<p>As stored.</p></article>" in client.get("/plugins/acme/ops-kit/").content.decode()
    Marketplace.objects.filter(pk=market.pk).update(git_url=repo.url)
    for content, stored in ((b"x" * (README_MAX_BYTES + 1), ""), (b"\x89PNG\r\n\0binary", ""), (b"New words.\n", "New words.\n")):
        repo.commit({"plugins/ops-kit/readme.md": content})
        sync_marketplace(market.pk)
        assert Plugin.objects.get(name="ops-kit").readme == stored
        assert Plugin.objects.get(name="ops-kit").readme_html == (rendering.render(stored) if stored else "")
    repo.commit({"plugins/ops-kit/readme.md": None})
    sync_marketplace(market.pk)
    assert Plugin.objects.get(name="ops-kit").readme == ""
    assert 'aria-label="README"' not in client.get("/plugins/acme/ops-kit/").content.decode()


@pytest.mark.django_db
def test_readmes_stored_before_the_sync_rendered_them_are_rendered_by_the_migration(market):
    from django.apps import apps

    migration = importlib.import_module("marketplace.migrations.0034_plugin_readme_html")
    Plugin.objects.update(readme_html="")  # as the column was added
    migration.render_stored_readmes(apps, None)
    assert Plugin.objects.get(name="ops-kit").readme_html == rendering.render(README)
    assert Plugin.objects.get(name="legacy-kit").readme_html == ""


@pytest.mark.django_db
def test_the_marketplace_page_counts_and_links_and_notes_a_broken_plugin(client, market, member):
    page = client.get("/marketplaces/acme/").content.decode()
    assert "2 plugins" in page and "3 skills" in page and "Acme Engineering" in page
    assert 'href="https://github.com/acme/skills"' in page
    commit = Marketplace.objects.get(pk=market.pk).last_synced_commit
    assert f'href="https://github.com/acme/skills/tree/{commit}"' in page
    assert "last synced" in page and "extraKnownMarketplaces" in page and "/plugin marketplace add" not in page
    plugin_cards = re.findall(r'<h3><a href="/plugins/acme/([^/]+)/">', page)
    assert plugin_cards == ["ops-kit"]  # legacy-kit does not load: a note, not a card
    assert 'class="muted broken"' in page and 'href="/plugins/acme/legacy-kit/">Legacy kit</a>' in page


@pytest.mark.django_db
def test_a_marketplace_in_a_server_folder_gets_no_command_and_no_path(client, market, member, repo, settings):
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = False  # as in production: Claude Code cannot fetch from this server
    Marketplace.objects.filter(pk=market.pk).update(git_url=str(repo.path))
    page = client.get("/marketplaces/acme/").content.decode()
    assert "extraKnownMarketplaces" not in page and str(repo.path) not in page and "Repository</a>" not in page
    page = client.get("/plugins/acme/ops-kit/").content.decode()
    assert "from Skillport: its marketplace is a folder on the Skillport server, which Claude Code cannot fetch." in page
    assert str(repo.path) not in page


@pytest.mark.django_db
def test_the_home_page_says_what_to_do_when_there_is_nothing(client, people):
    client.force_login(people["admin"])
    page = client.get("/").content.decode()
    assert "No skills here yet" in page and 'href="/admin/marketplace/marketplace/add/"' in page
    client.force_login(people["member"])
    page = client.get("/").content.decode()
    assert "No skills are shared with you yet" in page and "/admin/" not in page


def test_machine_names_read_as_words():
    assert words("pull-request-review") == "Pull request review"
    assert words("csv-cleanup") == "CSV cleanup" and words("sql") == "SQL"
    assert words("Team Tools") == "Team Tools" and words("myTool") == "myTool"  # as their authors wrote them


@pytest.mark.parametrize("url, page", [
    ("https://github.com/acme/skills.git", "https://github.com/acme/skills/tree/abc/a%20b"),
    ("git@github.com:acme/skills.git", "https://github.com/acme/skills/tree/abc/a%20b"),
    ("https://x-access-token:secret@github.com/acme/skills", "https://github.com/acme/skills/tree/abc/a%20b"),
    ("https://user:secret@gitlab.example.com/acme/skills.git", ""),
    ("/srv/skills", ""),
])
def test_links_to_a_repository_carry_no_credentials(url, page):
    assert weblinks.tree(url, "abc", "a b") == page
    assert "secret" not in weblinks.repository(url) and "/srv" not in weblinks.repository(url)


# In a browser


@pytest.mark.django_db(transaction=True)
def test_search_highlights_as_you_type_and_results_stay_above_the_fold(open_page, live_server, market, people):
    page = signed_in(open_page(viewport={"width": 1280, "height": 720}), live_server, people["member"])
    page.goto(f"{live_server.url}/skills/")
    page.get_by_label("Search").fill("incident")
    card = page.locator('#results .skill-card[data-skill="acme/ops-kit/sql-review"]')
    expect(card.locator("mark")).to_have_text(["incident"])
    expect(page.locator('[data-skill="acme/ops-kit/incident-postmortem"] h3 mark')).to_have_text("Incident")
    expect(page.locator("#results .skill-card").first).to_be_in_viewport()  # waits out the results' swap
    page.locator(".more-filters summary").click()
    page.get_by_label("Category").select_option("operations")
    expect(page.locator("#results .skill-card")).to_have_count(2)
    expect(page.locator("#results .skill-card").first).to_be_in_viewport()  # still in sight, filters open
    page.get_by_label("Search").fill("postmortm")
    expect(page.locator("#results")).to_contain_text("Showing results for postmortem")


@pytest.mark.django_db(transaction=True)
def test_a_card_reads_as_people_expect_in_light_and_dark(open_page, live_server, market, people):
    for scheme, dark in (("light", False), ("dark", True)):
        page = signed_in(open_page(color_scheme=scheme), live_server, people["member"])
        page.goto(f"{live_server.url}/")
        card = page.locator('.skill-card[data-skill="acme/ops-kit/incident-postmortem"]').first
        expect(card.get_by_role("heading")).to_have_text("Incident postmortem")
        expect(card).to_contain_text("Ops kit · Acme skills")
        expect(card).to_contain_text("by Platform Team")
        expect(card).to_contain_text("0 installs")
        expect(card.locator(".badge")).to_have_count(0)
        background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        red = int(re.match(r"rgb\((\d+)", background).group(1))
        assert (red < 64) == dark, background  # the theme follows the system's
        expect(page.get_by_role("contentinfo")).to_contain_text("Skillport")  # the footer
        expect(page.locator("header .brand img")).to_have_attribute("src", re.compile(r"skillport-logo\.svg$"))
