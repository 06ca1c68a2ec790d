"""Proposing in a real browser (Debian's Chromium), against the fake GitHub's pull requests (issue 20):
the editor's live preview ending in a pull request, and a .skill package or a folder uploaded to one."""
import io
import re
import zipfile

import pytest
from playwright.sync_api import expect

from authoring.models import Proposal
from skillport_site.throttle import member_turn

from .browsers import browser, open_page, signed_in  # noqa: F401 (fixtures)
from .builders import skill_md
from .test_authoring import hosted  # noqa: F401 (fixture: acme/skills on the fake GitHub, the core team contributing)

pytestmark = pytest.mark.django_db(transaction=True)

PROPOSAL_PAGE = re.compile(r"/proposals/[0-9a-f-]{36}/$")


def head_file(hosted, number, path) -> str:
    return hosted.repo.git("show", f"{hosted.repo.pulls[number].head_sha}:{path}")


def test_suggest_an_edit_previews_live_and_opens_a_pull_request(open_page, live_server, hosted, people):
    page = signed_in(open_page(), live_server, people["core"])
    page.goto(f"{live_server.url}/skills/acme/tools/alpha/")
    page.get_by_role("link", name="Suggest an edit").click()
    expect(page.get_by_role("heading", name="Suggest an edit")).to_be_visible()
    editor = page.get_by_label("Content of SKILL.md")
    expect(editor).to_have_value(skill_md("alpha", "Alpha does A."))
    preview = page.locator("#preview")
    expect(preview.get_by_role("heading", name="Alpha", level=1)).to_be_visible()
    # Typing re-renders the preview on the server (sanitised as the skill page is), after a pause.
    editor.fill(skill_md("alpha", "Alpha does A, twice.", body="# Title\n\n## Second pass\n\n<img src=x onerror=\"window.pwned=1\">\n"))
    expect(preview.get_by_role("heading", name="Second pass")).to_be_visible()
    expect(preview).to_contain_text("Alpha does A, twice.")
    assert page.evaluate("window.pwned") is None
    page.get_by_label("Remove this file").check()  # scripts/run.py
    page.get_by_label("Message").fill("Run alpha twice; the script is no longer needed.")
    page.get_by_role("button", name="Propose this change").click()
    expect(page).to_have_url(PROPOSAL_PAGE)
    expect(page.locator(".badge.state-open")).to_have_text("Open")
    expect(page.get_by_role("link", name="Pull request #1")).to_have_attribute("href", Proposal.objects.get().url)
    # The pull request holds the text as typed (LF line breaks, as the file had) and the removal.
    assert "## Second pass" in head_file(hosted, 1, "plugins/tools/skills/alpha/SKILL.md")
    assert "\r" not in head_file(hosted, 1, "plugins/tools/skills/alpha/SKILL.md")
    listed = hosted.repo.git("ls-tree", "-r", "--name-only", hosted.repo.pulls[1].head_sha, "plugins/tools/skills/alpha")
    assert listed.split() == ["plugins/tools/skills/alpha/SKILL.md"]


def test_a_refused_preview_says_why_and_comes_when_it_may(open_page, live_server, hosted, people):
    """The server makes one person's previews one at a time (skillport_site/throttle.py): asked while
    another is made for them, the editor shows the refusal and asks again after its Retry-After."""
    page = signed_in(open_page(), live_server, people["core"])
    page.goto(f"{live_server.url}/proposals/edit/acme/tools/alpha/")
    preview = page.locator("#preview")
    with member_turn("preview", people["core"].pk):  # as if another worker were making one for them
        page.get_by_label("Content of SKILL.md").fill(skill_md("alpha", "Alpha does A.", body="## Held back\n"))
        expect(preview).to_contain_text("The preview follows in 1 second")
    expect(preview.get_by_role("heading", name="Held back")).to_be_visible()


def test_a_skill_package_is_checked_then_proposed(open_page, live_server, hosted, people):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("gamma/SKILL.md", skill_md("gamma", "Gamma does G."))
        archive.writestr("gamma/scripts/go.sh", "echo gamma\n")
    page = signed_in(open_page(), live_server, people["core"])
    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contribute").click()
    expect(page.get_by_role("heading", name="Contribute a skill")).to_be_visible()
    page.get_by_label("Plugin").fill("tools")
    page.get_by_label("A .skill package").set_input_files(
        {"name": "gamma.skill", "mimeType": "application/zip", "buffer": buffer.getvalue()})
    page.get_by_role("button", name="Check only").click()
    # Answered in place: the package stays chosen for Propose, and nothing was sent.
    expect(page.locator("#check-result")).to_contain_text("acme/tools/gamma would sync cleanly. Nothing was sent")
    assert hosted.repo.pulls == {}
    page.get_by_label("Message").fill("Gamma helps with G.")
    page.get_by_role("button", name="Propose").click()
    expect(page).to_have_url(PROPOSAL_PAGE)
    expect(page.get_by_role("heading", level=1)).to_contain_text("tools:gamma")
    expect(page.get_by_role("link", name="Pull request #1")).to_be_visible()
    assert head_file(hosted, 1, "plugins/tools/skills/gamma/scripts/go.sh") == "echo gamma"


def test_a_folder_is_uploaded_without_its_litter(open_page, live_server, hosted, people, tmp_path):
    folder = tmp_path / "delta"
    for path, content in {"SKILL.md": skill_md("delta", "Delta does D."), "notes/how.md": "How.\n",
                          ".git/HEAD": "ref: refs/heads/main\n", "node_modules/x/index.js": "x\n"}.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(content)
    page = signed_in(open_page(), live_server, people["core"])
    page.goto(f"{live_server.url}/proposals/new/")
    page.get_by_label("Plugin").fill("tools")
    page.get_by_label("Or a folder").set_input_files(folder)
    expect(page.locator("#folder-summary")).to_contain_text("delta: 2 files")
    expect(page.locator("#folder-summary")).to_contain_text("2 left out")
    page.get_by_role("button", name="Check only").click()
    expect(page.locator("#check-result")).to_contain_text("acme/tools/delta would sync cleanly")
    page.get_by_label("Message").fill("Delta.")
    page.get_by_role("button", name="Propose").click()
    expect(page).to_have_url(PROPOSAL_PAGE)
    listed = hosted.repo.git("ls-tree", "-r", "--name-only", hosted.repo.pulls[1].head_sha, "plugins/tools/skills/delta")
    assert listed.split() == ["plugins/tools/skills/delta/SKILL.md", "plugins/tools/skills/delta/notes/how.md"]


def test_check_only_shows_the_problems_in_place(open_page, live_server, hosted, people):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Bad Name/SKILL.md", "---\nname: Bad Name\n---\n")
    page = signed_in(open_page(), live_server, people["core"])
    page.goto(f"{live_server.url}/proposals/new/")
    page.get_by_label("Plugin").fill("tools")
    page.get_by_label("Skill name").fill("bad-name")
    page.get_by_label("A .skill package").set_input_files(
        {"name": "bad.skill", "mimeType": "application/zip", "buffer": buffer.getvalue()})
    page.get_by_role("button", name="Check only").click()
    expect(page.locator("#check-result")).to_contain_text("to fix first")
    expect(page.locator("#check-result")).to_contain_text("SKILL.md")
    assert hosted.repo.pulls == {} and not Proposal.objects.exists()


def test_a_folder_past_the_limits_is_stopped_with_a_sentence(open_page, live_server, hosted, people, tmp_path, settings):
    folder = tmp_path / "many"
    folder.mkdir()
    (folder / "SKILL.md").write_text(skill_md("many", "Many files."))
    for name in ("a.md", "b.md"):
        (folder / name).write_text("x\n")
    settings.SKILLPORT_MAX_SKILL_FILES = 2
    page = signed_in(open_page(), live_server, people["core"])
    page.goto(f"{live_server.url}/proposals/new/")
    page.get_by_label("Plugin").fill("tools")
    page.get_by_label("Or a folder").set_input_files(folder)
    expect(page.locator("#folder-summary")).to_contain_text("more than the 2 files a skill may have")
    page.get_by_role("button", name="Propose").click()  # stopped before sending
    expect(page.locator("#check-result")).to_have_text("The folder holds 3 files; a skill may have at most 2.")
    # Past a limit only the server knows: its sentence, in place.
    settings.SKILLPORT_MAX_SKILL_FILES, settings.DATA_UPLOAD_MAX_NUMBER_FILES = 10, 2
    page.goto(f"{live_server.url}/proposals/new/")
    page.get_by_label("Plugin").fill("tools")
    page.get_by_label("Or a folder").set_input_files(folder)
    page.get_by_role("button", name="Check only").click()
    expect(page.locator("#check-result")).to_have_text("This form sends more than 2 files, the most a skill may have.")
    assert hosted.repo.pulls == {} and not Proposal.objects.exists()
