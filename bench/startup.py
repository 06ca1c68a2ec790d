"""Benchmark a management command's start-up: `manage.py sync_marketplace --help` against `python -c pass`.

1. Run each once unmeasured, so Python's bytecode cache is written, as it is on a deployed install
   (PYTHONDONTWRITEBYTECODE is dropped from the children's environment: with it set, every one of
   the project's modules is compiled from source on every start, about 0.1 s more).
2. Run the two in turn `--runs` times, timing each from start to exit (wall) and reading its CPU.
3. In one more process, set Django up and list which of the modules only some commands need
   (tests/test_startup.py's list) were imported anyway.
4. Print one JSON object: each one's minimum and median, the command's over the baseline, the
   modules found, and the target (`--help` in under 1 s, median wall).

The command never reaches the database. Progress goes to stderr, the JSON alone to stdout; missing
the target is a result, not a failure. See bench/README.md.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from common import ROOT, log

from tests.test_startup import LAZY_MODULES

TARGET_S = 1.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="measured runs of each (default 10)")
    parser.add_argument("--command", default="sync_marketplace --help", help="the manage.py arguments timed")
    args = parser.parse_args()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    commands = {
        "python_pass": [sys.executable, "-c", "pass"],
        "command": [sys.executable, "manage.py", *args.command.split()],
    }
    for command in commands.values():  # writes the bytecode cache
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    times = {name: {"wall": [], "cpu": []} for name in commands}
    for run in range(args.runs):
        for name, command in commands.items():
            wall, cpu = timed(command, env)
            times[name]["wall"].append(wall)
            times[name]["cpu"].append(cpu)
        log(f"run {run + 1}: {times['command']['wall'][-1]:.3f}s")
    summary = {
        name: {f"{kind}_{stat}_s": round(function(values), 3)
               for kind, values in measured.items() for stat, function in (("min", min), ("median", statistics.median))}
        for name, measured in times.items()
    }
    median = summary["command"]["wall_median_s"]
    print(json.dumps({
        "command": f"manage.py {args.command}",
        "runs": args.runs,
        "seconds": summary,
        "command_minus_python_s": round(median - summary["python_pass"]["wall_median_s"], 3),
        "heavy_modules_imported_at_setup": imported_at_setup(env),
        "targets": {"under_1s": median < TARGET_S},
    }, indent=2))


def timed(command, env):
    """Wall seconds from start to exit, and the CPU seconds the process used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imported_at_setup(env):
    script = (
        "import json, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'skillport_site.settings');"
        "import django; django.setup();"
        f"print(json.dumps([m for m in {list(LAZY_MODULES)!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


if __name__ == "__main__":
    main()
