"""Floods of requests nobody signed in for: limited per address with counts every worker shares,
and unable to starve members' pages or /healthz. A member's own flood of pages: limited per member."""
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import psycopg
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from connector.tokens import mint
from skillport_site.throttle import TURN_SECONDS, FileCounters, RedisCounters, client_address, member_turn

from .builders import subprocess_database_url
from .gitservers import SilentRedis
from .servers import ProcfileWeb

REGISTRATION = {"client_name": "Flood", "redirect_uris": ["http://127.0.0.1:9/callback"],
                "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"],
                "response_types": ["code"]}
# Every endpoint that works before anyone is known, one path of each spelling.
THROTTLED = ["/register", "/oauth/register/", "/token", "/oauth/token/", "/oauth/revoke/", "/authorize",
             "/oauth/authorize/", "/login/", "/admin/login/", "/accounts/github/login/"]
# The API's page anyone may read (its other endpoints refuse strangers before any throttle counts).
API_PAGE = "/api/schema/?format=json"
# The counters' stores: files with nothing configured, and Redis when the tests have one (the
# broker's database: throttle keys expire and are never cleared there, so they meet nothing).
BROKER = os.environ.get("CELERY_BROKER_URL", "")
STORES = ["files", "redis"] if BROKER.startswith("redis://") else ["files"]


def an_address():
    """A client address of its own per use, so no count carries over (counters in Redis are not cleared)."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def store_environment(store):
    if store == "redis":
        return {"SKILLPORT_REDIS_URL": BROKER}
    # The same folder as this process's counters, so both count together.
    return {"SKILLPORT_REDIS_URL": "", "SKILLPORT_DATA_DIR": str(Path(settings.CACHES["throttle"]["LOCATION"]).parent)}


@pytest.fixture(scope="module", params=STORES)
def web(request, django_db_setup, tmp_path_factory):
    """The Procfile's web command (gunicorn, two uvicorn workers) counting in `request.param`'s store.

    It trusts X-Forwarded-For from loopback (gunicorn's FORWARDED_ALLOW_IPS default), as it would a
    reverse proxy on the same machine, so the tests speak for many client addresses through it."""
    server = ProcfileWeb(
        tmp_path_factory.mktemp("web"), **store_environment(request.param), LOG_LEVEL="WARNING",
        SKILLPORT_REGISTER_RATE="10/hour", SKILLPORT_API_ANON_RATE="3/hour",
    ).start()
    server.store = request.param
    yield server
    server.stop()


@pytest.fixture
def http():
    """One client for every request of a test: a client per request costs this process more CPU than
    the server spends answering, and would slow the very timings the tests read."""
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=100, max_keepalive_connections=100)) as client:
        yield client


@pytest.fixture
def member_cookie(transactional_db):
    """The Cookie header of a signed-in member (committed, for servers in other processes)."""
    browser = Client()
    browser.force_login(User.objects.create_user("mona"))
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def member_page(member_cookie, http):
    """A GET of a member's search page, signed in, on any server."""
    return lambda url: http.get(f"{url}/skills/", headers={"cookie": member_cookie})


def register(http, url, address):
    return http.post(f"{url}/register", json=REGISTRATION, headers={"x-forwarded-for": address})


def timed(request):
    started = time.monotonic()
    response = request()
    return response.status_code, time.monotonic() - started


def within_one_window():
    """Counts start again when a rate's window ends (on the hour, at the rates these tests set): wait
    out the last seconds of one, so that a burst is counted in a single window."""
    if (left := 3600 - time.time() % 3600) < 30:
        time.sleep(left + 0.1)


def while_flooding(flood, probes):
    """Run `flood()` while each probe in `probes` is called every 0.1 s; each probe's (status, seconds).
    Each probe is warmed up first on both workers: a worker's first page renders from cold."""
    with ThreadPoolExecutor(4) as pool:
        for probe in probes.values():
            assert {response.status_code for response in pool.map(lambda _: probe(), range(8))} == {200}
    within_one_window()
    done, seen = threading.Event(), {name: [] for name in probes}

    def watch(name, probe):
        while not done.is_set():
            seen[name].append(timed(probe))
            time.sleep(0.1)

    watchers = [threading.Thread(target=watch, args=item) for item in probes.items()]
    for watcher in watchers:
        watcher.start()
    try:
        result = flood()
    finally:
        done.set()
        for watcher in watchers:
            watcher.join()
    return result, seen


def test_a_burst_from_one_address_is_counted_across_two_workers_and_answered_429(web, http, member_page):
    address = an_address()
    with ThreadPoolExecutor(40) as pool:
        responses, seen = while_flooding(
            lambda: list(pool.map(lambda _: register(http, web.url, address), range(40))),
            {"healthz": lambda: http.get(f"{web.url}/healthz"), "page": lambda: member_page(web.url)},
        )
    statuses = Counter(r.status_code for r in responses)
    # Ten admitted, exactly; on a slow machine some of those may have waited their turn too long.
    assert set(statuses) <= {201, 429, 503}, (statuses, web.output()[-3000:])
    assert statuses[201] + statuses[503] == 10, statuses
    refusal = next(r for r in responses if r.status_code == 429)
    assert 0 < int(refusal.headers["retry-after"]) <= 3600
    assert refusal.json()["error"] == "temporarily_unavailable"
    assert "Too many registration requests from your address" in refusal.json()["error_description"]
    for name, answers in seen.items():
        assert answers and {status for status, _ in answers} == {200}, (name, answers)
        assert max(seconds for _, seconds in answers) < 3, (name, answers)


def test_a_flood_from_many_addresses_leaves_the_database_to_members(web, http, member_page):
    """Under the per-address rate each, so only the per-worker concurrency limit stands in the way."""
    with ThreadPoolExecutor(60) as pool:
        responses, seen = while_flooding(
            lambda: list(pool.map(lambda _: register(http, web.url, an_address()), range(60))),
            {"healthz": lambda: http.get(f"{web.url}/healthz"), "page": lambda: member_page(web.url)},
        )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 503} and statuses[201] >= 8, (statuses, web.output()[-3000:])
    for response in responses:
        if response.status_code == 503:
            assert response.headers["retry-after"] == str(TURN_SECONDS)
            assert response.json()["error"] == "temporarily_unavailable"
    for name, answers in seen.items():
        assert answers and {status for status, _ in answers} == {200}, (name, answers)
        assert max(seconds for _, seconds in answers) < 3, (name, answers)


def test_counts_are_shared_by_every_process(web, http, settings, transactional_db):
    """What this process counts, the server's workers see: registrations, and the API's anonymous throttle."""
    if web.store == "redis":
        settings.CACHES = {**settings.CACHES, "throttle": {
            "BACKEND": "skillport_site.throttle.RedisCounters", "LOCATION": BROKER}}
    settings.SKILLPORT_REGISTER_RATE, settings.SKILLPORT_API_ANON_RATE = "10/hour", "3/hour"
    within_one_window()
    address, here = an_address(), Client()
    assert [here.post("/register", REGISTRATION, "application/json", REMOTE_ADDR=address).status_code
            for _ in range(10)] == [201] * 10
    assert [here.get(API_PAGE, REMOTE_ADDR=address).status_code for _ in range(3)] == [200] * 3
    assert register(http, web.url, address).status_code == 429
    response = http.get(f"{web.url}{API_PAGE}", headers={"x-forwarded-for": address})
    assert response.status_code == 429 and "throttled" in response.json()["detail"].lower()
    assert register(http, web.url, an_address()).status_code == 201  # another address has its own count


@pytest.mark.parametrize("path", THROTTLED)
def test_every_endpoint_that_works_before_sign_in_is_limited(client, settings, db, github_org, path):
    for setting in ("SKILLPORT_REGISTER_RATE", "SKILLPORT_TOKEN_RATE", "SKILLPORT_AUTHORIZE_RATE",
                    "SKILLPORT_SIGNIN_RATE"):
        setattr(settings, setting, "2/hour")
    within_one_window()
    for _ in range(2):
        assert client.post(path, {}).status_code != 429
    response = client.post(path, {})
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 3600
    if path in ("/login/", "/admin/login/", "/accounts/github/login/"):  # pages people see: a sentence
        assert response.content.decode().startswith("Too many sign-in requests from your address. Try again in")
    else:  # OAuth's endpoints answer in OAuth's JSON
        assert response.json()["error"] == "temporarily_unavailable"
    assert [client.get("/healthz").status_code for _ in range(5)] == [200] * 5  # nothing else is limited


def test_a_members_pages_are_limited_per_member(client, settings, db):
    """A member's script asking for cold searches in a loop would take the workers from everyone; each member's
    pages count against SKILLPORT_PAGE_RATE. Another member, the health check and the API (limited on its
    own) are untouched, and a stranger is sent to sign in, not counted."""
    settings.SKILLPORT_PAGE_RATE = "3/hour"
    within_one_window()
    client.force_login(User.objects.create_user("mona"))
    assert [client.get(f"/skills/?q=word{n}").status_code for n in range(3)] == [200] * 3
    over = client.get("/skills/?q=word3")
    assert over.status_code == 429 and 0 < int(over["Retry-After"]) <= 3600
    assert "Skillport serves each person at most 3 pages an hour, and you have asked for more." in (
        " ".join(over.content.decode().split()))
    assert f"Try again in {over['Retry-After']} second" in " ".join(over.content.decode().split())
    # A page's own script (the skill editor's preview) puts the answer in the page: the sentence alone.
    fetched = client.post("/skills/", HTTP_SEC_FETCH_DEST="empty")
    assert fetched.status_code == 429 and fetched.content.decode().startswith("<p>Skillport serves each person")
    assert "<html" not in fetched.content.decode() and "<html" in over.content.decode()
    assert client.get("/healthz").status_code == 200
    assert client.get(API_PAGE).status_code == 200

    other = Client()
    other.force_login(User.objects.create_user("otto"))
    assert other.get("/skills/").status_code == 200
    stranger = Client()
    assert [stranger.get("/skills/").status_code for _ in range(5)] == [302] * 5


def test_a_made_up_forwarded_for_is_no_new_address(client, settings, db):
    """The API's anonymous throttle counted X-Forwarded-For as the address: a new header, a new allowance."""
    settings.SKILLPORT_API_ANON_RATE, settings.SKILLPORT_REGISTER_RATE = "2/hour", "2/hour"
    within_one_window()
    for path, method in ((API_PAGE, client.get), ("/register", client.post)):
        codes = [method(path, HTTP_X_FORWARDED_FOR=an_address()).status_code for _ in range(3)]
        assert codes[-1] == 429 and 429 not in codes[:2], (path, codes)


def test_an_ipv6_client_is_counted_by_its_64_network(rf):
    def address(remote):
        return client_address(rf.get("/", REMOTE_ADDR=remote))

    assert address("2001:db8:1:2::1") == address("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address("2001:db8:1:3::1") != address("2001:db8:1:2::1")
    assert address("::ffff:192.0.2.7") == address("192.0.2.7") == "192.0.2.7"


COUNT_IN_ANOTHER_PROCESS = """
import asyncio, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "skillport_site.settings"
import django
django.setup()
from tests.test_flooding import counters_in
counters = counters_in(sys.argv[1], sys.argv[2])
times = int(sys.argv[4])
print("ready", flush=True)
sys.stdin.readline()  # both start together, however long setting up took
if sys.argv[5] == "async":
    async def count():
        for _ in range(times):
            await counters.acount(sys.argv[3], 60)
    asyncio.run(count())
else:
    for _ in range(times):
        counters.count(sys.argv[3], 60)
"""


def counters_in(store, location):
    return FileCounters(location, {}) if store == "files" else RedisCounters(location, {})


@pytest.mark.parametrize("store", STORES)
def test_counters_lose_no_count_between_processes(tmp_path, store):
    """Two processes counting the same key at once, as two workers do during a burst, one as pages are counted
    and one as the connector counts on its event loop: in files, and in Redis in one round trip each."""
    location, key = str(tmp_path) if store == "files" else BROKER, f"race-{uuid.uuid4().hex}"
    processes = [subprocess.Popen([sys.executable, "-c", COUNT_IN_ANOTHER_PROCESS, store, location, key, "500", way],
                                  cwd=settings.BASE_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                 for way in ("sync", "async")]
    assert [process.stdout.readline() for process in processes] == ["ready\n", "ready\n"]
    for process in processes:  # go
        process.stdin.close()
    assert [process.wait(120) for process in processes] == [0, 0]
    counters = counters_in(store, location)
    assert counters.get(key) == 1000
    if store == "redis":  # made to last the window; counting did not lengthen it
        assert 0 < counters._cache.get_client().ttl(counters.make_and_validate_key(key)) <= 60


def until_answered(answers, count, timeout=10):
    """Wait until `count` of the requests in flight have their answer (the ones that got no connection
    answer after the pool's timeout) or `timeout` seconds have passed; the others still wait on the lock."""
    deadline = time.monotonic() + timeout
    while sum(answer.done() for answer in answers) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_request_that_gets_no_database_connection_in_time_is_told_the_server_is_busy(
        http, member_cookie, tmp_path):
    """One connection per worker, each held by a request waiting on a lock: the others wait the pool's
    timeout (a second here) for one, and get a 503 saying so instead of a 500."""
    def get(path):
        started = time.monotonic()
        response = http.get(f"{server.url}{path}", headers={"cookie": member_cookie})
        return path, response, time.monotonic() - started

    server = ProcfileWeb(tmp_path, SKILLPORT_DB_POOL_SIZE="1", SKILLPORT_DB_POOL_TIMEOUT="1").start()
    try:
        with psycopg.connect(subprocess_database_url()) as locker, ThreadPoolExecutor(8) as pool:
            locker.execute("LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE")  # every signed-in request waits
            answers = [pool.submit(get, path) for path in ["/skills/"] * 4 + ["/api/v1/skills/"] * 4]
            until_answered(answers, 4)
            locker.rollback()  # the requests holding the connections go on
            answers = [future.result() for future in answers]
    finally:
        server.stop()
    assert {response.status_code for _, response, _ in answers} == {200, 503}, (answers, server.output()[-3000:])
    busy = [(path, response, seconds) for path, response, seconds in answers if response.status_code == 503]
    assert len(busy) >= 4 and all(1 <= seconds < 3 for _, _, seconds in busy), answers
    for path, response, _ in busy:
        assert response.headers["retry-after"] == str(TURN_SECONDS)
        message = response.json()["detail"] if path.startswith("/api/") else response.text
        assert message.startswith("Skillport is too busy to answer right now."), message


def test_an_mcp_request_whose_token_check_gets_no_connection_in_time_is_told_the_server_is_busy(
        http, transactional_db, tmp_path):
    """/mcp checks its bearer token in the MCP SDK's middleware, before our tools' own handling of
    an overload: there too the answer is a 503 saying so, not a 500."""
    server = ProcfileWeb(tmp_path, SKILLPORT_DB_POOL_SIZE="1", SKILLPORT_DB_POOL_TIMEOUT="1",
                         SKILLPORT_BASE_URL="http://127.0.0.1").start()
    token = mint(User.objects.create_user("mona"), resource=["http://127.0.0.1/mcp"])
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"authorization": f"Bearer {token}", "accept": "application/json, text/event-stream"}
    try:
        assert http.post(f"{server.url}/mcp", json=ping, headers=headers).status_code == 200
        with psycopg.connect(subprocess_database_url()) as locker, ThreadPoolExecutor(8) as pool:
            locker.execute("LOCK TABLE oauth2_provider_accesstoken IN ACCESS EXCLUSIVE MODE")  # every token check waits
            answers = [pool.submit(http.post, f"{server.url}/mcp", json=ping, headers=headers) for _ in range(8)]
            until_answered(answers, 4)
            locker.rollback()
            answers = [future.result() for future in answers]
    finally:
        server.stop()
    assert {response.status_code for response in answers} == {200, 503}, (answers, server.output()[-3000:])
    for response in answers:
        if response.status_code == 503:
            assert response.headers["retry-after"] == str(TURN_SECONDS)
            assert response.text.startswith("Skillport is too busy to answer right now."), response.text


def test_a_redis_that_stops_answering_holds_the_connectors_calls_not_its_workers(http, transactional_db, tmp_path):
    """The connector counts each call on the event loop that serves every request of its worker. While two
    calls wait out the counters' timeout (a second) on a Redis that never answers, the workers go on
    answering other requests, and the calls are then answered uncounted, as every throttle fails open."""
    redis = SilentRedis()
    server = ProcfileWeb(tmp_path, SKILLPORT_REDIS_URL=redis.url, SKILLPORT_BASE_URL="http://127.0.0.1").start()
    token = mint(User.objects.create_user("mona"), resource=["http://127.0.0.1/mcp"])
    search = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
              "params": {"name": "search_skills", "arguments": {"query": "postmortem"}}}
    headers = {"authorization": f"Bearer {token}", "accept": "application/json, text/event-stream",
               "mcp-protocol-version": "2025-11-25"}
    try:
        with ThreadPoolExecutor(2) as pool:
            calls = [pool.submit(http.post, f"{server.url}/mcp", json=search, headers=headers) for _ in range(2)]
            deadline = time.monotonic() + 30
            while redis.waiting() < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            # Both calls are counting now: a count blocking its event loop would hold each worker that has one.
            assert redis.waiting() == 2, "one call waited for the other: its count held the event loop"
            probes = [http.get(f"{server.url}/healthz").status_code for _ in range(4)]
            still_waiting = redis.waiting()
            answers = [call.result() for call in calls]
    finally:
        server.stop()
        redis.close()
    assert (probes, still_waiting) == ([200] * 4, 2)
    assert [answer.status_code for answer in answers] == [200, 200]
    assert all('"isError":false' in answer.text for answer in answers), [answer.text for answer in answers]
    assert "Request counters are unavailable, so throttle_mcp_" in server.output()


def test_a_members_turn_that_outlived_its_time_does_not_end_a_later_one():
    """A turn ends with its timeout, so a request that takes longer may see another take it; when the first
    ends, the other's turn must go on."""
    with member_turn("probe", 7, seconds=1) as first:
        assert first
        time.sleep(1.2)
        later = member_turn("probe", 7, seconds=60)
        assert later.__enter__()  # the first's has expired
    with member_turn("probe", 7) as third:
        assert not third  # the later one still holds it
    later.__exit__(None, None, None)
    with member_turn("probe", 7) as fourth:
        assert fourth
