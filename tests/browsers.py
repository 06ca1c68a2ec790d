"""Debian's Chromium driven by Playwright, for the tests of pages: import `browser` and `open_page` as fixtures.

Importing this module skips the importing test module, loudly, when there is no Chromium (except in
CI, where that is a failure).
"""
import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("SKILLPORT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"

if not Path(CHROMIUM).exists():
    message = f"BROWSER TESTS NOT RUN: no Chromium at {CHROMIUM} (apt-get install chromium, or set SKILLPORT_CHROMIUM)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)  # CI installs it (.ci/run); missing there is a failure
    pytest.skip(message, allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls our fixtures make
    # here are still plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, request):
    """New browser contexts (one per persona; keyword arguments go to new_context); a screenshot of
    each is saved if the test fails."""
    contexts = []

    def new_page(**options):
        context = browser.new_context(accept_downloads=True, **options)
        contexts.append(context)
        return context.new_page()

    yield new_page
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for i, context in enumerate(contexts):
        if failed:
            ARTIFACTS.mkdir(exist_ok=True)
            for page in context.pages:
                page.screenshot(path=ARTIFACTS / f"{request.node.name}-{i}.png", full_page=True)
        context.close()


def signed_in(page, live_server, user):
    """`page`'s context signed in as `user`, through a session made on the server's database (no GitHub)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live_server.url,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
    return page
