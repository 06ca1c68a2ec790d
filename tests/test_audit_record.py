"""The audit log's writer and its guarantees: append-only rows, name snapshots, retention, export."""
import ast
import csv
import json
import re
import threading
import tracemalloc
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.test import RequestFactory
from django.utils import timezone

import audit
from audit.export import csv_lines, jsonl_lines
from audit.models import Action, AuditEvent, Outcome, Surface
from audit.retention import purge_expired
from audit.tasks import purge_audit_events
from marketplace.models import Plugin, Skill
from marketplace.sync import sync_marketplace

CSV_HEADER = [
    "id", "created_at", "action", "outcome", "actor_login", "actor_github_id", "marketplace", "plugin", "skill",
    "version", "commit", "surface", "client_name", "client_version", "ip", "user_agent", "request_id", "extra",
]
# Streaming 100,000 rows must stay under this much traced Python memory; the whole output is
# asserted to be many times larger, so building it in memory could not meet the bound.
EXPORT_PEAK_BOUND = 20 * 1024 * 1024
EXPORT_ROWS = 100_000


@pytest.fixture
def alice(db):
    """A signed-in person whose events are recorded."""
    return User.objects.create_user("alice", password="x")


def insert_events(count, *, days_ago=0, user_agent="claude-code/2.1.3 (cli)", actor_login="bob"):
    """Insert `count` events `days_ago` old with raw SQL: the only way to backdate them (INSERT is allowed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO audit_auditevent (
                created_at, action, actor_login, marketplace, plugin, skill, version, "commit", surface,
                client_name, client_version, ip, user_agent, request_id, outcome, extra)
            SELECT now() - make_interval(days => %s), 'package_downloaded', %s, 'market', 'tools', 'alpha',
                   '1.0.0', repeat('a', 40), 'web', 'claude-code', '2.1.3', ('203.0.113.' || (n %% 250))::inet,
                   %s, 'req-' || n, 'ok', jsonb_build_object('n', n)
            FROM generate_series(1, %s) AS n
            """,
            [days_ago, actor_login, user_agent, count],
        )


def row(event_id) -> dict:
    return AuditEvent.objects.filter(pk=event_id).values().get()


def refused(sql, params=()):
    """Run SQL in a savepoint and return the error the append-only trigger raised."""
    with pytest.raises(ProgrammingError, match="append-only") as excinfo:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    return excinfo.value


# Append-only ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_raw_sql_cannot_update_or_delete_an_event(alice):
    event = audit.record(Action.SIGN_IN, actor=alice)
    before = row(event.pk)

    refused("UPDATE audit_auditevent SET action = 'sign_out' WHERE id = %s", [event.pk])
    refused("UPDATE audit_auditevent SET actor_login = 'mallory' WHERE id = %s", [event.pk])
    refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    refused("DELETE FROM audit_auditevent")

    assert row(event.pk) == before


@pytest.mark.django_db
def test_orm_cannot_update_or_delete_an_event(alice):
    event = audit.record(Action.SIGN_IN, actor=alice)
    before = row(event.pk)

    for attempt in (
        lambda: AuditEvent.objects.filter(pk=event.pk).update(action=Action.SIGN_OUT),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
        lambda: AuditEvent.objects.all().delete(),
        event.delete,
    ):
        with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
            attempt()

    event = AuditEvent.objects.get(pk=event.pk)
    event.outcome = Outcome.DENIED
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        event.save()

    assert row(event.pk) == before


@pytest.mark.django_db
def test_deleting_a_user_nulls_the_actor_but_keeps_the_login(alice):
    signed_in = audit.record(Action.SIGN_IN, actor=alice)
    signed_out = audit.record(Action.SIGN_OUT, actor=alice)
    before = row(signed_in.pk)
    assert before["actor_id"] == alice.pk and before["actor_login"] == "alice"

    alice.delete()

    after = row(signed_in.pk)
    assert after["actor_id"] is None
    assert after == {**before, "actor_id": None}
    assert row(signed_out.pk)["actor_login"] == "alice"


@pytest.mark.django_db
def test_the_actor_exception_allows_nulling_the_actor_only(alice):
    """Nulling actor_id together with anything else, or pointing it at someone else, is still refused."""
    event = audit.record(Action.SIGN_IN, actor=alice)
    mallory = User.objects.create_user("mallory")

    refused("UPDATE audit_auditevent SET actor_id = NULL, actor_login = '' WHERE id = %s", [event.pk])
    refused("UPDATE audit_auditevent SET actor_id = %s WHERE id = %s", [mallory.pk, event.pk])
    assert row(event.pk)["actor_id"] == alice.pk


# Concurrency ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_records_all_land_with_distinct_ids():
    writers = 200
    # All 200 threads are released together; at most 20 hold a connection at once, because the
    # server allows 100 connections and other test runs share it.
    barrier = threading.Barrier(writers)
    connections_allowed = threading.BoundedSemaphore(20)
    ids, errors = [], []

    def write(i):
        try:
            barrier.wait(timeout=60)
            with connections_allowed:
                try:
                    ids.append(audit.record(Action.SKILL_FILE_READ, surface=Surface.API, extra={"i": i}).pk)
                finally:
                    connection.close()
        except Exception as exc:  # reported below: an exception in a thread would otherwise vanish
            errors.append(repr(exc))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(ids) == writers and len(set(ids)) == writers
    assert AuditEvent.objects.count() == writers
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == set(ids)
    assert sorted(e["i"] for e in AuditEvent.objects.values_list("extra", flat=True)) == list(range(writers))


# What a record says ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_record_copies_the_target_names_so_they_outlive_it(simple_repo, make_marketplace):
    marketplace = make_marketplace(simple_repo, slug="team-tools")
    run = sync_marketplace(marketplace.pk)
    assert run.status == "ok"
    skill = Skill.objects.get(marketplace=marketplace, slug="alpha")
    on_skill = audit.record(Action.PACKAGE_DOWNLOADED, target=skill)
    on_plugin = audit.record(Action.CURATION_CHANGED, target=Plugin.objects.get(marketplace=marketplace, name="tools"))
    marketplace.refresh_from_db()
    on_marketplace = audit.record(Action.MARKETPLACE_REMOVED, target=marketplace)

    marketplace.delete()
    assert not Skill.objects.filter(slug="alpha").exists()

    event = AuditEvent.objects.get(pk=on_skill.pk)
    assert (event.marketplace, event.plugin, event.skill, event.version, event.commit) == (
        "team-tools", "tools", "alpha", "1.0.0", simple_repo.head)
    assert event.target == "team-tools/tools/alpha"
    event = AuditEvent.objects.get(pk=on_plugin.pk)
    assert (event.target, event.version, event.commit) == ("team-tools/tools", "1.0.0", simple_repo.head)
    event = AuditEvent.objects.get(pk=on_marketplace.pk)
    assert (event.target, event.commit) == ("team-tools", simple_repo.head)


def test_record_many_writes_each_event_as_record_would(simple_repo, make_marketplace, alice):
    """Several events of one request at once: each its own target and extra, all the request's details."""
    marketplace = make_marketplace(simple_repo, slug="team-tools")
    assert sync_marketplace(marketplace.pk).status == "ok"
    skill = Skill.objects.get(marketplace=marketplace, slug="alpha")
    request = RequestFactory().post("/admin/", REMOTE_ADDR="198.51.100.7",
                                    headers={"User-Agent": "curl/8.5.0", "X-Request-ID": "req-7"})
    request.user = alice
    one = audit.record(Action.SKILL_APPROVED, request=request, target=skill, extra={"n": 0})

    audit.record_many([(Action.SKILL_APPROVED, skill, {"n": 1}), (Action.MARKETPLACE_REMOVED, marketplace, None),
                       (Action.PLUGIN_CONTENT_APPROVED, {"marketplace": "team-tools", "plugin": "gone"}, None)],
                      request=request, surface=Surface.SKILLPORT)

    first, second, third = AuditEvent.objects.filter(pk__gt=one.pk).order_by("pk")
    compared = ["actor", "actor_login", "actor_github_id", "client_name", "client_version", "ip", "user_agent",
                "request_id", "outcome", "marketplace", "plugin", "skill", "version", "commit"]
    assert [getattr(first, name) for name in compared] == [getattr(one, name) for name in compared]
    assert (first.action, first.extra, first.surface, one.surface) == ("skill_approved", {"n": 1}, "skillport", "web")
    assert (second.action, second.target, second.extra, second.request_id) == (
        "marketplace_removed", "team-tools", {}, "req-7")
    # A target as `record`'s snapshot fields: what it names, and nothing read from a row.
    assert (third.target, third.version, third.commit, third.actor) == ("team-tools/gone", "", "", alice)


@pytest.mark.django_db
@pytest.mark.parametrize(("user_agent", "name", "version"), [
    ("claude-code/2.1.3 (cli)", "claude-code", "2.1.3"),
    ("Claude-User", "Claude-User", ""),
    ("python-httpx/0.28.1", "python-httpx", "0.28.1"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "Mozilla", "5.0"),  # no browser named
    # A browser is named by its own token, not by those it names for compatibility.
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
     "Chrome", "142.0.0.0"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 "
     "Safari/537.36 Edg/142.0.3595.53", "Edge", "142.0.3595.53"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox", "140.0"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 "
     "Safari/605.1.15", "Safari", "18.2"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 "
     "Safari/537.36", "Headless Chrome", "156.0.0.0"),
    ("", "", ""),
    ("(no product)", "", ""),
    ("curl/8.5.0;foo", "curl", "8.5.0"),
    ("Claude Desktop/0.9.2", "Claude", ""),  # product tokens have no spaces
])
def test_client_is_read_from_the_user_agent(user_agent, name, version):
    request = RequestFactory().get("/", headers={"User-Agent": user_agent} if user_agent else {})

    event = AuditEvent.objects.get(pk=audit.record(Action.SKILL_FILE_READ, request=request).pk)

    assert (event.client_name, event.client_version) == (name, version)
    assert event.user_agent == user_agent


@pytest.mark.django_db
def test_an_explicit_client_wins_over_the_user_agent():
    request = RequestFactory().post("/mcp", headers={"User-Agent": "node"})
    event = audit.record(Action.SKILL_FILE_READ, request=request, client=("claude-ai", "0.1.0"),
                         surface=Surface.CLAUDE_AI)
    assert (event.client_name, event.client_version, event.surface) == ("claude-ai", "0.1.0", "claude_ai")
    assert event.user_agent == "node"


@pytest.mark.django_db
def test_request_details_are_recorded(alice):
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="198.51.100.23", headers={"X-Request-ID": "req-42.a_B"})
    request.user = alice

    event = AuditEvent.objects.get(pk=audit.record(Action.PACKAGE_DOWNLOADED, request=request).pk)
    again = audit.record(Action.SKILL_FILE_READ, request=request)

    assert event.request_id == "req-42.a_B" and again.request_id == "req-42.a_B"
    assert event.ip == "198.51.100.23"
    assert event.surface == Surface.WEB
    assert (event.actor_id, event.actor_login) == (alice.pk, "alice")


@pytest.mark.django_db
@pytest.mark.parametrize("supplied", ["has space", "semi;colon", "x" * 65, "<script>", ""])
def test_an_invalid_request_id_is_replaced(supplied):
    request = RequestFactory().get("/", headers={"X-Request-ID": supplied})
    request.user = AnonymousUser()

    event = audit.record(Action.ACCESS_DENIED, request=request, outcome=Outcome.DENIED)

    assert re.fullmatch(r"[0-9a-f]{32}", event.request_id)
    assert event.actor is None and event.actor_login == ""
    # One request, one id: a second event from the same request shares it.
    assert audit.record(Action.ACCESS_DENIED, request=request).request_id == event.request_id


@pytest.mark.django_db
def test_without_a_request_there_is_no_client_ip_or_request_id():
    event = AuditEvent.objects.get(pk=audit.record(Action.SYNC_SUCCEEDED, marketplace="m", commit="c" * 40).pk)
    assert event.surface == Surface.UNKNOWN
    assert (event.ip, event.request_id, event.user_agent, event.client_name) == (None, "", "", "")
    assert (event.actor_id, event.actor_login, event.outcome) == (None, "", Outcome.OK)
    assert (event.marketplace, event.commit, event.extra) == ("m", "c" * 40, {})


# Retention --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_purge_removes_only_events_past_retention_and_records_itself(settings):
    settings.SKILLPORT_AUDIT_RETENTION_DAYS = 30
    insert_events(3, days_ago=40)
    insert_events(2, days_ago=31)
    insert_events(4, days_ago=29)
    recent = audit.record(Action.SIGN_IN)

    from audit.retention import purge_expired

    assert purge_expired(Surface.CLI) == 5

    cutoff = timezone.now() - timedelta(days=30)
    assert not AuditEvent.objects.filter(created_at__lt=cutoff).exists()
    assert AuditEvent.objects.exclude(action=Action.AUDIT_PURGED).count() == 5
    assert AuditEvent.objects.filter(pk=recent.pk).exists()
    purge = AuditEvent.objects.get(action=Action.AUDIT_PURGED)
    assert purge.extra["deleted"] == 5 and purge.extra["retention_days"] == 30
    assert abs(datetime.fromisoformat(purge.extra["before"]) - cutoff) < timedelta(minutes=1)
    assert purge.surface == Surface.CLI


@pytest.mark.django_db
def test_the_purge_setting_cannot_delete_recent_events():
    old = timezone.now() - timedelta(days=400)
    recent = audit.record(Action.SIGN_IN)
    insert_events(1, days_ago=500)

    with pytest.raises(ProgrammingError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('skillport.audit_purge_before', %s, true)", [old.isoformat()])
            cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [recent.pk])
    assert AuditEvent.objects.filter(pk=recent.pk).exists()

    # The same setting does let the row older than it go: the refusal above was about age.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('skillport.audit_purge_before', %s, true)", [old.isoformat()])
        cursor.execute("DELETE FROM audit_auditevent WHERE created_at < %s", [old])
        assert cursor.rowcount == 1
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_purge_leaves_no_permission_behind_in_an_enclosing_transaction(settings):
    settings.SKILLPORT_AUDIT_RETENTION_DAYS = 30
    with transaction.atomic():
        purge_expired(Surface.CLI)
        insert_events(1, days_ago=60)  # old enough for the cutoff the purge used
        with pytest.raises(ProgrammingError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("DELETE FROM audit_auditevent WHERE created_at < now() - interval '45 days'")
    assert AuditEvent.objects.filter(action=Action.AUDIT_PURGED).count() == 1


@pytest.mark.django_db
def test_purge_command_prints_the_count(settings):
    settings.SKILLPORT_AUDIT_RETENTION_DAYS = 30
    insert_events(2, days_ago=45)
    out = StringIO()

    call_command("purge_audit_events", stdout=out)

    assert out.getvalue().strip() == "Deleted 2 audit events older than 30 days."
    purge = AuditEvent.objects.get(action=Action.AUDIT_PURGED)
    assert purge.extra["deleted"] == 2 and purge.surface == Surface.CLI
    out = StringIO()
    call_command("purge_audit_events", stdout=out)
    assert out.getvalue().startswith("Deleted 0 audit events")


@pytest.mark.django_db
def test_purge_task_returns_the_count(settings):
    settings.SKILLPORT_AUDIT_RETENTION_DAYS = 30
    insert_events(3, days_ago=60)

    assert purge_audit_events.run() == 3
    insert_events(1, days_ago=60)
    assert purge_audit_events() == 1
    purges = AuditEvent.objects.filter(action=Action.AUDIT_PURGED)
    assert sorted(purges.values_list("extra__deleted", flat=True)) == [1, 3]
    assert set(purges.values_list("surface", flat=True)) == {Surface.SCHEDULE}  # beat runs the task


# Export -----------------------------------------------------------------------------------------


def consume(lines) -> tuple[int, int, int]:
    """(lines, characters, tracemalloc peak bytes) of fully consuming an export generator."""
    count = size = 0
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        for line in lines:
            count += 1
            size += len(line)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return count, size, peak


@pytest.mark.django_db
def test_exporting_100k_events_streams_in_bounded_memory():
    # About 1 KB of User-Agent per row makes the whole output >100 MB, so it cannot be held at once.
    insert_events(EXPORT_ROWS, user_agent="Mozilla/5.0 (X11; Linux x86_64) " * 32)

    lines, size, peak = consume(csv_lines(AuditEvent.objects.all()))
    assert lines == EXPORT_ROWS + 1
    assert size > 5 * EXPORT_PEAK_BOUND
    assert peak < EXPORT_PEAK_BOUND, f"CSV export peaked at {peak / 2**20:.1f} MB"

    lines, size, peak = consume(jsonl_lines(AuditEvent.objects.all()))
    assert lines == EXPORT_ROWS
    assert size > 5 * EXPORT_PEAK_BOUND
    assert peak < EXPORT_PEAK_BOUND, f"JSON Lines export peaked at {peak / 2**20:.1f} MB"


@pytest.mark.django_db
def test_csv_export_has_the_header_every_row_and_defuses_formulas(alice):
    insert_events(3, days_ago=2)
    audit.record(Action.CURATION_CHANGED, actor=alice, marketplace="=HYPERLINK(\"http://evil\")", plugin="+1+1",
                 skill="-2", version="@SUM(A1)", extra={"note": "=1+1"})

    rows = list(csv.reader(csv_lines(AuditEvent.objects.all())))

    assert rows[0] == CSV_HEADER
    assert len(rows) == 5
    newest = dict(zip(CSV_HEADER, rows[1]))  # newest first
    assert newest["marketplace"] == "'=HYPERLINK(\"http://evil\")"
    assert (newest["plugin"], newest["skill"], newest["version"]) == ("'+1+1", "'-2", "'@SUM(A1)")
    assert newest["actor_login"] == "alice" and json.loads(newest["extra"]) == {"note": "=1+1"}
    assert newest["ip"] == "" and newest["actor_github_id"] == ""
    assert [r[CSV_HEADER.index("client_name")] for r in rows[2:]] == ["claude-code"] * 3


@pytest.mark.django_db
def test_jsonl_export_lines_each_parse():
    insert_events(5, days_ago=1)
    audit.record(Action.SIGN_IN_FAILED, outcome=Outcome.DENIED, extra={"username": "eve\n\"quoted\""})

    events = [json.loads(line) for line in jsonl_lines(AuditEvent.objects.all())]

    assert len(events) == 6
    assert all(list(e) == CSV_HEADER for e in events)
    assert events[0]["action"] == "sign_in_failed" and events[0]["extra"] == {"username": "eve\n\"quoted\""}
    assert {e["ip"] for e in events[1:]} == {f"203.0.113.{n}" for n in range(1, 6)}
    assert all(datetime.fromisoformat(e["created_at"]).tzinfo is not None for e in events)
    assert [e["id"] for e in events[1:]] == sorted((e["id"] for e in events[1:]), reverse=True)


# One writer -------------------------------------------------------------------------------------

WRITES = [
    re.compile(r"AuditEvent\s*\.\s*(objects|_default_manager|_base_manager)\s*\.\s*"
               r"(create|bulk_create|get_or_create|update_or_create)\b"),
    re.compile(r"(?<!class )\bAuditEvent\s*\("),
    re.compile(r"bulk_create\s*\([^)]*[Aa]udit", re.DOTALL),
    re.compile(r"\b\w*event\w*\s*\.\s*save\s*\(", re.IGNORECASE),
    re.compile(r"insert\s+into\s+\"?audit_auditevent", re.IGNORECASE),
]


def test_record_is_the_only_writer_of_audit_events():
    root = Path(settings.BASE_DIR)
    # The module `audit.record` delegates to, read from the package so a rename keeps this test honest.
    writer = re.search(r"from \.(\w+) import record\b", (root / "audit" / "__init__.py").read_text()).group(1)
    expected = f"audit/{writer}.py"
    writers = {}
    for app in ("marketplace", "audit", "connector", "api", "skillport_site"):
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            hits = [pattern.search(text).group(0) for pattern in WRITES if pattern.search(text)]
            if hits:
                writers[path.relative_to(root).as_posix()] = hits

    assert set(writers) == {expected}, writers
    # ...and in it, only the two functions the package exports.
    source = (root / expected).read_text()
    writing = {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)
               and any(pattern.search(ast.get_source_segment(source, node)) for pattern in WRITES)}
    assert writing == {"record", "record_many"}
