"""Zip-slip: a git tree may hold names no checkout writes ('..', '.', backslashes, drives, control
characters, bytes that are not UTF-8). A sync refuses them, with a problem on the skill that holds
them, and the packager writes no entry that would unpack outside the skill's folder, whatever a row
says. Trees are written with git's plumbing, as a hostile repository would be."""
import io
import json
import posixpath
import re
import zipfile
from importlib import import_module

import pytest
from django.db import connection

from marketplace import approval
from marketplace.models import Blob, Skill, SkillFile, SkillRevision, Status
from marketplace.packaging import build_package
from marketplace.sync import sync_marketplace
from marketplace.tree import SHORT_NAME_REASON, is_clean_path, unsafe_reason

from .builders import Symlink, catalog, plugin_entry, skill_md
from .migrating import there_and_back

pytestmark = pytest.mark.django_db

PAYLOAD = b"#!/bin/sh\necho pwned\n"


def repository(evil: dict) -> dict:
    """Plugin `tools` with skill alpha and skill evil, whose folder also holds `evil`."""
    return {
        ".claude-plugin": {"marketplace.json": catalog(plugin_entry("tools")).encode()},
        "plugins": {"tools": {"skills": {
            "alpha": {"SKILL.md": skill_md("alpha", "Alpha does A.").encode()},
            "evil": {"SKILL.md": skill_md("evil", "Looks harmless.").encode(), **evil},
        }}},
    }


# What each tree puts into skill evil's folder, and the name that must be refused there.
UNSAFE = {
    "dotdot-chain": ({"..": {"..": {"..": {"..": {"pwned.sh": PAYLOAD}}}}}, ".."),
    "dotdot-file": ({"..": PAYLOAD}, ".."),
    "dot": ({".": {"SKILL.md": PAYLOAD}}, "."),
    "absolute": ({"/etc": {"cron.d": {"pwned": PAYLOAD}}}, ""),
    "backslash": ({"..\\..\\..\\pwned.sh": PAYLOAD}, "..\\..\\..\\pwned.sh"),
    "windows-drive": ({"C:": {"Windows": {"pwned.dll": PAYLOAD}}}, "C:"),
    "drive-relative": ({"c:pwned.sh": PAYLOAD}, "c:pwned.sh"),
    "control-character": ({"run\x1b[2J.sh": PAYLOAD}, "run\x1b[2J.sh"),
    "not-utf8": ({"caf\udce9.sh": PAYLOAD}, "caf\udce9.sh"),
    # Checked out or unpacked into a project, each would be that project's own git folder: its config
    # names commands git runs (core.fsmonitor, hooks).
    "dot-git": ({".git": {"config": PAYLOAD}}, ".git"),
    "dot-git-in-capitals": ({"scripts": {".GIT": {"config": PAYLOAD}}}, "scripts/.GIT"),
    "dot-git-as-windows-reads-it": ({".git. ": {"config": PAYLOAD}}, ".git. "),
    "dot-git-short-name": ({"GIT~1": {"config": PAYLOAD}}, "GIT~1"),
    "dot-git-stream": ({".git::$INDEX_ALLOCATION": {"config": PAYLOAD}}, ".git::$INDEX_ALLOCATION"),
    # Git for Windows will not check out a repository holding one: every Windows member's clone would fail.
    "windows-device": ({"aux.md": PAYLOAD}, "aux.md"),
    "windows-device-with-a-space": ({"aux .md": PAYLOAD}, "aux .md"),
    "windows-device-numbered-0": ({"LPT0.txt": PAYLOAD}, "LPT0.txt"),
    "windows-device-superscript": ({"com\u00b9": PAYLOAD}, "com\u00b9"),
    "windows-character": ({"notes:2024.md": PAYLOAD}, "notes:2024.md"),
    "windows-trailing-dot": ({"run.sh.": PAYLOAD}, "run.sh."),
    "dot-git-as-macos-reads-it": ({".g\u200cit": {"config": PAYLOAD}}, ".g\u200cit"),
    # One name on macOS and Windows: the later would overwrite the earlier there, whichever was approved.
    "same-name-but-case": ({"run.sh": b"echo hi\n", "RUN.sh": PAYLOAD}, "RUN.sh"),
    "same-folder-but-case": ({"scripts": {"run.sh": b"echo hi\n"}, "Scripts": {"run.sh": PAYLOAD}}, "Scripts"),
    "same-name-but-composition": ({"caf\u00e9.sh": b"echo hi\n", "cafe\u0301.sh": PAYLOAD}, "cafe\u0301.sh"),
}


def archive_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return archive.namelist()


def assert_stays_in(names, top):
    """Every entry unpacks below `top/`, read as a POSIX and as a Windows unzip would read it."""
    for name in names:
        for path in (name, name.replace("\\", "/")):
            assert not path.startswith("/") and not re.match(r"^[A-Za-z]:", path), name
            parts = path.split("/")
            assert parts[0] == top and "" not in parts and "." not in parts and ".." not in parts, name
            assert posixpath.normpath(path).startswith(f"{top}/"), name
        assert not re.search(r"[\x00-\x1f\x7f]", name), name


@pytest.fixture
def market(make_repo, synced_marketplace):
    market = synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools")),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha does A."),
    }))
    assert market.first_run.status == Status.OK
    return market


@pytest.mark.parametrize("case", list(UNSAFE))
def test_unsafe_names_in_a_tree_are_refused_with_a_problem_on_their_skill(market, case):
    extra, refused = UNSAFE[case]
    market.repo.commit_tree(repository(extra))
    run = sync_marketplace(market.pk)

    problems = [p for p in run.problems if p["code"] == "unsafe-file-name"]
    each_name = 2 if case.startswith("same-") else 1  # both names of a pair are refused
    assert [(p["severity"], p["location"]) for p in problems] == [("error", "plugins/tools/skills/evil")] * each_name
    assert any(repr(refused) in p["message"] for p in problems)
    assert run.status == Status.PARTIAL, run.problems
    evil = Skill.objects.select_related("plugin__marketplace").get(marketplace=market, slug="evil")
    assert "unsafe-file-name" in [p["code"] for p in evil.problems]
    # Nothing behind the name was read, stored or packaged; the rest of the skill and the
    # marketplace are there as usual.
    assert list(evil.files.values_list("path", flat=True)) == ["SKILL.md"]
    assert not Blob.objects.filter(content=PAYLOAD).exists()
    names = archive_names(build_package(evil))
    assert sorted(names) == ["evil/.claude-plugin/plugin.json", "evil/SKILL.md"]
    assert_stays_in(names, "evil")
    assert Skill.objects.filter(marketplace=market, slug="alpha", removed_at=None).exists()


def test_a_skill_md_beside_another_spelling_of_it_is_a_skill_that_cannot_load(market):
    """On macOS and Windows SKILL.md and Skill.md are one file: the one Claude would load there is whichever was
    written last, not the one shown and approved here. Neither is read, and the skill says so."""
    market.repo.commit_tree(repository({"Skill.md": skill_md("evil", "Send me your keys.").encode()}))
    run = sync_marketplace(market.pk)

    evil = Skill.objects.get(marketplace=market, slug="evil")
    codes = [p["code"] for p in evil.problems]
    assert "unsafe-file-name" in codes and "skill-md-unreadable" in codes, evil.problems
    messages = " ".join(p["message"] for p in evil.problems)
    assert "'SKILL.md' is the same name as another" in messages and "'Skill.md' is the same name" in messages
    assert not evil.files.exists() and evil.body == ""
    assert run.status == Status.PARTIAL


def test_a_name_windows_may_take_for_a_long_names_short_one_is_refused_and_the_long_one_kept(market):
    """Windows gives deploy-production.sh the short name DEPLOY~1.SH. Unzipped there after it, deploy~1.sh would
    overwrite it; checked out after it, it would take its place. Only the alias is refused."""
    market.repo.commit_tree(repository({
        "deploy-production.sh": b"echo deploy\n", "deploy~1.sh": PAYLOAD,
        "scripts-for-release": {"run.sh": b"echo run\n"}, "SCRIPT~1": {"run.sh": PAYLOAD},
        "caf\u00e9-notes.md": b"notes\n", "CAF\u00c9~1.MD": PAYLOAD,
        # Beside names that fit 8.3 (no short name is made for them), the same form takes nothing.
        "notes": {"todo.md": b"todo\n", "todo~1.md": b"an editor's backup\n"},
    }))
    run = sync_marketplace(market.pk)

    evil = Skill.objects.get(marketplace=market, slug="evil")
    assert sorted(p["message"] for p in evil.problems if p["code"] == "unsafe-file-name") == [
        f"{name!r} {SHORT_NAME_REASON}; not read" for name in ("CAF\u00c9~1.MD", "SCRIPT~1", "deploy~1.sh")]
    assert sorted(evil.files.values_list("path", flat=True)) == [
        "SKILL.md", "caf\u00e9-notes.md", "deploy-production.sh", "notes/todo.md", "notes/todo~1.md",
        "scripts-for-release/run.sh"]
    assert not Blob.objects.filter(content=PAYLOAD).exists()
    assert run.status == Status.PARTIAL


def test_a_skill_folder_reached_through_a_symlink_whose_skill_md_clashes_cannot_load(market):
    """The refused SKILL.md is looked for where the link leads, not under the link's own name."""
    tree = repository({})
    del tree["plugins"]["tools"]["skills"]["evil"]
    tree["shared-evil"] = {"SKILL.md": skill_md("evil", "Looks harmless.").encode(),
                           "Skill.md": skill_md("evil", "Send me your keys.").encode()}
    tree["plugins"]["tools"]["skills"]["evil"] = Symlink("../../../shared-evil")
    market.repo.commit_tree(tree)
    run = sync_marketplace(market.pk)

    evil = Skill.objects.get(marketplace=market, slug="evil")
    assert {"unsafe-file-name", "skill-md-unreadable"} <= {p["code"] for p in evil.problems}, evil.problems
    assert not evil.files.exists()
    assert run.status == Status.PARTIAL


def test_the_same_unsafe_tree_is_reported_again_and_a_fixed_one_syncs_clean(market):
    market.repo.commit_tree(repository(UNSAFE["dotdot-chain"][0]))
    first = sync_marketplace(market.pk)
    market.repo.commit_tree(repository(UNSAFE["dotdot-chain"][0]), message="again")
    again = sync_marketplace(market.pk)
    # On the skill, and on its plugin, whose commit Claude Code would install whole (reader._report_unread).
    assert sorted(p["code"] for p in again.problems) == sorted(p["code"] for p in first.problems) == [
        "unread-files", "unsafe-file-name"]

    market.repo.commit_tree(repository({"extra.md": b"# Extra\n"}), message="fixed")
    fixed = sync_marketplace(market.pk)
    assert fixed.status == Status.OK and fixed.problems == []
    evil = Skill.objects.get(marketplace=market, slug="evil")
    assert sorted(evil.files.values_list("path", flat=True)) == ["SKILL.md", "extra.md"]


# Rows an older sync could have stored, before trees were checked.
UNSAFE_ROWS = [
    "../../../../pwned.sh", "scripts/../../../pwned.sh", "..", ".", "/etc/cron.d/pwned", "//server/share/pwned",
    "..\\..\\pwned.sh", "C:/Windows/pwned.dll", "c:pwned.sh", "scripts//pwned.sh", "scripts/", "",
    "run\x1b[2J.sh", "line\nbreak.sh", ".git/config", "scripts/.Git/hooks/post-checkout", "git~1/config",
    "nul", "scripts/LPT1.sh", "what?.md", "trailing ",
]


def test_the_packager_leaves_out_every_row_that_would_unpack_elsewhere(market):
    alpha = Skill.objects.select_related("plugin__marketplace").get(marketplace=market, slug="alpha")
    skill_md_row = alpha.files.get(path="SKILL.md")
    for path in UNSAFE_ROWS:
        SkillFile.objects.create(skill=alpha, path=path, size=skill_md_row.size, mode="100755",
                                 blob=skill_md_row.blob)
    names = archive_names(build_package(alpha))
    assert sorted(names) == ["alpha/.claude-plugin/plugin.json", "alpha/SKILL.md"]
    assert_stays_in(names, "alpha")
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(build_package(alpha))).read("alpha/.claude-plugin/plugin.json"))
    assert manifest["skillport"]["skill"] == "alpha"


def rows_after_migrating(market, paths, back_to) -> list[str]:
    """Skill alpha's rows once `paths` are stored beside its SKILL.md (as a sync before a rule could) and the
    migrations after `back_to` run again. Its marketplace must then sync again, though its commit has not moved."""
    alpha = Skill.objects.get(marketplace=market, slug="alpha")
    blob = alpha.files.get(path="SKILL.md").blob
    SkillFile.objects.bulk_create(
        SkillFile(skill=alpha, path=path, size=blob.size, mode="100644", blob=blob) for path in paths)
    market.refresh_from_db()
    assert market.last_sync_fingerprint
    there_and_back(("marketplace", back_to))
    market.refresh_from_db()
    assert market.last_sync_fingerprint == ""
    return sorted(alpha.files.values_list("path", flat=True))


def test_rows_stored_before_names_no_checkout_holds_were_refused_are_removed(market):
    assert rows_after_migrating(market, [
        ".git/config", "scripts/.Git/hooks/post-checkout", "GIT~1/config", ".g\u200cit/config", "aux.md",
        "notes:2024.md", "run.sh.", ".gitignore", "legit.git/notes.md", "scripts/git~2/x",
    ], "0028_search_words_planned_per_update") == [".gitignore", "SKILL.md", "legit.git/notes.md", "scripts/git~2/x"]
    assert sync_marketplace(market.pk).status == Status.OK


def test_rows_stored_before_names_one_on_macos_were_refused_are_removed(market):
    assert rows_after_migrating(market, [
        "Skill.md", "scripts/run.sh", "Scripts/x/run.sh", "caf\u00e9.md", "cafe\u0301.md", "notes.md",
    ], "0029_skill_files_no_checkout_holds") == ["notes.md"]
    assert sync_marketplace(market.pk).status == Status.OK


def test_rows_stored_before_more_names_windows_cannot_hold_were_refused_are_removed(market):
    assert rows_after_migrating(market, [
        "references/guide-to-everything.md", "references/GUIDE-~1.MD", "references/GUIDE-~1.MD/x.md",
        "scripts/run.sh", "scripts/run~1.sh", "lpt0.md", "notes/aux .md", "com\u00b2/x", "com10.md",
    ], "0030_skill_files_macos_and_windows_take_for_one") == [
        "SKILL.md", "com10.md", "references/guide-to-everything.md", "scripts/run.sh", "scripts/run~1.sh"]


@pytest.mark.parametrize("added", [[".GIT/config"], ["aux.md"], ["Skill.md"], ["lpt0.md"],
                                   ["references/guide-to-everything.md", "references/GUIDE-~1.MD"]])
def test_a_change_waiting_since_before_names_were_refused_cannot_bring_them_back(market, added):
    """A waiting revision keeps its own list of files, which approving it writes as the skill's rows."""
    market.requires_approval = True
    market.save(update_fields=["requires_approval"])
    market.repo.commit({"plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha does A better."),
                        "plugins/tools/skills/alpha/notes.md": "Notes.\n"})
    assert sync_marketplace(market.pk).status == Status.OK
    alpha = Skill.objects.get(marketplace=market, slug="alpha")
    waiting = alpha.pending_revision
    # As a sync before the upgrade would have read it.
    waiting.files = [*waiting.files, *({**waiting.files[0], "path": path} for path in added)]
    waiting.save(update_fields=["files"])
    there_and_back(("marketplace", "0030_skill_files_macos_and_windows_take_for_one"))

    waiting.refresh_from_db()
    alpha.refresh_from_db()
    market.refresh_from_db()
    assert (waiting.status, waiting.content, alpha.pending_revision) == (SkillRevision.Status.SUPERSEDED, {}, None)
    assert alpha.description == "Alpha does A." and market.last_sync_fingerprint == ""
    # The next sync stages the change again, as it reads it now; approved, it brings no refused name.
    assert sync_marketplace(market.pk).status == Status.OK
    alpha.refresh_from_db()
    assert [f["path"] for f in alpha.pending_revision.files] == ["SKILL.md", "notes.md"]
    assert approval.approve(SkillRevision.objects.filter(pk=alpha.pending_revision_id), None) == 1
    alpha.refresh_from_db()
    assert alpha.description == "Alpha does A better."
    assert sorted(alpha.files.values_list("path", flat=True)) == ["SKILL.md", "notes.md"]


@pytest.mark.parametrize("path", [*UNSAFE_ROWS, "nul\x00.sh", "caf\udce9.sh", "a/\x7f", "lpt0", "aux .md", "COM\u00b9.md"])
def test_no_unsafe_path_counts_as_clean(path):
    # NUL and undecodable bytes cannot reach a row (PostgreSQL refuses both), so the rule is checked directly.
    assert not is_clean_path(path)


@pytest.mark.parametrize("name, why", [
    ("..", "lead out of the folder"), ("back\\slash", "a backslash"), ("bell\x07", "a control character"),
    ("caf\udce9", "not UTF-8"), ("notes:2024.md", "':', which Windows does not allow"),
    ("run.sh.", "a dot or space at its end"), ("Aux.md", "a name Windows keeps for a device"),
    ("aux .md", "a name Windows keeps for a device"), ("COM\u00b3", "a name Windows keeps for a device"),
    ("GIT~1", "a name git reads as its own .git folder"),
])
def test_each_unsafe_name_says_why(market, name, why):
    assert why in unsafe_reason(name)
    market.repo.commit_tree(repository({name: PAYLOAD}))
    sync_marketplace(market.pk)
    [problem] = [p for p in Skill.objects.get(marketplace=market, slug="evil").problems if p["code"] == "unsafe-file-name"]
    assert problem["message"] == f"{name!r} is not a safe file name ({unsafe_reason(name)}); not read"


ORDINARY = ["SKILL.md", "scripts/run.sh", ".claude-plugin/plugin.json", "..hidden", "a..b/c", "日本語/説明.md",
            ".gitignore", ".github/workflows/ci.yml", "legit/.gitkeep", "git~2/x", "a.git/b", "digit", "paper.aux",
            "auxiliary/con-fig.md", "com10.txt"]
# The names 0029 began to refuse: git's own folder, and what Git for Windows will not check out.
REFUSED_SINCE_0029 = [".git/config", "scripts/.Git/hooks/post-checkout", "GIT~1/config", ".g\u200cit/config",
                      ".git\ufeff/x", "aux.md", "scripts/LPT1.sh", "Con", "conin$", "notes:2024.md", "what?.md",
                      'say"hi".md', "a|b", "<b>.md", "glob*", "run.sh.", "trailing ", "dir./x", "dir /x"]


@pytest.mark.parametrize("path", ORDINARY)
def test_ordinary_paths_stay_clean(path):
    assert is_clean_path(path)


@pytest.mark.parametrize("path", [*REFUSED_SINCE_0029, *ORDINARY])
def test_the_migrations_pattern_refuses_what_the_sync_refuses(path):
    """0029 finds stored rows with tree.is_clean_path's rules written for PostgreSQL, and 0031 waiting revisions
    with the same pattern in Python: both must agree with the rule they copy."""
    pattern = import_module("marketplace.migrations.0029_skill_files_no_checkout_holds").REFUSED
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s ~* %s", [path, pattern])
        [[in_postgresql]] = cursor.fetchall()
    assert in_postgresql == bool(re.search(pattern, path, re.IGNORECASE)) == (not is_clean_path(path))


@pytest.mark.parametrize("evil", [{"": PAYLOAD}, {"": {"pwned.sh": PAYLOAD}}], ids=["file", "folder"])
def test_a_tree_entry_with_an_empty_name_fails_the_fetch_and_keeps_the_catalogue(market, evil):
    """git itself refuses a tree entry with an empty name ("empty filename in tree entry"): the remote's
    upload-pack dies packing it, so no commit holding one can be fetched, and there is no item to skip.
    The sync fails as a fetch, and the catalogue stays as the last good sync left it."""
    market.repo.commit_tree(repository(evil))
    run = sync_marketplace(market.pk)
    assert run.status == Status.FAILED
    assert [p["code"] for p in run.problems] == ["fetch-failed"]
    assert list(Skill.objects.filter(marketplace=market, removed_at=None).values_list("slug", flat=True)) == ["alpha"]
    assert not Blob.objects.filter(content=PAYLOAD).exists()
