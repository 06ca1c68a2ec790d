"""What the benchmarks share: Django set up from the project root, a throwaway database, logs
on stderr (stdout carries only the JSON result), and memory readings."""
import os
import resource
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = str(Path(__file__).resolve().parent)
# The project first and bench/ last: `import audit` must find the app, not bench/audit.py, and
# `import mcp` the SDK, not bench/mcp.py. (`import common` and `import web` still find these.)
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if entry not in (BENCH, str(ROOT))), BENCH]


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillport_site.settings")
    import django

    django.setup()


@contextmanager
def throwaway_database(suffix):
    """A freshly migrated `test_<name>_<suffix>` database, dropped afterwards whatever happens.

    A name of its own, because pytest-django's `test_<name>` may be in use by a test run.
    """
    setup_django()
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    connection.settings_dict["TEST"]["NAME"] = f"test_{connection.settings_dict['NAME']}_{suffix}"
    log(f"creating and migrating {connection.settings_dict['TEST']['NAME']}")
    old_config = setup_databases(verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set())
    try:
        yield
    finally:
        log("dropping the benchmark database")
        teardown_databases(old_config, verbosity=0)


def rss_mb(pid="self") -> float:
    """Resident set size of this process (or `pid`) now (VmRSS, Linux); 0 for one that has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds(backend_pid=None) -> dict:
    """CPU seconds used so far by this process, by the children it has waited for (git), and by the
    PostgreSQL backend `backend_pid` when the server runs on this machine (else None). A busy machine
    moves these far less than it moves wall-clock time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    found = {"python": own.ru_utime + own.ru_stime, "git": children.ru_utime + children.ru_stime, "postgres": None}
    try:
        # Fields 14 and 15 of /proc/<pid>/stat (after the command name in parentheses): user and system ticks.
        fields = Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
        found["postgres"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        pass
    return found


def cpu_used(before: dict, after: dict) -> dict:
    return {key: None if after[key] is None or before[key] is None else round(after[key] - before[key], 3)
            for key in after}
