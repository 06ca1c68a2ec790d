"""No request keeps PostgreSQL busy for long: searches past the limits are refused on every surface
before they reach it, and the web server's statements are cut off at the request timeout."""
import subprocess
import sys

import httpx2 as httpx
import psycopg
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connector.tokens import mint

from .builders import subprocess_database_url
from .mcp_client import call
from .servers import ROOT, ProcfileWeb

pytestmark = pytest.mark.django_db

# The query that once ran for 87 seconds, and kept running after its client had left.
NINE_THOUSAND_WORDS = " ".join(f"word{i}" for i in range(9000))
# Short enough in characters, with a word too many.
THIRTY_THREE_WORDS = " ".join(["csv"] * 33)
TIMEOUT_MS = 500


def refused_fast(request):
    """The answer to `request`, which must come before any search reaches PostgreSQL (for requests
    this process serves; the connector's answer is checked by its text)."""
    with CaptureQueriesContext(connection) as queries:
        response = request()
    searches = [query["sql"] for query in queries.captured_queries if "tsquery" in query["sql"]
                or "similarity" in query["sql"]]
    assert searches == [], "the refusal must come before any search work"
    return response


@pytest.mark.parametrize("query, reason", [(NINE_THOUSAND_WORDS, "characters"), (THIRTY_THREE_WORDS, "32 words")])
def test_the_search_page_and_its_live_results_refuse_a_search_past_the_limits(two_markets, people, client, query,
                                                                               reason):
    client.force_login(people["member"])
    page = refused_fast(lambda: client.get("/skills/", {"q": query}))
    assert page.status_code == 400
    assert reason in page.content.decode() and "Nothing searched" in page.content.decode()
    live = refused_fast(lambda: client.get("/skills/", {"q": query}, HTTP_X_PARTIAL="1"))
    assert live.status_code == 400 and reason in live.content.decode()
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/skills/", {"q": "csv " * 32}).status_code == 200  # at the limit is fine
    assert any("tsquery" in query["sql"] for query in queries.captured_queries)  # what refused_fast looks for


@pytest.mark.parametrize("path", ["/api/v1/skills/", "/api/v1/plugins/", "/api/v1/marketplaces/"])
def test_the_api_refuses_a_search_past_the_limits_in_its_error_shape(two_markets, people, client, path):
    client.force_login(people["member"])
    response = refused_fast(lambda: client.get(path, {"q": NINE_THOUSAND_WORDS}))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid q: A search may be 500 characters long at most")
    assert client.get(path, {"q": THIRTY_THREE_WORDS}).json()["errors"]["q"][0].startswith(
        "A search may have 32 words at most")


def test_the_audit_search_refuses_a_search_past_the_limits(people, client):
    people["member"].groups.add(Group.objects.get(name="Auditors"))
    client.force_login(people["member"])
    assert refused_fast(lambda: client.get("/audit/", {"q": NINE_THOUSAND_WORDS})).status_code == 400
    assert client.get("/api/v1/audit-events/", {"q": THIRTY_THREE_WORDS}).status_code == 400


@pytest.mark.django_db(transaction=True)  # the tools run on connections of their own
def test_the_connector_refuses_a_search_past_the_limits_as_a_tool_error(two_markets, people):
    result = refused_fast(lambda: call(people["member"], "search_skills", {"query": NINE_THOUSAND_WORDS}))
    assert result.is_error and "500 characters long at most" in result.content[0].text
    result = call(people["member"], "search_skills", {"query": THIRTY_THREE_WORDS})
    assert result.is_error and "32 words at most" in result.content[0].text
    assert not call(people["member"], "search_skills", {"query": "csv"}).is_error


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker, tmp_path_factory):
    """The production web command, with a short statement timeout."""
    with django_db_blocker.unblock():
        server = ProcfileWeb(tmp_path_factory.mktemp("web"),
                             SKILLPORT_REQUEST_STATEMENT_TIMEOUT_MS=str(TIMEOUT_MS)).start()
    yield server
    server.stop()


def locked_skills():
    """A transaction of another client holding the skill table: every statement reading it waits."""
    locker = psycopg.connect(subprocess_database_url())
    locker.execute("LOCK TABLE marketplace_skill IN ACCESS EXCLUSIVE MODE")
    return locker


def test_postgresql_never_compiles_a_statement_with_jit():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


@pytest.mark.django_db(transaction=True)  # what the server process reads must be committed
def test_a_web_api_or_connector_statement_past_the_timeout_is_cut_off_with_a_clear_answer(web, two_markets, people,
                                                                                           client):
    client.force_login(people["member"])
    session = {"sessionid": client.cookies["sessionid"].value}
    token = {"authorization": f"Bearer {mint(people['member'])}"}
    search = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
              "params": {"name": "search_skills", "arguments": {"query": "cleaner"}}}
    mcp = {**token, "accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}
    assert httpx.get(f"{web.url}/skills/", params={"q": "csv"}, cookies=session).status_code == 200

    locker = locked_skills()
    try:
        # Searches not made before: a cached answer would need no statement.
        page = httpx.get(f"{web.url}/skills/", params={"q": "cleaner"}, cookies=session, timeout=10)
        api = httpx.get(f"{web.url}/api/v1/skills/", params={"q": "cleaner"}, headers=token, timeout=10)
        tool = httpx.post(f"{web.url}/mcp", json=search, headers=mcp, timeout=10)
    finally:
        locker.close()

    # The 503 says PostgreSQL cancelled the statement: nothing else answers it while the lock is held.
    assert page.status_code == 503 and "took too long" in page.text and "Traceback" not in page.text
    assert api.status_code == 503 and api.json() == {"detail": page.text}
    result = tool.json()["result"]
    assert result["isError"] and result["content"][0]["text"].endswith(page.text)
    assert httpx.get(f"{web.url}/skills/", params={"q": "messy"}, cookies=session).status_code == 200

    # Celery workers and commands set Django up without asgi.py, with the same settings: no timeout.
    show = ("from django.db import connection; cursor = connection.cursor(); "
            "cursor.execute('SHOW statement_timeout'); print(cursor.fetchone()[0])")
    command = subprocess.run([sys.executable, "manage.py", "shell", "-c", show], cwd=ROOT, env=web.environment,
                             capture_output=True, text=True, timeout=60)
    assert command.stdout.split()[-1] == "0", command.stderr
