"""One marketplace far past the issue's scale (2,000 skills each): its statements stay under PostgreSQL's
65,535 parameters (the protocol's limit, which server-side binding meets: settings.py), passing one array a
column, and finish within the statement timeout a web request runs under, which an admin's approval does."""
import pytest
from django.db import connection
from django.utils import timezone

from marketplace import bulk, scans, sync
from marketplace.models import Marketplace, Plugin, Skill, Status

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
                       [str(settings.SKILLPORT_REQUEST_STATEMENT_TIMEOUT_MS)])
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
