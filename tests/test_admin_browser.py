"""The admin in a real browser at a laptop's size: the marketplace list fits 1280 pixels."""
import pytest

from marketplace.models import ScanGate

from .browsers import ARTIFACTS, browser, open_page, signed_in  # noqa: F401 (fixtures)
from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_marketplace_list_shows_status_last_sync_and_commit_at_1280_pixels(open_page, live_server, make_repo,
                                                                              synced_marketplace, people):
    # Long names and addresses, every gate: what made the list scroll sideways.
    for i, gate in enumerate(ScanGate):
        name = f"acme-engineering-platform-and-operations-skills-for-every-team-{i}"
        repo = make_repo({
            ".claude-plugin/marketplace.json": catalog(plugin_entry("ops-kit"), name=name),
            "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write an incident review."),
        })
        synced_marketplace(repo, slug=f"acme-engineering-platform-{i}", github_url=(
            f"https://github.com/acme-corporation-engineering/claude-code-plugin-marketplace-{i}.git"),
            requires_approval=True, scan_gate=gate)

    page = signed_in(open_page(viewport={"width": 1280, "height": 800}), live_server, people["admin"])
    page.goto(f"{live_server.url}/admin/marketplace/marketplace/")
    page.locator("#result_list").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "admin-marketplaces-1280.png", full_page=True)

    # No sideways scroll, of the page or of the table's own box, so every column is in view.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate("(r => r.scrollWidth <= r.clientWidth)(document.querySelector('#changelist .results'))")
    results = page.locator("#changelist .results").bounding_box()
    for column in ("status", "last_sync", "short_commit"):
        for cell in (page.locator(f"th.column-{column}"), page.locator(f"td.field-{column}").first):
            box = cell.bounding_box()
            assert box["x"] >= results["x"] and box["x"] + box["width"] <= results["x"] + results["width"], column
    assert page.locator("td.field-status").first.inner_text() == "OK"
    assert page.locator("td.field-last_sync").first.inner_text().startswith("20")
    assert len(page.locator("td.field-short_commit").first.inner_text().strip()) == 12
