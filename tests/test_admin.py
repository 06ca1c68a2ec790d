"""The admin: marketplaces with a write-only token and "Sync now", read-only runs and catalogue."""
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Action, AuditEvent
from marketplace.models import Marketplace, Status, SyncRun
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, skill_md, wait_for_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, people):
    client.force_login(people["admin"])
    return client


def test_member_without_staff_is_sent_to_login(client, people, simple_repo, make_marketplace):
    make_marketplace(simple_repo)
    client.force_login(people["member"])
    response = client.get("/admin/marketplace/marketplace/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_token_is_write_only(admin_client, simple_repo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post("/admin/marketplace/marketplace/add/", {
            "slug": "private", "git_url": simple_repo.url, "ref": "", "catalog_path": ".claude-plugin/marketplace.json",
            "access_token": "ghp_secret123", "token_reach": "repository", "sync_interval": 60, "enabled": "on", "scan_gate": "report", "scan_threshold": "high",
        })
    assert response.status_code == 302, response.content
    m = Marketplace.objects.get(slug="private")
    assert m.access_token == "ghp_secret123" and m.token_reach == "repository"
    assert len(callbacks) == 1  # a new marketplace is synced straight away
    page = admin_client.get(f"/admin/marketplace/marketplace/{m.pk}/change/").content.decode()
    assert "ghp_secret123" not in page
    # Saving without a token keeps the stored one; the clear box removes it.
    form = {"slug": "private", "git_url": simple_repo.url, "ref": "", "catalog_path": ".claude-plugin/marketplace.json",
            "sync_interval": 30, "enabled": "on", "scan_gate": "report", "scan_threshold": "high", "token_reach": "owner"}
    admin_client.post(f"/admin/marketplace/marketplace/{m.pk}/change/", form)
    m.refresh_from_db()
    assert m.access_token == "ghp_secret123" and m.sync_interval == 30
    admin_client.post(f"/admin/marketplace/marketplace/{m.pk}/change/", {**form, "clear_access_token": "on"})
    m.refresh_from_db()
    assert m.access_token == ""


def test_credentials_in_the_url_are_refused(admin_client):
    response = admin_client.post("/admin/marketplace/marketplace/add/", {
        "slug": "leaky", "git_url": "https://user:ghp_x@github.com/acme/skills.git",
        "catalog_path": ".claude-plugin/marketplace.json", "sync_interval": 60,
    })
    assert response.status_code == 200
    assert "access token field" in response.content.decode()
    assert not Marketplace.objects.exists()


def test_a_token_reach_not_offered_is_refused(admin_client, simple_repo):
    response = admin_client.post("/admin/marketplace/marketplace/add/", {
        "slug": "wide", "git_url": simple_repo.url, "catalog_path": ".claude-plugin/marketplace.json",
        "sync_interval": 60, "scan_gate": "report", "scan_threshold": "high", "token_reach": "everywhere"})
    assert response.status_code == 200
    assert "Select a valid choice. everywhere is not one of the available choices." in response.content.decode()
    assert not Marketplace.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sync_now_action_runs_a_sync_on_the_worker(admin_client, simple_repo, make_marketplace, celery_worker_queue):
    m = make_marketplace(simple_repo)
    response = admin_client.post("/admin/marketplace/marketplace/", {"action": "sync_now", "_selected_action": [m.pk]})
    assert response.status_code == 302
    run = wait_for_run(m, "manual")
    assert run.status == Status.OK and run.counts["skills"] == 2


def test_runs_plugins_and_skills_are_listed_read_only(admin_client, make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": '{"name": "m", "owner": {"name": "o"}, "plugins": ['
                                           '{"name": "tools", "source": "./tools"}, {"name": "bad", "source": "../x"}]}',
        "tools/skills/alpha/SKILL.md": "---\nname: alpha\ndescription: A <b>bold</b> skill\n---\nbody\n",
    })
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    assert run.status == Status.PARTIAL
    page = admin_client.get(f"/admin/marketplace/syncrun/{run.pk}/change/").content.decode()
    assert "path-traversal" in page and "Save" not in page
    assert admin_client.get("/admin/marketplace/syncrun/add/").status_code == 403
    listing = admin_client.get("/admin/marketplace/skill/").content.decode()
    assert "alpha" in listing
    skill_page = admin_client.get(f"/admin/marketplace/skill/{m.skills.get().pk}/change/").content.decode()
    assert "SKILL.md" in skill_page and "<b>bold</b>" not in skill_page
    assert "tools" in admin_client.get("/admin/marketplace/plugin/").content.decode()
    assert SyncRun.objects.count() == 1


@pytest.mark.parametrize("listing", ["/admin/marketplace/syncrun/?started_at__year={}",
                                     "/admin/audit/auditevent/?created_at__year={}",
                                     "/admin/publishing/publishrun/?started_at__year={}"])
def test_a_year_no_date_holds_is_a_wrong_lookup_in_the_lists_by_date(admin_client, listing):
    """Django 5.2 answered these with a 500 (its ticket #37357): the list asks again with ?e=1, as for any
    lookup it cannot make, and that page says so."""
    assert admin_client.get(listing.format(2026)).status_code == 200
    for year in ("9999", "99999999999999999999", "-99999999999999999999"):
        response = admin_client.get(listing.format(year))
        assert response.status_code == 302 and response.url.endswith("?e=1"), year
    assert admin_client.get(response.url).status_code == 200


def test_only_curation_fields_are_editable_on_synced_content(admin_client, simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    sync_marketplace(m.pk)
    skill = m.skills.get(slug="alpha")
    url = f"/admin/marketplace/skill/{skill.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="audience"' in page and 'name="policy"' in page and 'name="notes"' in page
    assert 'name="description"' not in page and 'name="body"' not in page
    response = admin_client.post(url, {"audience": "github:@acme/core", "curation": "approved", "files-TOTAL_FORMS": "0",
                                       "files-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content.decode()[:2000]
    skill.refresh_from_db()
    assert skill.audience == ["github:@acme/core"] and skill.description == "Alpha does A."
    event = AuditEvent.objects.get(action=Action.CURATION_CHANGED)
    assert event.skill == "alpha" and event.actor_login == "root"
    assert event.extra == {"before": {"audience": []}, "after": {"audience": ["github:@acme/core"]}}


def test_bulk_curation_actions_are_audited(admin_client, simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    sync_marketplace(m.pk)
    ids = list(m.skills.values_list("pk", flat=True))
    response = admin_client.post("/admin/marketplace/skill/", {"action": "feature", "_selected_action": ids})
    assert response.status_code == 302
    assert set(m.skills.values_list("curation", flat=True)) == {"featured"}
    events = AuditEvent.objects.filter(action=Action.CURATION_CHANGED)
    assert sorted(e.skill for e in events) == ["alpha", "beta"]
    assert all(e.extra == {"before": {"curation": "approved"}, "after": {"curation": "featured"}} for e in events)
    assert {(e.plugin, e.version, e.actor_login) for e in events} == {("tools", "1.0.0", "root")}


def test_the_lists_of_plugins_skills_and_revisions_read_what_they_show(admin_client, make_repo, make_marketplace):
    """A page of skills reads each one's plugin and marketplace with it (it shows the plugin as <name>@<marketplace>:
    a query a row, once), and no list reads the JSON its rows keep and never show (0.3 s a page of 100): a plugin's
    content, a skill's rendered body, a pending revision's fields and files."""
    statements = {}
    for count in (2, 12):
        repo = make_repo({
            ".claude-plugin/marketplace.json": catalog(*(plugin_entry(f"kit{n}") for n in range(count))),
            **{f"plugins/kit{n}/skills/s{n}/SKILL.md": skill_md(f"s{n}", f"Skill {n}.") for n in range(count)},
            **{f"plugins/kit{n}/hooks/hooks.json": '{"hooks": {}}' for n in range(count)},
        })
        m = make_marketplace(repo, slug=f"listed-{count}", requires_approval=True)
        sync_marketplace(m.pk)
        for model, query in (("skill", f"marketplace__id__exact={m.pk}"), ("plugin", f"marketplace__id__exact={m.pk}"),
                             ("skillrevision", f"status=pending&skill__marketplace__id__exact={m.pk}")):
            with CaptureQueriesContext(connection) as queries:
                page = admin_client.get(f"/admin/marketplace/{model}/?{query}")
            shown = {"skill": f"@listed-{count}", "plugin": f"/admin/marketplace/plugin/",
                     "skillrevision": f"listed-{count}/kit"}[model]
            assert page.status_code == 200 and page.content.decode().count(shown) >= count
            statements[model, count] = len(queries)
            read = " ".join(query["sql"] for query in queries)
            assert not [column for column in ('"own_content"', '"readme_html"', '"body_html"', '"frontmatter"',
                                              '"marketplace_skillrevision"."content"',
                                              '"marketplace_skillrevision"."files"') if column in read]
    assert all(statements[model, 12] == statements[model, 2] for model in ("skill", "plugin", "skillrevision"))
    # Read whole where it is shown: its entry, say.
    plugin = m.plugins.get(name="kit0")
    assert "./plugins/kit0" in admin_client.get(f"/admin/marketplace/plugin/{plugin.pk}/change/").content.decode()


def test_curating_every_skill_selected_takes_statements_that_do_not_grow(admin_client, make_repo, make_marketplace):
    """Select all picks every skill the list shows, thousands in a large marketplace: hiding them is one
    request whose statements do not grow with them, and each change is audited."""
    statements = {}
    for count in (2, 20):
        repo = make_repo({
            ".claude-plugin/marketplace.json": catalog(plugin_entry("ops")),
            **{f"plugins/ops/skills/s{n}/SKILL.md": skill_md(f"s{n}", f"Skill {n}.") for n in range(count)},
        })
        m = make_marketplace(repo, slug=f"curated-{count}")
        sync_marketplace(m.pk)
        m.skills.filter(name="s0").update(curation="hidden")  # already hidden: no event
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.post(f"/admin/marketplace/skill/?marketplace__id__exact={m.pk}", {
                "action": "hide", "select_across": "1", "index": "0", "_selected_action": [m.skills.first().pk]})
        assert response.status_code == 302
        statements[count] = len(queries)
        assert set(m.skills.values_list("curation", flat=True)) == {"hidden"}
        events = AuditEvent.objects.filter(action=Action.CURATION_CHANGED, marketplace=m.slug)
        assert sorted(e.skill for e in events) == sorted(f"s{n}" for n in range(1, count))
        assert all(e.extra == {"before": {"curation": "approved"}, "after": {"curation": "hidden"}} for e in events)
    assert statements[20] == statements[2]


@pytest.mark.django_db(transaction=True)
def test_sync_now_button_endpoint_reports_progress_then_the_result(admin_client, simple_repo, make_marketplace,
                                                                  celery_worker_queue, client, people):
    m = make_marketplace(simple_repo)
    assert admin_client.get(f"/admin/marketplace/marketplace/{m.pk}/sync/").status_code == 405
    queued = admin_client.post(f"/admin/marketplace/marketplace/{m.pk}/sync/")
    assert queued.status_code == 202
    run_url = f"/admin/marketplace/marketplace/{m.pk}/sync/{queued.json()['run']}/"
    deadline = time.monotonic() + 60
    while (state := admin_client.get(run_url).json())["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert state["status"] == "ok" and state["counts"]["skills"] == 2 and state["errors"] == 0
    assert SyncRun.objects.filter(marketplace=m).count() == 1  # the task used the run the page follows
    client.force_login(people["member"])
    assert client.post(f"/admin/marketplace/marketplace/{m.pk}/sync/").status_code == 302  # to the login page


def test_a_marketplace_shows_its_last_problems_grouped_by_severity(admin_client, make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": '{"name": "m", "owner": {"name": "o"}, "plugins": ['
                                           '{"name": "tools", "source": "./tools"}, {"name": "bad", "source": "../x"},'
                                           '{"name": "pkg", "source": {"source": "npm", "package": "p"}}]}',
        "tools/skills/alpha/SKILL.md": "---\nname: alpha\ndescription: A skill\n---\nbody\n",
    })
    m = make_marketplace(repo)
    assert "Not synced yet" in admin_client.get(f"/admin/marketplace/marketplace/{m.pk}/change/").content.decode()
    sync_marketplace(m.pk)
    page = admin_client.get(f"/admin/marketplace/marketplace/{m.pk}/change/").content.decode()
    errors, warnings = page.index("Errors (1)"), page.index("Warnings (")
    assert errors < warnings  # errors first, and open
    assert '<details class="problems-error" open>' in page and '<details class="problems-warning">' in page
    assert page.index("path-traversal") < warnings < page.index("unsupported-source")


def test_pages_that_would_go_around_skillport_are_not_in_the_admin(admin_client, simple_repo, synced_marketplace):
    """Celery beat's schedules (kept in step with each marketplace's sync interval, and able to run any task) and
    allauth's social apps (sign-in is configured by settings: a second GitHub app stops everyone signing in)."""
    synced_marketplace(simple_repo, sync_interval=30)
    index = admin_client.get("/admin/").content.decode()
    assert "/admin/marketplace/marketplace/" in index
    for page in ("django_celery_beat/periodictask", "django_celery_beat/crontabschedule", "socialaccount/socialapp",
                 "socialaccount/socialtoken"):
        assert f"/admin/{page}/" not in index
        assert admin_client.get(f"/admin/{page}/").status_code == 404
        assert admin_client.get(f"/admin/{page}/add/").status_code == 404


def test_a_value_nested_too_deeply_to_read_is_a_400(admin_client, simple_repo, synced_marketplace):
    plugin = synced_marketplace(simple_repo).plugins.get()
    response = admin_client.post(f"/admin/marketplace/plugin/{plugin.pk}/change/", {"tags_override": "[" * 5000})
    assert response.status_code == 400 and b"nested too deeply" in response.content
    plugin.refresh_from_db()
    assert plugin.tags_override is None


def test_an_empty_field_to_refer_to_by_is_a_400(admin_client, simple_repo, synced_marketplace):
    """Django checks `_to_field` only when it names something, then looked "" up as a field: a 500 on every change
    and delete page."""
    market = synced_marketplace(simple_repo)
    for page in ("change", "delete"):
        assert admin_client.get(f"/admin/marketplace/marketplace/{market.pk}/{page}/?_to_field=").status_code == 400
        assert admin_client.post(f"/admin/marketplace/marketplace/{market.pk}/{page}/", {"_to_field": ""}).status_code == 400
    # Named, as a related field's popup names it, it is the page.
    assert admin_client.get(f"/admin/marketplace/marketplace/{market.pk}/change/?_to_field=id&_popup=1").status_code == 200
    assert Marketplace.objects.filter(pk=market.pk).exists()


def test_github_accounts_are_there_to_read_and_unlink_not_to_edit(admin_client, people):
    """allauth writes a GitHub account's data again at each sign-in; its form wrote any JSON there (1e309, a 500)."""
    from allauth.socialaccount.models import SocialAccount

    account = SocialAccount.objects.create(user=people["member"], provider="github", uid="1", extra_data={"id": 1})
    page = f"/admin/socialaccount/socialaccount/{account.pk}/change/"
    assert b"orla" in admin_client.get(page).content
    assert admin_client.post(page, {"user": people["member"].pk, "provider": "github", "uid": "2",
                                    "extra_data": "1e309"}).status_code == 403
    account.refresh_from_db()
    assert (account.uid, account.extra_data) == ("1", {"id": 1})
    assert admin_client.get("/admin/socialaccount/socialaccount/add/").status_code == 403
    admin_client.post(f"/admin/socialaccount/socialaccount/{account.pk}/delete/", {"post": "yes"})
    assert not SocialAccount.objects.filter(pk=account.pk).exists()
