"""`make run` and `make stop`: the quick start's processes, quiet, with where to sign in said last.

`python -m skillport_site.quickstart` starts the Procfile under honcho (the web server, a Celery worker
and beat), waits until the web server answers, runs setup_demo (the example marketplace, the local
account) and then says where Skillport is: the last lines printed, not scrolled away under the
processes' start-up. It runs until Ctrl-C or `python -m skillport_site.quickstart stop`, and stops the
embedded PostgreSQL on its way out. `stop` does not set Django up: that would start PostgreSQL.
"""
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil  # installed with pgserver: a process's command line, on every platform

from . import embedded

PIDFILE = "quickstart.pid"
STILL_WAITING = 60  # seconds before saying that the web server is slow to answer
STOP_WAIT = 60  # seconds `stop` waits for `run` to end (honcho kills what has not stopped after 5)


def run(port: str) -> int:
    data = embedded.data_dir()
    if pid := _running(data):
        print(f"Skillport is already running (process {pid}): `make stop` stops it.", file=sys.stderr)
        return 1
    (data / PIDFILE).write_text(str(os.getpid()))
    honcho = subprocess.Popen(["honcho", "start", "-f", "Procfile"], env={**os.environ, "PORT": port})
    stopping = []

    def stop(signum, frame):
        # Ctrl-C reaches honcho with us; `make stop` signals us alone. honcho stops its processes once.
        stopping.append(signum)
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if _answers(f"http://127.0.0.1:{port}/healthz", honcho, stopping) and not stopping:
            _welcome(port)
        honcho.wait()
    finally:
        if honcho.poll() is None:  # setup_demo failed: its traceback is above
            honcho.send_signal(signal.SIGTERM)
            honcho.wait()
        _close_database_connections()
        embedded.stop_database(data)
        (data / PIDFILE).unlink(missing_ok=True)
    if stopping:
        print("Skillport stopped.")
        return 0
    print("Skillport stopped: the output above says why.", file=sys.stderr)
    return honcho.returncode or 1


def stop() -> int:
    """Stop what `run` started, and the embedded PostgreSQL even when `run` is gone."""
    data = embedded.data_dir()
    if pid := _running(data):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT
        while _running(data) == pid:
            if time.monotonic() > deadline:
                print(f"Skillport (process {pid}) is still stopping; its output says what it waits for.",
                      file=sys.stderr)
                return 1
            time.sleep(0.2)
    database = embedded.stop_database(data)
    print("Skillport stopped." if pid or database else "Skillport was not running.")
    return 0


def _running(data) -> int | None:
    """The process id of a `run` of this data directory that is still running."""
    try:
        pid = int((data / PIDFILE).read_text())
        command = psutil.Process(pid).cmdline()
    except (OSError, ValueError, psutil.Error):
        return None  # no pid file, or no such process
    return pid if "skillport_site.quickstart" in command else None


def _answers(url, honcho, stopping) -> bool:
    """Wait until the web server answers `url` at all; False if the processes end or are stopped first."""
    started = time.monotonic()
    said = False
    while honcho.poll() is None and not stopping:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return True
        except urllib.error.HTTPError:
            return True  # it answers, if not with 200: the processes' own output says why
        except OSError:
            time.sleep(0.5)
        if not said and time.monotonic() - started > STILL_WAITING:
            print(f"Still waiting for the web server at {url} ...", flush=True)
            said = True
    return False


def _welcome(port):
    """setup_demo's example and sign-in, then where Skillport is: the last lines on the terminal."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillport_site.settings")
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("setup_demo")
    base = settings.SKILLPORT_BASE_URL
    print(f"\nSkillport is running at {base}/  (admin: {base}/admin/, the web server on 127.0.0.1:{port})\n"
          "Ctrl-C or `make stop` stops it.", flush=True)


def _close_database_connections():
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command not in ("run", "stop"):
        sys.exit("usage: python -m skillport_site.quickstart [run|stop]")
    sys.exit(run(os.environ.get("PORT", "8000")) if command == "run" else stop())
