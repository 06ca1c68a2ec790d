"""Benchmark members' traffic while a registration flood runs beside it: no 5xx, and how fast members are answered.

1. Create a throwaway database and load bench/web.py's catalogue (10,000 skills by default); sign a
   member in (a session) and mint them a token for /mcp.
2. Start gunicorn as the Procfile does (uvicorn workers, 2 by default) on a free loopback port.
3. Warm up, then for --seconds, --concurrency threads send members' requests, each on its own
   keep-alive connection, taking the kinds in turn:
   - search: /skills/?q=<topic> <word>, distinct queries, so that the cache rarely answers;
   - skill: a random skill's page;
   - api: /api/v1/skills/, a page of the list or a search, with the token;
   - mcp: tools/call search_skills with a distinct query, with the token.
   Beside them, --flood-concurrency threads POST /register as fast as they are answered: from
   one address, or from --flood-addresses addresses named in X-Forwarded-For (which gunicorn
   trusts from loopback, as it would a reverse proxy on the same machine). Both sides stop after
   --seconds or --max-requests each, whichever comes first.
4. Print JSON: per kind the requests, p50, p99 and max latency and the status counts; the flood's;
   the server's peak database connections and CPU; the target: no 5xx answer to a member.

Progress goes to stderr, the JSON alone to stdout; missing the target is a result, not a failure.
"""
import argparse
import http.client
import json
import os
import random
import re
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlencode

from common import log, throwaway_database
from web import TOPICS, WORDS, Server, load_catalogue, percentile_ms, sign_in, with_csrf_cookie

KINDS = ("search", "skill", "api", "mcp")
# Where a log line says when, and which process: Django's "2026-01-02 03:04:05,678 " and gunicorn's "[...] [pid] ".
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d [\d:,]+ |\[[^]]*\] \[\d+\] )")
REGISTRATION = json.dumps({"client_name": "Flood", "redirect_uris": ["http://127.0.0.1:9/callback"],
                           "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"],
                           "response_types": ["code"]})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=int, default=500)
    parser.add_argument("--skills", type=int, default=20, help="skills per plugin (default 20: 10,000 in all)")
    parser.add_argument("--seconds", type=float, default=60, help="how long both sides run (default 60)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of members' traffic first, unmeasured")
    parser.add_argument("--concurrency", type=int, default=32, help="members' requests in flight (default 32)")
    parser.add_argument("--flood-concurrency", type=int, default=32,
                        help="registrations in flight (default 32; 0: members alone, for comparison)")
    parser.add_argument("--flood-addresses", type=int, default=1,
                        help="client addresses the flood comes from (default 1)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="a bound on each side's requests")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if min(args.plugins, args.skills, args.seconds, args.concurrency, args.flood_addresses, args.max_requests,
           args.workers) < 1 or min(args.warmup, args.flood_concurrency) < 0:
        parser.error("sizes, --seconds and counts must be at least 1 (--warmup and --flood-concurrency 0)")
    with throwaway_database("load_bench"):
        run(args)


def run(args):
    from django.conf import settings
    from django.contrib.auth.models import User

    from connector.tokens import mint

    identifiers = load_catalogue(args.plugins, args.skills)
    cookie = f"{settings.SESSION_COOKIE_NAME}={sign_in()}"
    with tempfile.TemporaryDirectory(prefix="skillport-bench-load-") as tmp:
        # One member sends all the pages', the API's and the connector's requests: their own limits would otherwise
        # refuse them.
        server = Server(Path(tmp) / "gunicorn.log", args.workers, env={
            "SKILLPORT_PAGE_RATE": "1000000/minute", "SKILLPORT_API_RATE": "1000000/minute",
            "SKILLPORT_MCP_RATE": "1000000/minute"})
        os.environ["SKILLPORT_BASE_URL"] = f"http://127.0.0.1:{server.port}"  # the token's resource is its /mcp
        token = mint(User.objects.get(username="bench-member"), resource=[f"http://127.0.0.1:{server.port}/mcp"])
        try:
            server.start()
            cookie = with_csrf_cookie(server.port, cookie, "/skills/")
            members = Members(identifiers, cookie, token)
            log(f"warming up for {args.warmup}s")
            drive(server, [members.next] * args.concurrency, args.warmup, args.max_requests)
            log(f"{args.seconds}s of members' traffic at concurrency {args.concurrency}, beside a registration "
                f"flood at concurrency {args.flood_concurrency} from {args.flood_addresses} address(es)")
            addresses = [f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in range(args.flood_addresses)]
            flood = Flood(addresses if args.flood_addresses > 1 else [])
            cpu_before = server.cpu()
            results, connections = drive(
                server, [members.next] * args.concurrency + [flood.next] * args.flood_concurrency,
                args.seconds, args.max_requests, sample_connections=True,
            )
            cpu_after = server.cpu()
        finally:
            server.stop()
        problems = server_problems(server)

    kinds = {kind: summary(results.get(kind, [])) for kind in KINDS}
    flooded = summary(results.get("register", []))
    fives = {kind: sum(n for status, n in result["statuses"].items() if status.startswith("5"))
             for kind, result in {**kinds, "register": flooded}.items()}
    print(json.dumps({
        "skills": len(identifiers), "seconds": args.seconds, "concurrency": args.concurrency,
        "workers": args.workers, "cores": os.cpu_count(),
        "flood": {"concurrency": args.flood_concurrency, "addresses": args.flood_addresses, **flooded},
        "kinds": kinds,
        "server_db_connections_peak": connections,
        "server_log_problems": problems,
        "cpu_s": {kind: round(cpu_after[kind] - cpu_before[kind], 2) for kind in cpu_before},
        "checks": {"every_kind_answered": all(kinds[kind]["requests"] for kind in KINDS),
                   "flood_5xx": fives["register"]},
        "targets": {"no_5xx_for_members": not any(fives[kind] for kind in KINDS)},
    }, indent=2))


class Members:
    """Members' requests, the kinds in turn, each search query new."""

    def __init__(self, identifiers, cookie, token):
        rng = random.Random(11)
        queries = [f"{topic} {word}" for topic in TOPICS for word in WORDS]
        rng.shuffle(queries)
        self.queries, self.rng, self.lock, self.turn = iter(queries * 10), rng, threading.Lock(), 0
        chosen = rng.sample(identifiers, min(1000, len(identifiers)))
        self.skills = [f"/skills/{quote(identifier)}/" for identifier in chosen]
        self.pages = max(1, len(identifiers) // 25)  # the API's pages of 25
        self.page = {"Cookie": cookie}
        self.bearer = {"Authorization": f"Bearer {token}"}
        self.mcp = {**self.bearer, "Content-Type": "application/json",
                    "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}

    def next(self):
        """(kind, method, path, body, headers) of the next request."""
        with self.lock:
            turn, self.turn = self.turn, self.turn + 1
            query, skill = next(self.queries), self.rng.choice(self.skills)
            page = self.rng.randrange(1, self.pages + 1)
        kind = KINDS[turn % len(KINDS)]
        if kind == "search":
            return kind, "GET", f"/skills/?{urlencode({'q': query})}", None, self.page
        if kind == "skill":
            return kind, "GET", skill, None, self.page
        if kind == "api":
            # Every other one a page of the list, the others a search.
            path = f"/api/v1/skills/?page={page}" if turn % 8 < 4 else f"/api/v1/skills/?{urlencode({'q': query})}"
            return kind, "GET", path, None, self.bearer
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "search_skills", "arguments": {"query": query}}}
        return kind, "POST", "/mcp", json.dumps(body), self.mcp


class Flood:
    """Registrations, each from the next of `addresses` (X-Forwarded-For), or all from loopback."""

    def __init__(self, addresses):
        self.addresses, self.lock, self.turn = addresses, threading.Lock(), 0

    def next(self):
        headers = {"Content-Type": "application/json"}
        if self.addresses:
            with self.lock:
                headers["X-Forwarded-For"], self.turn = self.addresses[self.turn % len(self.addresses)], self.turn + 1
        return "register", "POST", "/register", REGISTRATION, headers


def drive(server, senders, seconds, max_requests, sample_connections=False):
    """One thread per sender, each on its own keep-alive connection, sending `sender()`'s requests
    until `seconds` pass or `max_requests` were sent by senders of the same function; return each
    kind's (status, seconds) answers and the server's peak database connections (when sampled)."""
    deadline = time.monotonic() + seconds
    budgets = {sender: max_requests for sender in set(senders)}
    lock, answers = threading.Lock(), {}

    def claim(sender):
        with lock:
            budgets[sender] -= 1
            return budgets[sender] >= 0 and time.monotonic() < deadline

    def send(sender):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        mine = []
        try:
            while claim(sender):
                kind, method, path, body, headers = sender()
                started = time.perf_counter()
                try:
                    connection.request(method, path, body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                    connection.close()  # the next request opens a new connection
                mine.append((kind, status, time.perf_counter() - started))
        finally:
            connection.close()
            with lock:
                for kind, status, elapsed in mine:
                    answers.setdefault(kind, []).append((status, elapsed))

    threads = [threading.Thread(target=send, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    peak = 0
    while any(thread.is_alive() for thread in threads):
        if sample_connections:
            peak = max(peak, len(server.backends()))
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    return answers, peak


def server_problems(server):
    """The server log's error lines (and gunicorn's complaints), each with how often it came: what a
    5xx was."""
    lines = server.log_path.read_text(errors="replace").splitlines()
    found = Counter(
        STAMP.sub("", line).strip()[:200] for line in lines
        if any(mark in line for mark in (" ERROR ", " CRITICAL ", "WORKER TIMEOUT", "Error: ", "Exception: ", "Timeout: "))
    )
    for line, n in found.most_common(10):
        log(f"server log, {n} x: {line}")
    return dict(found.most_common(10))


def summary(answers):
    latencies = sorted(elapsed for _, elapsed in answers)
    return {
        "requests": len(answers),
        "p50_ms": percentile_ms(latencies, 50),
        "p99_ms": percentile_ms(latencies, 99),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "statuses": {str(status): n for status, n in sorted(Counter(status for status, _ in answers).items(),
                                                             key=lambda item: str(item[0]))},
    }


if __name__ == "__main__":
    main()
