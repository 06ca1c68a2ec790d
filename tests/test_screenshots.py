"""A full-page screenshot of every main page, saved under tests/artifacts/ on every run for a reviewer to look at.

The catalogue is the example marketplace (as if synced from GitHub), a second marketplace that lists a
skill of the same name and a plugin Claude Code refuses, and a few installs.
"""
import struct
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import NoReverseMatch, reverse

from authoring.models import Proposal
from marketplace.models import Marketplace

from .browsers import ARTIFACTS, browser, open_page, signed_in  # noqa: F401 (fixtures)
from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = Path(__file__).parent.parent / "examples" / "marketplace"
WIDTH = 1280
PROPOSAL = uuid.UUID("5f0c2a9e-3b1d-4e6f-9a8b-7c6d5e4f3a2b")
PLUGIN_README = """# Engineering workflow

Conventions the platform team keeps for **every** repository:

- commit messages that say why,
- SQL reviewed before it ships,
- blameless postmortems.

```sh
/plugin install engineering-workflow@skillport-examples
```
"""


@pytest.fixture
def catalogue(make_repo, synced_marketplace, people):
    files = {str(path.relative_to(EXAMPLES)): path.read_bytes() for path in EXAMPLES.rglob("*") if path.is_file()}
    files["plugins/engineering-workflow/README.md"] = PLUGIN_README
    examples = synced_marketplace(make_repo(files), slug="examples",
                                  github_url="https://github.com/acme/skillport-examples.git")
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("data-kit", description="Data wrangling for analysts.", author={"name": "Data Guild"}),
            plugin_entry("legacy-kit", description="Old tools kept for reference."),
            name="data-guild", owner={"name": "Data Guild"}),
        "plugins/data-kit/skills/csv-cleanup/SKILL.md": skill_md(
            "csv-cleanup", "Clean messy CSV exports from spreadsheets: encodings, delimiters, headers and dates, with a "
            "report of every change so an analyst can review what was fixed before loading the data anywhere."),
        "plugins/legacy-kit/.claude-plugin/plugin.json": "{ not json",
        "plugins/legacy-kit/skills/old-report/SKILL.md": skill_md("old-report", "A report nobody reads."),
    }), slug="data-guild", github_url="https://github.com/acme/data-guild.git")
    member = Client()
    member.force_login(people["member"])
    for _ in range(3):
        member.get("/skills/examples/engineering-workflow/csv-cleanup/download/")
    member.get("/skills/examples/engineering-workflow/sql-review/download/")
    # The core team contribute to the examples, with a proposal of each state to show.
    Marketplace.objects.filter(slug="examples").update(contributors=["github:@acme/core"])
    for state, number, kind, skill in [("open", 12, "add", "release-notes"), ("merged", 9, "update", "csv-cleanup"),
                                       ("closed", 4, "update", "sql-review")]:
        Proposal.objects.create(
            id=PROPOSAL if state == "open" else uuid.uuid4(), marketplace=examples, proposer=people["core"],
            kind=kind, plugin="engineering-workflow", skill=skill, state=state, number=number,
            branch=f"skillport/tam/{skill}-1a2b3c4d", url=f"https://github.com/acme/skillport-examples/pull/{number}",
            message="Release notes from merged pull requests, grouped by label, in the team's voice.")
    auditor = people["core"]
    # A migration creates the group with its permission, but a transactional test run before this one
    # flushed the group away (the permission comes back with every flush).
    auditors, _ = Group.objects.get_or_create(name="Auditors")
    auditors.permissions.add(Permission.objects.get(codename="review_auditevent"))
    auditor.groups.add(auditors)
    return examples


def pages():
    """(file name, who looks, path) of every main page."""
    found = [
        ("home", "member", "/"),
        ("search", "member", "/skills/?q=review"),
        ("search-typo", "member", "/skills/?q=postmortm"),
        ("skill", "member", "/skills/examples/engineering-workflow/csv-cleanup/"),
        ("plugin", "member", "/plugins/examples/engineering-workflow/"),
        ("marketplace", "member", "/marketplaces/examples/"),
        ("marketplace-broken-plugin", "member", "/marketplaces/data-guild/"),
        ("audit", "core", "/audit/"),
        ("admin", "admin", "/admin/"),
        ("catalogue-tokens", "member", "/connect/tokens/"),
        ("contribute", "core", "/proposals/new/"),
        ("suggest-an-edit", "core", "/proposals/edit/examples/engineering-workflow/csv-cleanup/"),
        ("my-proposals", "core", "/proposals/"),
        ("proposal", "core", f"/proposals/{PROPOSAL}/"),
    ]
    try:
        found.append(("connect", "member", reverse("marketplace:connect")))
    except NoReverseMatch:  # not every version of Skillport has the page
        pass
    return found


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header; fails on anything that is not a PNG."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_every_main_page_is_saved_as_a_screenshot(open_page, live_server, catalogue, people):
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme in ("light", "dark"):
        for name, who, path in pages():
            target = ARTIFACTS / f"page-{name}-{scheme}.png"
            target.unlink(missing_ok=True)
            page = signed_in(open_page(viewport={"width": WIDTH, "height": 800}, color_scheme=scheme), live_server,
                             people[who])
            response = page.goto(f"{live_server.url}{path}")
            assert response.status == 200, f"{path} answered {response.status}"
            page.wait_for_load_state("networkidle")
            page.screenshot(path=target, full_page=True)
            width, height = png_size(target)
            # A page with content: the viewport's width, at least its height, more than a blank image weighs.
            assert width == WIDTH and height >= 800 and target.stat().st_size > 20_000, (name, width, height)
            page.context.close()
