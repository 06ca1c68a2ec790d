"""Rendering that hostile text cannot turn into minutes of a worker's time: code highlighting, finding
fences, and counting how deeply raw HTML nests.

Some of Pygments' lexers take time growing with the square or the cube of a text made to hurt them
(bench/highlight.py), and a fence's language, a file's name and both their texts come from
repositories and people we do not control. Each hostile text below took from 1.4 s to 78 s before
`rendering.HIGHLIGHTED`, `rendering.HIGHLIGHT_SECONDS` and `rendering.MAX_ELEMENTS`.
"""
import importlib

import pytest

from marketplace import rendering, sync
from marketplace.models import Skill, SkillRevision, Status

from .builders import catalog, plugin_entry, skill_md

# Easytrieve's lexer takes time growing with the cube of a run of tabs (2,000: 12.6 s), AutoIt's with
# the square of a run of spaces (8,000: 9 s); a shell session's lexes a command as one step (1.4 s).
TABS, SPACES = "\t" * 3000, " " * 20_000
HOSTILE_BODY = (f"# Slow\n\n```easytrieve\n{TABS}x\n```\n\n```autoit\n{SPACES}x\n```\n\n"
                f"```console\n$ {'0' * 16_000}\n```\n\n```python\nprint('hi')\n```\n")


def test_code_in_a_language_highlighted_is_highlighted_and_others_are_shown_plain():
    page = rendering.render(HOSTILE_BODY)
    assert '<code class="language-python"><span class="nb">print</span>' in page
    easytrieve = page.split('<code class="language-easytrieve">')[1].split("</code>")[0]
    autoit = page.split('<code class="language-autoit">')[1].split("</code>")[0]
    assert easytrieve == f"{TABS}x\n" and autoit == f"{SPACES}x\n"  # every character kept, nothing marked
    assert f'<code class="language-console">$ {"0" * 16_000}\n</code>' in page


def test_a_language_pygments_does_not_know_is_shown_as_written():
    assert rendering.render("```nonsense\n<b> & x\n```\n") == (
        '<pre><code class="language-nonsense">&lt;b&gt; &amp; x\n</code></pre>\n')


def test_fences_are_found_in_time_that_grows_with_the_document_alone():
    """Raw HTML opening a fence thousands of times, never closed as cmark closes one: nothing to highlight."""
    text = '<pre lang="python"><code>print(1)</code> </pre>' * 4000  # 2.4 s before, reading on from each
    assert rendering.render(text) == rendering._github_markdown(text)
    assert '<span class="nb">print</span>' in rendering.render(f"{text}\n\n```python\nprint(1)\n```\n")


def test_a_file_is_highlighted_by_its_name_only_in_a_language_highlighted():
    assert '<span class="nb">print</span>' in rendering.source("scripts/run.py", "print('hi')\n")
    hostile = rendering.source("scripts/run.au3", SPACES + "x\n")
    assert '<div class="highlight">' in hostile and '<span class="' not in hostile and SPACES + "x" in hostile
    assert '<span class="' not in rendering.source("notes.txt", "print('hi')\n")
    # A Markdown file's own lexer would lex each fence in the language it names (78 s for this one).
    markdown = rendering.source("references/notes.md", f"# Notes\n\n```easytrieve\n{TABS}x\n```\n")
    assert '<span class="gh"># Notes</span>' in markdown and f"{TABS}x" in markdown


def test_past_the_deadline_the_rest_of_a_document_is_plain(monkeypatch):
    monkeypatch.setattr(rendering, "HIGHLIGHT_SECONDS", 0)
    assert rendering.render("```python\nprint('hi')\n```\n") == (
        '<pre><code class="language-python">print(\'hi\')\n</code></pre>\n')
    assert '<span class="' not in rendering.source("scripts/run.py", "print('hi')\n")


PYTHON = "```python\nprint('hi')\n```\n"
PLAIN_PYTHON = '<pre><code class="language-python">print(\'hi\')\n</code></pre>\n'


def test_documents_rendered_together_share_a_budget_for_highlighting():
    with rendering.budget(0, per_document=0) as spent:
        assert rendering.render(PYTHON) == PLAIN_PYTHON
        assert rendering.render("# No code\n") == "<h1>No code</h1>\n"
    assert spent.plain == 1  # the one with code
    assert '<span class="nb">print</span>' in rendering.render(PYTHON)  # outside it, as before
    with rendering.budget(0, per_document=1) as spent:  # each document brings its own share
        assert '<span class="nb">print</span>' in rendering.render(PYTHON)
        assert '<span class="nb">print</span>' in rendering.render(PYTHON)
    assert spent.plain == 0 and 1 < spent.left < 2  # what the two did not use
    # What one document spends, the next has no more of.
    code = "```python\n" + "print('hi'); x = [1, 2, 3]  # a comment\n" * 4000 + "```\n"
    with rendering.budget(0.05, per_document=0) as spent:
        assert '<span class="nb">print</span>' in rendering.render(code[:200] + "```\n")
        assert '<span class="nb">print</span>' not in rendering.render(code)  # cut at the 0.05 s left
        assert rendering.render(PYTHON) == PLAIN_PYTHON
    assert spent.left < 0 and spent.plain == 1


@pytest.mark.django_db
def test_a_sync_highlights_within_its_budget_and_says_what_it_left_plain(make_repo, synced_marketplace, monkeypatch):
    """A sync's documents share one budget (sync.HIGHLIGHTING_SECONDS): slow code in many skills
    cannot hold each sync of their marketplace past its time limit."""
    monkeypatch.setattr(sync, "HIGHLIGHTING_SECONDS", 0)
    monkeypatch.setattr(sync, "HIGHLIGHTING_SECONDS_PER_DOCUMENT", 0)
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit")),
        "plugins/kit/README.md": f"# Kit\n\n{PYTHON}",
        "plugins/kit/skills/one/SKILL.md": skill_md("one", "One.", body=PYTHON),
        "plugins/kit/skills/two/SKILL.md": skill_md("two", "Two.", body="No code."),
    })
    market = synced_marketplace(repo, slug="acme")
    assert market.first_run.status == Status.OK
    assert [p for p in market.first_run.problems if p["code"] == "highlighting-stopped"] == [{
        "severity": "warning", "code": "highlighting-stopped", "location": "",
        "message": "Code in 2 skill or plugin document(s) is shown without highlighting: the sync highlights "
                   "for 0 s, and 0 ms more a document, and this marketplace's took longer. Each is highlighted "
                   "again when it changes."}]
    assert Skill.objects.get(slug="one").body_html == PLAIN_PYTHON
    assert market.plugins.get().readme_html == "<h1>Kit</h1>\n" + PLAIN_PYTHON
    # Within the budget, nothing is said.
    monkeypatch.setattr(sync, "HIGHLIGHTING_SECONDS", 60)
    repo.commit({"plugins/kit/skills/one/SKILL.md": skill_md("one", "One, again.", body=PYTHON)})
    run = sync.sync_marketplace(market.pk)
    assert run.status == Status.OK and not [p for p in run.problems if p["code"] == "highlighting-stopped"]
    assert '<span class="nb">print</span>' in Skill.objects.get(slug="one").body_html


@pytest.mark.django_db
def test_a_hostile_skill_syncs_and_its_pages_answer(make_repo, synced_marketplace, client, people):
    """Through the sync (which stores the body's HTML), the skill page, its file's page and the preview."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit")),
        "plugins/kit/skills/slow/SKILL.md": skill_md("slow", "Code in slow languages.", body=HOSTILE_BODY),
        "plugins/kit/skills/slow/scripts/run.au3": SPACES + "x\n",
    })
    market = synced_marketplace(repo, slug="acme")
    assert market.first_run.status == Status.OK, market.first_run.problems
    assert f"{TABS}x" in Skill.objects.get(slug="slow").body_html
    client.force_login(people["member"])
    page = client.get("/skills/acme/kit/slow/").content.decode()
    assert '<span class="nb">print</span>' in page and f"{SPACES}x" in page
    file = client.get("/skills/acme/kit/slow/files/scripts/run.au3").content.decode()
    assert f"{SPACES}x" in file
    preview = client.post("/proposals/preview/", {"text": skill_md("slow", "Slow.", body=HOSTILE_BODY)})
    assert preview.status_code == 200 and f"{TABS}x" in preview.content.decode()


def test_unclosed_tags_are_read_once():
    """20,000 '<a ' in a raw HTML block: each was read on to the end of the document (13 s in render, 13 s
    more in clean)."""
    text = "<div>\n" + "<a " * 20_000
    assert rendering.nesting("<div>" + "<a " * 20_000) == 1
    assert rendering.clean(rendering.render(text)).strip() == ""  # past MAX_ELEMENTS: raw HTML left out


@pytest.mark.parametrize("opening", [
    "<blockquote><!-- </blockquote> -->",  # a closing tag in a comment closes nothing
    "<blockquote><style></blockquote></style>",  # nor in a raw text element
    "<blockquote/>",  # and a browser opens a blockquote here all the same
])
def test_raw_html_past_max_elements_is_left_out_however_it_hides_its_nesting(opening):
    text = "<div>\n" + opening * rendering.MAX_ELEMENTS + "\n\n**Still** rendered."
    html = rendering.render(text)
    assert "<blockquote" not in html and "<!-- raw HTML omitted -->" in html
    assert "<p><strong>Still</strong> rendered.</p>" in html


def test_raw_html_within_max_elements_is_kept():
    text = "<details><summary>More</summary>\n\nHidden **text**.\n\n</details>\n" * (rendering.MAX_ELEMENTS // 8)
    html = rendering.clean(rendering.render(text))
    assert html.count("<details>") == rendering.MAX_ELEMENTS // 8 and "raw HTML omitted" not in html


@pytest.mark.django_db
def test_bodies_stored_before_are_rendered_again_if_that_long(simple_repo, synced_marketplace):
    """Migration 0033: a body stored with more raw HTML than MAX_ELEMENTS, by the rendering before it."""
    from django.apps import apps

    render_long_bodies = importlib.import_module(
        "marketplace.migrations.0033_render_bodies_past_max_elements").render_long_bodies
    market = synced_marketplace(simple_repo)
    hostile = "<div>\n" + "<blockquote><!-- </blockquote> -->" * (rendering.MAX_ELEMENTS + 1)
    legacy = "<div>" + "<blockquote><!-- </blockquote> -->" * (rendering.MAX_ELEMENTS + 1)  # as stored before
    Skill.objects.filter(marketplace=market, slug="alpha").update(body=hostile, body_html=legacy)
    revision = SkillRevision.objects.filter(skill__slug="alpha").latest("pk")
    revision.content.update(body=hostile, body_html=legacy)
    revision.save(update_fields=["content"])
    untouched = Skill.objects.get(marketplace=market, slug="beta").body_html
    render_long_bodies(apps, None)
    assert "<blockquote" not in Skill.objects.get(marketplace=market, slug="alpha").body_html
    assert "<blockquote" not in SkillRevision.objects.get(pk=revision.pk).content["body_html"]
    assert Skill.objects.get(marketplace=market, slug="beta").body_html == untouched


def test_a_worker_keeps_short_documents_cleaned_and_cleans_long_ones_each_time():
    """The cleaned documents a worker keeps are bounded by size as well as number: 1,024 of 5 MB were 10 GB."""
    rendering._clean_kept.cache_clear()  # room for one more, whatever this process viewed before
    long_html = "<p>" + "word " * (rendering.MAX_KEPT_CHARS // 5) + "</p>"
    assert rendering.shown(long_html, "unused").startswith("<p>word word")
    assert rendering._clean_kept.cache_info().currsize == 0
    assert rendering.shown("<p>kept</p><script>x</script>", "unused") == "<p>kept</p>"
    assert rendering._clean_kept.cache_info().currsize == 1
    assert rendering.shown("", "") == "" and rendering.shown("", "*now*") == "<p><em>now</em></p>\n"
