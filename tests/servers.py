"""Skillport served for real in tests: the production ASGI router (Django plus /mcp) under uvicorn."""
import threading
import time

import uvicorn

from connector.middleware import MCPAccessLog
from connector.server import build_app
from skillport_site.asgi import router

from .github_plugin import SKILLPORT_PORT


class SkillportServer:
    """uvicorn on 127.0.0.1:SKILLPORT_PORT in a thread, with the SDK's lifespan, like gunicorn's workers."""

    def __init__(self):
        config = uvicorn.Config(
            router(MCPAccessLog(build_app())), host="127.0.0.1", port=SKILLPORT_PORT, lifespan="on",
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
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
