"""The publish targets' admin: a write-only credential, audited changes by field name, Publish now with
its progress, the runs, the managed-settings page and the latest ZIP, for staff with the permissions only."""
import io
import json
import time
import zipfile

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Action, AuditEvent
from marketplace.models import Plugin, Policy
from publishing import runs
from publishing.models import Kind, PublishRun, PublishTarget, Status, Trigger

pytestmark = pytest.mark.django_db
ADMIN = "/admin/publishing/publishtarget/"


@pytest.fixture
def admin_client(client, people):
    client.force_login(people["admin"])
    return client


def form(acme, **fields):
    """The add/change form of a git target feeding from `acme`, as the browser posts it."""
    return {"name": "org-repo", "kind": Kind.GIT, "enabled": "on", "audience": "", "marketplaces": [acme.pk],
            "publish_interval": 0, "marketplace_name": "acme-org", "owner_name": "Skillport", "owner_email": "",
            "repository_url": "https://github.com/acme/claude-plugins", "branch": "main", "mode": "",
            "settings_source": "", "strict": "on", "api_url": "https://api.anthropic.com", **fields}


def make_target(markets, name="org", kind=Kind.ZIP, **fields):
    target = PublishTarget.objects.create(name=name, kind=kind, marketplace_name=f"{name}-market", **fields)
    target.marketplaces.set(markets)
    return target


def test_the_credential_is_stored_encrypted_and_never_shown_nor_audited(admin_client, two_markets):
    acme = two_markets[0]
    response = admin_client.post(f"{ADMIN}add/", form(acme, credential="ghp_secret123"))
    assert response.status_code == 302, response.content.decode()[:3000]
    target = PublishTarget.objects.get(name="org-repo")
    assert target.credential == "ghp_secret123" and list(target.marketplaces.all()) == [acme]
    with connection.cursor() as cursor:
        cursor.execute("SELECT credential FROM publishing_publishtarget WHERE id = %s", [target.pk])
        stored = cursor.fetchone()[0]
    assert stored and "ghp_secret123" not in stored  # encrypted at rest
    page = admin_client.get(f"{ADMIN}{target.pk}/change/").content.decode()
    assert "ghp_secret123" not in page and "Remove the stored credential" in page
    created = AuditEvent.objects.get(action=Action.PUBLISH_TARGET_CHANGED)
    assert created.extra["target"] == "org-repo" and created.extra["created"] is True
    assert "credential" in created.extra["fields"] and "ghp_secret123" not in json.dumps(created.extra)
    assert created.actor_login == "root"

    # Saving without a credential keeps it, and only what changed is named.
    admin_client.post(f"{ADMIN}{target.pk}/change/", form(acme, branch="release"))
    target.refresh_from_db()
    assert (target.credential, target.branch) == ("ghp_secret123", "release")
    changed = AuditEvent.objects.filter(action=Action.PUBLISH_TARGET_CHANGED).order_by("-id").first()
    assert changed.extra == {"target": "org-repo", "fields": ["branch"]}
    # The clear box removes it; the event names the field, never a value.
    admin_client.post(f"{ADMIN}{target.pk}/change/", form(acme, branch="release", clear_credential="on"))
    target.refresh_from_db()
    assert target.credential == ""
    cleared = AuditEvent.objects.filter(action=Action.PUBLISH_TARGET_CHANGED).order_by("-id").first()
    assert cleared.extra == {"target": "org-repo", "fields": ["credential"]}


def test_the_models_checks_are_shown_on_the_form(admin_client, two_markets):
    acme = two_markets[0]
    page = admin_client.post(f"{ADMIN}add/", form(acme, repository_url="")).content.decode()
    assert "A git target needs the repository to publish to." in page
    page = admin_client.post(f"{ADMIN}add/", form(acme, repository_url="https://bot:ghp_x@github.com/a/b")).content
    assert b"not in the URL" in page
    page = admin_client.post(f"{ADMIN}add/", form(acme, marketplace_name="Not Kebab")).content.decode()
    assert "Use kebab-case" in page
    page = admin_client.post(f"{ADMIN}add/", form(acme, marketplaces=[])).content.decode()
    assert "Choose the marketplaces" in page
    assert not PublishTarget.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.PUBLISH_TARGET_CHANGED).exists()


def test_a_managed_settings_target_may_point_at_a_published_repository_alone(admin_client, two_markets):
    published = make_target(two_markets, name="org-repo", kind=Kind.GIT, repository_url="https://github.com/a/b")
    response = admin_client.post(f"{ADMIN}add/", form(two_markets[0], name="devices", kind=Kind.MANAGED_SETTINGS,
                                                      marketplaces=[], settings_source=published.pk))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert PublishTarget.objects.get(name="devices").settings_source == published


def test_a_managed_settings_target_points_only_its_own_audience_at_a_repository_published_for_it(admin_client,
                                                                                                 two_markets):
    """The repository holds what every member of its target's audience may see: a fragment reaching others would
    point their machines at it."""
    published = make_target(two_markets, name="core-repo", kind=Kind.GIT, repository_url="https://github.com/a/b",
                            audience=["github:@acme/core"])
    for audience in ("", "github:@acme/core, github:@acme/design"):
        page = admin_client.post(f"{ADMIN}add/", form(two_markets[0], name="devices", kind=Kind.MANAGED_SETTINGS,
                                                      marketplaces=[], settings_source=published.pk,
                                                      audience=audience)).content.decode()
        assert "core-repo is published for github:@acme/core alone" in page
    assert not PublishTarget.objects.filter(name="devices").exists()
    allowed = admin_client.post(f"{ADMIN}add/", form(two_markets[0], name="devices", kind=Kind.MANAGED_SETTINGS,
                                                     marketplaces=[], settings_source=published.pk,
                                                     audience="github:@acme/core"))
    assert allowed.status_code == 302


def test_publish_now_queues_a_run_whose_progress_the_page_follows(admin_client, two_markets,
                                                                  django_capture_on_commit_callbacks):
    target = make_target(two_markets)
    assert admin_client.get(f"{ADMIN}{target.pk}/publish/").status_code == 405
    with django_capture_on_commit_callbacks() as sent:
        queued = admin_client.post(f"{ADMIN}{target.pk}/publish/")
    assert queued.status_code == 202 and len(sent) == 1  # the task goes to the worker once this commits
    run = PublishRun.objects.get(target=target)
    assert (run.status, run.trigger) == (Status.QUEUED, Trigger.MANUAL) and queued.json()["run"] == run.pk
    progress = admin_client.get(f"{ADMIN}{target.pk}/publish/{queued.json()['url']}").json()
    assert progress["status"] == "queued" and progress["progress"] == {"phase": "queued"}
    assert progress["target"] == "org" and progress["errors"] == 0
    assert admin_client.get(f"{ADMIN}{target.pk + 1}/publish/{run.pk}/").status_code == 404  # another target's
    page = admin_client.get(f"{ADMIN}{target.pk}/change/").content.decode()
    assert "data-publish-url" in page and "admin_publish.js" in page

    settings_target = make_target(two_markets, name="devices", kind=Kind.MANAGED_SETTINGS)
    assert admin_client.post(f"{ADMIN}{settings_target.pk}/publish/").status_code == 400
    assert "data-publish-url" not in admin_client.get(f"{ADMIN}{settings_target.pk}/change/").content.decode()


def test_the_publish_now_action_skips_managed_settings(admin_client, two_markets):
    zipped = make_target(two_markets)
    devices = make_target(two_markets, name="devices", kind=Kind.MANAGED_SETTINGS)
    admin_client.post(ADMIN, {"action": "publish_now", "_selected_action": [zipped.pk, devices.pk]})
    assert list(PublishRun.objects.values_list("target__name", "status")) == [("org", Status.QUEUED)]


@pytest.mark.django_db(transaction=True)
def test_publish_now_on_the_worker_then_the_zip_downloads(admin_client, two_markets, celery_worker_queue):
    target = make_target(two_markets)
    queued = admin_client.post(f"{ADMIN}{target.pk}/publish/").json()
    deadline = time.monotonic() + 60
    while (state := admin_client.get(f"{ADMIN}{target.pk}/publish/{queued['url']}").json())["status"] in (
            "queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert state["status"] == "published" and state["counts"]["plugins"] == 2, state
    # The worker's audit event names the admin who asked for it.
    assert AuditEvent.objects.get(action=Action.PUBLISHED).actor_login == "root"
    download = admin_client.get(f"{ADMIN}{target.pk}/zip/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).namelist()
    assert ".claude-plugin/marketplace.json" in names
    listing = admin_client.get(ADMIN).content.decode()
    assert 'field-last_status">Published<' in listing and f"{ADMIN}{target.pk}/zip/" in listing


def test_only_the_recorded_zip_is_served_from_the_targets_folder(admin_client, two_markets, settings):
    target = make_target(two_markets)
    assert admin_client.get(f"{ADMIN}{target.pk}/zip/").status_code == 404  # nothing built yet
    outside = settings.SKILLPORT_DATA_DIR / "published" / "secret-0123456789abcdef.zip"
    outside.parent.mkdir(parents=True)
    outside.write_bytes(b"not for download")
    for artifact in ["../secret-0123456789abcdef.zip", "/etc/passwd", "org-market-0123456789abcdef.zip"]:
        PublishRun.objects.create(target=target, trigger=Trigger.MANUAL, status=Status.PUBLISHED, artifact=artifact)
        assert admin_client.get(f"{ADMIN}{target.pk}/zip/").status_code == 404, artifact
    built = runs.zip_path(target, "0123456789abcdef" * 4)
    built.parent.mkdir(parents=True, exist_ok=True)
    built.write_bytes(b"PK zip")
    response = admin_client.get(f"{ADMIN}{target.pk}/zip/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"PK zip"
    assert f'filename="{built.name}"' in response["Content-Disposition"]
    other = make_target(two_markets, name="repo", kind=Kind.GIT, repository_url="https://github.com/a/b")
    assert admin_client.get(f"{ADMIN}{other.pk}/zip/").status_code == 404


def test_the_managed_settings_page_shows_the_fragment_with_a_copy_button(admin_client, two_markets):
    acme, labs = two_markets
    Plugin.objects.filter(name="ops-kit").update(policy=Policy.REQUIRED)
    Plugin.objects.filter(name="data-kit").update(policy=Policy.PROHIBITED)
    # ops-kit holds a core-team skill: only the core team's catalogues list it, so only their fragment forces it on.
    target = make_target([acme], name="devices", kind=Kind.MANAGED_SETTINGS, audience=["github:@acme/core"])
    page = admin_client.get(f"{ADMIN}{target.pk}/managed-settings/").content.decode()
    assert "&quot;ops-kit@acme-skills&quot;: true" in page and "&quot;data-kit@labs&quot;: false" in page
    assert '<pre id="managed-settings">' in page and "data-copy=" in page and "skillport.js" in page
    assert "headersHelper" in page and "/api/v1/publish-targets/devices/managed-settings/" in page
    assert admin_client.get(f"{ADMIN}{make_target([acme]).pk}/managed-settings/").status_code == 404


def test_runs_are_listed_newest_first_with_their_changes_approvals_and_problems(admin_client, two_markets):
    target = make_target(two_markets, name="repo", kind=Kind.GIT, repository_url="https://github.com/acme/pub.git",
                         published_commit="a" * 40)
    older = PublishRun.objects.create(target=target, trigger=Trigger.SCHEDULE, status=Status.FAILED, error="Lost.")
    run = PublishRun.objects.create(
        target=target, trigger=Trigger.MANUAL, status=Status.PUBLISHED, commit="a" * 40, plugins=2, skills=3,
        changes={"added": [{"plugin": "ops-kit", "version": "1.2.0+skillport.abc"}], "updated": [], "removed": []},
        approvals=[{"skill": "acme/ops-kit/postmortem", "content_hash": "f" * 64, "approved_by": "root",
                    "approved_at": "2026-12-01T10:00:00+00:00"}],
        problems=[{"severity": "warning", "code": "files-left-out", "message": "Not copied: x", "location": "acme"}])
    commit = f"https://github.com/acme/pub/commit/{'a' * 40}"
    with CaptureQueriesContext(connection) as queries:
        listing = admin_client.get("/admin/publishing/publishrun/").content.decode()
    assert listing.index(f"publishrun/{run.pk}/change/") < listing.index(f"publishrun/{older.pk}/change/")
    assert commit in listing
    # Not the approvals behind every skill a run published, nor what its target last published of each.
    runs_read = [query["sql"] for query in queries if 'FROM "publishing_publishrun"' in query["sql"]]
    assert runs_read and not [sql for sql in runs_read if '"approvals"' in sql or '"published"' in sql]
    detail = admin_client.get(f"/admin/publishing/publishrun/{run.pk}/change/").content.decode()
    for text in ["ops-kit", "1.2.0+skillport.abc", "acme/ops-kit/postmortem", "root", "files-left-out", commit]:
        assert text in detail, text
    target_page = admin_client.get(f"{ADMIN}{target.pk}/change/").content.decode()
    assert f"/admin/publishing/publishrun/{run.pk}/change/" in target_page and commit in target_page


def test_only_staff_with_the_permissions_see_any_of_it(client, people, two_markets):
    target = make_target(two_markets)
    devices = make_target(two_markets, name="devices", kind=Kind.MANAGED_SETTINGS)
    pages = [ADMIN, f"{ADMIN}{target.pk}/change/", f"{ADMIN}{target.pk}/zip/",
             f"{ADMIN}{devices.pk}/managed-settings/", "/admin/publishing/publishrun/"]
    client.force_login(people["member"])
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], page
    assert client.post(f"{ADMIN}{target.pk}/publish/").status_code == 302

    staff = User.objects.create_user("staff", is_staff=True)
    client.force_login(staff)
    for page in pages:
        assert client.get(page).status_code == 403, page
    assert client.post(f"{ADMIN}{target.pk}/publish/").status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_publishtarget"))
    staff = User.objects.get(pk=staff.pk)  # permissions are cached on the user
    client.force_login(staff)
    assert client.get(f"{ADMIN}{devices.pk}/managed-settings/").status_code == 200
    assert client.post(f"{ADMIN}{target.pk}/publish/").status_code == 403  # viewing is not publishing
    assert not PublishRun.objects.exists()
