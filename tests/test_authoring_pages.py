"""Proposing in the browser (issue 20): "Contribute a skill" (a package or a folder), "Suggest an edit"
with its preview, and who sees them. The marketplace is a local repository, so a proposal is a pushed
branch with instructions (the pull request flow is tested in test_authoring_browser with the fake GitHub)."""
import io
import json
import re
import zipfile
from html import escape

import httpx2 as httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit.models import Action, AuditEvent
from authoring.models import Proposal
from authoring.pages import MAX_PREVIEW_CHARS, NOWHERE
from marketplace.models import Curation, Marketplace, Skill
from marketplace.sync import sync_marketplace
from skillport_site.throttle import member_turn

from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db

NEW = "/proposals/new/"
EDIT = "/proposals/edit/acme/tools/alpha/"
PREVIEW = "/proposals/preview/"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.fixture
def market(make_repo, synced_marketplace, people):
    """One plugin with a skill of two text files and an image; the core team are its contributors."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools", version="1.0.0")),
        ".skillport/access.json": json.dumps({"skills": {"secret": {"read": ["github:@acme/core"]}}}),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha does A.", body="# Alpha\n\nStep one.\n"),
        "plugins/tools/skills/alpha/scripts/run.py": "print('alpha')\n",
        "plugins/tools/skills/alpha/logo.png": PNG,
        "plugins/tools/skills/secret/SKILL.md": skill_md("secret", "Core only."),
    })
    return synced_marketplace(repo, slug="acme", contributors=["github:@acme/core"])


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def package(files: dict, folder="kit") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in files.items():
            archive.writestr(f"{folder}/{path}" if folder else path, content)
    return SimpleUploadedFile(f"{folder or 'skill'}.skill", buffer.getvalue(), content_type="application/zip")


def branches(market) -> set[str]:
    return set(market.repo.git("for-each-ref", "--format=%(refname:short)", "refs/heads/").split())


def show(market, ref, path) -> str:
    return market.repo.git("show", f"{ref}:{path}")


# Who sees the pages and links


def test_the_contribute_links_and_page_are_for_contributors_only(market, people):
    core, member = signed_in(people["core"]), signed_in(people["member"])
    home = core.get("/").content.decode()
    assert home.count('href="/proposals/new/"') == 2  # the header and the home page
    assert 'href="/proposals/new/"' not in member.get("/").content.decode()
    refused = member.get(NEW)
    assert refused.status_code == 403 and escape(NOWHERE) in refused.content.decode()
    page = core.get(NEW)
    assert page.status_code == 200
    assert page.context["form"].fields["marketplace"].choices == [("acme", "test-market")]



def test_a_marketplace_read_from_a_folder_offers_no_proposal_to_lose(market, people, tmp_path):
    """Nothing can be proposed to a folder on the server (make run's example is one): its contributors are
    told so before they write a change, not after, and no page links to a form they could not send."""
    folder = tmp_path / "marketplace"
    folder.mkdir()
    Marketplace.objects.filter(pk=market.pk).update(git_url=str(folder))
    core = signed_in(people["core"])
    assert 'href="/proposals/' not in core.get("/skills/acme/tools/alpha/").content.decode()
    assert 'href="/proposals/' not in core.get("/plugins/acme/tools/").content.decode()
    for path in (NEW, EDIT):
        refused = core.get(path)
        assert refused.status_code == 403, path
        assert "read from a folder, not a git repository" in refused.content.decode()


def test_an_admin_who_is_not_a_contributor_is_told_where_to_name_themselves(market, people):
    """Asking a Skillport admin to add you means nothing to an admin: they are shown where to."""
    admin = signed_in(people["admin"])
    refused = admin.get(NEW)
    assert refused.status_code == 403 and escape(NOWHERE) not in refused.content.decode()
    assert "You are not a contributor of any marketplace here." in refused.content.decode()
    assert 'under Contributors on <a href="/admin/marketplace/marketplace/">' in refused.content.decode()
    refused = admin.get(EDIT)
    assert refused.status_code == 403
    assert f'on <a href="/admin/marketplace/marketplace/{market.pk}/change/">its admin page</a>' in (
        refused.content.decode())
    market.contributors = ["github:@acme/core", "*"]  # local admins answer to "*"
    market.save()
    assert admin.get(NEW).status_code == 200 and admin.get(EDIT).status_code == 200


def test_the_header_asks_who_may_contribute_once_a_minute(market, people, django_assert_num_queries):
    core = signed_in(people["core"])
    core.get("/")
    response = core.get("/skills/")
    with django_assert_num_queries(0):
        assert response.context["may_contribute"]() is True


def test_a_plugin_page_links_contributors_to_a_form_naming_it(market, people):
    link = 'href="/proposals/new/?marketplace=acme&amp;plugin=tools"'
    assert link in signed_in(people["core"]).get("/plugins/acme/tools/").content.decode()
    assert link not in signed_in(people["member"]).get("/plugins/acme/tools/").content.decode()
    form = signed_in(people["core"]).get("/proposals/new/?marketplace=acme&plugin=tools").content.decode()
    assert 'value="tools"' in form and '<option value="acme" selected>' in form


def test_suggest_an_edit_is_linked_for_contributors_and_refused_or_hidden_otherwise(market, people):
    assert 'href="/proposals/edit/acme/tools/alpha/"' in signed_in(people["core"]).get(
        "/skills/acme/tools/alpha/").content.decode()
    member = signed_in(people["member"])
    assert "Suggest an edit" not in member.get("/skills/acme/tools/alpha/").content.decode()
    assert member.get(EDIT).status_code == 403
    assert member.get("/proposals/edit/acme/tools/secret/").status_code == 404  # she may not see it
    assert signed_in(people["outsider"]).get(EDIT).status_code == 404
    assert signed_in(people["core"]).get("/proposals/edit/acme/tools/nothing/").status_code == 404
    assert Client().get(EDIT).status_code == 302  # to sign in
    Skill.objects.filter(slug="alpha").update(curation=Curation.HIDDEN)  # hidden: gone, for contributors too
    core = signed_in(people["core"])
    assert core.get(EDIT).status_code == 404 and core.post(EDIT, {"message": "x"}).status_code == 404


# Contribute


def test_check_only_lists_the_problems_and_sends_nothing(market, people):
    core = signed_in(people["core"])
    before = branches(market)
    response = core.post(NEW, {"marketplace": "acme", "plugin": "tools", "action": "check",
                               "package": package({"SKILL.md": "---\nname: Not A Kebab\n---\nNo description.\n"})})
    assert response.status_code == 200
    problems = response.context["problems"]
    assert problems and "problem" in response.content.decode()
    assert any("SKILL.md" in p for p in problems), problems
    assert branches(market) == before and not Proposal.objects.exists()


def test_check_only_of_a_clean_skill_says_so_and_sends_nothing(market, people):
    response = signed_in(people["core"]).post(NEW, {
        "marketplace": "acme", "plugin": "tools", "action": "check",
        "package": package({"SKILL.md": skill_md("kit", "Does kit things.")})}, headers={"X-Partial": "1"})
    assert response.status_code == 200 and response.context["problems"] == []
    assert "acme/tools/kit would sync cleanly. Nothing was sent" in response.content.decode()
    assert "<form" not in response.content.decode()  # the answer alone, for the page's script
    assert not Proposal.objects.exists()


def test_propose_a_package_sends_a_branch_and_shows_the_proposal(market, people):
    core = signed_in(people["core"])
    response = core.post(NEW, {"marketplace": "acme", "plugin": "tools", "action": "propose",
                               "message": "A kit for kit things.",
                               "package": package({"SKILL.md": skill_md("kit", "Does kit things."),
                                                   "scripts/go.sh": "echo go\n"})})
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and response.url == proposal.get_absolute_url()
    assert (proposal.kind, proposal.plugin, proposal.skill, proposal.proposer) == ("add", "tools", "kit",
                                                                                   people["core"])
    assert show(market, proposal.branch, "plugins/tools/skills/kit/scripts/go.sh") == "echo go"
    assert proposal.instructions  # not on GitHub: how to open the merge request
    assert AuditEvent.objects.filter(action=Action.PROPOSAL_OPENED, surface="web").count() == 1
    page = core.get(proposal.get_absolute_url()).content.decode()
    assert proposal.branch in page and "Open" in page


def test_a_package_replacing_a_skill_removes_the_files_it_leaves_out(market, people):
    signed_in(people["core"]).post(NEW, {
        "marketplace": "acme", "plugin": "tools", "action": "propose", "message": "Simpler.",
        "package": package({"SKILL.md": skill_md("alpha", "Alpha does A, better.")}, folder="alpha")})
    proposal = Proposal.objects.get()
    assert proposal.kind == "update"
    listed = market.repo.git("ls-tree", "-r", "--name-only", proposal.branch, "plugins/tools/skills/alpha/").split()
    assert listed == ["plugins/tools/skills/alpha/SKILL.md"]


def test_a_package_downloaded_from_skillport_edited_and_uploaded_again(market, people):
    core = signed_in(people["core"])
    downloaded = zipfile.ZipFile(io.BytesIO(b"".join(core.get("/skills/acme/tools/alpha/download/").streaming_content)))
    entries = {name: downloaded.read(name) for name in downloaded.namelist()}
    assert "alpha/.claude-plugin/plugin.json" in entries
    entries["alpha/SKILL.md"] = entries["alpha/SKILL.md"].replace(b"Step one.", b"Step one, better.")
    core.post(NEW, {"marketplace": "acme", "plugin": "tools", "action": "propose", "message": "Better.",
                    "package": package(entries, folder="")})
    proposal = Proposal.objects.get()
    assert proposal.kind == "update" and proposal.skill == "alpha"
    changed = market.repo.git("diff", "--name-only", "main", proposal.branch).split()
    assert "plugins/tools/skills/alpha/SKILL.md" in changed and not any(".claude-plugin/plugin.json" in p for p in changed)


def test_propose_with_problems_shows_them_and_sends_nothing(market, people):
    before = branches(market)
    response = signed_in(people["core"]).post(NEW, {
        "marketplace": "acme", "plugin": "tools", "action": "propose", "message": "Broken.",
        "package": package({"README.md": "no SKILL.md"}, folder="kit")})
    assert response.status_code == 200
    assert "no SKILL.md at the top" in response.content.decode()
    response = signed_in(people["core"]).post(NEW, {
        "marketplace": "acme", "plugin": "tools", "action": "propose", "message": "Broken.",
        "package": package({"SKILL.md": "---\nname: Not A Kebab\n---\n"})})
    assert response.context["problems"] and "to fix first" in response.content.decode()
    assert branches(market) == before and not Proposal.objects.exists()


def test_propose_needs_a_message_and_a_name(market, people):
    core = signed_in(people["core"])
    response = core.post(NEW, {"marketplace": "acme", "plugin": "tools", "action": "propose",
                               "package": package({"SKILL.md": skill_md("kit", "Kit.")})})
    assert "Say what the skill is for" in response.content.decode()
    response = core.post(NEW, {"marketplace": "acme", "plugin": "tools", "action": "propose", "message": "m",
                               "package": package({"SKILL.md": skill_md("kit", "Kit.")}, folder="")})
    assert "Name the skill" in response.content.decode()
    response = core.post(NEW, {"marketplace": "acme", "plugin": "tools", "action": "propose", "message": "m"})
    assert "Choose a .skill package or a folder" in response.content.decode()
    assert not Proposal.objects.exists()


def test_a_marketplace_one_may_not_propose_to_is_not_a_choice(market, people, make_repo, synced_marketplace):
    synced_marketplace(make_repo({".claude-plugin/marketplace.json": catalog(name="other")}), slug="other")
    response = signed_in(people["core"]).post(NEW, {"marketplace": "other", "plugin": "tools", "action": "propose",
                                                    "message": "m", "package": package({"SKILL.md": "x"})})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Proposal.objects.exists()


def test_a_folder_upload_arrives_with_its_paths(market, people):
    files = [SimpleUploadedFile("SKILL.md", skill_md("kit", "Kit.").encode()),
             SimpleUploadedFile("go.sh", b"echo go\n")]
    signed_in(people["core"]).post(NEW, {
        "marketplace": "acme", "plugin": "new-tools", "action": "propose", "message": "A new plugin.",
        "folder": files, "paths": json.dumps(["kit/SKILL.md", "kit/scripts/go.sh"])})
    proposal = Proposal.objects.get()
    assert show(market, proposal.branch, "plugins/new-tools/skills/kit/scripts/go.sh") == "echo go"
    assert "new-tools" in show(market, proposal.branch, ".claude-plugin/marketplace.json")


@pytest.mark.parametrize("name", ["../../evil.sh", "kit/../../evil.sh"])
def test_a_hostile_upload_is_a_sentence_not_a_500(market, people, name):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("kit/SKILL.md", skill_md("kit", "Kit."))
        archive.writestr(name, "pwned")
    response = signed_in(people["core"]).post(NEW, {
        "marketplace": "acme", "plugin": "tools", "action": "check",
        "package": SimpleUploadedFile("kit.skill", buffer.getvalue())})
    assert response.status_code == 200 and "is not a safe file name" in response.content.decode()


def test_forms_past_the_upload_limits_get_a_sentence(market, people, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    core = signed_in(people["core"])
    response = core.post(NEW, {"marketplace": "acme", "plugin": "tools", "action": "check",
                               "folder": [SimpleUploadedFile(f"f{i}", b"x") for i in range(4)]})
    assert response.status_code == 400 and b"more than 3 files, the most a skill may have" in response.content
    settings.SKILLPORT_MAX_UPLOAD_BYTES = 10_000
    response = core.post(NEW, {"marketplace": "acme", "plugin": "tools", "action": "check",
                               "package": SimpleUploadedFile("kit.skill", bytes(20_000))})
    assert response.status_code == 413 and b"larger than 10,000 bytes" in response.content


def test_a_zip_s_nul_bytes_are_not_a_nul_refusal_but_a_nul_in_a_field_is(market, people):
    core = signed_in(people["core"])
    response = core.post(NEW, {"marketplace": "acme", "plugin": "tools", "action": "check",
                               "package": package({"SKILL.md": skill_md("kit", "Kit."), "bin/x": b"\x00\x01"})})
    assert response.status_code == 200 and response.context["problems"] == []
    response = core.post(NEW, {"marketplace": "acme", "plugin": "to\x00ols", "action": "check",
                               "package": package({"SKILL.md": skill_md("kit", "Kit.")})})
    assert response.status_code == 400 and b"NUL" in response.content


# Suggest an edit


def test_the_editor_holds_the_text_files_and_lists_the_binary_one(market, people):
    page = signed_in(people["core"]).get(EDIT)
    html = page.content.decode()
    assert [f["path"] for f in page.context["files"]] == ["SKILL.md", "logo.png", "scripts/run.py"]
    assert "print(&#x27;alpha&#x27;)" in html and 'name="remove" value="logo.png"' in html
    assert html.count("<textarea name=\"content\"") == 2  # SKILL.md and run.py; the image is not text
    assert "<h1>Step one" not in html and "<p>Step one.</p>" in html  # the preview, rendered


def test_text_with_a_nul_past_git_s_binary_test_is_listed_not_edited(market, people):
    market.repo.commit({"plugins/tools/skills/alpha/data.txt": b"a" * 9000 + b"\x00"})
    sync_marketplace(market.pk)
    page = signed_in(people["core"]).get(EDIT)
    assert [f["path"] for f in page.context["others"]] == ["data.txt", "logo.png"]


def test_an_edit_is_proposed_with_its_changed_and_removed_files_only(market, people):
    core = signed_in(people["core"])
    original = skill_md("alpha", "Alpha does A.", body="# Alpha\n\nStep one.\n")
    changed = original.replace("Step one.", "Step one, then two.").replace("\n", "\r\n")  # as browsers send
    response = core.post(EDIT, {"path": ["SKILL.md", "scripts/run.py"],
                                "content": [changed, "print('alpha')\r\n"],
                                "remove": ["logo.png"], "message": "Two steps."})
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and response.url == proposal.get_absolute_url()
    assert proposal.kind == "update" and proposal.skill == "alpha"
    assert show(market, proposal.branch, "plugins/tools/skills/alpha/SKILL.md") == original.replace(
        "Step one.", "Step one, then two.").strip()
    diff = market.repo.git("diff", "--name-only", "main", proposal.branch).split()
    # run.py differed only by the browser's line breaks; the plugin's version is bumped.
    assert sorted(diff) == [".claude-plugin/marketplace.json", "plugins/tools/skills/alpha/SKILL.md",
                            "plugins/tools/skills/alpha/logo.png"]


def test_an_edit_that_changes_nothing_sends_nothing(market, people):
    original = skill_md("alpha", "Alpha does A.", body="# Alpha\n\nStep one.\n")
    response = signed_in(people["core"]).post(EDIT, {"path": ["SKILL.md"], "content": [original.replace("\n", "\r\n")],
                                                     "remove": ["SKILL.md"], "message": "Nothing."})
    assert "You changed nothing" in response.content.decode()
    assert not Proposal.objects.exists()


def test_an_edit_with_problems_shows_them_and_keeps_the_text(market, people):
    before = branches(market)
    response = signed_in(people["core"]).post(EDIT, {"path": ["SKILL.md"], "content": ["---\nname: Bad Name\n---\n"],
                                                     "message": "Oops."})
    assert response.context["problems"] and "name: Bad Name" in response.content.decode()
    assert branches(market) == before and not Proposal.objects.exists()


def test_check_only_in_the_editor_sends_nothing(market, people):
    core = signed_in(people["core"])
    fine = skill_md("alpha", "Alpha does A.", body="# Alpha\n\nStep one, then two.\n")
    response = core.post(EDIT, {"path": ["SKILL.md"], "content": [fine], "action": "check"})
    assert response.context["problems"] == [] and "acme/tools/alpha would sync cleanly" in response.content.decode()
    assert fine.split("\n")[-2] in response.content.decode()  # the text stays in the editor
    response = core.post(EDIT, {"path": ["SKILL.md"], "content": ["---\nname: Bad Name\n---\n"], "action": "check"})
    assert response.context["problems"] and "to fix first" in response.content.decode()
    assert not Proposal.objects.exists()


def test_checks_and_proposals_are_limited_per_person_and_keep_what_was_typed(market, people, settings):
    """Each may run the security scan and reach the git host (authoring/proposals.py: `limited`)."""
    settings.SKILLPORT_PROPOSAL_RATE = "2/hour"  # an hour's window: this test does not cross into the next
    core = signed_in(people["core"])
    typed = skill_md("alpha", "Alpha does A.", body="# Alpha\n\nA line typed before the refusal.\n")
    check = {"path": ["SKILL.md"], "content": [typed], "action": "check"}
    # While their last check or proposal is being answered (elsewhere), the next waits.
    with member_turn("proposal", people["core"].pk):
        busy = core.post(EDIT, check)
    assert busy.status_code == 429 and busy["Retry-After"] == "1"
    assert "Skillport is still checking or sending your last change" in busy.content.decode()
    assert "A line typed before the refusal." in busy.content.decode()  # the editor, as they left it
    assert core.post(EDIT, check).status_code == 200  # the second of the hour
    over = core.post(EDIT, {**check, "action": "propose", "message": "One more."})
    assert over.status_code == 429 and 1 <= int(over["Retry-After"]) <= 3600
    assert ("Skillport takes at most 2/hour checks and proposals from one person; try again in "
            f"{over['Retry-After']} seconds.") in over.content.decode()
    assert "A line typed before the refusal." in over.content.decode() and not Proposal.objects.exists()
    # The contribute page's "Check only", answered in place by its script, and the page itself.
    upload = {"marketplace": "acme", "plugin": "tools", "action": "check",
              "package": package({"SKILL.md": skill_md("kit", "Does kit things.")})}
    partial = core.post(NEW, upload, headers={"X-Partial": "1"})
    assert partial.status_code == 429 and partial["Content-Type"] == "text/plain; charset=utf-8"
    assert partial.content.decode().startswith("Skillport takes at most 2/hour checks and proposals")
    upload["package"].seek(0)
    page = core.post(NEW, upload)
    assert page.status_code == 429 and "Skillport takes at most 2/hour" in page.content.decode()
    assert core.post(PREVIEW, {"text": "# x"}).status_code == 200  # another limit
    market.contributors.append("github:@orla")
    market.save(update_fields=["contributors"])
    assert signed_in(people["member"]).post(EDIT, check).status_code == 200  # another person

def test_paths_the_skill_does_not_have_are_ignored(market, people):
    response = signed_in(people["core"]).post(EDIT, {"path": ["../../../.claude-plugin/marketplace.json"],
                                                     "content": ["{}"], "message": "Sneaky."})
    assert "You changed nothing" in response.content.decode() and not Proposal.objects.exists()


# Preview


def test_the_preview_renders_and_sanitises_as_the_skill_page_does(market, people):
    core = signed_in(people["core"])
    text = skill_md("kit", "Does kit things.", body="# Kit\n\n<script>alert(1)</script>\n\n```python\nx = 1\n```\n")
    response = core.post(PREVIEW, {"text": text})
    html = response.content.decode()
    assert response.status_code == 200 and "<h1>Kit</h1>" in html and "Does kit things." in html
    assert core.post(PREVIEW, {"text": skill_md("csv-cleanup", "x")}).content.decode().startswith(
        '<h1 class="preview-name">CSV cleanup</h1>')  # the skill page's heading
    assert "<script" not in html and 'class="language-python"' in html
    assert core.get(PREVIEW).status_code == 405
    assert core.post(PREVIEW, {"text": "x" * (MAX_PREVIEW_CHARS + 1)}).status_code == 413


def test_each_member_has_the_preview_at_a_rate_and_one_at_a_time(market, people, settings):
    """Any member may have their own text rendered; a flood of it from one member is refused, and the
    next member (behind the same address, as an office is) is not."""
    settings.SKILLPORT_PREVIEW_RATE = "3/hour"  # an hour's window: this test does not cross into the next
    core, member = signed_in(people["core"]), signed_in(people["member"])
    # One at a time: while this member's turn is taken (another worker rendering for them), refused.
    with member_turn("preview", people["core"].pk) as taken:
        assert taken
        refused = core.post(PREVIEW, {"text": "# Kit"})
        assert member.post(PREVIEW, {"text": "# Kit"}).status_code == 200
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    assert refused.content.decode() == ('<p class="warn">The preview follows in 1 second: Skillport makes one '
                                        "person's previews one at a time, and 3/hour at most.</p>")
    # The turn is free again. The rate counts the refused request, as it does every request.
    assert [core.post(PREVIEW, {"text": "# Kit"}).status_code for _ in range(2)] == [200, 200]
    over = core.post(PREVIEW, {"text": "# Kit"})
    assert over.status_code == 429 and 1 <= int(over["Retry-After"]) <= 3600
    assert f"The preview follows in {over['Retry-After']} second" in over.content.decode()
    assert member.post(PREVIEW, {"text": "# Kit"}).status_code == 200


def test_the_preview_needs_a_sign_in_and_the_csrf_token(market, people):
    assert Client().post(PREVIEW, {"text": "# x"}).status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people["member"])
    assert strict.post(PREVIEW, {"text": "# x"}).status_code == 403


# The proposal's page and My proposals


def test_my_proposals_show_each_state_and_pull_request(market, people):
    core = signed_in(people["core"])
    fields = {"marketplace": market, "proposer": people["core"], "plugin": "tools", "branch": "skillport/tam/x"}
    merged = Proposal.objects.create(**fields, kind="add", skill="kit", state="merged", number=7,
                                     url="https://github.com/acme/skills/pull/7")
    Proposal.objects.create(**fields, kind="update", skill="alpha", instructions="Open a merge request from ...")
    Proposal.objects.create(**{**fields, "proposer": people["member"]}, kind="add", skill="hers")
    html = core.get("/proposals/").content.decode()
    assert '<span class="badge state-merged">Merged</span>' in html and '<span class="badge state-open">Open</span>' in html
    assert '<a href="https://github.com/acme/skills/pull/7" rel="noopener">#7</a>' in html
    assert "to open by hand" in html and "hers" not in html
    page = core.get(merged.get_absolute_url()).content.decode()
    assert "Pull request #7" in page and "syncs the marketplace on the push that follows" in page
    assert signed_in(people["member"]).get(merged.get_absolute_url()).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_upload_through_the_production_asgi_server(skillport, market, people, settings):
    """Under uvicorn (ASGI reads the body into a temporary file first): the package's NUL bytes pass, the
    CSRF token in the form is read from the parsed form, and a body past the limit is a 413."""
    session = Client()
    session.force_login(people["core"])
    with httpx.Client(base_url=skillport.url, cookies={settings.SESSION_COOKIE_NAME:
                                                       session.cookies[settings.SESSION_COOKIE_NAME].value}) as http:
        form = http.get(NEW)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        fields = {"csrfmiddlewaretoken": token, "marketplace": "acme", "plugin": "tools", "action": "check"}
        kit = package({"SKILL.md": skill_md("kit", "Kit."), "bin/tool": b"\x00\x01\x02"})
        response = http.post(NEW, data=fields, files={"package": ("kit.skill", kit.read(), "application/zip")})
        assert response.status_code == 200 and "acme/tools/kit would sync cleanly" in response.text
        settings.SKILLPORT_MAX_UPLOAD_BYTES = 100_000
        response = http.post(NEW, data=fields, files={"package": ("big.skill", bytes(200_000), "application/zip")})
        assert response.status_code == 413 and "larger than 100,000 bytes" in response.text
    assert not Proposal.objects.exists()


def test_an_edit_adds_new_files_beside_the_changed_ones(market, people):
    core = signed_in(people["core"])
    page = core.get(EDIT).content.decode()
    assert 'name="new_path"' in page and "Add a file" in page
    checked = core.post(EDIT, {"path": ["SKILL.md"], "content": [skill_md("alpha", "Alpha does A.")],
                               "new_path": ["scripts/report.py", ""], "new_content": ["print('report')\r\n", ""],
                               "action": "check"})
    html = checked.content.decode()
    assert checked.context["problems"] == [] and "would sync cleanly" in html
    assert 'value="scripts/report.py"' in html and html.count('name="new_path"') == 2  # kept, and room for one more
    response = core.post(EDIT, {"path": ["SKILL.md"], "content": [skill_md("alpha", "Alpha does A.")],
                                "new_path": ["scripts/report.py", "notes\\usage.md"],
                                "new_content": ["print('report')\r\n", "Run it.\r\n"], "message": "A report."})
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and proposal.kind == "update"
    assert show(market, proposal.branch, "plugins/tools/skills/alpha/scripts/report.py") == "print('report')"
    assert show(market, proposal.branch, "plugins/tools/skills/alpha/notes/usage.md") == "Run it."


@pytest.mark.parametrize(("path", "said"), [
    ("scripts/run.py", "has a file scripts/run.py already"),
    ("", "Give the new file a path"),
    ("../escape.py", "is not a relative path"),
])
def test_a_new_file_s_path_must_be_new_and_inside_the_skill(market, people, path, said):
    before = branches(market)
    response = signed_in(people["core"]).post(EDIT, {"path": ["SKILL.md"], "content": [skill_md("alpha", "Alpha does A.")],
                                                     "new_path": [path], "new_content": ["x = 1\n"], "message": "New."})
    assert said in response.content.decode()
    assert branches(market) == before and not Proposal.objects.exists()
