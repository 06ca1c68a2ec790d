"""Skillport served for real in tests: the production ASGI router (Django plus /mcp) under uvicorn,
in a thread, or the Procfile's web command in a process of its own."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx
import uvicorn
from django.conf import settings

from connector.middleware import MCPAccessLog
from connector.server import build_app
from skillport_site.asgi import router

from .builders import subprocess_database_url
from .github_plugin import SKILLPORT_PORT, SKILLPORT_SOCKET


class SkillportServer:
    """uvicorn on 127.0.0.1:SKILLPORT_PORT (the socket bound since start-up) in a thread, with the SDK's lifespan,
    like gunicorn's workers."""

    def __init__(self):
        config = uvicorn.Config(
            router(MCPAccessLog(build_app())), host="127.0.0.1", port=SKILLPORT_PORT, lifespan="on",
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [SKILLPORT_SOCKET]}, daemon=True)
        self.url = f"http://127.0.0.1:{SKILLPORT_PORT}"

    def start(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test Skillport server did not start")
            time.sleep(0.05)
        return self

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


ROOT = Path(__file__).resolve().parent.parent


class ProcfileWeb:
    """The Procfile's `web` command, exactly as `make run` starts it (gunicorn, uvicorn workers, its
    access log), in a process of its own on the test database; everything it prints goes to `log`.

    For what only the production entry point does: asgi.py's statement timeout, the servers' logging.
    """

    def __init__(self, data_dir: Path, **environment):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "web.log"
        self.environment = {
            **os.environ, "PORT": str(self.port), "DATABASE_URL": subprocess_database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "SKILLPORT_DATA_DIR": str(data_dir), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            **environment,
        }

    def start(self):
        web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                ["sh", "-c", f"exec {web.removeprefix('web:').strip()}"], cwd=ROOT, env=self.environment,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"the Procfile's web command did not start:\n{self.output()}")
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # gunicorn and its workers, started by us
            self.process.wait(30)
