"""Benchmark the connector: search_skills over HTTP through gunicorn, against a bare MCPServer.

1. Create a throwaway database and load the same 10,000-skill catalogue as bench/web.py; mint a
   token for a member (not a superuser), bound to the server's /mcp.
2. Start gunicorn with uvicorn workers serving Skillport, and capture one real search result.
3. Start the same gunicorn serving bench/bare_mcp.py, whose in-memory tool returns that result.
4. Against each, send a fixed number of `tools/call search_skills` requests from 16 threads on
   keep-alive connections, cycling through the same queries; time every one.
5. Print JSON: requests per second, p50 and p99 for both, Skillport's throughput ratio to the
   bare server, and the targets met (ratio >= 0.6, p99 <= 100 ms).

Progress goes to stderr, the JSON alone to stdout; missing a target is a result, not a failure.
"""
import argparse
import json
import os
import tempfile
from pathlib import Path

from common import log, throwaway_database
from web import SEARCHED, Server, load, load_catalogue, sign_in

TARGETS = {"ratio": 0.6, "p99_ms": 100.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=int, default=500)
    parser.add_argument("--skills", type=int, default=20, help="skills per plugin (default 20: 10,000 in all)")
    parser.add_argument("--requests", type=int, default=800, help="measured calls per server (default 800)")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with throwaway_database("mcp_bench"):
        run(args)


def calls(token=None):
    """One tools/call per searched word, as the stateless protocol allows (no initialize needed)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return [
        ("POST", "/mcp", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                     "params": {"name": "search_skills", "arguments": {"query": word}}}), headers)
        for word in SEARCHED
    ]


def run(args):
    from django.contrib.auth.models import User

    from connector.tokens import mint

    load_catalogue(args.plugins, args.skills)
    sign_in()
    with tempfile.TemporaryDirectory(prefix="skillport-bench-mcp-") as tmp:
        skillport = Server(Path(tmp) / "skillport.log", args.workers)
        os.environ["SKILLPORT_BASE_URL"] = f"http://127.0.0.1:{skillport.port}"
        token = mint(User.objects.get(username="bench-member"), resource=[f"http://127.0.0.1:{skillport.port}/mcp"])
        payload = Path(tmp) / "payload.json"
        results = {}
        try:
            skillport.start()
            method, path, body, headers = calls(token)[0]
            answer = json.loads(skillport.request(method, path, body, headers))
            found = answer["result"]["structuredContent"]
            if not found["skills"]:
                raise RuntimeError(f"the benchmark search found nothing: {answer}")
            payload.write_text(json.dumps(found))
            results["skillport"] = measure(skillport, calls(token), args)
        finally:
            skillport.stop()
        bare = Server(Path(tmp) / "bare.log", args.workers, app="bench.bare_mcp:application",
                      env={"BENCH_MCP_PAYLOAD": str(payload)})
        try:
            bare.start()
            results["bare_mcpserver"] = measure(bare, calls(), args)
        finally:
            bare.stop()

    ratio = round(results["skillport"]["rps"] / results["bare_mcpserver"]["rps"], 3)
    print(json.dumps({
        "skills": args.plugins * args.skills, "concurrency": args.concurrency, "workers": args.workers,
        "cores": os.cpu_count(), "requests": args.requests, "payload_bytes": payload_size(results),
        "servers": results, "ratio_to_bare": ratio,
        "checks": {"every_response_200": all(r["errors"] == 0 for r in results.values())},
        "targets": {"ratio_ge_0_6": ratio >= TARGETS["ratio"],
                    "p99_le_100ms": results["skillport"]["p99_ms"] <= TARGETS["p99_ms"]},
    }, indent=2))


def measure(server, requests, args):
    load(server, requests, args.warmup, args.concurrency)
    result = load(server, requests, args.requests, args.concurrency)
    log(f"{server.app}: {result['rps']} calls/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
        f"errors {result['errors']}")
    return result


def payload_size(results):
    return {name: result["mean_bytes"] for name, result in results.items()}


if __name__ == "__main__":
    main()
