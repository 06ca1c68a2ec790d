"""Benchmark publishing to a git repository: a full publish, one with nothing new, one after a skill changed.

1. Generate bench/sync.py's marketplace (default 500 plugins x 4 skills x 3 files: 2,000 skills) and
   sync it (not timed): publishing reads what a sync stored.
2. Time three publishes of a git target to an empty bare repository, through `file://` so git packs
   and transfers objects as it would to a remote: the first (from scratch: it creates the branch),
   a second with nothing new, and a third after one SKILL.md changed in a new commit, synced.
3. Time a real `git clone --bare --no-local` of the published repository: the yardstick each
   publish is compared to, measured in the same run.
4. Print one JSON object with times, ratios to the clone, each run's counts and phases, and peak RSS.

Progress goes to stderr; the JSON alone goes to stdout. It always exits 0 once it has measured.
See bench/README.md.
"""
import argparse
import cProfile
import json
import logging
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import log, peak_rss_mb, throwaway_database
from sync import add_shape_arguments, generate_marketplace, parse_shape, prepare_environment

PHASES = ("full", "unchanged", "one-skill")


def main():
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skillport-bench-"))
    try:
        prepare_environment(tmp)
        # Always a fresh data directory: the target's git cache starts empty, as on a first publish.
        os.environ["SKILLPORT_DATA_DIR"] = str(tmp / "data")
        os.environ["SKILLPORT_ALLOW_LOCAL_SOURCES"] = "true"  # the target is a bare repository in tmp
        with throwaway_database("publish_bench"):
            logging.getLogger("marketplace").setLevel(logging.WARNING)
            run_benchmark(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shape_arguments(parser)
    parser.add_argument("--profile", choices=PHASES,
                        help="run this publish under cProfile and print the top 30 by cumulative time to stderr "
                             "(its time is then inflated by the profiler)")
    return parse_shape(parser)


def run_benchmark(args, tmp):
    from marketplace.models import Marketplace
    from marketplace.sync import sync_marketplace
    from publishing import runs
    from publishing.models import Kind, PublishTarget, Trigger

    run_id = uuid.uuid4().hex[:12]
    log(f"generating {args.plugins} plugins x {args.skills} skills x {args.files} files in {tmp}")
    repo, changed_skill = generate_marketplace(tmp / "market", args, run_id)
    marketplace = Marketplace.objects.create(slug=f"bench-{run_id}", git_url=f"file://{repo.path}")
    started = time.perf_counter()
    synced = sync_marketplace(marketplace.pk)
    log(f"synced in {time.perf_counter() - started:.2f}s: {synced.status} {synced.counts}")

    bare = tmp / "published.git"
    git("init", "--bare", "--quiet", "--initial-branch=main", str(bare))
    git("--git-dir", str(bare), "config", "gc.auto", "0")  # no background repack under the clone
    target = PublishTarget.objects.create(name=f"bench-{run_id}", kind=Kind.GIT, marketplace_name="bench-org",
                                          repository_url=f"file://{bare}")
    target.marketplaces.set([marketplace])
    rss_before = peak_rss_mb()

    def timed_publish(phase):
        os.sync()  # the last commit's or sync's writes are not this publish's cost
        marks = [("setup", time.perf_counter())]

        def on_progress(name, done, total):
            if marks[-1][0] != name:
                marks.append((name, time.perf_counter()))

        profiler = cProfile.Profile() if args.profile == phase else None
        if profiler:
            profiler.enable()
        run = runs.publish(PublishTarget.objects.get(pk=target.pk), Trigger.CLI, progress=on_progress)
        if profiler:
            profiler.disable()
        marks.append(("end", time.perf_counter()))
        seconds = marks[-1][1] - marks[0][1]
        phases = {}
        for (name, at), (_next, until) in zip(marks, marks[1:]):
            phases[name] = round(phases.get(name, 0) + until - at, 3)
        changes = {key: len(found) for key, found in run.changes.items()}
        log(f"{phase} publish: {seconds:.3f}s status={run.status} phases={phases} changes={changes}"
            + (f" error={run.error}" if run.error else ""))
        if profiler:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        return seconds, {"status": run.status, "plugins": run.plugins, "skills": run.skills, "bytes": run.size,
                         "changes": changes, "phases_s": phases}

    full_s, full = timed_publish("full")
    os.sync()
    started = time.perf_counter()
    git("clone", "--bare", "--no-local", "--quiet", f"file://{bare}", str(tmp / "clone.git"))
    clone_s = time.perf_counter() - started
    log(f"git clone of the published repository: {clone_s:.3f}s")
    unchanged_s, unchanged = timed_publish("unchanged")
    repo.commit({changed_skill: repo.path.joinpath(changed_skill).read_text() + "\nOne more line.\n"}, "edit")
    resynced = sync_marketplace(marketplace.pk)
    log(f"synced the change: {resynced.status} updated={resynced.counts.get('updated')}")
    one_skill_s, one_skill = timed_publish("one-skill")
    peak = peak_rss_mb()
    commits = git("--git-dir", str(bare), "rev-list", "--count", "main").strip()

    def ratio(seconds):
        return round(seconds / clone_s, 2)

    skills = args.plugins * args.skills
    print(json.dumps({
        "size": {"plugins": args.plugins, "skills": skills, "files": skills * args.files,
                 "published_mb": round(full["bytes"] / 1024 / 1024, 1)},
        "seconds": {"clone": round(clone_s, 3), "full_publish": round(full_s, 3),
                    "unchanged_publish": round(unchanged_s, 3), "one_skill_publish": round(one_skill_s, 3)},
        "ratios": {"full_publish_to_clone": ratio(full_s), "unchanged_publish_to_clone": ratio(unchanged_s),
                   "one_skill_publish_to_clone": ratio(one_skill_s)},
        "runs": {"full": full, "unchanged": unchanged, "one_skill": one_skill},
        # The publishes did what they were meant to: otherwise the times mean little.
        "checks": {"full_published": full["status"] == "published" and full["skills"] == skills,
                   "unchanged_reported": unchanged["status"] == "unchanged",
                   "one_skill_updated": one_skill["status"] == "published" and one_skill["changes"]["updated"] == 1,
                   "two_commits": commits == "2"},
        "rss_before_publish_mb": rss_before,
        "peak_rss_mb": peak,
        "profiled": args.profile,
    }, indent=2))


def git(*args) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True,
                          env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}).stdout


if __name__ == "__main__":
    main()
