"""Every manage.py command sets Django up: what only the MCP server or one function needs is not imported then."""
import json
import os
import subprocess
import sys
from pathlib import Path

# Imported only where they are used: the MCP SDK by the server (connector.server, connector.verifier),
# the look-alike letters' data by marketplace.spoofing for non-ASCII names. bench/startup.py reports them too.
LAZY_MODULES = ("mcp", "mcp_types", "confusable_homoglyphs")
ROOT = Path(__file__).resolve().parent.parent


def modules_after(code: str) -> list[str]:
    """Which of LAZY_MODULES a fresh process holds after setting Django up and running `code`."""
    script = "\n".join([
        "import json, os, sys",
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'skillport_site.settings')",
        "import django",
        "django.setup()",
        code,
        f"print(json.dumps([name for name in {LAZY_MODULES!r} if name in sys.modules]))",
    ])
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "skillport_site.settings"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_setting_django_up_imports_neither_the_mcp_sdk_nor_other_heavy_modules():
    assert modules_after("pass") == []


def test_the_sync_command_does_not_import_them_either():
    assert modules_after("import marketplace.management.commands.sync_marketplace") == []


def test_a_celery_worker_starting_does_not_import_them_either():
    # Celery's Django fixup runs the system checks as a worker starts; auth's imports every middleware.
    assert modules_after("from django.core.checks import run_checks; run_checks()") == []


def test_the_mcp_server_does_import_the_sdk():
    # The names above are the ones the server really imports: otherwise the tests above prove nothing.
    assert {"mcp", "mcp_types"} <= set(modules_after("import connector.server"))


def test_a_look_alike_name_still_loads_the_confusables_data():
    from marketplace.spoofing import reads_as

    assert reads_as("р\u0430у") == "pay"  # Cyrillic er, Latin a, Cyrillic u
    assert "confusable_homoglyphs" in modules_after("from marketplace.spoofing import reads_as; reads_as('р\u0430у')")


def test_a_celery_worker_process_freezes_what_start_up_loaded():
    """Celery sends worker_process_init in each pool process before its first task; from then on, full garbage
    collections during a sync walk only what the sync made."""
    script = "\n".join([
        "import gc",
        "from celery.signals import worker_process_init",
        "import skillport_site.celery",
        "assert gc.get_freeze_count() == 0",
        "worker_process_init.send(sender=None)",
        "print(gc.get_freeze_count())",
    ])
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 10_000
