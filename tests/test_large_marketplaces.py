"""One marketplace far past the issue's scale (2,000 skills each): its statements stay under PostgreSQL's
65,535 parameters (the protocol's limit, which server-side binding meets: settings.py), passing one array a
column or a list (`__any`), and finish within the statement timeout a web request runs under, which an admin's
approval does."""
import pytest
from django.db import connection
from django.utils import timezone

from marketplace import bulk, scans, sync
from marketplace.models import Marketplace, Plugin, Skill, Status
from skillport_site import settings as site_settings  # the web's timeout, which tests.settings turns off

from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db
LIMIT = 65_535


@pytest.fixture
def huge():
    market = Marketplace.objects.create(slug="huge", name="Huge", git_url="https://github.com/acme/huge.git",
                                        status=Status.OK)
    plugin = Plugin.objects.create(marketplace=market, name="everything", commit="0" * 40, source_kind="relative",
                                   source={"path": "plugins/everything"}, entry={"name": "everything"})
    return market, plugin


def test_the_scan_verdicts_of_a_marketplace_past_16384_skills_are_refreshed(huge, settings):
    """Four values a skill: a parameter each made 65,540 at 16,385 skills, and every approval and scan failed."""
    settings.SKILLPORT_SCANNERS = []  # the verdict reads "no scanner is installed"
    market, plugin = huge
    count, now = LIMIT // 4 + 1, timezone.now()
    bulk.create((Skill(marketplace=market, plugin=plugin, name=f"s{i}", slug=f"s{i}", path=f"skills/s{i}",
                       description="A skill.", frontmatter={}, body="", body_html="", content_hash=f"{i:064x}",
                       updated_at=now) for i in range(count)), Skill, count)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)",
                       [str(site_settings.SKILLPORT_REQUEST_STATEMENT_TIMEOUT_MS)])
    # A connection that updated one skill first (as a pooled one has) planned the search words' trigger for
    # one row: over 16,385 its nested loop took 47 s (migration 0028).
    Skill.objects.filter(pk=Skill.objects.filter(marketplace=market).first().pk).update(description="A skill!")
    scans.refresh_served(market)
    reasons = ["Not scanned: no scanner is installed"]
    assert Skill.objects.filter(marketplace=market, verdict_reasons__security_scan=reasons).count() == count


def test_a_sync_sets_the_commits_of_more_than_21845_plugins_in_one_statement(huge):
    """Three values a plugin: a parameter each passed the limit at 21,846 plugins."""
    market, plugin = huge
    others = [(-i, "f" * 40, "9.9.9") for i in range(1, LIMIT // 3 + 1)]  # no such rows: only their count matters
    now = timezone.now()
    sync._set_commits([(plugin.pk, "a" * 40, "2.0.0"), *others], now)
    plugin.refresh_from_db()
    assert (plugin.commit, plugin.version, plugin.last_seen_at) == ("a" * 40, "2.0.0", now)


def test_any_takes_a_list_past_65535_values_as_one_parameter(huge, django_assert_num_queries):
    """`__any` (marketplace/lookups.py), which the statements whose lists grow with a catalogue use (a sync's
    removed skills, an approval's revisions): `__in` passes a parameter a value, and fails past the limit."""
    from django.db import OperationalError, transaction

    from marketplace.models import SkillFile

    market, plugin = huge
    skills = [Skill.objects.create(marketplace=market, plugin=plugin, name=f"s{i}", slug=f"s{i}", path=f"skills/s{i}",
                                   content_hash=f"{i:064x}") for i in range(3)]
    SkillFile.objects.create(skill=skills[2], path="SKILL.md", size=1)
    missing = list(range(-LIMIT - 10, 0))  # no such ids

    assert set(Skill.objects.filter(pk__any=[*missing, skills[0].pk, skills[2].pk])) == {skills[0], skills[2]}
    assert list(SkillFile.objects.filter(skill__any=[*missing, skills[2].pk]).values_list("path", flat=True)) == [
        "SKILL.md"]
    assert set(Skill.objects.filter(content_hash__any=[f"{1:064x}", "nothing"])) == {skills[1]}
    assert set(Skill.objects.exclude(name__any=["s1"]).filter(marketplace=market)) == {skills[0], skills[2]}
    with django_assert_num_queries(0):
        assert list(Skill.objects.filter(pk__any=[])) == []
    assert Skill.objects.exclude(pk__any=[]).filter(marketplace=market).count() == 3
    with pytest.raises(OperationalError, match="65535"), transaction.atomic():
        list(Skill.objects.filter(pk__in=missing))


def test_a_sync_removes_more_than_65535_skills_gone_from_the_repository(make_repo, make_marketplace):
    repo = make_repo({".claude-plugin/marketplace.json": catalog(plugin_entry("everything")),
                      "plugins/everything/skills/kept/SKILL.md": skill_md("kept", "Stays.")})
    market = make_marketplace(repo, slug="shrinking")
    assert sync.sync_marketplace(market.pk).status == "ok"
    plugin, count, now = Plugin.objects.get(marketplace=market), LIMIT + 1, timezone.now()
    bulk.create((Skill(marketplace=market, plugin=plugin, name=f"s{i}", slug=f"s{i}", path=f"skills/s{i}",
                       description="A skill.", frontmatter={}, body="", body_html="", content_hash=f"{i:064x}",
                       updated_at=now) for i in range(count)), Skill, count)
    repo.commit({"README.md": "The others moved out.\n"})

    run = sync.sync_marketplace(market.pk)

    assert (run.status, run.removed) == ("ok", count), run.error
    assert list(Skill.objects.filter(marketplace=market, removed_at=None).values_list("slug", flat=True)) == ["kept"]
