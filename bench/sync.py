"""Benchmark the sync engine on a generated marketplace: clone, full, unchanged, one-skill and every-skill syncs.

1. Generate a marketplace repository (default 500 plugins x 4 skills x 3 files) with one commit.
2. Time a real `git clone --bare --no-local` of it: the yardstick the full sync is compared to.
3. Time five syncs of a fresh Marketplace row: the first (full), a second with no change, a third
   with no change as the first after an upgrade of Skillport's reading rules (every skill read and
   judged again), a fourth after one SKILL.md changed in a new commit, and a fifth after every
   SKILL.md changed.
   With --approval the marketplace requires approval, and an admin's approval of everything the
   full and every-skill syncs left waiting is timed too (one decision, as the admin's action takes it).
4. Print one JSON object with times, ratios to the clone, counts, peak RSS and the targets met.

Progress goes to stderr; the JSON alone goes to stdout. It always exits 0 once it has measured:
missing a target is a result, not a failure. See bench/README.md.
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
from contextlib import nullcontext
from pathlib import Path

from common import ROOT, cpu_seconds, cpu_used, log, peak_rss_mb, rss_mb, setup_django, throwaway_database

# Issue 21 tightened the full sync (from 3x) and the one-skill change (from 1.5 s).
TARGETS = {"full_sync_to_clone": 2.5, "unchanged_sync_s": 0.5, "one_skill_sync_s": 0.5, "peak_rss_mb": 300}
# Issue 21: a catalogue ten times larger syncs no slower per skill, in at most this much memory.
SCALE_TARGETS = {"per_skill_to_first": 1.0, "peak_rss_mb": 400, "one_skill_sync_s": 0.5}
PHASES = ("full", "unchanged", "after-upgrade", "one-skill", "every-skill")


def main():
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skillport-bench-"))
    try:
        prepare_environment(tmp)
        # --keep writes to the configured database itself, for the other benchmarks to read.
        with nullcontext(setup_django()) if args.keep else throwaway_database("sync_bench"):
            # The engine logs each run at INFO; this script prints its own line per run.
            logging.getLogger("marketplace").setLevel(logging.WARNING)
            start_like_a_worker()
            if args.scale:
                run_scale(args, tmp)
            else:
                run_benchmark(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def start_like_a_worker():
    """Syncs run in a Celery worker process, which starts with every task's modules loaded and frozen."""
    from skillport_site.celery import app, freeze_start_up

    app.loader.import_default_modules()
    freeze_start_up()


def add_shape_arguments(parser):
    """The generated marketplace's shape, which every benchmark built on this one takes."""
    parser.add_argument("--plugins", type=int, default=500, help="plugins in the marketplace (default 500)")
    parser.add_argument("--skills", type=int, default=4, help="skills per plugin (default 4)")
    parser.add_argument("--files", type=int, default=3, help="files per skill, SKILL.md included (default 3)")


def parse_shape(parser):
    args = parser.parse_args()
    if min(args.plugins, args.skills, args.files) < 1:
        parser.error("--plugins, --skills and --files must be at least 1")
    return args


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_shape_arguments(parser)
    parser.add_argument("--packed", action="store_true",
                        help="repack the generated repository before measuring, as a hosting server keeps it "
                             "(the clone gets much cheaper; by default it is served from loose objects)")
    parser.add_argument("--profile", choices=PHASES,
                        help="run this sync under cProfile and print the top 30 by cumulative time to stderr "
                             "(its time is then inflated by the profiler)")
    parser.add_argument("--approval", action="store_true",
                        help="the marketplace requires approval: also time approving all the full and every-skill "
                             "syncs left waiting")
    parser.add_argument("--scale", type=int, default=0, metavar="N",
                        help="sync N marketplaces of this shape one after another into one catalogue, then change "
                             "one skill of the last: time per skill and memory as the catalogue grows")
    parser.add_argument("--keep", action="store_true",
                        help="with --scale: sync into the configured database (migrated) and leave the "
                             "marketplaces there for the other benchmarks")
    args = parse_shape(parser)
    if args.keep and not (args.scale and os.environ.get("DATABASE_URL")):
        parser.error("--keep needs --scale and DATABASE_URL")
    return args


def prepare_environment(tmp):
    if not os.environ.get("DATABASE_URL"):
        # Settings would start an embedded server in the data directory, and ours is a fresh
        # temporary one (below); use the project's usual embedded server instead.
        from skillport_site import embedded

        data_dir = Path(os.environ.get("SKILLPORT_DATA_DIR") or ROOT / ".data").resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = embedded.database_url(data_dir)
    # A fresh data directory, so the engine's git cache starts empty and the first sync clones.
    os.environ.setdefault("SKILLPORT_DATA_DIR", str(tmp / "data"))


def run_benchmark(args, tmp):

    from marketplace.gitrepo import Repository
    from marketplace import approval
    from marketplace.models import Blob, Marketplace, SkillRevision, SyncRun
    from marketplace.reader import READER_VERSION
    from marketplace.sync import sync_marketplace

    run_id = uuid.uuid4().hex[:12]
    log(f"generating {args.plugins} plugins x {args.skills} skills x {args.files} files in {tmp}")
    started = time.perf_counter()
    repo, changed_skill = generate_marketplace(tmp / "market", args, run_id)
    if args.packed:
        repo.git("repack", "-a", "-d", "-q")
    log(f"generated in {time.perf_counter() - started:.2f}s")

    # file:// for both clones: a plain path would let git hardlink objects instead of packing
    # and transferring them, which no remote marketplace allows.
    url = f"file://{repo.path}"
    # Write the generated files out first, or whichever phase fsyncs first pays for them.
    os.sync()
    started = time.perf_counter()
    subprocess.run(["git", "clone", "--bare", "--no-local", "--quiet", url, str(tmp / "clone.git")],
                   check=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"})
    clone_s = time.perf_counter() - started
    log(f"git clone: {clone_s:.3f}s")

    marketplace = Marketplace.objects.create(slug=f"bench-{run_id}", git_url=url, requires_approval=args.approval)
    rss_before = peak_rss_mb()
    backend = backend_pid()

    def timed_sync(phase):
        os.sync()  # as before the clone: the last commit's writes are not this sync's cost
        # The engine's progress callback marks where each phase starts: fetch, plugins, skills, save.
        marks = [("setup", time.perf_counter())]

        def on_progress(name, done, total):
            if marks[-1][0] != name:
                marks.append((name, time.perf_counter()))

        profiler = cProfile.Profile() if args.profile == phase else None
        cpu_before = cpu_seconds(backend)
        if profiler:
            profiler.enable()
        run = sync_marketplace(marketplace.pk, SyncRun.Trigger.CLI, progress=on_progress)
        if profiler:
            profiler.disable()
        marks.append(("end", time.perf_counter()))
        cpu = cpu_used(cpu_before, cpu_seconds(backend))
        seconds = marks[-1][1] - marks[0][1]
        phases = {}
        for (name, at), (_next, until) in zip(marks, marks[1:]):
            phases[name] = round(phases.get(name, 0) + until - at, 3)
        log(f"{phase} sync: {seconds:.3f}s status={run.status} phases={phases} cpu={cpu} counts={run.counts}"
            + (f" error={run.error}" if run.error else ""))
        if profiler:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        return seconds, {"status": run.status, **run.counts, "phases_s": phases, "cpu_s": cpu}

    approvals = {}

    def timed_approval(phase):
        waiting = SkillRevision.objects.filter(skill__marketplace=marketplace, status=SkillRevision.Status.PENDING)
        cpu_before, started = cpu_seconds(backend), time.perf_counter()
        approved = approval.approve(waiting, None, reason="benchmark")  # not scanned here: an override
        seconds = time.perf_counter() - started
        cpu = cpu_used(cpu_before, cpu_seconds(backend))
        log(f"approving what the {phase} sync left waiting: {seconds:.3f}s approved={approved} cpu={cpu}")
        approvals[phase] = {"seconds": round(seconds, 3), "approved": approved, "cpu_s": cpu}

    try:
        full_s, full = timed_sync("full")
        if args.approval:
            timed_approval("full")
        unchanged_s, unchanged = timed_sync("unchanged")
        # As a Skillport with an older reader left it: the same commit, read again (sync._rejudge).
        Marketplace.objects.filter(pk=marketplace.pk).update(reader_version=READER_VERSION - 1,
                                                             last_sync_fingerprint="")
        upgrade_s, upgrade = timed_sync("after-upgrade")
        repo.commit({changed_skill: repo.path.joinpath(changed_skill).read_text() + "\nOne more line.\n"}, "edit")
        one_skill_s, one_skill = timed_sync("one-skill")
        repo.commit({path: repo.path.joinpath(path).read_text() + "\nEdited again.\n"
                     for path in repo.git("ls-files", "*/SKILL.md").split()}, "edit every skill")
        every_skill_s, every_skill = timed_sync("every-skill")
        if args.approval:
            timed_approval("every-skill")
        peak = peak_rss_mb()
    finally:
        # Blobs are shared by content and outlive the marketplace; ours carry the run id, so
        # every blob of the generated history is this run's alone.
        shas = repo.git("rev-list", "--objects", "--all", "--no-object-names").split()
        marketplace.delete()
        Blob.objects.filter(sha__in=shas, skillfile__isnull=True).delete()
        shutil.rmtree(Repository.cache_path(url), ignore_errors=True)
        Path(f"{Repository.cache_path(url)}.lock").unlink(missing_ok=True)

    def ratio(seconds):
        return round(seconds / clone_s, 2)

    result = {
        "size": {"plugins": args.plugins, "skills": args.plugins * args.skills,
                 "files": args.plugins * args.skills * args.files},
        "seconds": {"clone": round(clone_s, 3), "full_sync": round(full_s, 3),
                    "unchanged_sync": round(unchanged_s, 3), "after_upgrade_sync": round(upgrade_s, 3),
                    "one_skill_sync": round(one_skill_s, 3), "every_skill_sync": round(every_skill_s, 3)},
        "ratios": {"full_sync_to_clone": ratio(full_s), "unchanged_sync_to_clone": ratio(unchanged_s),
                   "one_skill_sync_to_clone": ratio(one_skill_s), "every_skill_sync_to_clone": ratio(every_skill_s),
                   # Rewriting every row against writing them the first time (no target).
                   "every_skill_sync_to_full_sync": round(every_skill_s / full_s, 2),
                   # Reading and judging everything again, once after an upgrade (no target).
                   "after_upgrade_sync_to_full_sync": round(upgrade_s / full_s, 2),
                   **{f"approval_after_{phase.replace('-', '_')}_to_full_sync": round(a["seconds"] / full_s, 2)
                      for phase, a in approvals.items()}},
        "runs": {"full": full, "unchanged": unchanged, "after_upgrade": upgrade, "one_skill": one_skill,
                 "every_skill": every_skill},
        "approvals": approvals,
        # The runs measured what they were meant to: otherwise the times mean little.
        "checks": {"full_ok": full["status"] == "ok" and full["added"] == args.plugins * args.skills,
                   "unchanged_reported": unchanged["status"] == "unchanged",
                   "after_upgrade_read_and_nothing_updated": upgrade["status"] == "ok" and upgrade["updated"] == 0,
                   "one_skill_updated": one_skill["status"] == "ok" and one_skill["updated"] == 1,
                   "every_skill_updated": every_skill["updated"] == args.plugins * args.skills,
                   **({"everything_waiting_approved": all(a["approved"] == args.plugins * args.skills
                                                          for a in approvals.values())} if args.approval else {})},
        "approval": args.approval,
        "rss_before_sync_mb": rss_before,
        "peak_rss_mb": peak,
        "packed": args.packed,
        "profiled": args.profile,
        "targets": {
            "full_sync_within_2_5x_clone": full_s <= TARGETS["full_sync_to_clone"] * clone_s,
            "unchanged_sync_within_0_5s": unchanged_s <= TARGETS["unchanged_sync_s"],
            "one_skill_sync_within_0_5s": one_skill_s <= TARGETS["one_skill_sync_s"],
            "peak_rss_within_300mb": peak <= TARGETS["peak_rss_mb"],
        },
    }
    print(json.dumps(result, indent=2))


def run_scale(args, tmp):
    """Sync `--scale` marketplaces into one catalogue, one after another, each after a clone of its own
    repository (the yardstick); then one changed skill in the last. This process is the worker: its
    memory is measured after each sync (VmRSS) and at its peak (ru_maxrss)."""
    from marketplace.gitrepo import Repository
    from marketplace.models import Marketplace, Skill

    rss_start, runs, urls = rss_mb(), [], []
    backend = backend_pid()
    try:
        for number in range(args.scale):
            run_id = uuid.uuid4().hex[:12]
            repo, changed_skill = generate_marketplace(tmp / f"market-{number}", args, run_id)
            url = f"file://{repo.path}"
            urls.append(url)
            os.sync()
            started = time.perf_counter()
            subprocess.run(["git", "clone", "--bare", "--no-local", "--quiet", url, str(tmp / f"clone-{number}.git")],
                           check=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"})
            clone_s = time.perf_counter() - started
            shutil.rmtree(tmp / f"clone-{number}.git")
            marketplace = Marketplace.objects.create(slug=f"bench-{run_id}", git_url=url)
            os.sync()
            cpu_before = cpu_seconds(backend)
            seconds, run, phases = phased_sync(marketplace)
            runs.append({"status": run.status, "added": run.added, "clone_s": round(clone_s, 3),
                         "sync_s": round(seconds, 3), "to_clone": round(seconds / clone_s, 2),
                         "ms_per_skill": round(1000 * seconds / max(run.added, 1), 3), "phases_s": phases,
                         "cpu_s": cpu_used(cpu_before, cpu_seconds(backend)),
                         "rss_after_mb": rss_mb(), "peak_rss_mb": peak_rss_mb()})
            log(f"marketplace {number + 1}/{args.scale}: clone {clone_s:.3f}s, sync {seconds:.3f}s "
                f"({run.status}, {run.added} added) {phases}, RSS {rss_mb()} MB, peak {peak_rss_mb()} MB")
        repo.commit({changed_skill: repo.path.joinpath(changed_skill).read_text() + "\nOne more line.\n"}, "edit")
        one_skill_s, one_skill, one_skill_phases = phased_sync(marketplace)
        log(f"one-skill sync of the last: {one_skill_s:.3f}s ({one_skill.status}, {one_skill.updated} updated) "
            f"{one_skill_phases}")
        catalogue = Skill.objects.filter(removed_at=None).count()
    finally:
        for url in urls:
            shutil.rmtree(Repository.cache_path(url), ignore_errors=True)
            Path(f"{Repository.cache_path(url)}.lock").unlink(missing_ok=True)
    first, last = runs[0]["ms_per_skill"], runs[-1]["ms_per_skill"]
    peak = peak_rss_mb()
    result = {
        "size": {"marketplaces": args.scale, "skills_each": args.plugins * args.skills,
                 "files_each": args.plugins * args.skills * args.files, "catalogue_skills": catalogue},
        "runs": runs,
        "one_skill_sync_s": round(one_skill_s, 3),
        "one_skill_phases_s": one_skill_phases,
        # Per skill, the last full sync (the catalogue at its largest) over the first (an empty one); on a
        # busy machine the clone moves with the load, so each sync over its own clone compares better.
        "per_skill_last_to_first": round(last / first, 2),
        "per_skill_worst_to_first": round(max(r["ms_per_skill"] for r in runs) / first, 2),
        "to_clone_last_to_first": round(runs[-1]["to_clone"] / runs[0]["to_clone"], 2),
        "to_clone_median": sorted(r["to_clone"] for r in runs)[len(runs) // 2],
        "rss_start_mb": rss_start,
        "peak_rss_mb": peak,
        "kept": list(Marketplace.objects.filter(git_url__in=urls).values_list("slug", flat=True)) if args.keep else [],
        "checks": {"all_full_ok": all(r["status"] == "ok" and r["added"] == args.plugins * args.skills for r in runs),
                   "one_skill_updated": one_skill.status == "ok" and one_skill.updated == 1},
        "targets": {
            "per_skill_no_worse_than_first": last <= first * SCALE_TARGETS["per_skill_to_first"],
            "peak_rss_within_400mb": peak <= SCALE_TARGETS["peak_rss_mb"],
            "one_skill_sync_within_0_5s": one_skill_s <= SCALE_TARGETS["one_skill_sync_s"],
        },
    }
    print(json.dumps(result, indent=2))


def backend_pid():
    """The PostgreSQL backend serving this process's connection, whose CPU time cpu_seconds reads."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def phased_sync(marketplace):
    """Sync; return its seconds, SyncRun and the seconds in each of the engine's progress phases."""
    from marketplace.models import SyncRun
    from marketplace.sync import sync_marketplace

    marks = [("setup", time.perf_counter())]

    def on_progress(name, done, total):
        if marks[-1][0] != name:
            marks.append((name, time.perf_counter()))

    run = sync_marketplace(marketplace.pk, SyncRun.Trigger.CLI, progress=on_progress)
    marks.append(("end", time.perf_counter()))
    phases = {}
    for (name, at), (_next, until) in zip(marks, marks[1:]):
        phases[name] = round(phases.get(name, 0) + until - at, 3)
    return marks[-1][1] - marks[0][1], run, phases


def generate_marketplace(path, args, run_id):
    """Write the whole marketplace, commit once; return the repo and one SKILL.md to edit later."""
    from tests.builders import GitRepo, catalog, plugin_entry, skill_md

    repo = GitRepo(path)
    # A commit of this many loose objects starts `git gc --auto` in the background, which would
    # race the clone and repack under it: timings would depend on how far it had got.
    repo.git("config", "gc.auto", "0")
    files, entries = {}, []
    for p in range(args.plugins):
        name = f"plugin-{p:04d}"
        root = f"plugins/{name}"
        entries.append(plugin_entry(name, description=f"Tools for area {p} ({run_id}).", category="productivity"))
        files[f"{root}/.claude-plugin/plugin.json"] = json.dumps({
            "name": name, "version": f"1.{p % 10}.0", "description": f"Tools for area {p}.",
            "author": {"name": "Bench Author", "email": "bench@example.com"}, "license": "MIT",
            "keywords": ["bench", f"area-{p}"],
        }, indent=2)
        for s in range(args.skills):
            skill = f"skill-{p:04d}-{s}"
            folder = f"{root}/skills/{skill}"
            files[f"{folder}/SKILL.md"] = skill_md(
                skill,
                f"Handles task {s} of area {p}: reads the inputs, runs the helper script and reports. "
                f"Use when the user asks about area {p}.",
                skill_body(skill, run_id),
                license="MIT",
                **{"allowed-tools": "Read Grep Bash", "metadata": {"version": "1.0.0", "owner": "bench"}},
            )
            for f in range(1, args.files):
                if f % 2:
                    files[f"{folder}/scripts/tool_{f}.py"] = script(skill, f, run_id)
                else:
                    files[f"{folder}/references/notes_{f}.md"] = reference(skill, f, run_id)
    files[".claude-plugin/marketplace.json"] = catalog(*entries, name="bench-market", owner={"name": "Bench"})
    repo.commit(files, "generated marketplace")
    return repo, f"plugins/plugin-{args.plugins // 2:04d}/skills/skill-{args.plugins // 2:04d}-0/SKILL.md"


def skill_body(skill, run_id) -> str:
    lines = [f"# {skill}", "", f"Generated for benchmark run {run_id}.", "", "## When to use", ""]
    lines += [f"- Situation {i}: the user needs step {i} of {skill} done carefully." for i in range(10)]
    lines += ["", "## Steps", ""]
    lines += [f"{i}. Run `python scripts/tool_1.py --step {i}` and read its output before going on." for i in range(1, 15)]
    lines += ["", "## Notes", "", "See references/ for background. Keep answers short and cite the file read.",
              "Never edit files outside the working directory.", ""]
    return "\n".join(lines)


def script(skill, index, run_id) -> str:
    return (
        f'"""Helper {index} for {skill} (run {run_id})."""\n'
        "import sys\n\n\n"
        "def main(argv):\n"
        "    step = int(argv[argv.index('--step') + 1]) if '--step' in argv else 0\n"
        f"    print(f'{skill}: step {{step}} done')\n\n\n"
        "if __name__ == '__main__':\n"
        "    main(sys.argv[1:])\n"
    )


def reference(skill, index, run_id) -> str:
    paragraphs = [f"## Topic {t}\n\n" + f"Background {t} for {skill}, collected for run {run_id}. " * 3 for t in range(5)]
    return f"# Notes {index} for {skill}\n\n" + "\n\n".join(paragraphs) + "\n"


if __name__ == "__main__":
    main()
