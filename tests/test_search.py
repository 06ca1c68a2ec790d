"""Catalogue search: weighted full text, web-search syntax, typo tolerance, safe highlights."""
import pytest
from django.db import connection

from marketplace.models import Skill
from marketplace.search import START, STOP, search, snippet

from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db


@pytest.fixture
def skills(make_repo, synced_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit")),
        "plugins/kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a blameless incident review."),
        "plugins/kit/skills/sql-review/SKILL.md": skill_md("sql-review", "Check queries for injection and indexes.",
                                                           body="Mentions postmortem once in the body.\n"),
        "plugins/kit/skills/changelog/SKILL.md": skill_md("changelog", "Summarise API changes if 1 < 2 & <script>x</script>."),
    })
    synced_marketplace(repo)
    return Skill.objects.all()


def names(queryset):
    return [s.name for s in queryset.order_by("-score", "name")]


def test_name_outranks_body(skills):
    assert names(search(skills, "postmortem")) == ["postmortem", "sql-review"]


def test_typo_still_finds_the_skill(skills):
    assert names(search(skills, "postmortm"))[0] == "postmortem"
    assert names(search(skills, "postmotrem"))[0] == "postmortem"  # swapped letters
    assert "sql-review" in names(search(skills, "injecton"))


def test_web_search_syntax(skills):
    assert names(search(skills, '"incident review"')) == ["postmortem"]
    assert names(search(skills, "postmortem -blameless")) == ["sql-review"]


def test_highlights_are_escaped(skills):
    hit = search(skills, "API changes").get(name="changelog")
    html = snippet(hit.description, hit.headline)
    assert "<mark>API</mark>" in html and "<script>" not in html
    assert "1 &lt; 2 &amp;" in html  # text is escaped before the marks go in


def test_the_marker_characters_in_a_description_do_not_mislead_the_highlights():
    """A description may hold the control characters ts_headline marks with: the marks are still found, each
    read once (16,000 of START before the real one took 1.1 s and marked nothing)."""
    stray = START * 16_000
    html = snippet(f"{stray} API rest", f"{stray} {START}API{STOP} rest")
    assert "<mark>API</mark>" in html and "rest" in html and "<mark>rest</mark>" not in html


def test_empty_query_returns_everything(skills):
    assert search(skills, "  ").count() == 3


def test_the_name_an_admin_shows_instead_is_searched_as_a_name(skills):
    assert names(search(skills, "retrospective")) == []
    Skill.objects.filter(name="postmortem").update(display_name_override="Incident Retrospective")
    assert names(search(skills, "retrospective")) == ["postmortem"]


def test_a_search_is_planned_for_its_words_every_time(skills):
    """Never a prepared statement, whose generic plan once walked every skill (skillport_site/postgresql/base.py)."""
    for _ in range(8):  # psycopg prepares what a connection has run five times
        list(search(skills, "postmortem"))
        Skill.objects.filter(name="postmortem").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any('"marketplace_skill"' in statement for statement in prepared)  # others are
    assert not any(" @@ " in statement for statement in prepared)
