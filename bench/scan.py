"""Benchmark the security scan: full syncs with each scan gate, then the real scanner on 2,000 skills.

1. Generate bench/sync.py's marketplace (default 500 plugins x 4 skills x 3 files: 2,000 skills)
   three times, with different content, and time a real `git clone --bare --no-local` of each: the
   yardstick each sync is compared to, as in bench/sync.py.
2. Time a full sync of each with the gate off, on report only (the default) and on hold. Syncs
   never scan (a task scans after them), so the ratios to the clone should not move with the gate;
   hold stages every new skill for the scan, which is what the sync does more there.
3. Scan the held marketplace as its task does (`scans.scan_marketplace`): the configured scanners
   (cisco-ai-skill-scanner's static analyzers by default) on every content, SKILLPORT_SCAN_BATCH to
   a run, then the gate releases what passed. Its start-up is measured first on one skill. A second
   scan must find nothing left to scan.
4. Print one JSON object: times, ratios, skills per second, peak memory of the scanner's process
   tree (sampled from /proc) and of this process, and checks.

Progress goes to stderr; the JSON alone goes to stdout. It always exits 0 once it has measured:
missing a target is a result, not a failure. See bench/README.md.
"""
import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from common import log, peak_rss_mb, throwaway_database
from sync import add_shape_arguments, generate_marketplace, parse_shape, prepare_environment

GATES = ("off", "report", "hold")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def main():
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skillport-bench-"))
    try:
        prepare_environment(tmp)
        with throwaway_database("scan_bench"):
            logging.getLogger("marketplace").setLevel(logging.WARNING)
            run_benchmark(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shape_arguments(parser)
    return parse_shape(parser)


def run_benchmark(args, tmp):
    from django.conf import settings

    from marketplace import scanners, scans
    from marketplace.models import ContentScan, Marketplace, Skill
    from marketplace.sync import sync_marketplace

    available = scanners.available()
    if not available:
        raise SystemExit("No scanner is configured: `make test` installs the default one in .data/tools/scanner.")
    skills = args.plugins * args.skills
    syncs = {}
    for gate in GATES:
        run_id = uuid.uuid4().hex[:12]
        log(f"{gate}: generating {args.plugins} plugins x {args.skills} skills x {args.files} files")
        repo, _changed = generate_marketplace(tmp / f"market-{gate}", args, run_id)
        url = f"file://{repo.path}"
        os.sync()
        clone_s = timed(lambda: git("clone", "--bare", "--no-local", "--quiet", url, str(tmp / f"clone-{gate}.git")))
        marketplace = Marketplace.objects.create(slug=f"bench-{gate}-{run_id}", git_url=url, scan_gate=gate)
        os.sync()
        started = time.perf_counter()
        run = sync_marketplace(marketplace.pk)
        sync_s = time.perf_counter() - started
        log(f"{gate}: clone {clone_s:.3f}s, full sync {sync_s:.3f}s ({sync_s / clone_s:.2f}x) {run.status}")
        syncs[gate] = {"marketplace": marketplace, "clone_s": clone_s, "sync_s": sync_s, "status": run.status,
                       "added": run.added}

    # The scanner's fixed cost: its version (asked once per process) and a run on one skill.
    scanner = available[0]
    version_s = timed(scanner.identity)
    startup_s = timed(lambda: scanners.scan(scanner, [("one", {"SKILL.md": b"---\nname: one\ndescription: d\n---\n"})]))
    log(f"{scanner.identity()}: version {version_s:.2f}s, one skill {startup_s:.2f}s")

    held = syncs["hold"]["marketplace"]
    served_before_scan = Skill.objects.filter(marketplace=held, released=True).count()
    scanned_by_syncs = ContentScan.objects.count()
    batches = []
    scan = scanners.scan

    def timed_scan(*a, **kw):  # the scanner runs' share of the task, one batch per call
        started = time.perf_counter()
        try:
            return scan(*a, **kw)
        finally:
            batches.append(round(time.perf_counter() - started, 2))
            log(f"batch {len(batches)}: {batches[-1]:.2f}s")

    scans.scanners.scan = timed_scan
    tree = TreeSampler()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_before = peak_rss_mb()
    with tree:
        started = time.perf_counter()
        counts = scans.scan_marketplace(held.pk)
        scan_s = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    scans.scanners.scan = scan
    log(f"scan: {scan_s:.1f}s {counts}, scanner tree peak {tree.peak_mb} MB")
    started = time.perf_counter()
    again = scans.scan_marketplace(held.pk)
    again_s = time.perf_counter() - started

    live = Skill.objects.filter(marketplace=held, removed_at=None)
    released = live.filter(released=True).count()
    scanner_s = sum(batches)
    hold = syncs["hold"]
    ratios = {f"full_sync_to_clone_{gate}": round(syncs[gate]["sync_s"] / syncs[gate]["clone_s"], 2) for gate in GATES}
    result = {
        "size": {"plugins": args.plugins, "skills": skills, "files": skills * args.files,
                 "batch": settings.SKILLPORT_SCAN_BATCH, "scanner": scanner.identity()},
        "seconds": {
            **{f"clone_{gate}": round(syncs[gate]["clone_s"], 3) for gate in GATES},
            **{f"full_sync_{gate}": round(syncs[gate]["sync_s"], 3) for gate in GATES},
            "scanner_version": round(version_s, 2), "scanner_one_skill": round(startup_s, 2),
            "scan": round(scan_s, 2), "scanner_runs": round(scanner_s, 2),
            "gate_and_queries": round(scan_s - scanner_s, 2),
            "second_scan": round(again_s, 3),
        },
        "batches_s": batches,
        "ratios": {
            **ratios,
            "hold_sync_to_off_sync": round(ratios["full_sync_to_clone_hold"] / ratios["full_sync_to_clone_off"], 2),
            "report_sync_to_off_sync": round(ratios["full_sync_to_clone_report"] / ratios["full_sync_to_clone_off"], 2),
            "scan_to_full_sync": round(scan_s / hold["sync_s"], 2),
            "one_skill_run_to_clone": round(startup_s / hold["clone_s"], 2),
        },
        "skills_per_s": round(counts["scanned"] / scan_s, 2),
        # What a skill costs once the scanner is running: each run's start-up taken out.
        "ms_per_skill_after_startup": round(max(scanner_s - len(batches) * startup_s, 0) / max(counts["scanned"], 1)
                                            * 1000, 1),
        "scan": {**counts, "released": released, "held": live.count() - released, "second_scan": again,
                 "findings": ContentScan.objects.exclude(max_severity="").count()},
        "memory_mb": {
            "scanner_tree_peak": tree.peak_mb,
            "ours_peak_before_scan": rss_before, "ours_peak": peak_rss_mb(),
        },
        "scanner_cpu_s": round(children.ru_utime + children.ru_stime
                               - children_before.ru_utime - children_before.ru_stime, 1),
        "checks": {
            "syncs_ok": all(s["status"] == "ok" and s["added"] == skills for s in syncs.values()),
            "syncs_scanned_nothing": scanned_by_syncs == 0,
            "hold_served_nothing_before_its_scan": served_before_scan == 0,
            "all_scanned": counts == {"scanned": skills, "failed": 0},
            "nothing_scanned_twice": again == {"scanned": 0, "failed": 0},
        },
    }
    print(json.dumps(result, indent=2))


class TreeSampler:
    """Peak total resident memory of this process's descendants (the scanner and whatever it starts),
    read from /proc every 0.1 s while in use. (RUSAGE_CHILDREN's ru_maxrss would not do: a child
    counts the pages it shares with this process between fork and exec.)"""

    def __init__(self):
        self.peak_mb, self.stop = 0.0, threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def _sample(self):
        me = os.getpid()
        while not self.stop.wait(0.1):
            parents, pages = {}, {}
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    pages[int(entry)] = int(Path(f"/proc/{entry}/statm").read_text().split()[1])
                except (OSError, ValueError, IndexError):
                    continue  # gone meanwhile
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            total = sum(pages.get(pid, 0) for pid in parents if _descends(pid, me, parents))
            self.peak_mb = max(self.peak_mb, round(total * PAGE_MB, 1))


def _descends(pid, ancestor, parents) -> bool:
    while pid in parents and pid != ancestor:
        pid = parents[pid]
        if pid == ancestor:
            return True
    return False


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def git(*args) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True,
                          env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}).stdout


if __name__ == "__main__":
    main()
