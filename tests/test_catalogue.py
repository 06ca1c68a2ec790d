"""The catalogue pages: search, skill, files, history, download, plugin and marketplace pages."""
import io
import json
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Action, AuditEvent
from marketplace import rendering
from marketplace.models import Skill
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db

PAYLOAD_BODY = """# Evil

<script>document.title = 'pwned'</script>
<img src="https://tracker.example/pixel.gif" onerror="alert(1)">
<a href="javascript:alert(1)">click</a>
<style>body { display: none }</style>

```python
print("hi")
```
"""


@pytest.fixture
def repo(make_repo):
    return make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit", category="ops", tags=["surface:CC", "db"]),
                                                   name="acme-skills"),
        ".skillport/access.json": json.dumps({"skills": {"secret": {"read": ["github:@acme/core"]}}}),
        "plugins/kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a blameless incident review."),
        "plugins/kit/skills/postmortem/scripts/run.py": "print('run')\n",
        "plugins/kit/skills/postmortem/logo.png": b"\x89PNG\r\n\x1a\n\0\0binary",
        "plugins/kit/skills/evil/SKILL.md": skill_md("evil", "Tries <b>markup</b>.", body=PAYLOAD_BODY),
        "plugins/kit/skills/secret/SKILL.md": skill_md("secret", "Core team only."),
    })


@pytest.fixture
def market(repo, synced_marketplace):
    return synced_marketplace(repo, slug="acme", github_url="https://github.com/acme/skills.git")


@pytest.fixture
def member(client, people):
    client.force_login(people["member"])
    return people["member"]


SKILL = "/skills/acme/kit/postmortem/"


def test_anonymous_is_sent_to_sign_in(client, market):
    for url in ("/", "/skills/", SKILL, f"{SKILL}download/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_search_page_filters_and_typo(client, market, member):
    page = client.get("/skills/?q=postmortm")
    assert [s.name for s in page.context["page"]] == ["postmortem"]
    names = lambda url: sorted(s.name for s in client.get(url).context["page"])  # noqa: E731
    assert names("/skills/") == ["evil", "postmortem"]  # "secret" is not visible to orla
    assert names("/skills/?category=ops&surface=claude_code&tag=db") == ["evil", "postmortem"]
    assert names("/skills/?surface=claude_ai") == []
    assert names("/skills/?verdict=claude_ai_uploadable") == ["postmortem"]  # evil has tags in its description
    partial = client.get("/skills/?q=incident", HTTP_X_PARTIAL="1").content.decode()
    assert "<html" not in partial and "<mark>incident</mark>" in partial


def test_skill_page_shows_everything_and_stays_inert(client, market, member):
    page = client.get(SKILL).content.decode()
    # kit holds a skill orla may not see, so her curated catalogue leaves it out: Claude Code takes the skill unzipped.
    assert "unzip -o postmortem.skill -d ~/.claude/skills/" in page and "/plugin install" not in page
    assert "postmortem.skill" in page and "Loads in Claude Code" in page
    assert "scripts/run.py" in page
    evil = client.get("/skills/acme/kit/evil/").content.decode()
    article = evil.split("<article", 1)[1].split("</article>", 1)[0]
    for payload in ("<script", "onerror", "javascript:", "<style", "tracker.example"):
        assert payload not in article
    assert '<span class="nb">print</span>' in article  # code is highlighted


def test_the_skill_page_shows_the_body_the_sync_rendered_sanitised_on_the_way_out(client, market, member):
    evil = Skill.objects.get(slug="evil")
    assert "onerror" in evil.body_html and '<span class="nb">print</span>' in evil.body_html
    # What is stored is the Markdown's raw HTML: only the page's sanitising stands between it and a reader.
    Skill.objects.filter(pk=evil.pk).update(body_html=evil.body_html + "<p>stored <b>marker</b></p><script>x()</script>")
    article = client.get("/skills/acme/kit/evil/").content.decode().split("<article", 1)[1].split("</article>", 1)[0]
    assert "stored <b>marker</b>" in article and "<script" not in article and "x()" not in article
    # A row with no stored HTML is rendered on the view.
    Skill.objects.filter(pk=evil.pk).update(body_html="")
    assert '<span class="nb">print</span>' in client.get("/skills/acme/kit/evil/").content.decode()


def test_a_body_nested_past_the_limit_is_shown_as_text_not_sanitised_for_seconds(client, market, member):
    """The sanitiser's time grows with the square of the nesting: 20,000 nested quotes took seconds
    on every view. The sync stores such a body as its text; a row stored before gets a notice."""
    deep = "> " * (rendering.MAX_NESTING + 1) + "bottom"
    Skill.objects.filter(slug="evil").update(body=deep, body_html=rendering.render(deep))
    article = client.get("/skills/acme/kit/evil/").content.decode().split("<article", 1)[1].split("</article>", 1)[0]
    assert f"more than the {rendering.MAX_NESTING} shown formatted" in article and "<blockquote>" not in article
    assert "&gt; &gt; &gt;" in article and "bottom" in article
    Skill.objects.filter(slug="evil").update(body_html="<blockquote>" * (rendering.MAX_NESTING + 1))
    article = client.get("/skills/acme/kit/evil/").content.decode().split("<article", 1)[1].split("</article>", 1)[0]
    assert "cannot be shown" in article and "<blockquote>" not in article
    # At the limit it is formatted as usual.
    fine = "> " * (rendering.MAX_NESTING - 1) + "bottom"
    assert rendering.shown(rendering.render(fine), fine).count("<blockquote>") == 999


def test_a_skill_page_is_eight_queries(client, market, member, django_assert_num_queries):
    client.get(SKILL)
    # The session, the user with their GitHub identity, the skill with its plugin and marketplace,
    # its files with their digests, its revisions, its installs, whether the curated catalogue
    # lists its plugin, and its scan results.
    with django_assert_num_queries(8):
        assert client.get(SKILL).status_code == 200


def test_invisible_skill_is_404_everywhere(client, market, member):
    for url in ("/skills/acme/kit/secret/", "/skills/acme/kit/secret/download/",
                "/skills/acme/kit/secret/files/SKILL.md", "/skills/acme/kit/secret/history/"):
        assert client.get(url).status_code == 404
    assert client.get("/skills/acme/kit/nope/").status_code == 404


def test_files_text_binary_and_raw(client, market, member):
    text = client.get(f"{SKILL}files/scripts/run.py")
    assert text.status_code == 200 and 'class="highlight"' in text.content.decode()
    binary = client.get(f"{SKILL}files/logo.png")
    assert "binary file" in binary.content.decode()
    raw = client.get(f"{SKILL}files/logo.png?raw=1")
    assert raw.content == b"\x89PNG\r\n\x1a\n\0\0binary" and raw["Content-Disposition"].startswith("attachment")
    assert client.get(f"{SKILL}files/missing.txt").status_code == 404


def test_download_is_a_valid_package_and_audited(client, market, member):
    response = client.get(f"{SKILL}download/")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert "postmortem/SKILL.md" in names and "postmortem/.claude-plugin/plugin.json" in names
    assert {n.split("/")[0] for n in names} == {"postmortem"}
    event = AuditEvent.objects.get(action=Action.PACKAGE_DOWNLOADED)
    assert (event.actor_login, event.marketplace, event.plugin, event.skill) == ("orla", "acme", "kit", "postmortem")


def test_history_diff(client, repo, market, member):
    assert ">Compare revisions</a>" not in client.get(SKILL).content.decode()  # one revision: nothing to compare
    repo.commit({"plugins/kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a kind incident review.")})
    market.git_url = repo.url
    market.save(update_fields=["git_url"])
    sync_marketplace(market.pk)
    page = client.get(f"{SKILL}history/").content.decode()
    assert "-description: &quot;Write a blameless incident review.&quot;" in page
    assert "+description: &quot;Write a kind incident review.&quot;" in page
    assert f'href="{SKILL}history/">Compare revisions</a>' in client.get(SKILL).content.decode()


def test_plugin_and_marketplace_pages(client, market, member):
    plugin = client.get("/plugins/acme/kit/").content.decode()
    assert "postmortem" in plugin and "secret" not in plugin
    page = client.get("/marketplaces/acme/").content.decode()
    # The curated catalogue, declared in Claude Code's settings with a token: `/plugin marketplace add` sends none.
    assert "extraKnownMarketplaces" in page and "/m/acme/marketplace.json" in page and "kit" in page
    assert "/plugin marketplace add" not in page
    assert client.get("/marketplaces/nope/").status_code == 404


def test_home_lists_recent_popular_and_categories(client, market, member):
    client.get(f"{SKILL}download/")
    page = client.get("/")
    assert [s.name for s in page.context["popular"]] == ["postmortem"]
    assert {c["shown_category"] for c in page.context["categories"]} == {"ops"}
    assert "secret" not in [s.name for s in page.context["recent"]]


def test_the_home_pages_lists_are_kept_until_the_catalogue_changes(client, market, member,
                                                                  django_assert_max_num_queries):
    first = client.get("/")
    assert "postmortem" in [s.name for s in first.context["recent"]]
    with django_assert_max_num_queries(5):  # the session, the user, the catalogue version, the cards' installs
        again = client.get("/")
    assert again.context["count"] == first.context["count"] and again.context["recent"] == first.context["recent"]
    Skill.objects.filter(slug="postmortem").update(curation="hidden")  # a new catalogue version
    hidden = client.get("/")
    assert "postmortem" not in [s.name for s in hidden.context["recent"]]
    assert hidden.context["count"] == first.context["count"] - 1


def test_search_has_no_n_plus_one(client, market, member, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        client.get("/skills/?q=review&sort=installs")


def test_featured_skills_lead_the_home_page_and_hidden_ones_are_gone(client, market, member):
    Skill.objects.filter(slug="evil").update(curation="featured")
    assert [s.name for s in client.get("/").context["featured"]] == ["evil"]
    Skill.objects.filter(slug="postmortem").update(curation="hidden")
    assert client.get(SKILL).status_code == 404
    assert "postmortem" not in [s.name for s in client.get("/skills/").context["page"]]


def test_a_marketplace_in_a_server_folder_gets_no_claude_code_command(client, market, member, repo):
    market.git_url = str(repo.path)
    market.save(update_fields=["git_url"])
    page = client.get(SKILL).content.decode()
    assert "extraKnownMarketplaces" not in page and str(repo.path) not in page
    assert "unzip -o postmortem.skill -d ~/.claude/skills/" in page


def test_policies_are_shown_and_prohibited_skills_cannot_be_installed(client, market, member):
    from marketplace.models import Plugin

    Plugin.objects.filter(name="kit").update(policy="recommended", policy_reason="Platform team's pick",
                                              notes="internal: owner is @ana")
    Skill.objects.filter(slug="evil").update(policy="prohibited", policy_reason="Runs untrusted code")
    page = client.get(SKILL).content.decode()
    assert "Recommended" in page and "Platform team&#x27;s pick" in page and "internal: owner" not in page
    evil = client.get("/skills/acme/kit/evil/").content.decode()
    assert "Prohibited" in evil and "Runs untrusted code" in evil and "Download evil.skill" not in evil
    refused = client.get("/skills/acme/kit/evil/download/")
    assert refused.status_code == 403 and "Runs untrusted code" in refused.content.decode()
    denied = AuditEvent.objects.get(action=Action.ACCESS_DENIED)
    assert denied.skill == "evil" and denied.extra == {"reason": "prohibited by policy"}
    assert not AuditEvent.objects.filter(action=Action.PACKAGE_DOWNLOADED).exists()
    cards = client.get("/skills/").content.decode()
    assert "badge policy-prohibited" in cards and "badge policy-recommended" in cards


def test_a_skills_url_follows_the_script_prefix_and_quotes_its_names(settings):
    """Skill.get_absolute_url keeps what reverse() answered (a search page asks 24 times); what
    reverse() reads besides the names, the script prefix and the URLconf, is part of the key."""
    from django.urls import set_script_prefix

    from marketplace.models import Marketplace, Plugin

    skill = Skill(marketplace=Marketplace(slug="acme"), plugin=Plugin(name="tools"), slug="a b?")
    assert skill.get_absolute_url() == "/skills/acme/tools/a%20b%3F/"
    assert skill.get_absolute_url() == "/skills/acme/tools/a%20b%3F/"
    set_script_prefix("/skillport/")  # served under a path
    try:
        assert skill.get_absolute_url() == "/skillport/skills/acme/tools/a%20b%3F/"
    finally:
        set_script_prefix("/")
    settings.ROOT_URLCONF = "tests.other_urls"
    assert skill.get_absolute_url() == "/elsewhere/acme/tools/a%20b%3F/"


def test_what_lists_plugins_or_skills_leaves_what_a_plugin_keeps_unread(client, market, member):
    """A plugin keeps its README and what it installs besides skills (synced, approved and served: up to 1,000
    files each): a marketplace's page of 500 plugins decoding them took 1.5 s. Only the plugin's own page reads
    them; pages and calls that list plugins or skills, and a skill's page, do not."""
    for path in ("/marketplaces/acme/", "/api/v1/plugins/", "/api/v1/skills/", SKILL):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200, path
        read = " ".join(query["sql"] for query in queries)
        assert '"own_content"' not in read and '"readme_html"' not in read, path
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/plugins/acme/kit/").status_code == 200
    assert '"served_own_content"' in " ".join(query["sql"] for query in queries)
