"""Where each audited event came from, and who did it: an admin's Sync now names the admin, scheduled
and webhook syncs their own surfaces, the connector's installs the Claude surface that asked; the review
page's installs chart has axes with dates and a small empty state, and its actor and skill filters offer
the known values."""
import json
import re
import time

import pytest
from django.contrib.auth.models import Group, User
from django_celery_beat.models import PeriodicTask

from audit import record
from audit.models import Action, AuditEvent, Surface
from connector import tools
from marketplace import tasks
from marketplace.models import Status, SyncRun
from marketplace.schedule import task_name
from marketplace.sync import sync_marketplace

from .builders import wait_for_run

pytestmark = pytest.mark.django_db


def synced(action=Action.SYNC_SUCCEEDED, **fields):
    return AuditEvent.objects.get(action=action, **fields)


def finished(run_id, timeout=60):
    """The run, once the worker has finished it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = SyncRun.objects.get(pk=run_id)
        if run.status != Status.RUNNING:
            return run
        time.sleep(0.2)
    raise AssertionError(f"sync run {run_id} did not finish within {timeout}s")


@pytest.mark.django_db(transaction=True)
def test_an_admins_sync_now_is_recorded_as_theirs(client, people, simple_repo, make_marketplace, celery_worker_queue):
    m = make_marketplace(simple_repo)
    client.force_login(people["admin"])
    client.post("/admin/marketplace/marketplace/", {"action": "sync_now", "_selected_action": [m.pk]})
    run = wait_for_run(m, SyncRun.Trigger.MANUAL)
    event = synced(extra__run=run.pk)
    assert (event.actor_login, event.actor, event.surface) == ("root", people["admin"], Surface.WEB)

    # The change page's button alike (a sync that finds nothing new is not audited: change something).
    simple_repo.commit({"README.md": "changed\n"})
    response = client.post(f"/admin/marketplace/marketplace/{m.pk}/sync/")
    assert response.status_code == 202
    run = finished(response.json()["run"])
    event = synced(extra__run=run.pk)
    assert (event.actor_login, event.surface) == ("root", Surface.WEB)

    # The API's, from the API.
    simple_repo.commit({"README.md": "changed again\n"})
    response = client.post(f"/api/v1/marketplaces/{m.slug}/sync/")
    assert response.status_code == 202
    run = finished(SyncRun.objects.get(uid=response.json()["uid"]).pk)
    event = synced(extra__run=run.pk)
    assert (event.actor_login, event.surface) == ("root", Surface.API)


def test_a_scheduled_sync_has_the_schedule_surface_and_no_actor(simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    # What celery beat sends: the periodic task's own arguments.
    kwargs = json.loads(PeriodicTask.objects.get(name=task_name(m)).kwargs)
    tasks.sync_marketplace.apply(kwargs=kwargs).get()
    event = synced(marketplace=m.slug)
    assert (event.surface, event.actor_login, event.extra["trigger"]) == (Surface.SCHEDULE, "", "schedule")
    assert event.get_surface_display() == "Schedule"


def test_webhook_and_command_line_syncs_have_their_surfaces(simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    sync_marketplace(m.pk, SyncRun.Trigger.WEBHOOK)
    assert synced(marketplace=m.slug).surface == Surface.WEBHOOK
    simple_repo.commit({"README.md": "changed\n"})
    run = sync_marketplace(m.pk, SyncRun.Trigger.CLI)
    assert synced(extra__run=run.pk).surface == Surface.CLI


def test_a_failed_sync_names_the_admin_too(make_repo, make_marketplace, people):
    m = make_marketplace(make_repo({"README.md": "no catalogue\n"}))
    run = tasks.queue_sync(m, actor=people["admin"], surface=Surface.WEB)
    tasks.sync_marketplace.apply(args=[m.pk, run.trigger, run.pk, people["admin"].pk, Surface.WEB]).get()
    event = synced(Action.SYNC_FAILED, extra__run=run.pk)
    assert (event.actor_login, event.surface) == ("root", Surface.WEB)


CLAUDE = {Surface.CLAUDE_CODE, Surface.CLAUDE_AI, Surface.CLAUDE_DESKTOP}


def test_the_connectors_install_links_and_downloads_name_a_claude_surface(client, people, two_markets, settings):
    steps = tools.install_skill(tools.Caller(user=people["member"], client=("claude-ai", "1.0")),
                                "acme/ops-kit/postmortem")
    issued = AuditEvent.objects.filter(action=Action.INSTALL_LINK_ISSUED)
    assert issued.exists() and set(issued.values_list("surface", flat=True)) <= CLAUDE
    links = [url for field, url in steps.model_dump().items() if field.endswith("_url") and url]
    for link in links:
        assert client.get(link.removeprefix(settings.SKILLPORT_BASE_URL)).status_code == 200
    downloads = AuditEvent.objects.filter(action=Action.PACKAGE_DOWNLOADED)
    assert downloads.count() == len(links) and set(downloads.values_list("surface", flat=True)) <= CLAUDE


@pytest.mark.parametrize("client_name, surface", [
    ("claude-code", Surface.CLAUDE_CODE),
    ("claude-ai", Surface.CLAUDE_AI),
    ("Cursor", Surface.MCP),
])
def test_the_connectors_file_reads_name_the_client_surface(people, two_markets, client_name, surface):
    tools.read_skill_file(tools.Caller(user=people["member"], client=(client_name, "1.0")), "acme/ops-kit/postmortem",
                          "SKILL.md")
    read = AuditEvent.objects.get(action=Action.SKILL_FILE_READ)
    assert (read.surface, read.client_name, read.actor_login) == (surface, client_name, "orla")


@pytest.fixture
def auditor(client):
    user = User.objects.create_user("alice-auditor")
    user.groups.add(Group.objects.get(name="Auditors"))
    client.force_login(user)
    return user


def test_the_chart_has_a_small_empty_state(client, auditor):
    page = client.get("/audit/").content.decode()
    assert "No downloads in this period." in page
    assert 'class="chart"' not in page


def test_the_chart_has_dated_and_counted_axes(client, auditor):
    bob = User.objects.create_user("bob")
    for _ in range(7):
        record(Action.PACKAGE_DOWNLOADED, actor=bob, surface=Surface.CLAUDE_CODE, marketplace="acme", plugin="tools",
               skill="alpha")
    response = client.get("/audit/")
    chart = response.context["chart"]
    # Counts at round steps up to the peak or just above; a date on every week, the last day's among them.
    assert [tick["label"] for tick in chart["y_ticks"]] == ["0", "2", "4", "6", "8"]
    until = chart["until"]
    assert chart["x_ticks"][0]["label"] == f"{until.day} {until:%b}" and len(chart["x_ticks"]) == 5
    page = response.content.decode()
    assert 'class="chart"' in page and f">{until.day} {until:%b}</text>" in page and ">8</text>" in page
    assert "No downloads in this period." not in page


def test_the_actor_and_skill_filters_offer_known_values(client, people, two_markets):
    auditor = people["member"]  # orla, who may see acme's skills but not the core team's runbook
    auditor.groups.add(Group.objects.get(name="Auditors"))
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert re.search(r'<input type="text" name="actor"[^>]* list="known-actors"', page)
    assert re.search(r'<input type="text" name="skill"[^>]* list="known-skills"', page)
    actors = re.search(r'<datalist id="known-actors">(.*?)</datalist>', page, re.S).group(1)
    assert {"orla", "tam", "root"} <= set(re.findall(r'value="([^"]+)"', actors))
    skills = re.search(r'<datalist id="known-skills">(.*?)</datalist>', page, re.S).group(1)
    assert '<option value="postmortem">acme/ops-kit/postmortem</option>' in skills
    assert "core-runbook" not in skills  # only what the auditor may see in the catalogue
