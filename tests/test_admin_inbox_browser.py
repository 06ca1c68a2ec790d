"""The approval inbox walked in a real browser, as an admin does it: the index's count, the revision list on
"Awaiting approval", a revision's page with its diff, Approve, and the count one lower."""
import pytest
from playwright.sync_api import expect

from marketplace.models import Skill, SkillRevision

from .browsers import ARTIFACTS, browser, open_page, signed_in  # noqa: F401 (fixtures)
from .test_admin_inbox import NEW, OLD, QUEUE, gated  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def awaiting(page):
    """The index's row for changes awaiting approval."""
    return page.locator("#inbox tr").filter(has=page.get_by_role("link", name="Changes awaiting approval"))


def test_an_admin_approves_a_change_from_the_inbox(open_page, live_server, gated, people):
    change = SkillRevision.objects.get(skill__name="runbook", status=SkillRevision.Status.PENDING)
    page = signed_in(open_page(viewport={"width": 1280, "height": 900}), live_server, people["admin"])
    page.goto(f"{live_server.url}/admin/")
    expect(awaiting(page).locator("td.count")).to_have_text("2")  # runbook changed, notes new

    awaiting(page).get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}{QUEUE}?status=pending")
    expect(page.locator("#changelist-filter a[aria-current], #changelist-filter li.selected").filter(
        has_text="Awaiting approval")).to_have_count(1)
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)

    rows.filter(has_text="runbook").get_by_role("link").first.click()
    diff = page.locator(".revision-diff")
    expect(diff.locator("span.ddel").filter(has_text=OLD)).to_have_count(1)
    expect(diff.locator("span.dadd").filter(has_text=NEW)).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "admin-revision-diff.png", full_page=True)

    page.get_by_role("button", name="Approve: members get this revision").click()
    expect(page).to_have_url(f"{live_server.url}{QUEUE}?status=pending")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("notes")
    change.refresh_from_db()
    assert change.status == SkillRevision.Status.APPROVED
    assert NEW in Skill.objects.get(name="runbook").body  # members are served the approved change

    page.goto(f"{live_server.url}/admin/")
    expect(awaiting(page).locator("td.count")).to_have_text("1")
