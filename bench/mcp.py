"""Benchmark the connector: search_skills over HTTP through gunicorn, against a bare MCPServer.

1. Create a throwaway database and load the same 10,000-skill catalogue as bench/web.py; mint a
   token for a member (not a superuser), bound to the server's /mcp.
2. Start gunicorn with uvicorn workers serving Skillport, and capture one real search result.
3. Start the same gunicorn serving bench/bare_mcp.py, whose in-memory tool returns that result.
4. Warm both up, then measure them in alternating rounds (Skillport, bare, Skillport, ...): each
   round sends its share of `tools/call search_skills` requests from 16 threads on keep-alive
   connections, cycling through the same queries, and times every one. Alternating spreads the
   machine's slow moments over both servers instead of charging them to one.
5. Print JSON: requests per second, p50 and p99 for both (over all rounds), each round's
   throughput ratio, Skillport's overall throughput ratio to the bare server, and the targets met
   (ratio >= 0.6, p99 <= 100 ms).

With `--cold`, every call searches for something never searched before (bench/web.py's cold
queries: a topic and a word), so Skillport's cache never answers; the targets are then issue 21's
for cold searches (ratio to the bare server >= 0.3, p99 <= 300 ms).

Progress goes to stderr, the JSON alone to stdout; missing a target is a result, not a failure.
"""
import argparse
import json
import os
import tempfile
from pathlib import Path

from common import log, throwaway_database
from web import SEARCHED, Server, cold_queries, load, load_catalogue, percentile_ms, sign_in

TARGETS = {"ratio": 0.6, "p99_ms": 100.0}
COLD_TARGETS = {"ratio": 0.3, "p99_ms": 300.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=int, default=500)
    parser.add_argument("--skills", type=int, default=20, help="skills per plugin (default 20: 10,000 in all)")
    parser.add_argument("--requests", type=int, default=800, help="measured calls per server (default 800)")
    # Each worker caches each of the eight searches on its first miss; 200 calls reach them all.
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the requests are split into")
    parser.add_argument("--cold", action="store_true", help="every call a search never made before (no cache hit)")
    args = parser.parse_args()
    if args.cold:
        args.warmup = min(args.warmup, 50)  # no cache to fill: the warm-up only starts the workers' connections
    with throwaway_database("mcp_bench"):
        run(args)


def calls(token=None, queries=SEARCHED):
    """One tools/call per query, as the stateless protocol allows (no initialize needed)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return [
        ("POST", "/mcp", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                     "params": {"name": "search_skills", "arguments": {"query": word}}}), headers)
        for word in queries
    ]


def run(args):
    from django.contrib.auth.models import User

    from connector.tokens import mint

    load_catalogue(args.plugins, args.skills)
    sign_in()
    with tempfile.TemporaryDirectory(prefix="skillport-bench-mcp-") as tmp:
        # One member makes every call: their own limit would otherwise answer the benchmark.
        skillport = Server(Path(tmp) / "skillport.log", args.workers, env={"SKILLPORT_MCP_RATE": "1000000/minute"})
        os.environ["SKILLPORT_BASE_URL"] = f"http://127.0.0.1:{skillport.port}"
        token = mint(User.objects.get(username="bench-member"), resource=[f"http://127.0.0.1:{skillport.port}/mcp"])
        payload = Path(tmp) / "payload.json"
        bare = Server(Path(tmp) / "bare.log", args.workers, app="bench.bare_mcp:application",
                      env={"BENCH_MCP_PAYLOAD": str(payload)})
        try:
            skillport.start()
            method, path, body, headers = calls(token)[0]
            answer = json.loads(skillport.request(method, path, body, headers))
            found = answer["result"]["structuredContent"]
            if not found["skills"]:
                raise RuntimeError(f"the benchmark search found nothing: {answer}")
            payload.write_text(json.dumps(found))
            bare.start()
            # Cold: warm-up and rounds take their calls in turn from one list of new queries, each used once.
            queries = cold_queries(args.warmup + args.requests + 1, 5)[1:] if args.cold else SEARCHED
            results, rounds = measure({"skillport": (skillport, calls(token, queries)),
                                       "bare_mcpserver": (bare, calls(None, queries))}, args)
        finally:
            skillport.stop()
            bare.stop()

    ratio = round(results["skillport"]["rps"] / results["bare_mcpserver"]["rps"], 3)
    targets = COLD_TARGETS if args.cold else TARGETS
    print(json.dumps({
        "cold": args.cold,
        "skills": args.plugins * args.skills, "concurrency": args.concurrency, "workers": args.workers,
        "cores": os.cpu_count(), "requests": args.requests, "rounds": rounds, "payload_bytes": payload_size(results),
        "servers": results, "ratio_to_bare": ratio,
        "checks": {"every_response_200": all(r["errors"] == 0 for r in results.values())},
        "targets": {f"ratio_ge_{targets['ratio']}": ratio >= targets["ratio"],
                    f"p99_le_{targets['p99_ms']:g}ms": results["skillport"]["p99_ms"] <= targets["p99_ms"]},
    }, indent=2))


def measure(servers, args):
    """Warm up each server, then measure them in alternating rounds; return each one's totals and
    every round's throughput ratio. Each load carries on through the requests where the last one
    stopped, so with --cold no query is sent twice."""

    def following(requests, done):
        start = done % len(requests)
        return requests[start:] + requests[:start]

    for server, requests in servers.values():
        load(server, requests, args.warmup, args.concurrency)
    per_round = max(1, args.requests // args.rounds)
    samples = {name: [] for name in servers}
    runs = {name: [] for name in servers}
    for round_number in range(args.rounds):
        for name, (server, requests) in servers.items():
            rest = following(requests, args.warmup + round_number * per_round)
            runs[name].append(load(server, rest, per_round, args.concurrency, samples[name]))
    results = {}
    for name, (server, _) in servers.items():
        latencies, done = sorted(samples[name]), runs[name]
        seconds = sum(r["seconds"] for r in done)
        results[name] = {
            "requests": len(done) * per_round, "errors": sum(r["errors"] for r in done), "seconds": round(seconds, 3),
            "rps": round(len(done) * per_round / seconds, 1), "p50_ms": percentile_ms(latencies, 50),
            "p99_ms": percentile_ms(latencies, 99), "max_ms": round(latencies[-1] * 1000, 1),
            "mean_bytes": round(sum(r["mean_bytes"] for r in done) / len(done)),
            "cpu_s": {kind: round(sum(r["cpu_s"][kind] for r in done), 2) for kind in done[0]["cpu_s"]},
        }
        log(f"{server.app}: {results[name]['rps']} calls/s, p50 {results[name]['p50_ms']} ms, "
            f"p99 {results[name]['p99_ms']} ms, errors {results[name]['errors']}")
    names = list(servers)
    rounds = [round(a["rps"] / b["rps"], 3) for a, b in zip(runs[names[0]], runs[names[1]])]
    return results, {"requests_each": per_round, "ratio_to_bare": rounds}


def payload_size(results):
    return {name: result["mean_bytes"] for name, result in results.items()}


if __name__ == "__main__":
    main()
