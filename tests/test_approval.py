"""A marketplace whose new skills need approval: new and changed skills wait for an admin, and
members keep the last approved revision on every surface until then."""
import io
import json
import zipfile

import psycopg
import pytest
from django.db import connection

from audit.models import Action, AuditEvent
from marketplace import approval, locks
from marketplace.models import Plugin, Skill, SkillFile, SkillRevision
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, skill_md, subprocess_database_url
from .mcp_client import call

pytestmark = pytest.mark.django_db(transaction=True)

Status = SkillRevision.Status
PAGE = "/skills/gated/ops/runbook/"
OLD, NEW = "Page the on-call engineer.", "Page the incident commander first."


@pytest.fixture
def gated(make_repo, make_marketplace, people):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops", version="1.0.0")),
        "plugins/ops/skills/runbook/SKILL.md": skill_md("runbook", "On-call runbook.", body=f"# Runbook\n\n{OLD}\n"),
    })
    market = make_marketplace(repo, slug="gated", requires_approval=True)
    sync_marketplace(market.pk)
    return repo, market


def approve_all(admin_client, action="approve"):
    pending = list(SkillRevision.objects.filter(status=Status.PENDING).values_list("pk", flat=True))
    response = admin_client.post("/admin/marketplace/skillrevision/", {"action": action, "_selected_action": pending})
    assert response.status_code == 302
    return pending


def change(repo, market, body, version, extra=None):
    repo.commit({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops", version=version)),
        "plugins/ops/skills/runbook/SKILL.md": skill_md("runbook", "On-call runbook.", body=f"# Runbook\n\n{body}\n"),
        **(extra or {}),
    })
    run = sync_marketplace(market.pk)
    assert run.status == "ok", run.error
    return run


def package_text(client):
    response = client.get(PAGE + "download/")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    return archive.read("runbook/SKILL.md").decode(), archive.namelist()


def test_a_new_skill_is_invisible_to_members_until_approved(client, admin_client, gated, people):
    skill = Skill.objects.get()
    assert not skill.released and skill.pending_revision.status == Status.PENDING
    member = people["member"]
    client.force_login(member)
    assert client.get(PAGE).status_code == 404
    assert client.get("/api/v1/skills/gated/ops/runbook/").status_code == 404
    assert call(member, "get_skill", {"name": "gated/ops/runbook"}).is_error
    assert call(member, "list_skills", {}).structured_content["skills"] == []
    assert client.get("/m/gated/marketplace.json").json()["plugins"] == []  # nothing approved to pin yet

    page = admin_client.get(PAGE)
    assert page.status_code == 200 and b"Awaiting approval" in page.content
    gated[0].commit({"README.md": "unrelated\n"})
    assert sync_marketplace(gated[1].pk).status == "ok"
    assert Skill.objects.get().pending_revision == skill.pending_revision  # still waiting, once

    approve_all(admin_client)
    skill.refresh_from_db()
    assert skill.released and skill.pending_revision is None
    assert client.get(PAGE).status_code == 200
    assert not call(member, "get_skill", {"name": "gated/ops/runbook"}).is_error
    plugins = client.get("/m/gated/marketplace.json").json()["plugins"]
    assert [p["source"]["sha"] for p in plugins] == [gated[0].head]
    event = AuditEvent.objects.get(action=Action.SKILL_APPROVED)
    assert event.extra["before"]["released"] is False and event.extra["after"]["released"] is True
    assert event.skill == "runbook" and event.actor_login == "admin"


def test_members_keep_the_approved_revision_while_a_change_waits(client, admin_client, gated, people):
    repo, market = gated
    approve_all(admin_client)
    approved_commit = repo.head
    change(repo, market, NEW, "1.1.0", {"plugins/ops/skills/runbook/scripts/page.py": "print('page')\n"})

    member = people["member"]
    client.force_login(member)
    page = client.get(PAGE).content.decode()
    assert OLD in page and NEW not in page and "1.0.0" in page
    assert "A change awaits approval" not in page
    api = client.get("/api/v1/skills/gated/ops/runbook/").json()
    assert OLD in api["body"] and api["version"] == "1.0.0" and api["commit"] == approved_commit
    assert call(member, "list_skills", {}).structured_content["skills"][0]["version"] == "1.0.0"
    detail = call(member, "get_skill", {"name": "gated/ops/runbook"}).structured_content
    assert OLD in detail["skill_md"] and [f["path"] for f in detail["files"]] == ["SKILL.md"]
    text, names = package_text(client)
    assert OLD in text and "runbook/scripts/page.py" not in names
    assert client.get("/m/gated/marketplace.json").json()["plugins"][0]["source"]["sha"] == approved_commit
    updates = call(member, "check_updates", {"installed": [{"name": "runbook", "version": "1.0.0"}]})
    assert updates.structured_content["results"][0]["status"] == "up_to_date"
    # History shows members approved revisions only; the pending one is for admins to compare.
    assert b"Awaiting approval" not in client.get(PAGE + "history/").content

    skill = Skill.objects.get()
    pending = skill.pending_revision
    admin_page = admin_client.get(PAGE).content.decode()
    assert "A change awaits approval" in admin_page and f"to={pending.pk}" in admin_page
    queue = admin_client.get("/admin/marketplace/skillrevision/?status__exact=pending&q=runbook")
    assert queue.status_code == 200 and "Compare with the approved revision" in queue.content.decode()
    approved = skill.revisions.get(status=Status.APPROVED)
    diff = admin_client.get(f"{PAGE}history/?from={approved.pk}&to={pending.pk}").content.decode()
    assert NEW in diff and "scripts/page.py" in diff

    approve_all(admin_client)
    page = client.get(PAGE).content.decode()
    assert NEW in page and OLD not in page
    text, names = package_text(client)
    assert NEW in text and "runbook/scripts/page.py" in names
    assert sorted(SkillFile.objects.filter(skill=skill).values_list("path", flat=True)) == ["SKILL.md",
                                                                                           "scripts/page.py"]
    assert client.get("/m/gated/marketplace.json").json()["plugins"][0]["source"]["sha"] == repo.head
    updates = call(member, "check_updates", {"installed": [{"name": "runbook", "version": "1.0.0"}]})
    assert updates.structured_content["results"][0]["status"] == "update_available"
    event = AuditEvent.objects.filter(action=Action.SKILL_APPROVED).latest("created_at")
    assert event.extra["before"]["content_hash"] != event.extra["after"]["content_hash"]


def test_a_new_plugin_version_waits_with_the_push_that_brought_it(client, admin_client, gated, people):
    """The skill itself did not change, so nothing of it waits: the plugin's new command does, and with it the
    commit members get, whose version the entry now says is 2.0.0."""
    repo, market = gated
    approve_all(admin_client)
    approved_commit = repo.head
    repo.commit({".claude-plugin/marketplace.json": catalog(plugin_entry("ops", version="2.0.0")),
                 "plugins/ops/commands/deploy.md": "Deploy to production.\n"})
    assert sync_marketplace(market.pk).status == "ok"
    plugin = Plugin.objects.get()
    assert (plugin.version, plugin.commit, plugin.approved_commit) == ("2.0.0", repo.head, approved_commit)
    assert Skill.objects.get().pending_revision is None

    member = people["member"]
    client.force_login(member)

    def served():
        page = client.get(PAGE).content.decode()
        api = client.get("/api/v1/skills/gated/ops/runbook/").json()
        listed = call(member, "list_skills", {}).structured_content["skills"][0]["version"]
        response = client.get(PAGE + "download/")
        with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
            manifest = json.loads(archive.read("runbook/.claude-plugin/plugin.json"))
        updates = call(member, "check_updates", {"installed": [{"name": "runbook", "version": "1.0.0"}]})
        return {"page": "version 2.0.0" in page, "api": (api["version"], api["commit"]), "listed": listed,
                "package": (manifest["version"], manifest["skillport"]["commit"]),
                "update": updates.structured_content["results"][0]["status"]}

    assert served() == {"page": False, "api": ("1.0.0", approved_commit), "listed": "1.0.0",
                        "package": ("1.0.0", approved_commit), "update": "up_to_date"}
    approval.approve_plugin_content(Plugin.objects.all(), None)
    assert served() == {"page": True, "api": ("2.0.0", repo.head), "listed": "2.0.0",
                        "package": ("2.0.0", repo.head), "update": "update_available"}


def test_the_skill_page_history_lists_pending_revisions_for_admins_only(client, admin_client, gated, people):
    repo, market = gated
    approve_all(admin_client)
    change(repo, market, NEW, "1.1.0")  # waits for approval

    def history(page):
        return page.content.decode().split('id="rev-title"', 1)[1].split("</ul>", 1)[0]

    client.force_login(people["member"])
    for _ in range(2):  # the member's, the admin's, and the member's again: one compiled query each
        member = history(client.get(PAGE))
        assert member.count("<li>") == 1 and "1.0.0" in member and "Awaiting approval" not in member
        admin = history(admin_client.get(PAGE))
        assert admin.count("<li>") == 2 and "1.1.0" in admin and "Awaiting approval" in admin


def test_a_pending_change_is_staged_once_and_a_newer_one_replaces_it(admin_client, gated):
    repo, market = gated
    approve_all(admin_client)
    change(repo, market, NEW, "1.1.0")
    repo.commit({"README.md": "unrelated\n"})
    assert sync_marketplace(market.pk).status == "ok"  # read again, not skipped as unchanged
    assert SkillRevision.objects.filter(status=Status.PENDING).count() == 1

    change(repo, market, "Newer still.", "1.2.0")
    statuses = list(SkillRevision.objects.order_by("id").values_list("status", flat=True))
    assert statuses == [Status.APPROVED, Status.SUPERSEDED, Status.PENDING]
    assert Skill.objects.get().pending_revision.version == "1.2.0"

    change(repo, market, OLD, "1.3.0")  # back to the approved content: nothing waits
    skill = Skill.objects.get()
    assert skill.pending_revision is None
    assert not SkillRevision.objects.filter(status=Status.PENDING).exists()
    assert Plugin.objects.get().approved_commit == repo.head


def test_a_rejected_change_stays_out_until_the_content_changes_again(client, admin_client, gated, people):
    repo, market = gated
    approve_all(admin_client)
    change(repo, market, NEW, "1.1.0")
    approve_all(admin_client, action="reject")
    event = AuditEvent.objects.get(action=Action.SKILL_REJECTED)
    assert event.extra["revision"]["version"] == "1.1.0"
    client.force_login(people["member"])
    assert OLD in client.get(PAGE).content.decode()

    repo.commit({"README.md": "unrelated\n"})
    assert sync_marketplace(market.pk).status == "ok"
    assert not SkillRevision.objects.filter(status=Status.PENDING).exists()

    change(repo, market, "A third take.", "1.2.0")
    assert SkillRevision.objects.filter(status=Status.PENDING).count() == 1


def test_deciding_while_a_sync_runs_is_refused_without_waiting(admin_client, gated):
    _repo, market = gated
    with psycopg.connect(subprocess_database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [locks.MARKETPLACE, market.pk])
        with pytest.raises(approval.SyncRunning):
            approval.approve(SkillRevision.objects.filter(status=Status.PENDING), None)
        response = admin_client.post("/admin/marketplace/skillrevision/", {
            "action": "approve", "_selected_action": [Skill.objects.get().pending_revision_id]}, follow=True)
        assert b"is running" in response.content
    assert not Skill.objects.get().released
    assert connection.in_atomic_block is False


def test_without_the_policy_syncs_publish_directly(client, make_repo, make_marketplace, people):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops", version="1.0.0")),
        "plugins/ops/skills/runbook/SKILL.md": skill_md("runbook", "On-call runbook.", body=OLD),
    })
    market = make_marketplace(repo, slug="gated")
    sync_marketplace(market.pk)
    change(repo, market, NEW, "1.1.0")
    client.force_login(people["member"])
    assert NEW in client.get(PAGE).content.decode()
    assert set(SkillRevision.objects.values_list("status", flat=True)) == {Status.APPROVED}
    assert Plugin.objects.get().approved_commit == repo.head


def test_members_cannot_approve(client, gated, people):
    from django.contrib.auth.models import Permission

    staff = people["member"]
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="view_skillrevision"))
    client.force_login(staff)
    response = client.post("/admin/marketplace/skillrevision/", {
        "action": "approve", "_selected_action": [Skill.objects.get().pending_revision_id]})
    assert not Skill.objects.get().released
    assert not AuditEvent.objects.filter(action=Action.SKILL_APPROVED).exists()
    assert response.status_code in (200, 302)


def test_turning_the_policy_off_publishes_what_waits(client, admin_client, gated, people):
    repo, market = gated
    approve_all(admin_client)
    change(repo, market, NEW, "1.1.0", {"plugins/ops/skills/fresh/SKILL.md": skill_md("fresh", "A new one.")})
    assert not Skill.objects.get(slug="fresh").released and Skill.objects.get(slug="runbook").pending_revision_id

    approvals = AuditEvent.objects.filter(action=Action.SKILL_APPROVED, actor_login="admin")
    before = approvals.count()
    form = {"slug": "gated", "git_url": market.git_url, "ref": "", "catalog_path": market.catalog_path,
            "sync_interval": market.sync_interval, "enabled": "on", "scan_gate": "report", "scan_threshold": "high", "token_reach": "owner"}  # the approval box left unticked
    response = admin_client.post(f"/admin/marketplace/marketplace/{market.pk}/change/", form, follow=True)
    assert "Published 2 pending change(s)." in response.content.decode()
    client.force_login(people["member"])
    assert NEW in client.get(PAGE).content.decode()
    assert client.get("/skills/gated/ops/fresh/").status_code == 200
    assert not SkillRevision.objects.filter(status=Status.PENDING).exists()
    assert approvals.count() == before + 2  # each published change is the admin's approval, audited


def many(count, body):
    return {
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops", version="1.0.0")),
        **{f"plugins/ops/skills/s{n}/SKILL.md": skill_md(f"s{n}", f"Skill {n}.", body=f"# S{n}\n\n{body}\n")
           for n in range(count)},
        **{f"plugins/ops/skills/s{n}/notes.md": f"{body} notes {n}\n" for n in range(count)},
    }


def test_approving_many_changes_writes_each_ones_content_in_statements_that_do_not_grow(
        admin_client, make_repo, make_marketplace):
    """A first sync of a large marketplace leaves thousands waiting, approved in one request: a few statements
    per skill made 2,000 of them take 7 to 11 s."""
    from django.test.utils import CaptureQueriesContext

    statements = {}
    for count in (3, 30):
        repo = make_repo(many(count, "First"))
        market = make_marketplace(repo, slug=f"many-{count}", requires_approval=True)
        sync_marketplace(market.pk)
        waiting = SkillRevision.objects.filter(skill__marketplace=market, status=Status.PENDING)
        assert approval.approve(waiting, None) == count
        repo.commit(many(count, "Second"))
        assert sync_marketplace(market.pk).status == "ok"
        with CaptureQueriesContext(connection) as queries:
            assert approval.approve(waiting, None) == count
        statements[count] = len(queries)

        skills = Skill.objects.filter(marketplace=market)
        assert all(skill.released and "Second" in skill.body and "Second" in skill.body_html for skill in skills)
        notes = SkillFile.objects.filter(skill__in=skills, path="notes.md").select_related("blob")
        assert sorted(bytes(f.blob.content).decode() for f in notes) == sorted(
            f"Second notes {n}\n" for n in range(count))
        assert SkillFile.objects.filter(skill__in=skills).count() == 2 * count
        assert not waiting.exists()
        events = AuditEvent.objects.filter(action=Action.SKILL_APPROVED, marketplace=market.slug)
        changed = [e for e in events if e.extra["before"]["released"]]
        assert len(changed) == count
        assert {e.extra["after"]["content_hash"] for e in changed} == set(skills.values_list("content_hash", flat=True))
    assert statements[30] == statements[3]


def test_two_changes_of_one_skill_decided_at_once_leave_the_newest(admin_client, gated):
    repo, market = gated
    approve_all(admin_client)
    change(repo, market, "Second take.", "1.1.0")
    older = Skill.objects.get().pending_revision
    # A newer change staged beside it, as a sync that ran in between might have left it.
    newer = SkillRevision.objects.get(pk=older.pk)
    newer.pk, newer.version = None, "1.2.0"
    newer.content = {**older.content, "body": "Third take.", "content_hash": "f" * 64}
    newer.save()

    assert approval.approve(SkillRevision.objects.filter(pk__in=[newer.pk, older.pk]), None) == 2
    skill = Skill.objects.get()
    assert (skill.body, skill.content_hash) == ("Third take.", "f" * 64)
    decided = AuditEvent.objects.filter(action=Action.SKILL_APPROVED).order_by("id")
    assert [e.extra["revision"]["version"] for e in decided][-2:] == ["1.1.0", "1.2.0"]
    assert decided.last().extra["before"]["content_hash"] == older.content_hash
