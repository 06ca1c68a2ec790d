"""Dropped database connections: after PostgreSQL's backends are terminated, every surface answers at once."""
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import psycopg
from django.conf import settings
from django.db import connection
from django.test import Client

from connector.tokens import mint
from marketplace.sync import sync_marketplace

from .builders import subprocess_database_url

OTHER_BACKENDS = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
SEARCH = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
          "params": {"name": "search_skills", "arguments": {"query": "alpha"}}}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream",
               "mcp-protocol-version": "2025-11-25"}


def terminate_other_backends():
    """What a restart, a failover or an administrator does to the server's connections."""
    with psycopg.connect(subprocess_database_url(), autocommit=True) as admin:
        killed = admin.execute(f"SELECT count(pg_terminate_backend(pid)) {OTHER_BACKENDS}").fetchone()[0]
        deadline = time.monotonic() + 10
        while admin.execute(f"SELECT count(*) {OTHER_BACKENDS}").fetchone()[0]:
            assert time.monotonic() < deadline, "the terminated backends did not exit"
            time.sleep(0.05)
    return killed


def test_every_surface_answers_at_once_after_the_servers_connections_are_terminated(
        skillport, people, make_marketplace, simple_repo):
    sync_marketplace(make_marketplace(simple_repo).pk)
    member = people["member"]
    browser = Client()
    browser.force_login(member)
    token = mint(member)
    http = httpx.Client(base_url=skillport.url, timeout=30)
    signed_in = httpx.Client(base_url=skillport.url, timeout=30, cookies={
        settings.SESSION_COOKIE_NAME: browser.cookies[settings.SESSION_COOKIE_NAME].value})
    requests = {
        "page": lambda: signed_in.get("/skills/test/tools/alpha/"),
        "api": lambda: http.get("/api/v1/skills/", headers={"authorization": f"Bearer {token}"}),
        "mcp": lambda: http.post("/mcp", json=SEARCH, headers={**MCP_HEADERS, "authorization": f"Bearer {token}"}),
        "healthz": lambda: http.get("/healthz"),
    }
    # Fill the pool with several connections, as a server that has been busy holds.
    with ThreadPoolExecutor(8) as pool:
        assert {r.status_code for r in pool.map(lambda _: requests["page"](), range(16))} == {200}
    connection.close()  # this test's own connection goes back to the pool, to be terminated with the others
    assert terminate_other_backends() >= 2

    answers = []
    for _ in range(3):  # more requests than the pool held connections
        for kind, request in requests.items():
            started = time.monotonic()
            response = request()
            answers.append((kind, response.status_code, round(time.monotonic() - started, 2)))
            if kind == "mcp" and response.status_code == 200:
                assert "isError" not in response.text or response.json()["result"].get("isError") is False
                assert "alpha" in response.text
    assert [(kind, status) for kind, status, _ in answers] == [(kind, 200) for kind, _, _ in answers]
    assert max(seconds for _, _, seconds in answers) < 1, answers
