"""`make run` and `make stop`: setup_demo's words and its local account, and stopping what was started."""
import os
import stat
import subprocess
import sys
import time
from io import StringIO

import psutil
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from marketplace.models import Marketplace, Skill
from skillport_site import embedded, quickstart


def setup_demo() -> str:
    out = StringIO()
    call_command("setup_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def local_accounts(settings):
    settings.SKILLPORT_GITHUB_CLIENT_ID = ""


@pytest.mark.django_db
def test_setup_demo_syncs_the_example_and_says_so(local_accounts):
    out = setup_demo()
    assert "Sync it with" not in out  # it is synced, right after
    assert "Example marketplace (examples/marketplace) synced: ok, 9 skills." in out
    assert Marketplace.objects.get(slug="example").last_synced_commit
    assert "Example marketplace (examples/marketplace) synced: unchanged, 9 skills." in setup_demo()


@pytest.mark.django_db
def test_the_local_admin_keeps_its_password(local_accounts, settings):
    first = setup_demo()
    path = settings.SKILLPORT_DATA_DIR / "demo-password"
    password = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"  username: admin\n  password: {password}\n  (kept in {path}, readable only by you)" in first
    assert first.rstrip().endswith("readable only by you)")  # where to sign in comes last
    assert User.objects.get(username="admin").check_password(password)
    assert f"password: {password}\n" in setup_demo()  # the same one, every run
    admin = User.objects.get(username="admin")
    admin.set_password("the admin's own")
    admin.save()
    again = setup_demo()
    assert User.objects.get(username="admin").check_password("the admin's own")  # never reset
    assert "password: the one you set for it" in again and password not in again


@pytest.mark.django_db
def test_with_a_github_app_there_is_no_local_account(settings):
    settings.SKILLPORT_GITHUB_CLIENT_ID = "an-app"
    out = setup_demo()
    assert out.rstrip().endswith(f"Sign in with GitHub at {settings.SKILLPORT_BASE_URL}/login/.")
    assert not User.objects.filter(username="admin").exists()
    assert not (settings.SKILLPORT_DATA_DIR / "demo-password").exists()


def test_stop_ends_the_run_its_pid_file_names(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKILLPORT_DATA_DIR", str(tmp_path))
    # Stands in for `python -m skillport_site.quickstart`: the same words on its command line.
    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "skillport_site.quickstart"])
    (tmp_path / quickstart.PIDFILE).write_text(str(run.pid))
    assert quickstart.stop() == 0
    assert run.wait(timeout=10) == -15  # SIGTERM
    assert capsys.readouterr().out == "Skillport stopped.\n"
    assert not (tmp_path / "postgres").exists()  # `stop` starts no PostgreSQL to stop it


def test_a_pid_file_naming_another_process_is_ignored(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKILLPORT_DATA_DIR", str(tmp_path))
    (tmp_path / quickstart.PIDFILE).write_text(str(os.getpid()))  # this test's process: not a run
    assert quickstart.stop() == 0
    assert capsys.readouterr().out == "Skillport was not running.\n"


def test_processes_starting_together_on_a_new_data_directory_share_its_services(tmp_path):
    """With nothing configured, the first process to start makes the secret key and the PostgreSQL server
    in the data directory. The web server, a worker and beat may start at once: all must use the same
    key and database, none may read a key half written, and the key is the owner's alone from the moment
    it exists. (Of eight processes so, one in twenty starts had one fail on pgserver's folder.)"""
    env = {**os.environ, "SKILLPORT_DATA_DIR": str(tmp_path)}
    for name in ("SECRET_KEY", "DATABASE_URL"):
        env.pop(name, None)
    script = ("from skillport_site import settings\n"
              "print(settings.SECRET_KEY, settings.DATABASES['default']['OPTIONS']['host'])")
    try:
        starting = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
                    for _ in range(8)]
        seen = {process.communicate(timeout=180)[0].strip() for process in starting}
        assert [process.returncode for process in starting] == [0] * 8
    finally:
        embedded.stop_database(tmp_path)
    assert len(seen) == 1
    key, host = seen.pop().split()
    assert len(key) >= 50 and host.startswith(str(tmp_path))  # its socket, in this data directory
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no staged copy left


def test_stop_stops_the_embedded_postgresql(tmp_path):
    embedded.database_url(tmp_path)  # started, as the first process of `make run` starts it
    postmaster = psutil.Process(int((tmp_path / "postgres" / "postmaster.pid").read_text().split()[0]))
    assert embedded.stop_database(tmp_path) is True
    postmaster.wait(timeout=10)  # TimeoutExpired if it still ran
    assert not postmaster.is_running()
    assert embedded.stop_database(tmp_path) is False


@pytest.mark.django_db(transaction=True)
def test_make_runs_worker_scans_the_example_right_after_setup_demo(local_accounts, celery_worker_queue, settings,
                                                                    tmp_path):
    """setup_demo syncs in its own process, so it queues the scan a sync task would have: the demo's
    skills would otherwise say "Not scanned" until beat's safety net, up to five minutes later."""
    scanner = tmp_path / "clean_scanner.py"  # a scanner that finds nothing, and starts at once
    scanner.write_text("import json\nprint(json.dumps({'version': '2.1.0', 'runs': [{'tool': {'driver': "
                       "{'name': 'clean'}}, 'results': []}]}))\n")
    settings.SKILLPORT_SCANNERS = [{"name": "clean", "command": [sys.executable, str(scanner), "{dir}"],
                                    "format": "sarif"}]
    setup_demo()
    example = Skill.objects.filter(marketplace__slug="example", removed_at=None)
    deadline = time.monotonic() + 60
    while example.filter(scan_severity="").exists():
        assert time.monotonic() < deadline, "the worker did not scan the example"
        time.sleep(0.2)
    assert example.count() == 9 and all(skill.scan_passed for skill in example)
