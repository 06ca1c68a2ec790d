"""A pytest plugin (`-p tests.github_plugin`): what must be settled before Django sets up.

allauth reads its GitHub base URL while Django sets up, which pytest-django does before any
conftest or fixture runs. So the fake GitHub starts when this plugin is imported, and
SKILLPORT_GITHUB_URL points the settings at it. (Tests that clone `github` plugin sources
override that setting per test with a folder of bare repositories.)

Likewise the OAuth issuer and the MCP resource every token is bound to derive from
SKILLPORT_BASE_URL at settings time, so the port the test Skillport server listens on
(tests/servers.py) is chosen here. Run pytest as `python -m pytest` so the project root, and
this module, are importable.
"""
import os
import socket

from tests.fakegithub import FakeGitHub

FAKE_GITHUB = FakeGitHub().start()
os.environ["SKILLPORT_GITHUB_URL"] = FAKE_GITHUB.base_url

# Bound here and held until the server listens on it (tests/servers.py). A port chosen and let go stays free
# for the system to hand to any outgoing connection in the minutes until the server starts: one run lost 83
# tests to "address already in use".
SKILLPORT_SOCKET = socket.socket()
SKILLPORT_SOCKET.bind(("127.0.0.1", 0))
SKILLPORT_PORT = SKILLPORT_SOCKET.getsockname()[1]
os.environ["SKILLPORT_BASE_URL"] = f"http://127.0.0.1:{SKILLPORT_PORT}"


def pytest_unconfigure(config):
    FAKE_GITHUB.stop()
