"""Every source form Claude Code reads, and every skill discovery rule (FORMAT.md §1, §3)."""
import os
import time

import pytest

from marketplace import curated
from marketplace.models import Plugin, Skill, SkillFile, Status
from marketplace.sync import sync_marketplace

from .builders import Symlink, catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db


def skills_of(marketplace, plugin=None):
    qs = Skill.objects.filter(marketplace=marketplace, removed_at=None)
    if plugin:
        qs = qs.filter(plugin__name=plugin)
    return sorted(qs.values_list("plugin__name", "name"))


def test_relative_source_with_plugin_json(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools", description="from entry", version="0.1")),
        "plugins/tools/.claude-plugin/plugin.json": '{"name": "tools", "version": "2.0.0", "description": "from manifest"}',
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha"),
    })
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    assert run.status == Status.OK, run.problems
    plugin = Plugin.objects.get(marketplace=m, name="tools")
    # plugin.json overlays the entry, and its version wins (Claude Code's rule).
    assert plugin.description == "from manifest"
    assert plugin.version == "2.0.0"
    assert plugin.commit == repo.head
    assert plugin.source_kind == "relative"
    assert skills_of(m) == [("tools", "alpha")]


def test_version_falls_back_to_entry_then_commit(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("a", version="3.1"), plugin_entry("b")),
        "plugins/a/skills/x/SKILL.md": skill_md("x"),
        "plugins/b/skills/y/SKILL.md": skill_md("y"),
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    versions = dict(Plugin.objects.filter(marketplace=m).values_list("name", "version"))
    assert versions == {"a": "3.1", "b": repo.head}


def test_root_source_dot_and_bare_name_under_plugin_root(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("bare", "bare-plugin"),
            plugin_entry("rooted", "."),
            metadata={"pluginRoot": "./packages"},
        ),
        "packages/bare-plugin/skills/one/SKILL.md": skill_md("one"),
        "skills/two/SKILL.md": skill_md("two"),
    })
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    assert run.status == Status.OK, run.problems
    assert skills_of(m) == [("bare", "one"), ("rooted", "two")]


def test_skills_only_entries_share_the_root_and_pick_subsets(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("docs", "./", strict=False, skills=["./skills/a", "./skills/b"]),
            plugin_entry("review", "./", strict=False, skills=["./skills/c"]),
        ),
        "skills/a/SKILL.md": skill_md("a"),
        "skills/b/SKILL.md": skill_md("b"),
        "skills/c/SKILL.md": skill_md("c"),
    })
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    assert run.status == Status.OK, run.problems
    # For a marketplace-root source with strict: false, the list replaces the scan.
    assert skills_of(m) == [("docs", "a"), ("docs", "b"), ("review", "c")]
    assert run.unreachable_skill_files == 0


def test_listing_skills_folder_itself_keeps_full_scan(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("all", "./", strict=False, skills=["./skills/"])),
        "skills/a/SKILL.md": skill_md("a"),
        "skills/b/SKILL.md": skill_md("b"),
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    assert skills_of(m) == [("all", "a"), ("all", "b")]


def test_listed_paths_that_do_not_exist_fall_back_to_scan(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("p", "./", strict=False, skills=["./nowhere"])),
        "skills/a/SKILL.md": skill_md("a"),
    })
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    assert skills_of(m) == [("p", "a")]
    assert any(p["code"] == "skills-path-missing" for p in run.problems)


def test_skills_field_adds_to_default_scan(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("p", skills=["./extra"])),
        "plugins/p/skills/a/SKILL.md": skill_md("a"),
        "plugins/p/extra/b/SKILL.md": skill_md("b"),
        "plugins/p/extra/c/SKILL.md": skill_md("c"),
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    assert skills_of(m) == [("p", "a"), ("p", "b"), ("p", "c")]


def test_manifest_skills_and_entry_skills_both_count_with_strict_true(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("p", skills="./from-entry")),
        "plugins/p/.claude-plugin/plugin.json": '{"name": "p", "skills": ["./from-manifest"]}',
        "plugins/p/from-entry/SKILL.md": skill_md("from-entry"),
        "plugins/p/from-manifest/SKILL.md": skill_md("from-manifest"),
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    assert skills_of(m) == [("p", "from-entry"), ("p", "from-manifest")]


def test_root_skill_md_is_a_one_skill_plugin_only_without_skills_folder(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("solo"), plugin_entry("mixed")),
        "plugins/solo/SKILL.md": skill_md("solo-skill"),
        "plugins/mixed/SKILL.md": skill_md("ignored"),
        "plugins/mixed/skills/real/SKILL.md": skill_md("real"),
    })
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    assert skills_of(m) == [("mixed", "real"), ("solo", "solo-skill")]
    assert run.unreachable_skill_files == 1  # plugins/mixed/SKILL.md


def test_name_falls_back_to_folder_and_description_to_body(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("p")),
        "plugins/p/skills/no-frontmatter/SKILL.md": "# Heading\n\nFirst paragraph here.\n\nSecond.\n",
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    skill = Skill.objects.get(marketplace=m)
    assert skill.name == "no-frontmatter"
    assert skill.description == "First paragraph here."
    assert skill.loads_in_claude_code and not skill.spec_valid and not skill.claude_ai_uploadable


def test_unreachable_skill_files_are_counted_not_served(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("p")),
        "plugins/p/skills/a/SKILL.md": skill_md("a"),
        "plugins/p/skills/a/nested/deeper/SKILL.md": skill_md("deeper"),
        "plugins/p/docs/guide/SKILL.md": skill_md("guide"),
        "elsewhere/x/SKILL.md": skill_md("x"),
    })
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    assert skills_of(m) == [("p", "a")]
    assert run.unreachable_skill_files == 3
    a = Skill.objects.get(marketplace=m)
    # A nested SKILL.md would make the Claude.ai uploader refuse the zip.
    assert not a.claude_ai_uploadable
    assert any("exactly one SKILL.md" in r for r in a.verdict_reasons["claude_ai"])


def test_github_source_at_default_branch_ref_and_sha(make_repo, make_marketplace, git_host):
    upstream = git_host("acme/tools", {"skills/gh/SKILL.md": skill_md("gh", "first")})
    first = upstream.head
    upstream.git("checkout", "--quiet", "-b", "stable")
    upstream.commit({"skills/gh/SKILL.md": skill_md("gh", "on stable")})
    upstream.git("checkout", "--quiet", "main")
    upstream.commit({"skills/gh/SKILL.md": skill_md("gh", "latest")})
    upstream.git("push", "--quiet", "--all", str(upstream.bare), "--force")
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("gh-default", {"source": "github", "repo": "acme/tools"}),
            plugin_entry("gh-ref", {"source": "github", "repo": "acme/tools", "ref": "stable"}),
            plugin_entry("gh-sha", {"source": "github", "repo": "acme/tools", "ref": "stable", "sha": first}),
        ),
    })
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    assert run.status == Status.OK, run.problems
    descriptions = dict(Skill.objects.filter(marketplace=m).values_list("plugin__name", "description"))
    # sha beats ref; ref beats the default branch.
    assert descriptions == {"gh-default": "latest", "gh-ref": "on stable", "gh-sha": "first"}
    assert Plugin.objects.get(marketplace=m, name="gh-sha").commit == first


def test_url_source_with_path_and_git_subdir(make_repo, make_marketplace, git_host):
    upstream = make_repo({
        "packages/one/skills/u/SKILL.md": skill_md("u"),
        "packages/two/skills/v/SKILL.md": skill_md("v"),
        "packages/two/skills/w/SKILL.md": skill_md("w"),
    }, name="upstream")
    git_host("acme/mono", {"tools/skills/s/SKILL.md": skill_md("s")})
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("by-url", {"source": "url", "url": f"file://{upstream.path}", "path": "packages/one"}),
            plugin_entry("by-subdir", {"source": "git-subdir", "url": upstream.url, "path": "packages/two"}),
            plugin_entry("subdir-owner-repo", {"source": "git-subdir", "url": "acme/mono", "path": "tools"}),
        ),
    })
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    assert run.status == Status.OK, run.problems
    assert skills_of(m) == [("by-subdir", "v"), ("by-subdir", "w"), ("by-url", "u"), ("subdir-owner-repo", "s")]
    assert Plugin.objects.get(marketplace=m, name="by-url").source_kind == "url"
    # Only the plugin's folder of a fetched repository counts towards unreachable files.
    assert run.unreachable_skill_files == 0


@pytest.mark.parametrize("source", [
    {"source": "npm", "package": "@acme/tools"},
    {"source": "archive", "url": "https://example.com/p.tgz", "sha256": "0" * 64},
    {"source": "command", "command": "touch /tmp/pwned", "timeout": 5, "mode": "copy"},
])
def test_npm_archive_and_command_sources_are_recorded_never_run(make_repo, make_marketplace, source, tmp_path):
    repo = make_repo({".claude-plugin/marketplace.json": catalog(plugin_entry("ext", source))})
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    plugin = Plugin.objects.get(marketplace=m, name="ext")
    assert plugin.source_kind == source["source"]
    assert plugin.source == source
    assert [p["code"] for p in run.problems] == ["unsupported-source"]
    assert run.status == Status.OK
    assert not Skill.objects.filter(plugin=plugin).exists()


def test_an_entry_claude_code_refuses_does_not_load_whatever_its_source(make_repo, make_marketplace):
    """The entry's own fields are checked before its source is read, so a plugin listed for Claude Code
    only (npm) is refused for them as a relative one is."""
    repo = make_repo({".claude-plugin/marketplace.json": catalog(
        plugin_entry("ext", {"source": "npm", "package": "@acme/tools"}, strict="no"),
        plugin_entry("kit", {"source": "npm", "package": "@acme/kit"}, keywords="a,b"),
        plugin_entry("fine", {"source": "npm", "package": "@acme/fine"}))})
    sync_marketplace(make_marketplace(repo).pk)
    assert dict(Plugin.objects.values_list("name", "loads")) == {"ext": False, "kit": False, "fine": True}


def test_such_a_source_claude_code_would_refuse_is_an_error_and_its_plugin_is_not_offered(make_repo, make_marketplace,
                                                                                           tmp_path):
    target = tmp_path / "pwned"
    repo = make_repo({".claude-plugin/marketplace.json": catalog(
        plugin_entry("ext", {"source": "command", "command": f"touch    {target}"}),
        plugin_entry("kit", {"source": "archive", "url": "https://169.254.169.254/latest/meta-data.zip"}),
        plugin_entry("pkg", {"source": "npm", "package": "../../etc"}))})
    run = sync_marketplace(make_marketplace(repo).pk)
    assert [(p["code"], p["message"].split(":")[0]) for p in run.problems] == [
        ("source-field-invalid", "command"), ("source-field-invalid", "url"), ("source-field-invalid", "package")]
    assert "Claude Code will not install this plugin" in run.problems[0]["message"]
    assert run.status == Status.PARTIAL and not target.exists()
    for plugin in Plugin.objects.all():  # each shows its admins why, and no catalogue offers it
        assert [p["code"] for p in plugin.problems] == ["source-field-invalid"] and curated.pinned_source(plugin) is None


def test_symlinked_skill_inside_the_repo_is_followed(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("p")),
        "shared/linked/SKILL.md": skill_md("linked"),
        "shared/linked/ref.md": "reference",
        "plugins/p/skills/linked": Symlink("../../../shared/linked"),
        "shared/file-link.md": skill_md("file-link"),
        "plugins/p/skills/file-link/SKILL.md": Symlink("../../../../shared/file-link.md"),
    })
    m = make_marketplace(repo)
    run = sync_marketplace(m.pk)
    assert run.status == Status.OK, run.problems
    assert skills_of(m) == [("p", "file-link"), ("p", "linked")]
    linked = Skill.objects.get(marketplace=m, slug="linked")
    assert sorted(linked.files.values_list("path", flat=True)) == ["SKILL.md", "ref.md"]
    assert "file-link" in Skill.objects.get(marketplace=m, slug="file-link").frontmatter_raw
    # shared/linked/SKILL.md is reached through the folder link, so it is not unreachable.
    assert run.unreachable_skill_files == 0


def test_surface_tags_are_read(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("cc", tags=["surface:CC"]), plugin_entry("web", tags=["surface:CDAI", "x"]), plugin_entry("all"),
        ),
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    surfaces = dict(Plugin.objects.filter(marketplace=m).values_list("name", "surfaces"))
    assert surfaces["cc"] == ["claude_code"]
    assert surfaces["web"] == ["claude_ai", "claude_desktop"]
    assert surfaces["all"] == ["claude_code", "claude_desktop", "claude_ai"]


def test_catalogue_at_a_non_default_path_and_plain_folder(make_repo, make_marketplace, tmp_path):
    repo = make_repo({
        "meta/catalog.json": catalog(plugin_entry("p", "./p")),
        "meta/p/skills/a/SKILL.md": skill_md("a"),
    })
    m = make_marketplace(repo, catalog_path="meta/catalog.json")
    assert sync_marketplace(m.pk).status == Status.OK
    assert skills_of(m) == [("p", "a")]

    folder = tmp_path / "folder"
    (folder / ".claude-plugin").mkdir(parents=True)
    (folder / ".claude-plugin/marketplace.json").write_text(catalog(plugin_entry("q", "./q")))
    (folder / "q/skills/b").mkdir(parents=True)
    (folder / "q/skills/b/SKILL.md").write_text(skill_md("b"))
    plain = make_marketplace(type("R", (), {"url": str(folder)}), slug="plain")
    first = sync_marketplace(plain.pk)
    assert first.status == Status.OK and skills_of(plain) == [("q", "b")]
    # A snapshot of unchanged content is the same commit, so the next sync is a no-op.
    assert sync_marketplace(plain.pk).status == Status.UNCHANGED


def test_a_plain_folder_is_snapshotted_byte_for_byte_whatever_its_gitattributes_say(make_marketplace, tmp_path):
    """Claude Code reads a folder marketplace as its files are; git's add would apply the folder's .gitattributes (and
    the server's git configuration) on the way in: CRLF made LF, a UTF-16 file made UTF-8, and the problems that
    name those never said."""
    folder = tmp_path / "folder"
    (folder / ".claude-plugin").mkdir(parents=True)
    (folder / ".claude-plugin/marketplace.json").write_text(catalog(plugin_entry("q", "./q")))
    (folder / "q/skills/b").mkdir(parents=True)
    skill = skill_md("b").replace("\n", "\r\n").encode()
    notes = "Notes.\n".encode("utf-16-le")
    (folder / "q/skills/b/SKILL.md").write_bytes(skill)
    (folder / "q/skills/b/notes.txt").write_bytes(notes)
    (folder / ".gitattributes").write_text("* text=auto\n*.txt working-tree-encoding=UTF-16LE\n")
    plain = make_marketplace(type("R", (), {"url": str(folder)}), slug="plain")
    assert sync_marketplace(plain.pk).status == Status.OK
    stored = {f.path: bytes(f.blob.content) for f in SkillFile.objects.select_related("blob").filter(skill__slug="b")}
    assert stored == {"SKILL.md": skill, "notes.txt": notes}
    assert "text-crlf" in {p["code"] for p in Skill.objects.get(slug="b").problems}
    assert not [p for p in Plugin.objects.get(name="q").problems if p["code"] == "checkout-rewrites"]

    # A snapshot repository an earlier release made: its index holds what git's add made of the files, which an add
    # would keep for files unchanged since. Each file is hashed again.
    from marketplace import gitrepo

    snapshots = gitrepo.Repository.cache_path(f"snapshot:{folder}")
    (snapshots / "info" / "attributes").unlink()
    for path in folder.rglob("*"):  # older than the index, so that an add trusts what the index says of them
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    index = gitrepo.local_env({"GIT_INDEX_FILE": str(snapshots / "snapshot-index"), "GIT_WORK_TREE": str(folder)})
    gitrepo.run(["add", "--all", "--force", "--renormalize", "."], git_dir=snapshots, env=index)
    assert b"\r\n" not in gitrepo.run(["show", ":q/skills/b/SKILL.md"], git_dir=snapshots, env=index)
    assert sync_marketplace(plain.pk).status == Status.UNCHANGED  # the same bytes, so the same commit as before
    stored = {f.path: bytes(f.blob.content) for f in SkillFile.objects.select_related("blob").filter(skill__slug="b")}
    assert stored == {"SKILL.md": skill, "notes.txt": notes}
