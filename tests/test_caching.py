"""Cached search pages: shared only by users who see the same things, gone with any catalogue change."""
import json
import re

import pytest
from types import SimpleNamespace

from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.db import connection

from marketplace import caching
from marketplace.models import CatalogueVersion, GitHubIdentity, Marketplace, Plugin, Skill
from marketplace.sync import sync_marketplace

from .builders import catalog, person, plugin_entry, skill_md

pytestmark = pytest.mark.django_db

SEARCH = "/skills/?q=runbook"


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def repo(make_repo):
    return make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops"), plugin_entry("infra")),
        ".skillport/access.json": json.dumps({"skills": {"secret-runbook": {"read": ["github:@acme/core"]}}}),
        "plugins/ops/skills/open-runbook/SKILL.md": skill_md("open-runbook", "Write a runbook anyone can follow."),
        "plugins/ops/skills/secret-runbook/SKILL.md": skill_md("secret-runbook", "The core team's runbook."),
        "plugins/infra/skills/disk-runbook/SKILL.md": skill_md("disk-runbook", "A runbook for full disks."),
    })


@pytest.fixture
def market(repo, synced_marketplace):
    return synced_marketplace(repo, slug="acme")


@pytest.fixture
def member(people):
    return signed_in(people["member"])


@pytest.fixture
def core(people):
    return signed_in(people["core"])


def found(client, url=SEARCH):
    page = client.get(url)
    assert page.status_code == 200
    return sorted(re.findall(r'<li class="skill-card" data-skill="[^"/]+/[^"/]+/([^"]+)"', page.content.decode()))


def test_a_cached_page_never_reaches_someone_who_sees_less(market, member, core):
    assert found(core) == ["disk-runbook", "open-runbook", "secret-runbook"]
    assert found(member) == ["disk-runbook", "open-runbook"]
    assert found(core) == ["disk-runbook", "open-runbook", "secret-runbook"]  # and the other way round
    partial = member.get(SEARCH, HTTP_X_PARTIAL="1").content.decode()
    assert "secret-runbook" not in partial and "<mark>runbook</mark>" in partial  # still markup, not escaped


def test_joining_a_team_shows_more_at_once(market, member):
    assert found(member) == ["disk-runbook", "open-runbook"]
    GitHubIdentity.objects.filter(login="orla").update(teams=["acme/core"])
    assert found(member) == ["disk-runbook", "open-runbook", "secret-runbook"]


def test_a_sync_changes_the_cached_page(market, repo, member):
    assert found(member) == ["disk-runbook", "open-runbook"]
    repo.commit({"plugins/infra/skills/net-runbook/SKILL.md": skill_md("net-runbook", "A runbook for outages.")})
    sync_marketplace(market.pk)
    assert found(member) == ["disk-runbook", "net-runbook", "open-runbook"]


def test_curation_audiences_and_disabling_change_the_cached_page(market, member):
    assert found(member) == ["disk-runbook", "open-runbook"]
    skill = Skill.objects.get(slug="open-runbook")
    skill.curation = "hidden"
    skill.save()
    assert found(member) == ["disk-runbook"]
    Plugin.objects.filter(name="infra").update(audience=["github:@acme/core"])  # bulk updates count too
    assert found(member) == []
    Plugin.objects.update(audience=[])
    Skill.objects.update(curation="approved")
    assert found(member) == ["disk-runbook", "open-runbook"]
    Marketplace.objects.update(enabled=False)
    assert found(member) == []


def test_filter_choices_follow_the_catalogue(market, member):
    assert '<option value="infra">' in member.get("/skills/").content.decode()
    Plugin.objects.filter(name="infra").update(audience=["github:@acme/core"])
    page = member.get("/skills/").content.decode()
    assert '<option value="infra">' not in page and '<option value="ops">' in page


def test_pages_of_a_search_count_in_the_page_query_and_answer_as_the_paginator_did(
        market, member, make_repo, make_marketplace):
    many = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit")),
        **{f"plugins/kit/skills/runbook-{n:02d}/SKILL.md": skill_md(f"runbook-{n:02d}", "Another runbook.")
           for n in range(30)},
    }, name="many")
    sync_marketplace(make_marketplace(many, slug="many").pk)

    def page(number):
        response = member.get(f"{SEARCH}&sort=name&page={number}")
        assert response.status_code == 200
        shown = response.context["page"]
        assert shown.paginator.count == 32  # 30 runbooks, and the two of "acme" the member sees
        return shown.number, [skill.name for skill in shown]

    first, second = page(1), page(2)
    assert first[0] == 1 and len(first[1]) == 24
    assert second[0] == 2 and len(second[1]) == 8 and not set(first[1]) & set(second[1])
    assert page(3) == page(99) == page(0) == page(-1) == second  # past either end: the last page
    # Past PostgreSQL's bigint as an offset: an error in the query, had the page query run.
    assert page(2**31) == page(10**20) == page(-(10**20)) == second
    assert page("x") == page("") == first


def test_the_filter_panel_shows_each_search_its_own_filters(market, member):
    # The panel is cached apart from the results, by the filters' values: the words never reach it.
    def panel(query):
        page = member.get(f"/skills/?{query}").content.decode()
        return re.search(r'<details class="more-filters".*?</details>', page, re.DOTALL).group()

    ops = panel("q=runbook&plugin=ops")
    assert '<option value="ops" selected>' in ops and '<span class="badge">1 on</span>' in ops
    assert panel("q=disk&plugin=ops") == ops
    infra = panel("q=runbook&plugin=infra")
    assert '<option value="infra" selected>' in infra and '<option value="ops" selected>' not in infra
    assert "badge" not in panel("q=runbook") and " open" not in panel("q=runbook")


def test_teammates_share_a_cached_page(market, core):
    # Each answers to their own login and id, which no rule names: the same things are theirs to see.
    assert found(core) == ["disk-runbook", "open-runbook", "secret-runbook"]
    teammate = signed_in(person("ceri", 9, teams=["acme/core"]))
    with CaptureQueriesContext(connection) as queries:
        assert found(teammate) == ["disk-runbook", "open-runbook", "secret-runbook"]
    assert not [query for query in queries if "marketplace_skill" in query["sql"]]  # the page was core's


def test_a_rule_naming_one_member_keeps_their_page_their_own(market, repo, member):
    rules = {"skills": {"secret-runbook": {"read": ["github:@acme/core"]}, "orla-runbook": {"read": ["github:@orla"]}}}
    repo.commit({".skillport/access.json": json.dumps(rules),
                 "plugins/ops/skills/orla-runbook/SKILL.md": skill_md("orla-runbook", "Orla's own runbook.")})
    sync_marketplace(market.pk)
    other = signed_in(person("piet", 8))
    # Whoever asks first, the other does not get their page.
    assert found(other) == ["disk-runbook", "open-runbook"]
    assert found(member) == ["disk-runbook", "open-runbook", "orla-runbook"]
    assert found(other, SEARCH + "&sort=name") == ["disk-runbook", "open-runbook"]
    assert found(member, SEARCH + "&sort=name") == ["disk-runbook", "open-runbook", "orla-runbook"]
    Skill.objects.filter(slug="orla-runbook").update(readers=["github:1"])  # by id this time: a new version
    assert found(member) == ["disk-runbook", "open-runbook", "orla-runbook"]
    assert found(other) == ["disk-runbook", "open-runbook"]


def test_a_member_shares_pages_until_a_rule_names_them(market, member):
    other = signed_in(person("piet", 8))
    assert found(member) == found(other) == ["disk-runbook", "open-runbook"]  # one page, computed once
    Skill.objects.filter(slug="secret-runbook").update(readers=["github:@acme/core", "github:@orla"])
    assert found(other) == ["disk-runbook", "open-runbook"]
    assert found(member) == ["disk-runbook", "open-runbook", "secret-runbook"]
    # Audiences name people too: a plugin's, a marketplace's.
    Plugin.objects.filter(name="infra").update(audience=["github:@piet"])
    assert found(signed_in(person("uma", 6))) == ["open-runbook"]
    assert found(other) == ["disk-runbook", "open-runbook"]
    assert found(member) == ["open-runbook", "secret-runbook"]
    Plugin.objects.update(audience=[])
    Marketplace.objects.update(audience=["github:7"])
    assert found(other) == []
    assert found(signed_in(person("ines", 7))) == ["disk-runbook", "open-runbook"]


def test_a_team_named_past_the_longest_rule_shares_nothing_it_was_let_into(market):
    team = "acme/" + "t" * 187  # 200 characters as a principal: a rule's longest; one running on is cut to it
    Skill.objects.filter(slug="secret-runbook").update(readers=[f"github:@{team}"])
    assert "secret-runbook" in found(signed_in(person("tee", 30, teams=[team])))
    assert "secret-runbook" not in found(signed_in(person("tez", 31, teams=[team + "zz"])))
    assert "secret-runbook" not in found(signed_in(person("zed", 32)))


def test_a_cached_answer_is_looked_up_without_a_query_however_threads_interleave(market, people,
                                                                                django_assert_num_queries):
    """The connector peeks on its event loop, where a query raises: what it checked of the principals read for a
    version must be what it keys by, though a worker thread replaces them in between."""
    version = CatalogueVersion.current()
    assert caching.get_or_set(SimpleNamespace(user=people["member"]), lambda: "page", "x") == "page"
    checked = caching._named

    class Caller:
        user = people["member"]

        @property
        def catalogue_version(self):
            caching._named = (version - 1, frozenset())  # another thread, seeing an older version meanwhile
            return version

    assert checked[0] == version
    with django_assert_num_queries(0):
        assert caching.peek(Caller(), "x") == "page"


def test_what_was_computed_while_the_catalogue_changed_is_not_kept(market, people):
    before = CatalogueVersion.current()

    def compute():
        Skill.objects.filter(slug="open-runbook").update(notes="changed as the page was computed")
        return "computed after the change"

    def viewer(version=before):  # a request that read the version before the change, as the connector's caller may
        return SimpleNamespace(user=people["member"], catalogue_version=version)

    assert caching.get_or_set(viewer(), compute, "x") == "computed after the change"
    # Kept under the version read first, it would reach whoever shares that key, computed from what followed.
    assert caching.get_or_set(viewer(), lambda: "computed again", "x") == "computed again"
    now = CatalogueVersion.current()
    assert caching.get_or_set(viewer(now), lambda: "kept", "y") == "kept"
    assert caching.get_or_set(viewer(now), lambda: "not asked", "y") == "kept"


def test_every_write_to_the_catalogue_bumps_the_version(market):
    before = CatalogueVersion.current()
    Skill.objects.filter(pk=-1).update(policy="required")  # even one that changes no row
    assert CatalogueVersion.current() == before + 1
    GitHubIdentity.objects.update(teams=[])  # who users are is in the key, not in the version
    assert CatalogueVersion.current() == before + 1


def test_search_queries_are_bounded(market, member, make_repo, make_marketplace, django_assert_max_num_queries):
    plugins = [plugin_entry(f"kit{n}") for n in range(6)]
    many = make_repo({
        ".claude-plugin/marketplace.json": catalog(*plugins),
        **{f"plugins/kit{n}/skills/runbook-{n}-{k}/SKILL.md": skill_md(f"runbook-{n}-{k}", "Another runbook.")
           for n in range(6) for k in range(5)},
    }, name="many")
    sync_marketplace(make_marketplace(many, slug="many").pk)
    # Session, user with identity, version, the principals the rules name (once a version), plugin choices, the
    # page with its count, the page's installs, two permission checks, the marketplaces the user may propose to
    # (the header's Contribute link); and the version again after each thing computed (choices, page, panel).
    with django_assert_max_num_queries(13):
        assert member.get(SEARCH).status_code == 200
    with django_assert_max_num_queries(3):  # cached: session, user with identity, version
        assert member.get(SEARCH).status_code == 200


def test_a_new_search_asks_whether_its_words_match_only_by_running_its_page(market, member,
                                                                           django_assert_num_queries):
    member.get(SEARCH)  # what the header and the filter panel ask is cached from here on
    # Session, user with identity, version, the page with its count, the page's installs, the version again.
    with django_assert_num_queries(6):
        page = member.get("/skills/?q=follow")
    assert page.status_code == 200 and "1 skill" in page.content.decode()
    # A typo: its page comes back empty, then the words are corrected and the page runs again.
    with django_assert_num_queries(8):
        page = member.get("/skills/?q=folow")
    assert "Showing results for" in page.content.decode() and "1 skill" in page.content.decode()
