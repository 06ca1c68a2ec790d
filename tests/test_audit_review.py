"""The audit review UI: who may see it, every filter, the chart, permalinks and exports."""
import csv
import io
import json

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from audit import record
from audit.models import Action, AuditEvent, Outcome, Surface

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(client):
    user = User.objects.create_user("alice-auditor")
    user.groups.add(Group.objects.get(name="Auditors"))
    client.force_login(user)
    return user


@pytest.mark.django_db(transaction=True)
def test_the_auditors_group_outlives_a_flush():
    """Made after every migrate and flush, not by its migration alone: `manage.py flush` (and every
    transactional test's end) empties auth_group."""
    Group.objects.filter(name="Auditors").delete()
    call_command("flush", "--noinput", verbosity=0)
    assert Group.objects.get(name="Auditors").permissions.filter(codename="review_auditevent").exists()


@pytest.fixture
def events():
    bob = User.objects.create_user("bob")
    return {
        "download": record(Action.PACKAGE_DOWNLOADED, actor=bob, surface=Surface.CLAUDE_AI,
                           marketplace="acme", plugin="tools", skill="alpha", version="1.0", client=("Claude", "1.2")),
        "desktop": record(Action.PACKAGE_DOWNLOADED, actor=bob, surface=Surface.CLAUDE_DESKTOP,
                          marketplace="acme", plugin="tools", skill="beta"),
        "denied": record(Action.ACCESS_DENIED, actor=bob, surface=Surface.API, outcome=Outcome.DENIED,
                         marketplace="acme", plugin="secret", skill="gamma", extra={"reason": "team-only"}),
        "sync": record(Action.SYNC_FAILED, surface=Surface.CLI, outcome=Outcome.ERROR, marketplace="other",
                       extra={"error": "fetch failed"}),
    }


def listed(response):
    return {event.pk for event in response.context["page"]}


def test_personas(client, events):
    response = client.get("/audit/")
    assert response.status_code == 302 and "login" in response["Location"]  # anonymous: sign in first
    member = User.objects.create_user("member")
    client.force_login(member)
    assert client.get("/audit/").status_code == 403
    assert client.get(f"/audit/events/{events['sync'].pk}/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    denied = AuditEvent.objects.filter(action=Action.ACCESS_DENIED, actor_login="member")
    assert denied.count() == 3  # each refusal is itself on the record
    member.groups.add(Group.objects.get(name="Auditors"))
    assert client.get("/audit/").status_code == 200


@pytest.mark.parametrize("query, expected", [
    ("actor=BOB", {"download", "desktop", "denied"}),
    ("action=package_downloaded", {"download", "desktop"}),
    ("marketplace=other", {"sync"}),
    ("plugin=secret", {"denied"}),
    ("skill=beta", {"desktop"}),
    ("surface=claude_ai", {"download"}),
    ("outcome=error", {"sync"}),
    ("q=team-only", {"denied"}),
    ("q=fetch", {"sync"}),
    ("action=package_downloaded&surface=claude_desktop", {"desktop"}),
])
def test_each_filter(client, auditor, events, query, expected):
    response = client.get(f"/audit/?{query}")
    assert response.status_code == 200
    assert listed(response) == {events[name].pk for name in expected}


def test_time_range_filter(client, auditor, events):
    today = events["sync"].created_at.date()
    # The four events, plus the auditor's own sign-in.
    assert len(listed(client.get(f"/audit/?since={today}&until={today}"))) == AuditEvent.objects.count() == 5
    assert listed(client.get(f"/audit/?until={today.replace(year=today.year - 1)}")) == set()
    response = client.get("/audit/?since=not-a-date")
    assert response.status_code == 400 and "Enter a valid date" in response.content.decode()


def test_sorting_and_pagination(client, auditor, events):
    for i in range(60):
        record(Action.SKILL_FILE_READ, marketplace=f"m{i:02}")
    first = client.get("/audit/?action=skill_file_read")
    assert len(first.context["page"]) == 50 and first.context["page"].paginator.num_pages == 2
    newest = [e.marketplace for e in first.context["page"]]
    assert newest[0] == "m59"
    second = client.get("/audit/?action=skill_file_read&page=2")
    assert [e.marketplace for e in second.context["page"]][-1] == "m00"
    by_action = client.get("/audit/?sort=action")
    actions = [e.action for e in by_action.context["page"]]
    assert actions == sorted(actions)


def test_permalink_and_detail(client, auditor, events):
    page = client.get(f"/audit/events/{events['denied'].pk}/").content.decode()
    assert "team-only" in page and "gamma" in page and "Access denied" in page
    assert client.get("/audit/events/999999/").status_code == 404


def test_skill_and_user_history_pages(client, auditor, events):
    assert listed(client.get("/audit/skills/acme/tools/alpha/")) == {events["download"].pk}
    assert listed(client.get("/audit/users/bob/")) == {events[n].pk for n in ("download", "desktop", "denied")}


def test_installs_chart_counts_per_day_and_surface(client, auditor, events):
    chart = client.get("/audit/").context["chart"]
    assert chart["total"] == 2 and chart["peak"] == 2
    assert {bar["title"].split(" via ")[1] for bar in chart["bars"]} == {"Claude.ai", "Claude Desktop"}
    assert {item["label"] for item in chart["legend"]} == {"Claude.ai", "Claude Desktop"}
    assert "<svg" in client.get("/audit/").content.decode()


def test_csv_export_is_filtered_streamed_and_audited(client, auditor, events):
    response = client.get("/audit/export.csv?surface=claude_ai")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["action"], r["skill"], r["client_name"]) for r in rows] == [("package_downloaded", "alpha", "Claude")]
    export = AuditEvent.objects.get(action=Action.AUDIT_EXPORTED)
    assert export.actor_login == "alice-auditor"
    assert export.extra == {"format": "csv", "filters": {"surface": "claude_ai"}}


def test_jsonl_export(client, auditor, events):
    response = client.get("/audit/export.jsonl?marketplace=acme")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert {json.loads(line)["skill"] for line in lines} == {"alpha", "beta", "gamma"}
    assert client.get("/audit/export.xml").status_code == 404


def test_admin_shows_events_read_only(client, events):
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw"))
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get(f"/admin/audit/auditevent/{events['sync'].pk}/change/").status_code == 200
    assert client.get(f"/admin/audit/auditevent/{events['sync'].pk}/delete/").status_code == 403
    assert client.get("/admin/audit/auditevent/add/").status_code == 403


def test_sign_in_failure_and_sign_out_are_recorded(client):
    User.objects.create_user("carol", password="right-password")
    client.post("/admin/login/", {"username": "carol", "password": "wrong"})
    failed = AuditEvent.objects.get(action=Action.SIGN_IN_FAILED)
    assert failed.extra == {"username": "carol"} and failed.outcome == Outcome.DENIED
    assert "wrong" not in json.dumps(failed.extra)
    client.login(username="carol", password="right-password")
    client.post("/logout/")
    assert AuditEvent.objects.filter(action=Action.SIGN_OUT, actor_login="carol").exists()
    assert AuditEvent.objects.filter(action=Action.SIGN_IN, actor_login="carol").exists()


def test_the_header_links_the_audit_log_for_auditors_only(client, django_assert_num_queries):
    from django.core.cache import cache

    cache.clear()
    member = User.objects.create_user("bob")
    client.force_login(member)
    assert 'href="/audit/"' not in client.get("/").content.decode()
    member.groups.add(Group.objects.get(name="Auditors"))
    cache.clear()  # the link may lag a grant by a minute; the review page itself never does
    assert 'href="/audit/"' in client.get("/").content.decode()
    response = client.get("/")
    with django_assert_num_queries(0):  # asked once per user, then cached
        assert response.context["may_review_audit"]() is True
