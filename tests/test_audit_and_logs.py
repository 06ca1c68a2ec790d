"""The audit table refuses TRUNCATE as it refuses UPDATE and DELETE, and install-link tokens stay out of
every log the production server writes."""
import re
import secrets
from datetime import timedelta

import httpx2 as httpx
import psycopg
import pytest
from django.utils import timezone

from audit import record
from audit.models import Action, AuditEvent, Surface
from audit.retention import purge_expired
from connector.models import InstallLink
from connector.tokens import mint
from marketplace.models import Curation, Skill

from .builders import subprocess_database_url
from .servers import ProcfileWeb

pytestmark = pytest.mark.django_db(transaction=True)  # what another client or the server reads is committed


def truncate(sql, purge_before=None):
    """Run `sql` from another client, as an operator's psql would; the error PostgreSQL gave, if any."""
    with psycopg.connect(subprocess_database_url()) as other:
        if purge_before is not None:
            other.execute("SELECT set_config('skillport.audit_purge_before', %s, true)", [purge_before.isoformat()])
        try:
            other.execute(sql)
        except psycopg.Error as error:
            return error
    return None


def test_postgresql_refuses_to_truncate_audit_events_and_the_purge_still_works(people, settings):
    record(Action.SIGN_IN, actor=people["member"])
    for sql in ["TRUNCATE audit_auditevent", "TRUNCATE audit_auditevent RESTART IDENTITY CASCADE",
                "TRUNCATE django_session, audit_auditevent"]:
        error = truncate(sql)
        assert isinstance(error, psycopg.errors.InsufficientPrivilege), sql
        assert "audit events are append-only: TRUNCATE refused" in str(error)
    # Not even under the retention purge's setting, while an event is as recent as its cutoff.
    assert truncate("TRUNCATE audit_auditevent", purge_before=timezone.now() - timedelta(days=400)) is not None
    assert AuditEvent.objects.count() == 1

    settings.SKILLPORT_AUDIT_RETENTION_DAYS = 0  # everything recorded so far is past it
    assert purge_expired(Surface.CLI) == 1
    assert list(AuditEvent.objects.values_list("action", flat=True)) == [Action.AUDIT_PURGED]


@pytest.fixture
def web(tmp_path):
    server = ProcfileWeb(tmp_path, LOG_LEVEL="INFO").start()
    yield server
    server.stop()


def test_install_link_tokens_stay_out_of_every_log(web, two_markets, people):
    """Through the Procfile's own command: gunicorn's access log (uvicorn's worker writes it), Django's
    request log and the connector's, for a link redeemed, spent, expired, withdrawn and unknown."""
    member = people["member"]
    token = mint(member)
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "install_skill", "arguments": {"name": "acme/ops-kit/postmortem"}}}
    answer = httpx.post(f"{web.url}/mcp", json=call, timeout=10, headers={
        "authorization": f"Bearer {token}", "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2025-11-25"})
    issued = answer.json()["result"]["structuredContent"]["download_url"].rsplit("/", 2)[-2]
    skill = Skill.objects.get(marketplace__slug="acme", slug="postmortem")
    _expired, expired = InstallLink.issue(member, skill)
    InstallLink.objects.filter(pk=_expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _withdrawn, withdrawn = InstallLink.issue(member, Skill.objects.get(marketplace__slug="labs"))
    Skill.objects.filter(marketplace__slug="labs").update(curation=Curation.HIDDEN)
    unknown = secrets.token_urlsafe(32)

    def download(link):
        return httpx.get(f"{web.url}/install/{link}/", timeout=10).status_code

    assert [download(issued), download(issued), download(expired), download(withdrawn), download(unknown)] == [
        200, 410, 410, 404, 410]
    web.stop()  # everything it had to say is written

    log = web.output()
    for link in (issued, expired, withdrawn, unknown):
        assert link not in log
    assert token not in log
    # The requests are still there to read, their tokens blanked.
    access = re.findall(r'"GET /install/\[redacted\]/ HTTP/1.1" (\d+)', log)
    assert sorted(access) == ["200", "404", "410", "410", "410"]
    assert log.count("django.request Gone: /install/[redacted]/") == 3
    assert "django.request Not Found: /install/[redacted]/" in log
    assert re.search(r"skillport.connector mcp POST /mcp 200 client_id=\S+ user=\d+", log)
