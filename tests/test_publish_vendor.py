"""The vendored marketplace a publish target carries (publishing/vendor.py), read back from disk:
only what the audience may see as approved, byte-identical for the same state, valid for Claude Code."""
import json
import subprocess
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from marketplace import approval
from marketplace.models import Plugin, Policy, Skill, SkillRevision
from marketplace.sync import sync_marketplace
from publishing.models import Kind, PublishTarget

from .builders import Symlink, catalog, plugin_entry, run_command, skill_md

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(make_repo, synced_marketplace, git_host):
    """Plugins from the marketplace's repository and from another owner's, a team-only skill, a symlink."""
    upstream = git_host("others/tools", {"skills/gh/SKILL.md": skill_md("gh", "From another owner.")})
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("ops-kit", version="1.2.0", description="Operations."),
            plugin_entry("tools", source={"source": "github", "repo": "others/tools"}),
            plugin_entry("from-npm", source={"source": "npm", "package": "@acme/skills"}),
            name="acme-skills",
        ),
        ".skillport/access.json": json.dumps({"skills": {"core-runbook": {"read": ["github:@acme/core"]}}}),
        "plugins/ops-kit/.claude-plugin/plugin.json": json.dumps({"name": "ops-kit", "version": "1.2.0"}),
        "plugins/ops-kit/commands/deploy.md": "Deploy the thing.\n",
        "plugins/ops-kit/scripts/tool.sh": "#!/bin/sh\necho hi\n",
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Blameless reviews."),
        "plugins/ops-kit/skills/postmortem/timeline.py": "print('timeline')\n",
        "plugins/ops-kit/skills/core-runbook/SKILL.md": skill_md("core-runbook", "Core team only."),
        # A link to a team-only skill from outside the skills folder must not smuggle it out.
        "plugins/ops-kit/docs/runbook": Symlink("../skills/core-runbook"),
        # Nor a link to its SKILL.md or into its folder, from anywhere in the plugin.
        "plugins/ops-kit/skills/core-runbook/scripts/rotate.sh": "echo CORE-ONLY\n",
        "plugins/ops-kit/commands/runbook.md": Symlink("../skills/core-runbook/SKILL.md"),
        "plugins/ops-kit/bin": Symlink("skills/core-runbook/scripts"),
        # A link to a published skill's file is copied (a command reusing its script).
        "plugins/ops-kit/commands/timeline.py": Symlink("../skills/postmortem/timeline.py"),
        "plugins/ops-kit/node_modules/junk.js": "junk\n",
        # Nor may a link carry another plugin's files (a hidden one's, say) out under this plugin's name.
        "plugins/ops-kit/borrowed.md": Symlink("../hidden-kit/commands/secret.md"),
        "plugins/hidden-kit/commands/secret.md": "Hidden plugin's command.\n",
    })
    (repo.path / "plugins/ops-kit/scripts/tool.sh").chmod(0o755)
    repo.commit(message="executable")
    return synced_marketplace(repo, slug="acme"), upstream


def export(tmp_path, *args, name="out"):
    code, out = run_command("export_marketplace", str(tmp_path / name), "--json", *args)
    assert code == 0, out
    return tmp_path / name, json.loads(out)


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def target(acme, **fields):
    market, _upstream = acme
    found = PublishTarget.objects.create(**{"name": "org", "kind": Kind.ZIP, "marketplace_name": "acme-org", **fields})
    found.marketplaces.set([market])
    return found


def test_vendored_copy_holds_approved_content_with_relative_sources(acme, tmp_path):
    out, result = export(tmp_path)
    tree = files(out)
    market = json.loads(tree[".claude-plugin/marketplace.json"])
    entries = {e["name"]: e for e in market["plugins"]}
    assert set(entries) == {"ops-kit", "tools"}  # npm sources have nothing Skillport could copy
    assert {e["source"] for e in entries.values()} == {"./plugins/ops-kit", "./plugins/tools"}
    assert tree["plugins/tools/skills/gh/SKILL.md"].decode() == skill_md("gh", "From another owner.")
    assert tree["plugins/ops-kit/commands/deploy.md"] == b"Deploy the thing.\n"
    assert (out / "plugins/ops-kit/scripts/tool.sh").stat().st_mode & 0o111
    assert not any("node_modules" in path for path in tree)
    # Everyone's export leaves out the team-only skill, also where a symlink pointed at it.
    assert "plugins/ops-kit/skills/postmortem/timeline.py" in tree
    assert not any("core-runbook" in path or path.startswith("plugins/ops-kit/docs/") for path in tree)
    assert not any(b"CORE-ONLY" in content or b"Core team only" in content for content in tree.values())
    assert tree["plugins/ops-kit/commands/timeline.py"] == b"print('timeline')\n"
    assert "plugins/ops-kit/borrowed.md" not in tree
    assert any(p["code"] == "files-left-out" and "borrowed.md" in p["message"] for p in result["problems"])
    assert any(p["code"] == "not-published" and "from-npm" in p["message"] for p in result["problems"])


def test_version_tracks_published_content(acme, tmp_path):
    _out, first = export(tmp_path, name="one")
    version = first["plugins"]["ops-kit"]["version"]
    assert version.startswith("1.2.0+skillport.")
    manifest = json.loads((tmp_path / "one/plugins/ops-kit/.claude-plugin/plugin.json").read_text())
    assert manifest["version"] == version  # plugin.json wins over the entry in Claude Code, so both carry it
    _out, again = export(tmp_path, name="two")
    assert again["plugins"]["ops-kit"]["version"] == version
    assert files(tmp_path / "one") == files(tmp_path / "two")  # deterministic, byte for byte
    Skill.objects.filter(name="postmortem").update(policy=Policy.PROHIBITED)
    _out, changed = export(tmp_path, name="three")
    assert changed["plugins"]["ops-kit"]["version"] != version  # a skill left out is a change
    assert changed["plugins"]["tools"]["version"] == first["plugins"]["tools"]["version"]
    assert not any("postmortem" in path for path in files(tmp_path / "three"))
    assert b"print('timeline')\n" not in files(tmp_path / "three").values()  # nor through the command's link


def test_a_team_target_carries_its_team_only_skill_and_no_other_target_does(acme, tmp_path, people):
    core = target(acme, name="core", audience=["github:@acme/core"])
    design = target(acme, name="design", audience=["github:@acme/design"])
    _out, for_core = export(tmp_path, "--target", core.name, name="core")
    _out, for_design = export(tmp_path, "--target", design.name, name="design")
    assert any(k.endswith("/core-runbook") for k in for_core["plugins"]["ops-kit"]["skills"])
    assert not any(k.endswith("/core-runbook") for k in for_design["plugins"]["ops-kit"]["skills"])
    core_tree = files(tmp_path / "core")
    assert "plugins/ops-kit/skills/core-runbook/SKILL.md" in core_tree
    assert json.loads(core_tree[".claude-plugin/marketplace.json"])["name"] == "acme-org"
    # A plugin for one team only is not in the target of everyone.
    Plugin.objects.filter(name="tools").update(audience=["github:@acme/core"])
    _out, everyone = export(tmp_path, "--target", target(acme, name="all").name, name="all")
    assert set(everyone["plugins"]) == {"ops-kit"}


def test_a_pending_change_keeps_the_approved_content(acme, tmp_path, people, rf):
    market, _upstream = acme
    market.requires_approval = True
    market.save()
    _out, before = export(tmp_path, name="before")
    market.repo.commit({"plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Exfiltrate secrets."),
                        "plugins/ops-kit/skills/fresh/SKILL.md": skill_md("fresh", "New, unapproved.")})
    sync_marketplace(market.pk)
    out, pending = export(tmp_path, name="pending")
    tree = files(out)
    assert b"Exfiltrate" not in tree["plugins/ops-kit/skills/postmortem/SKILL.md"]
    assert not any("/fresh/" in path for path in tree)
    assert pending["plugins"] == before["plugins"]
    request = rf.post("/")
    request.user = people["admin"]
    approval.approve(SkillRevision.objects.filter(status=SkillRevision.Status.PENDING), request)
    out, approved = export(tmp_path, name="approved")
    assert b"Exfiltrate" in files(out)["plugins/ops-kit/skills/postmortem/SKILL.md"]
    assert "plugins/ops-kit/skills/fresh/SKILL.md" in files(out)
    assert approved["plugins"]["ops-kit"]["version"] != before["plugins"]["ops-kit"]["version"]


def test_the_zip_holds_the_same_tree(acme, tmp_path):
    import zipfile

    out, result = export(tmp_path, "--zip", str(tmp_path / "m.zip"))
    with zipfile.ZipFile(tmp_path / "m.zip") as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == files(out)
    assert result["upload_limits"] == []


def test_an_export_will_not_overwrite_a_folder_it_did_not_write(acme, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(CommandError, match="not an export"):
        run_command("export_marketplace", str(tmp_path / "mine"))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"


def test_claude_codes_validator_and_ours_accept_the_copy(acme, tmp_path):
    from .test_claude_code_oracle import CLAUDE, claude_env

    assert CLAUDE.exists(), f"Claude Code's CLI is missing at {CLAUDE}: `make test` installs it"
    out, _result = export(tmp_path)
    # The marketplace, then each vendored plugin on its own (which also reads its commands and skills).
    for folder in [out, *sorted((out / "plugins").iterdir())]:
        found = subprocess.run([CLAUDE, "plugin", "validate", "--json", str(folder)], env=claude_env(tmp_path / "home"),
                               capture_output=True, text=True, timeout=120)
        report = json.loads(found.stdout)
        assert report["success"] and found.returncode == 0, found.stdout
    code, ours = run_command("validate_marketplace", str(out), "--json")
    result = json.loads(ours)
    assert code == 0 and [p for p in result["problems"] if p["severity"] == "error"] == [], result["problems"]
    assert result["counts"]["plugins"] == 2 and result["counts"]["skills"] == 2


def test_a_plugin_whose_files_would_need_a_file_and_a_folder_of_one_name_is_not_copied():
    """Built in memory, the copy is checked for what a folder (or git's tree) could not hold: a skill folder
    where the repository has a file of that name, say."""
    from publishing import vendor

    assert vendor._file_and_folder({"skills/x/SKILL.md": 0, "skills/x": 0, "README.md": 0}) == "skills/x"
    assert vendor._file_and_folder({"docs/a/b/c.md", "docs/a/b"}) == "docs/a/b"
    assert vendor._file_and_folder({"skills/x/SKILL.md", "skills/xy", "skills/x.md", ".claude-plugin/plugin.json"}) \
        is None


def test_two_plugins_one_folder_on_macos_are_not_both_published(make_repo, synced_marketplace, tmp_path):
    """plugins/Ops and plugins/ops would be one folder in a checkout on macOS or Windows, the later plugin's
    files over the earlier's: the second is left out as a name already taken, as an exact repeat is."""
    for slug, name in (("alpha", "Ops"), ("beta", "ops"), ("gamma", "Ops")):
        synced_marketplace(make_repo({
            ".claude-plugin/marketplace.json": catalog(plugin_entry(name), name=f"{slug}-skills"),
            f"plugins/{name}/skills/run/SKILL.md": skill_md("run", f"Runs {slug}'s way."),
        }), slug=slug)

    out, result = export(tmp_path)

    assert sorted(path.name for path in (out / "plugins").iterdir()) == ["Ops"]
    taken = {p["location"]: p["message"] for p in result["problems"] if p["code"] == "plugin-name-taken"}
    assert taken.keys() == {"beta/ops", "gamma/Ops"}
    assert taken["beta/ops"].startswith("ops is also in alpha as Ops (one folder name on macOS and Windows)")
    assert taken["gamma/Ops"].startswith("Ops is also in alpha, which was published under that name")


def test_a_plugin_whose_plugin_json_names_a_missing_path_is_left_out(make_repo, synced_marketplace, tmp_path):
    """Claude Code loads it without the missing part, but its validator would refuse the copy's marketplace for it;
    an entry's missing path, which the validator does not look for, keeps the plugin in."""
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("broken"), plugin_entry("fine", commands="./nowhere"),
                                                   name="alpha-skills"),
        "plugins/broken/.claude-plugin/plugin.json": json.dumps({"name": "broken", "commands": "./nowhere"}),
        **{f"plugins/{name}/skills/{name}-skill/SKILL.md": skill_md(f"{name}-skill") for name in ("broken", "fine")},
    }), slug="alpha")
    assert Plugin.objects.get(name="broken").loads

    out, result = export(tmp_path)

    assert sorted(path.name for path in (out / "plugins").iterdir()) == ["fine"]
    left_out = {p["location"]: p["message"] for p in result["problems"] if p["code"] == "not-published"}
    assert left_out == {"alpha/broken": "broken is left out: its plugin.json names a component it does not hold, "
                                        "which Claude Code's validator refuses for the whole copy (see its problems)"}


def test_a_plugin_is_published_only_with_the_plugins_it_depends_on(make_repo, synced_marketplace, tmp_path):
    """Claude Code installs a plugin's dependencies from the copy's catalogue with it, and will not load it without
    them: a plugin whose dependency is not published (hidden, or its name taken by another marketplace's plugin)
    is left out too. A dependency naming a marketplace the target copies names the copy's plugin; one naming a
    marketplace outside it is allowed in the copy where its own catalogue allowed it. The pinned CLI installs from
    the copy with the dependencies."""
    from marketplace.models import Curation

    from .test_claude_code_oracle import installed

    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("app", dependencies=["base@alpha-skills", "tool@beta-skills"]), plugin_entry("base"),
            plugin_entry("lonely", dependencies=["hidden"]), plugin_entry("hidden"),
            plugin_entry("far", dependencies=["needs-base@beta-skills"]),
            name="alpha-skills", allowCrossMarketplaceDependenciesOn=["beta-skills", "elsewhere"]),
        "plugins/app/.claude-plugin/plugin.json": json.dumps({"name": "app", "dependencies": [
            {"name": "base", "marketplace": "alpha-skills", "version": "^1.2.0"}, "x@elsewhere"]}),
        "plugins/base/.claude-plugin/plugin.json": json.dumps({"name": "base", "version": "1.2.0"}),
        **{f"plugins/{name}/skills/{name}-skill/SKILL.md": skill_md(f"{name}-skill")
           for name in ("app", "base", "lonely", "hidden", "far")},
    }), slug="alpha")
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("needs-base", dependencies=["base"]),
                                                   plugin_entry("base"), plugin_entry("tool"), name="beta-skills"),
        **{f"plugins/{name}/skills/{name}-skill/SKILL.md": skill_md(f"{name}-skill")
           for name in ("needs-base", "base", "tool")},
    }), slug="beta")
    Plugin.objects.filter(name="hidden").update(curation=Curation.HIDDEN)

    out, result = export(tmp_path)

    assert sorted(path.name for path in (out / "plugins").iterdir()) == ["app", "base", "tool"]
    left_out = {p["location"]: p["message"] for p in result["problems"] if p["code"] == "not-published"}
    assert left_out["alpha/lonely"] == ("lonely is left out: it depends on hidden, which is not published here, and "
                                        "Claude Code would install it without that and not load it")
    assert left_out["beta/needs-base"].startswith("needs-base is left out: it depends on base, which is not published")
    assert left_out["alpha/far"].startswith("far is left out: it depends on needs-base@beta-skills, which is not ")
    market = json.loads((out / ".claude-plugin/marketplace.json").read_text())
    assert market["allowCrossMarketplaceDependenciesOn"] == ["elsewhere"]
    assert {e["name"]: e for e in market["plugins"]}["app"]["dependencies"] == ["base", "tool"]
    # The version the copy gives base (1.2.0+skillport.<digest>) still meets what app asks.
    assert json.loads((out / "plugins/app/.claude-plugin/plugin.json").read_text())["dependencies"] == [
        {"name": "base", "version": "^1.2.0"}, "x@elsewhere"]

    printed, errors = installed(out, "app@skillport", tmp_path / "home")
    assert "+ 2 dependencies" in printed, printed
    # Its dependency on a marketplace outside the copy is the member's to add (Skillport judges none of those).
    assert errors["base@skillport"] == errors["tool@skillport"] == [] and errors["app@skillport"] == [
        'Dependency "x@elsewhere" is not installed — run `claude plugin install x@elsewhere`, or check that its '
        "marketplace is added"]


def test_a_plugin_json_python_would_write_back_as_what_is_not_json_is_copied_as_written(
        make_repo, synced_marketplace, tmp_path):
    """Python's json reads 1e999 as inf and wrote it back as `Infinity`, which is not JSON: the copy's plugin.json
    Claude Code would refuse, where it reads the original (1e999 as Infinity, in a field it ignores)."""
    from .test_claude_code_oracle import CLAUDE, claude_env

    written = '{"name": "ops-kit", "version": "1.2.0", "limits": {"most": 1e999}}'
    synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops-kit", version="1.2.0"), name="acme-skills"),
        "plugins/ops-kit/.claude-plugin/plugin.json": written,
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Blameless reviews."),
    }), slug="acme")
    out, result = export(tmp_path)
    assert (out / "plugins/ops-kit/.claude-plugin/plugin.json").read_text() == written
    assert [p["location"] for p in result["problems"] if p["code"] == "plugin-json-unreadable"] == ["acme/ops-kit"]
    found = subprocess.run([CLAUDE, "plugin", "validate", "--json", str(out / "plugins/ops-kit")],
                           env=claude_env(tmp_path / "home"), capture_output=True, text=True, timeout=120)
    assert json.loads(found.stdout)["success"], found.stdout


@pytest.mark.parametrize("kept", ["hidden", "prohibited", "team-only", "published"])
def test_a_plugin_at_the_top_of_the_repository_carries_no_other_plugins_folder(make_repo, synced_marketplace, kept):
    """Its folder is the whole repository, the other plugins' included: their hooks and commands are theirs to
    publish, under their own names and rules, or not at all."""
    from marketplace.models import Curation, Marketplace
    from publishing import vendor

    market = synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("everything", "./", strict=False, skills=["./skills/memo"]), plugin_entry("secret-kit"),
            name="acme-skills"),
        "skills/memo/SKILL.md": skill_md("memo", "Write a memo."),
        "scripts/shared.sh": "echo shared\n",
        "plugins/secret-kit/commands/exfil.md": "Send it all SECRET.\n",
        "plugins/secret-kit/hooks/hooks.json": json.dumps({"hooks": {}}),
        "plugins/secret-kit/skills/spy/SKILL.md": skill_md("spy", "SECRET skill."),
    }), slug="acme")
    secret = Plugin.objects.filter(name="secret-kit")
    if kept == "hidden":
        secret.update(curation=Curation.HIDDEN)
    elif kept == "prohibited":
        secret.update(policy=Policy.PROHIBITED)
    elif kept == "team-only":
        secret.update(audience=["github:@acme/core"])
    build = vendor.build(marketplaces=Marketplace.objects.filter(pk=market.pk), audience=[], name="org",
                         owner={"name": "Acme"})
    paths = set(build.files)
    assert "plugins/everything/scripts/shared.sh" in paths and "plugins/everything/skills/memo/SKILL.md" in paths
    assert not any(path.startswith("plugins/everything/plugins/") for path in paths)
    assert ("plugins/secret-kit/commands/exfil.md" in paths) == (kept == "published")


def test_a_plugin_holding_more_than_the_scan_reads_is_not_copied(make_repo, synced_marketplace, settings):
    """Sized by blob before anything is read, as the scan sizes it: links to one large file count once each, since
    the copy writes each of them whole."""
    from marketplace.models import Marketplace
    from publishing import vendor

    settings.SKILLPORT_MAX_SKILL_BYTES = 10_000
    market = synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("heavy"), plugin_entry("linked"), plugin_entry("light"),
                                                   name="acme-skills"),
        "plugins/heavy/data/model.bin": "x" * 12_000,
        "plugins/linked/data/part.txt": "y" * 4_000,
        **{f"plugins/linked/data/copy-{n}.txt": Symlink("part.txt") for n in range(3)},
        "plugins/light/scripts/run.sh": "echo light\n",
        **{f"plugins/{name}/skills/{name}-skill/SKILL.md": skill_md(f"{name}-skill") for name in ("heavy", "linked",
                                                                                                   "light")},
    }), slug="acme")

    build = vendor.build(marketplaces=Marketplace.objects.filter(pk=market.pk), audience=[], name="org",
                         owner={"name": "Acme"})

    assert sorted(build.plugins) == ["light"]
    refused = {p.location: p.message for p in build.problems if p.code == "plugin-not-copied"}
    assert refused == {
        f"acme/{name}": f"{name} could not be copied: its files besides its skills hold {size:,} bytes, more than a "
                        "copy carries and the scan reads (10,000, SKILLPORT_MAX_SKILL_BYTES)"
        for name, size in (("heavy", 12_000), ("linked", 16_000))}
