"""Benchmark the audit log: events written per second through `audit.record`, and a streamed CSV export.

1. Create a throwaway database (`test_<name>_audit_bench`) and migrate it, so the configured
   database is never written to; it is dropped at the end whatever happens.
2. Time `audit.record` called N times from one thread, then N times spread over T threads.
3. Insert a million events with one `INSERT ... SELECT ... generate_series`, spread over ~400 days.
4. Time the full consumption of `audit.export.csv_lines` over all of them, written to os.devnull;
   then consume it again under tracemalloc for the peak Python memory (tracemalloc slows every
   allocation down, so the timed pass runs without it).
5. Print one JSON object with rates, times, memory and the targets met.

Progress goes to stderr; the JSON alone goes to stdout. It always exits 0 once it has measured:
missing a target is a result, not a failure. See bench/README.md.
"""
import argparse
import json
import os
import threading
import time
import tracemalloc

from common import log, peak_rss_mb, rss_mb, throwaway_database

TARGETS = {"export_s": 30.0, "tracemalloc_peak_mb": 50.0}
DAYS = 400


def main():
    args = parse_args()
    with throwaway_database("audit_bench"):
        run_benchmark(args)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000, help="audit.record calls per run (default 5000)")
    parser.add_argument("--threads", type=int, default=8,
                        help="threads sharing the records of the threaded run (default 8)")
    parser.add_argument("--export-rows", type=int, default=1_000_000, help="events to export as CSV (default 1000000)")
    args = parser.parse_args()
    if min(args.records, args.threads, args.export_rows) < 1:
        parser.error("--records, --threads and --export-rows must be at least 1")
    return args


def run_benchmark(args):
    from django.db import connection, transaction

    from audit.models import AuditEvent

    single = time_records(args.records, threads=1)
    threaded = time_records(args.records, threads=args.threads)
    recorded = AuditEvent.objects.count()

    log(f"inserting {args.export_rows} events over {DAYS} days")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # The export is of exactly --export-rows events, in this database of the benchmark's own. The
        # append-only triggers let the table be emptied only under the retention purge's rule: a
        # cutoff, for this transaction, past every event.
        cursor.execute("SELECT set_config('skillport.audit_purge_before', 'infinity', true)")
        cursor.execute("TRUNCATE audit_auditevent")
    insert_events(args.export_rows)
    with connection.cursor() as cursor:
        # A real table has planner statistics; a freshly filled one has none until autovacuum runs.
        cursor.execute("ANALYZE audit_auditevent")
    log(f"inserted in {time.perf_counter() - started:.1f}s")
    rows = AuditEvent.objects.count()

    rss_before = rss_mb()
    lines, size, export_s = export_csv()
    rss_after = rss_mb()
    log(f"export: {lines - 1} rows, {size / 2**20:.0f} MB of CSV in {export_s:.2f}s")
    traced_lines, traced_s, peak = export_csv_traced()
    log(f"export under tracemalloc: peak {peak:.1f} MB in {traced_s:.2f}s")

    result = {
        "record": {
            "single_thread": single,
            "threaded": threaded,
        },
        "export_csv": {
            "rows": lines - 1,
            "bytes": size,
            "seconds": round(export_s, 3),
            "rows_per_s": round((lines - 1) / export_s),
            "tracemalloc_peak_mb": round(peak, 1),
            "tracemalloc_pass_seconds": round(traced_s, 3),
            "rss_before_mb": rss_before,
            "rss_after_mb": rss_after,
            "peak_rss_mb": peak_rss_mb(),
        },
        # The runs measured what they were meant to: otherwise the numbers mean little.
        "checks": {
            "every_record_written": recorded == 2 * args.records,
            "every_row_exported": lines - 1 == rows == args.export_rows and traced_lines == lines,
        },
        "targets": {
            # Scaled to --export-rows, so a smaller quick run is judged at the same rate.
            "export_1m_within_30s": export_s <= TARGETS["export_s"] * args.export_rows / 1_000_000,
            "tracemalloc_peak_under_50mb": peak < TARGETS["tracemalloc_peak_mb"],
        },
    }
    print(json.dumps(result, indent=2))


def time_records(count, threads):
    """Call audit.record `count` times, from this thread or shared by `threads` threads started together."""
    import audit
    from audit.models import Action, Surface
    from django.db import connection

    def work(share):
        for i in range(share):
            audit.record(Action.SKILL_FILE_READ, surface=Surface.API, marketplace="bench", plugin="tools",
                         skill="alpha", client=("bench", "1.0"), extra={"i": i})

    errors = []
    if threads == 1:
        # The calling thread itself, as most callers are: no thread hand-off in the measure.
        started = time.perf_counter()
        work(count)
        seconds = time.perf_counter() - started
    else:
        barrier = threading.Barrier(threads + 1)

        def worker(share):
            try:
                barrier.wait()
                work(share)
            except Exception as exc:  # reported below: an exception in a thread would otherwise vanish
                errors.append(repr(exc))
            finally:
                connection.close()  # this thread's own connection, or the database cannot be dropped

        shares = [count // threads + (1 if t < count % threads else 0) for t in range(threads)]
        workers = [threading.Thread(target=worker, args=(share,)) for share in shares]
        for thread in workers:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in workers:
            thread.join()
        seconds = time.perf_counter() - started
    if errors:
        log(f"{len(errors)} threads failed, first: {errors[0]}")
    log(f"record x{count} on {threads} thread(s): {seconds:.2f}s")
    return {"threads": threads, "calls": count, "failed_threads": len(errors), "seconds": round(seconds, 3),
            "events_per_s": round(count / seconds)}


def insert_events(count):
    """`count` varied events, newest now and oldest ~DAYS days ago, in one statement."""
    from django.db import connection

    step = DAYS * 86400 / count
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO audit_auditevent (
                created_at, action, actor_login, actor_github_id, marketplace, plugin, skill, version, "commit",
                surface, client_name, client_version, ip, user_agent, request_id, outcome, extra)
            SELECT now() - make_interval(secs => n * %s),
                   (ARRAY['package_downloaded', 'skill_file_read', 'sign_in', 'install_link_issued',
                          'token_issued', 'access_denied'])[1 + n %% 6],
                   'user' || (n %% 500), 100000 + n %% 500, 'market-' || (n %% 20), 'plugin-' || (n %% 200),
                   'skill-' || (n %% 1000), '1.' || (n %% 10) || '.0', md5(n::text) || 'abcdefgh',
                   (ARRAY['claude_code', 'claude_ai', 'web', 'api'])[1 + n %% 4], 'claude-code', '2.1.' || (n %% 9),
                   ('10.' || (n %% 250) || '.' || (n / 250 %% 250) || '.1')::inet,
                   'claude-code/2.1.' || (n %% 9) || ' (cli)', md5((n + 1)::text),
                   CASE WHEN n %% 6 = 5 THEN 'denied' ELSE 'ok' END,
                   jsonb_build_object('n', n, 'path', '/skills/' || (n %% 1000))
            FROM generate_series(1, %s) AS n
            """,
            [step, count],
        )


def export_csv():
    """(lines, bytes, seconds) of consuming csv_lines over every event into os.devnull."""
    from audit.export import csv_lines
    from audit.models import AuditEvent

    lines = size = 0
    with open(os.devnull, "w", encoding="utf-8") as sink:
        started = time.perf_counter()
        for line in csv_lines(AuditEvent.objects.all()):
            sink.write(line)
            lines += 1
            size += len(line)
        seconds = time.perf_counter() - started
    return lines, size, seconds


def export_csv_traced():
    """(lines, seconds, tracemalloc peak in MB) of the same export, traced."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        lines, _size, seconds = export_csv()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return lines, seconds, peak


if __name__ == "__main__":
    main()
