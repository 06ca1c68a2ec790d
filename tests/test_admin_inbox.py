"""The admin as an inbox: branded Skillport, its index counting what waits (changes to approve, what the
scan held or blocked, failed syncs and publishes) with links to those lists, the revision list opening
on "Awaiting approval", each revision's page with its diff and Approve and Reject buttons, help texts
that keep their <placeholders>, and the webhook URL to copy."""
import re
from html import unescape

import pytest
from django.test import Client

from audit.models import Action, AuditEvent
from marketplace import approval
from marketplace.models import Marketplace, Skill, SkillRevision, Status
from marketplace.sync import sync_marketplace
from publishing.models import Kind, PublishRun, PublishTarget, Trigger
from publishing.models import Status as PublishStatus

from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db

Revision = SkillRevision.Status
QUEUE = "/admin/marketplace/skillrevision/"
OLD, NEW = "Page the on-call engineer.", "Page the incident commander first."


@pytest.fixture
def admin_client(people):
    client = Client()
    client.force_login(people["admin"])
    return client


def files(body, notes=True):
    return {
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops", version="1.0.0")),
        "plugins/ops/skills/runbook/SKILL.md": skill_md("runbook", "On-call runbook.", body=f"# Runbook\n\n{body}\n"),
        **({"plugins/ops/skills/notes/SKILL.md": skill_md("notes", "Meeting notes.")} if notes else {}),
    }


@pytest.fixture
def gated(make_repo, make_marketplace):
    """A marketplace under the approval policy: runbook approved, then changed; notes new, never approved."""
    repo = make_repo(files(OLD, notes=False))
    market = make_marketplace(repo, slug="gated", requires_approval=True)
    sync_marketplace(market.pk)
    approval.approve(SkillRevision.objects.filter(status=Revision.PENDING), None)
    repo.commit(files(NEW))
    assert sync_marketplace(market.pk).status == "ok"
    market.repo = repo
    return market


def revision(name, status=Revision.PENDING):
    return SkillRevision.objects.get(skill__name=name, status=status)


def listed(response):
    return response.context["cl"].result_count


def test_the_admin_is_branded_skillport(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "<title>Administration | Skillport admin</title>" in page
    assert re.search(r'id="site-name"><a href="/admin/">Skillport admin</a>', page)
    assert "Django administration" not in page and "Django site admin" not in page


def test_the_index_counts_what_waits_and_links_to_each_list(admin_client, gated, make_repo, make_marketplace, two_markets):
    broken = make_marketplace(make_repo({"README.md": "no catalogue here\n"}), slug="broken")
    assert sync_marketplace(broken.pk).status == Status.FAILED
    # What the scan gate leaves: one change held for an admin, one blocked.
    SkillRevision.objects.filter(pk=revision("notes").pk).update(scan_state="held")
    blocked = SkillRevision.objects.filter(skill__marketplace=two_markets[0]).first()
    SkillRevision.objects.filter(pk=blocked.pk).update(status=Revision.BLOCKED, scan_state="blocked")
    failing = PublishTarget.objects.create(name="org-zip", kind=Kind.ZIP, marketplace_name="org")
    PublishRun.objects.create(target=failing, trigger=Trigger.MANUAL, status=PublishStatus.PUBLISHED)
    PublishRun.objects.create(target=failing, trigger=Trigger.MANUAL, status=PublishStatus.FAILED)
    recovered = PublishTarget.objects.create(name="org-zip-2", kind=Kind.ZIP, marketplace_name="org2")
    PublishRun.objects.create(target=recovered, trigger=Trigger.MANUAL, status=PublishStatus.FAILED)
    PublishRun.objects.create(target=recovered, trigger=Trigger.MANUAL, status=PublishStatus.PUBLISHED)

    response = admin_client.get("/admin/")
    inbox = {item["label"]: item for item in response.context["inbox"]}
    assert {label: item["count"] for label, item in inbox.items()} == {
        "Changes awaiting approval": 2, "Held by the security scan": 1, "Blocked by the security scan": 1,
        "Plugins whose hooks, commands or servers changed": 0, "Failed syncs": 1, "Failed publishes": 1,
    }
    page = response.content.decode()
    for item in inbox.values():
        assert f'<a href="{item["url"]}">{item["label"]}</a>' in unescape(page)
        assert listed(admin_client.get(item["url"])) == item["count"], item["label"]
    assert list(admin_client.get(inbox["Failed syncs"]["url"]).context["cl"].result_list) == [broken]
    assert list(admin_client.get(inbox["Failed publishes"]["url"]).context["cl"].result_list) == [failing]


def test_the_index_shows_staff_only_what_they_may_view(client, gated):
    from django.contrib.auth.models import Permission, User

    clerk = User.objects.create_user("clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_marketplace"))
    client.force_login(clerk)
    assert [item["label"] for item in client.get("/admin/").context["inbox"]] == ["Failed syncs"]


def test_the_revision_list_opens_on_awaiting_approval_and_can_be_cleared(admin_client, gated):
    response = admin_client.get(QUEUE)
    assert response.status_code == 302 and response["Location"] == f"{QUEUE}?status=pending"
    pending = admin_client.get(response["Location"])
    assert listed(pending) == SkillRevision.objects.filter(status=Revision.PENDING).count() == 2
    # The status filter says so, and its "All" clears it.
    status_filter = next(f for f in pending.context["cl"].filter_specs if f.parameter_name == "status")
    choices = {c["display"]: c for c in status_filter.choices(pending.context["cl"])}
    assert choices["Awaiting approval"]["selected"] and not choices["All"]["selected"]
    everything = admin_client.get(QUEUE + choices["All"]["query_string"])
    assert everything.status_code == 200 and listed(everything) == SkillRevision.objects.count() == 3
    # Another filter alone does not bring the default back.
    assert listed(admin_client.get(f"{QUEUE}?skill__marketplace__id__exact={gated.pk}")) == 3


def test_a_revision_page_shows_its_diff_and_approves_it(admin_client, gated, people):
    change = revision("runbook")
    page = admin_client.get(f"{QUEUE}{change.pk}/change/").content.decode()
    assert f"-{OLD}" in page and f"+{NEW}" in page
    assert 'value="Approve: members get this revision"' in page and 'value="Reject: members keep what they have"' in page
    assert f'formaction="{QUEUE}{change.pk}/approve/"' in page and f'formaction="{QUEUE}{change.pk}/reject/"' in page

    assert admin_client.get(f"{QUEUE}{change.pk}/approve/").status_code == 405
    response = admin_client.post(f"{QUEUE}{change.pk}/approve/")
    assert response.status_code == 302 and response["Location"] == f"{QUEUE}?status=pending"
    change.refresh_from_db()
    assert change.status == Revision.APPROVED and NEW in Skill.objects.get(name="runbook").body
    event = AuditEvent.objects.get(action=Action.SKILL_APPROVED, actor_login="root")
    assert (event.skill, event.surface) == ("runbook", "web")
    assert event.extra["revision"]["content_hash"] == change.content_hash

    # Decided: no buttons any more.
    page = admin_client.get(f"{QUEUE}{change.pk}/change/").content.decode()
    assert "formaction" not in page and "None: this is the revision members are served." in page


def test_a_blocked_change_leaves_the_inbox_when_the_repository_moves_on(admin_client, gated):
    change = revision("runbook")
    SkillRevision.objects.filter(pk=change.pk).update(status=Revision.BLOCKED, scan_state="blocked")
    blocked = next(i for i in admin_client.get("/admin/").context["inbox"] if i["label"].startswith("Blocked"))
    assert blocked["count"] == 1 and listed(admin_client.get(blocked["url"])) == 1

    gated.repo.commit(files("Page whoever is awake."))
    assert sync_marketplace(gated.pk).status == "ok"
    assert revision("runbook").pk > change.pk  # what the repository holds now waits instead
    assert [i["count"] for i in admin_client.get("/admin/").context["inbox"] if i["label"].startswith("Blocked")] == [0]
    assert listed(admin_client.get(blocked["url"])) == 0
    assert listed(admin_client.get(f"{QUEUE}?status=blocked")) == 1  # still on the record


def test_the_queue_works_with_no_scanner_installed(admin_client, gated, settings):
    settings.SKILLPORT_SCANNERS = []
    change = revision("runbook")
    assert listed(admin_client.get(f"{QUEUE}?status=pending")) == 2
    page = admin_client.get(f"{QUEUE}{change.pk}/change/").content.decode()
    assert "Not scanned" in page and "No scanner installed" in page


def test_a_revision_page_rejects_a_new_skill(admin_client, gated):
    new = revision("notes")
    page = admin_client.get(f"{QUEUE}{new.pk}/change/").content.decode()
    assert "every file is shown as added" in page and '+description: "Meeting notes."' in unescape(page)
    admin_client.post(f"{QUEUE}{new.pk}/reject/")
    new.refresh_from_db()
    assert new.status == Revision.REJECTED and not Skill.objects.get(name="notes").released
    event = AuditEvent.objects.get(action=Action.SKILL_REJECTED)
    assert (event.actor_login, event.skill) == ("root", "notes")


def test_a_blocked_revision_is_approved_only_with_a_reason(admin_client, gated):
    change = revision("runbook")
    SkillRevision.objects.filter(pk=change.pk).update(status=Revision.BLOCKED, scan_state="blocked")
    page = admin_client.get(f"{QUEUE}{change.pk}/change/").content.decode()
    assert 'value="Approve, overriding the scan…"' in page and "Reject:" not in page
    asked = admin_client.post(f"{QUEUE}{change.pk}/approve/")
    assert asked.status_code == 200 and "Why approve despite the scan" in asked.content.decode()
    change.refresh_from_db()
    assert change.status == Revision.BLOCKED
    admin_client.post(f"{QUEUE}{change.pk}/approve/", {"override": "yes", "override_reason": "Reviewed by hand."})
    change.refresh_from_db()
    assert change.status == Revision.APPROVED and change.scan_override["reason"] == "Reviewed by hand."


def test_who_may_not_approve_gets_no_button_and_no_decision(client, gated, people):
    from django.contrib.auth.models import Permission, User

    reader = User.objects.create_user("reader", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_skillrevision"))
    client.force_login(reader)
    change = revision("runbook")
    assert "formaction" not in client.get(f"{QUEUE}{change.pk}/change/").content.decode()
    assert client.post(f"{QUEUE}{change.pk}/approve/").status_code == 403
    client.force_login(people["member"])
    assert client.post(f"{QUEUE}{change.pk}/approve/").status_code == 302  # to the admin's sign-in
    change.refresh_from_db()
    assert change.status == Revision.PENDING
    assert not AuditEvent.objects.filter(action=Action.SKILL_APPROVED, actor__isnull=False).exists()


def test_help_texts_keep_their_placeholders(admin_client, gated):
    page = admin_client.get(f"/admin/marketplace/marketplace/{gated.pk}/change/").content.decode()
    assert "github:@login or github:&lt;id&gt;." in page
    skill = Skill.objects.get(name="runbook")
    assert "What Claude Code calls it, &lt;plugin&gt;:&lt;skill&gt;: the plugin" in admin_client.get(
        f"/admin/marketplace/skill/{skill.pk}/change/").content.decode()


def test_the_webhook_url_is_shown_whole_with_a_copy_button(admin_client, gated, settings):
    page = admin_client.get(f"/admin/marketplace/marketplace/{gated.pk}/change/").content.decode()
    url = f"{settings.SKILLPORT_BASE_URL}/webhooks/github/gated"
    assert f'<code>{url}</code> <button type="button" class="button" data-copy="{url}">Copy</button>' in page
    assert "skillport.js" in page  # what makes the button copy
    assert page.index('name="webhook_secret"') < page.index(url)  # under the secret it goes with
    assert "Shown once the marketplace is saved." in admin_client.get(
        "/admin/marketplace/marketplace/add/").content.decode()


def test_the_marketplace_list_keeps_status_last_sync_and_commit(admin_client, gated):
    gated.refresh_from_db()
    page = admin_client.get("/admin/marketplace/marketplace/").content.decode()
    for column in ("status", "last_sync", "short_commit"):
        assert f'class="sortable column-{column}' in page or f'class="column-{column}"' in page
    assert gated.last_synced_commit[:12] in page and f"{gated.last_synced_at:%Y-%m-%d}" in page
    assert Marketplace.objects.get().requires_approval and "approval · scan reports" in page
