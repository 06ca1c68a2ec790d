"""A pytest plugin (`-p tests.github_plugin`): GitHub on loopback for the whole session.

allauth reads its GitHub base URL while Django sets up, which pytest-django does before any
conftest or fixture runs. So the fake GitHub starts when this plugin is imported, and
SKILLPORT_GITHUB_URL points the settings at it. (Tests that clone `github` plugin sources
override that setting per test with a folder of bare repositories.) Run pytest as
`python -m pytest` so the project root, and this module, are importable.
"""
import os

from tests.fakegithub import FakeGitHub

FAKE_GITHUB = FakeGitHub().start()
os.environ["SKILLPORT_GITHUB_URL"] = FAKE_GITHUB.base_url


def pytest_unconfigure(config):
    FAKE_GITHUB.stop()
